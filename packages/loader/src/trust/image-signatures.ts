// The image-signature policy of a push (`--image-key`, `--require-signed-images`,
// `--require-attestation TYPE`, `--image-identity`): before the operator is asked, each image's
// signatures the bundle carries (cosign `.sig` tags, OCI referrers with Sigstore bundles) are
// read from the verified volumes and checked with @ferry/trust against the high side's image
// keys — never a key from the bundle. Under the policy an image without a valid signature is not
// pushed, nor tagged; without it the report still says signed / unsigned / invalid for each.
//
// A multi-platform image is checked per subject, as `cosign sign --recursive` signs it: the index
// by its own signatures, each platform manifest by the signatures whose subject it is. The image
// is signed when its index is, or when every platform manifest it carries is (a platform-filtered
// image has a Ferry-made index no signer ever saw: only its platforms can be signed).

import { platformString, type BundleImage } from '@ferry/format-spec';
import { listSboms, verifyAttestations, verifyCosignSignatures, type AttestationReport, type ImageKey, type ReferrerInput, type SignatureReport, type TrustedLogs, type VerifyInput } from '@ferry/trust';
import type { TrustedManifest } from '../bundle.js';
import { readSmallBlobs } from '../volume-blobs.js';

type Status = 'signed' | 'unsigned' | 'invalid';

export interface PlatformSignature {
  digest: string;
  platform: string;
  status: Status;
  keys: string[];
  reason?: string;
}

export interface ImageSignature {
  /** `unverified`: the volumes holding its signatures are not here yet. */
  status: Status | 'unverified';
  /** Fingerprints of the trusted keys whose signatures verified. */
  keys: string[];
  /** For a multi-platform image that is signed: by its index's signature or by every platform's. */
  signedVia?: 'index' | 'platforms';
  reason?: string;
  /** For a multi-platform image: each platform manifest's own signatures (`cosign sign --recursive`). */
  platforms?: PlatformSignature[];
  /** Predicate types of the attestations a trusted key verified for it (index or platforms). */
  attested: string[];
  /** With --require-attestation: each type asked for, and whether a verified attestation has it. */
  required?: Array<{ type: string; satisfied: boolean }>;
  /** SBOMs carried for it (attachments, SBOM attestations, SBOM referrers). */
  sboms: Array<{ source: string; format: string; size?: number; verified?: boolean }>;
}

/** One signed subject of an image: its root, or one of its platform manifests. */
export type SubjectInput = Omit<VerifyInput, 'keys'> & { platform?: string };

export interface ImageArtifacts {
  /** The root (index or manifest) with the referrers whose subject it is. */
  input?: SubjectInput;
  /** For an index: each platform manifest with the referrers whose subject it is. */
  children?: SubjectInput[];
  /** The volumes still needed, when they are not all here. */
  missing?: string[];
}

/** What one image's signature check needs from the volumes: its manifests and every referrer blob. */
function blobsOf(img: BundleImage): string[] {
  return [img.digest, ...img.platforms.map((p) => p.digest), ...(img.referrers ?? []).flatMap((r) => r.blobs)];
}

/** What each image carries beside it (its manifests and every referrer), read from the volumes
 *  that are here, grouped by the subject each referrer names; `missing` names the volumes still
 *  needed. In manifest order. */
export async function readImageArtifacts(tm: TrustedManifest, opts: { volumeFiles?: ReadonlyMap<number, string>; signal?: AbortSignal } = {}): Promise<ImageArtifacts[]> {
  const images = tm.manifest.images;
  const mediaTypes = new Map(tm.manifest.blobs.map((b) => [b.digest, b.mediaType]));
  const read = await readSmallBlobs(tm, new Map(images.map((img, i) => [i, blobsOf(img)])), opts);
  return images.map((img, i) => {
    const missing = read.missing.get(i);
    if (missing) return { missing };
    const referrersOf = (subject: string): ReferrerInput[] => (img.referrers ?? []).filter((r) => r.subject === subject).map((r) => ({
      scheme: r.scheme,
      ...(r.tag ? { tag: r.tag } : {}),
      ...(r.artifactType ? { artifactType: r.artifactType } : {}),
      manifest: read.bytes.get(r.digest)!,
      blobs: new Map(r.blobs.filter((d) => d !== r.digest).map((d) => [d, read.bytes.get(d)!])),
    }));
    const input: SubjectInput = { image: { digest: img.digest, mediaType: img.mediaType, repository: img.repository, manifest: read.bytes.get(img.digest)! }, referrers: referrersOf(img.digest) };
    const children = img.platforms.filter((p) => p.digest !== img.digest).map((p): SubjectInput => ({
      image: { digest: p.digest, mediaType: mediaTypes.get(p.digest) ?? img.mediaType, repository: img.repository, manifest: read.bytes.get(p.digest)! },
      referrers: referrersOf(p.digest),
      platform: platformString(p.platform),
    }));
    return children.length ? { input, children } : { input };
  });
}

export interface SignatureCheckOptions {
  /** --require-attestation types. */
  types?: readonly string[];
  /** --image-identity patterns (REPO or REPO/*). */
  identity?: readonly string[];
  /** --trusted-root: require log entries these logs promised. */
  trustedRoot?: TrustedLogs;
  volumeFiles?: ReadonlyMap<number, string>;
  signal?: AbortSignal;
}

const fingerprints = (r: SignatureReport): string[] => [...new Set(r.signatures.filter((s) => s.verified && s.keyFingerprint).map((s) => s.keyFingerprint!))];
const firstReason = (r: SignatureReport): string | undefined => r.signatures.map((s) => s.reason).find(Boolean);
function reasonOf(r: SignatureReport): string | undefined {
  if (r.status === 'unsigned') return 'no cosign signature is carried for it';
  if (r.status === 'invalid') {
    const why = firstReason(r);
    return `no signature verifies with a trusted image key${why ? ` (${why})` : ''}`;
  }
  return undefined;
}

/** Each image's signature status, in manifest order. */
export async function checkImageSignatures(tm: TrustedManifest, keys: readonly ImageKey[], opts: SignatureCheckOptions = {}): Promise<ImageSignature[]> {
  const artifacts = await readImageArtifacts(tm, opts);
  const types = opts.types?.length ? opts.types : undefined;
  const identity = { ...(opts.identity?.length ? { identity: opts.identity } : {}), ...(opts.trustedRoot ? { trustedRoot: opts.trustedRoot } : {}) };
  return artifacts.map(({ input: root, children = [], missing }): ImageSignature => {
    if (!root) return { status: 'unverified', keys: [], attested: [], sboms: [], reason: `its signatures are in ${(missing ?? []).join(', ')}, not here yet`, ...(types ? { required: types.map((type) => ({ type, satisfied: false })) } : {}) };
    const subjects = [root, ...children].map((s) => {
      const input: VerifyInput = { ...s, keys, ...identity };
      return { s, input, sig: verifyCosignSignatures(input), att: verifyAttestations({ ...input, ...(types ? { types } : {}) }) };
    });
    const [top, ...plats] = subjects as [typeof subjects[number], ...typeof subjects];
    const attested = [...new Set(subjects.flatMap(({ att }) => att.attestations.filter((a) => a.verified && a.predicateType).map((a) => a.predicateType!)))];
    // A type is satisfied by the index's attestation, or by one on every platform.
    const satisfied = (k: number, r: AttestationReport): boolean => r.types[k]!.satisfied;
    const required = types ? { required: types.map((type, k) => ({ type, satisfied: satisfied(k, top.att) || (plats.length > 0 && plats.every((p) => satisfied(k, p.att))) })) } : {};
    const sboms = subjects.flatMap(({ input }) => listSboms(input).map((e) => ({ source: e.source, format: e.format, ...(e.size !== undefined ? { size: e.size } : {}), ...(e.verified !== undefined ? { verified: e.verified } : {}) })));
    const platforms = plats.length
      ? { platforms: plats.map(({ s, sig }): PlatformSignature => ({ digest: s.image.digest, platform: s.platform ?? '', status: sig.status, keys: fingerprints(sig), ...(reasonOf(sig) ? { reason: reasonOf(sig)! } : {}) })) }
      : {};
    const common = { attested, ...required, sboms, ...platforms };
    if (top.sig.status === 'signed') return { status: 'signed', keys: fingerprints(top.sig), ...(plats.length ? { signedVia: 'index' as const } : {}), ...common };
    if (plats.length && plats.every((p) => p.sig.status === 'signed')) {
      return { status: 'signed', keys: [...new Set(plats.flatMap((p) => fingerprints(p.sig)))], signedVia: 'platforms', ...common };
    }
    // Not signed: the index's own verdict, unless some platform's signature says more.
    const platInvalid = plats.find((p) => p.sig.status === 'invalid');
    const status: Status = top.sig.status === 'invalid' || platInvalid ? 'invalid' : 'unsigned';
    const unsignedPlats = plats.filter((p) => p.sig.status !== 'signed').map((p) => p.s.platform);
    const reason = plats.length && plats.some((p) => p.sig.status === 'signed')
      ? `the index is not signed (${reasonOf(top.sig) ?? ''}) and neither ${unsignedPlats.length > 1 ? 'are the platforms' : 'is the platform'} ${unsignedPlats.join(', ')}`
      : reasonOf(top.sig.status === 'invalid' || !platInvalid ? top.sig : platInvalid.sig)!;
    return { status, keys: [], reason, ...common };
  });
}
