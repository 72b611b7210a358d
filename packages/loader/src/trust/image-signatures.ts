// The image-signature policy of a push (`--image-key`, `--require-signed-images`,
// `--require-attestation TYPE`): before the
// operator is asked, each image's signatures the bundle carries (cosign `.sig` tags, OCI
// referrers with Sigstore bundles) are read from the verified volumes and checked with
// @ferry/trust against the high side's image keys — never a key from the bundle. Under the
// policy an image without a valid signature is not pushed, nor tagged; without it the report
// still says signed / unsigned / invalid for each.

import type { BundleImage } from '@ferry/format-spec';
import { listSboms, verifyAttestations, verifyCosignSignatures, type ImageKey, type ReferrerInput, type VerifyInput } from '@ferry/trust';
import type { TrustedManifest } from '../bundle.js';
import { readSmallBlobs } from '../volume-blobs.js';

export interface ImageSignature {
  /** `unverified`: the volumes holding its signatures are not here yet. */
  status: 'signed' | 'unsigned' | 'invalid' | 'unverified';
  /** Fingerprints of the trusted keys whose signatures verified. */
  keys: string[];
  reason?: string;
  /** Predicate types of the attestations a trusted key verified for it. */
  attested: string[];
  /** With --require-attestation: each type asked for, and whether a verified attestation has it. */
  required?: Array<{ type: string; satisfied: boolean }>;
  /** SBOMs carried for it (attachments, SBOM attestations, SBOM referrers). */
  sboms: Array<{ source: string; format: string; size?: number; verified?: boolean }>;
}

/** What one image's signature check needs from the volumes: its root and every referrer blob. */
function blobsOf(img: BundleImage): string[] {
  return [img.digest, ...(img.referrers ?? []).flatMap((r) => r.blobs)];
}

/** What each image carries beside it (its root manifest and every referrer), read from the
 *  volumes that are here; `missing` names the volumes still needed. In manifest order. */
export async function readImageArtifacts(tm: TrustedManifest, opts: { volumeFiles?: ReadonlyMap<number, string>; signal?: AbortSignal } = {}): Promise<Array<{ input?: Omit<VerifyInput, 'keys'>; missing?: string[] }>> {
  const images = tm.manifest.images;
  const read = await readSmallBlobs(tm, new Map(images.map((img, i) => [i, blobsOf(img)])), opts);
  return images.map((img, i) => {
    const missing = read.missing.get(i);
    if (missing) return { missing };
    const referrers: ReferrerInput[] = (img.referrers ?? []).map((r) => ({
      scheme: r.scheme,
      ...(r.tag ? { tag: r.tag } : {}),
      ...(r.artifactType ? { artifactType: r.artifactType } : {}),
      manifest: read.bytes.get(r.digest)!,
      blobs: new Map(r.blobs.filter((d) => d !== r.digest).map((d) => [d, read.bytes.get(d)!])),
    }));
    return { input: { image: { digest: img.digest, mediaType: img.mediaType, repository: img.repository, manifest: read.bytes.get(img.digest)! }, referrers } };
  });
}

/** Each image's signature status, in manifest order. */
export async function checkImageSignatures(tm: TrustedManifest, keys: readonly ImageKey[], opts: { types?: readonly string[]; volumeFiles?: ReadonlyMap<number, string>; signal?: AbortSignal } = {}): Promise<ImageSignature[]> {
  const artifacts = await readImageArtifacts(tm, opts);
  return artifacts.map(({ input: carried, missing }): ImageSignature => {
    if (!carried) return { status: 'unverified', keys: [], attested: [], sboms: [], reason: `its signatures are in ${(missing ?? []).join(', ')}, not here yet`, ...(opts.types?.length ? { required: opts.types.map((type) => ({ type, satisfied: false })) } : {}) };
    const input = { ...carried, keys };
    const report = verifyCosignSignatures(input);
    const att = verifyAttestations({ ...input, ...(opts.types?.length ? { types: opts.types } : {}) });
    const attested = [...new Set(att.attestations.filter((a) => a.verified && a.predicateType).map((a) => a.predicateType!))];
    const required = {
      ...(opts.types?.length ? { required: att.types.map((t) => ({ type: t.type, satisfied: t.satisfied })) } : {}),
      sboms: listSboms(input).map((e) => ({ source: e.source, format: e.format, ...(e.size !== undefined ? { size: e.size } : {}), ...(e.verified !== undefined ? { verified: e.verified } : {}) })),
    };
    const by = [...new Set(report.signatures.filter((s) => s.verified && s.keyFingerprint).map((s) => s.keyFingerprint!))];
    if (report.status === 'signed') return { status: 'signed', keys: by, attested, ...required };
    if (report.status === 'unsigned') return { status: 'unsigned', keys: [], attested, reason: 'no cosign signature is carried for it', ...required };
    const why = report.signatures.map((s) => s.reason).filter(Boolean)[0];
    return { status: 'invalid', keys: [], attested, reason: `no signature verifies with a trusted image key${why ? ` (${why})` : ''}`, ...required };
  });
}
