// listSboms / readSbom: the SBOMs carried for one image, from three places:
// - cosign `.sbom` attachments (`cosign attach sbom`, deprecated in cosign but common), also in
//   their OCI 1.1 form (artifactType application/vnd.dev.cosign.artifact.sbom.v1+json); the
//   layer's media type is the format (COS pkg/types/media.go). Not signed: cosign says so itself.
// - SBOM attestations (`cosign attest --type spdxjson|spdx|cyclonedx`): the predicate of a
//   statement with an SPDX or CycloneDX predicate type; readable only when a trusted key
//   verified it.
// - OCI 1.1 referrers with an SBOM artifact type (`oras attach --artifact-type application/spdx+json`,
//   Ferry's own --sbom-file); the format comes from the layer's media type, else the artifact type.

import { FerryError, printable } from '@ferry/format-spec';
import { attestationChecks } from './attestations.js';
import type { ImageKey } from './keys.js';
import { CosignMediaTypes, layerBytes, readReferrer } from './referrer.js';
import { MAX_ATTESTATION_LAYER_BYTES } from './sigstore-bundle.js';
import { PredicateTypes } from './predicate-types.js';
import { digestHex, sha256Digest } from '@ferry/format-spec';
import type { AttestationCheck, SbomEntry, SbomFormat, VerifyInput } from './types.js';

/** What listSboms needs: the image and its referrers; keys to verify SBOM attestations (without keys none verifies). */
export type SbomInput = Omit<VerifyInput, 'keys' | 'identity'> & { keys?: readonly ImageKey[] };

/** An SBOM attachment can be large; it is read whole from memory, so it is bounded like an attestation. */
export const MAX_SBOM_BYTES = MAX_ATTESTATION_LAYER_BYTES;

const FORMATS: Readonly<Record<string, SbomFormat>> = {
  'text/spdx': 'spdx-tag-value',
  'text/spdx+json': 'spdx-json',
  'application/spdx+json': 'spdx-json',
  'application/vnd.spdx+json': 'spdx-json',
  'application/vnd.cyclonedx+json': 'cyclonedx-json',
  'application/vnd.cyclonedx+xml': 'cyclonedx-xml',
  'application/vnd.syft+json': 'syft-json',
};

export function sbomFormatOf(mediaType: string | undefined): SbomFormat {
  return (mediaType !== undefined && FORMATS[mediaType]) || 'unknown';
}

/** The SBOM format of an attestation's predicate type, or null when it is not an SBOM predicate. */
function attestedFormat(a: AttestationCheck): { format: SbomFormat; mediaType: string } | null {
  const t = a.predicateType;
  if (t === null) return null;
  const isSpdx = t === PredicateTypes.spdx || t.startsWith(`${PredicateTypes.spdx}/`);
  const isCdx = t === PredicateTypes.cyclonedx || t.startsWith(`${PredicateTypes.cyclonedx}/`);
  if (!isSpdx && !isCdx) return null;
  // `cosign attest --type spdx` puts a tag-value document in as a JSON string, spdxjson as an object.
  if (isSpdx) return typeof a.predicate === 'string' ? { format: 'spdx-tag-value', mediaType: 'text/spdx' } : { format: 'spdx-json', mediaType: 'application/spdx+json' };
  return { format: 'cyclonedx-json', mediaType: 'application/vnd.cyclonedx+json' };
}

function predicateBytes(predicate: unknown): Buffer {
  return Buffer.from(typeof predicate === 'string' ? predicate : JSON.stringify(predicate), 'utf8');
}

interface Listed {
  entry: SbomEntry;
  bytes?: Buffer;
}

function list(input: SbomInput): Listed[] {
  digestHex(input.image.digest);
  const referrers = input.referrers.map((r) => readReferrer(r, input.image.digest));
  const out: Listed[] = [];
  for (const r of referrers) {
    // An unusable manifest (another image's, unreadable) carries nothing to list for this image.
    if (r.kind !== 'sbom' || r.error !== undefined) continue;
    const source = r.input.scheme === 'cosign-tag' || r.artifactType === CosignMediaTypes.artifactSbom ? 'attachment' : 'referrer';
    for (const l of r.layers) {
      let format = sbomFormatOf(l.mediaType);
      if (format === 'unknown' && source === 'referrer') format = sbomFormatOf(r.artifactType);
      const got = layerBytes(r, l, MAX_SBOM_BYTES, 'SBOM');
      const base = { ...r.where, layer: l.digest, source, format, mediaType: l.mediaType } as const;
      if ('error' in got) out.push({ entry: { ...base, reason: got.error } });
      else out.push({ entry: { ...base, digest: l.digest, size: l.size }, bytes: got.bytes });
    }
  }
  const keys = input.keys ?? [];
  for (const a of attestationChecks({ ...input, keys }, referrers)) {
    const f = attestedFormat(a);
    if (!f) continue;
    const base = {
      scheme: a.scheme, referrer: a.referrer, ...(a.tag !== undefined ? { tag: a.tag } : {}), ...(a.layer !== undefined ? { layer: a.layer } : {}),
      source: 'attestation' as const, ...f, predicateType: a.predicateType!, verified: a.verified, keyFingerprint: a.keyFingerprint,
    };
    if (!a.verified) {
      out.push({ entry: { ...base, reason: a.reason ?? 'not verified' } });
      continue;
    }
    const bytes = predicateBytes(a.predicate);
    out.push({ entry: { ...base, digest: sha256Digest(bytes), size: bytes.length }, bytes });
  }
  return out;
}

/**
 * Every SBOM carried for the image. `digest` and `size` are those of the bytes readSbom() returns;
 * they are absent when there is nothing to read (a blob not carried or damaged, an attestation no
 * trusted key verified), and `reason` then says why.
 */
export function listSboms(input: SbomInput): SbomEntry[] {
  return list(input).map((l) => l.entry);
}

function sameItem(a: SbomEntry, b: SbomEntry): boolean {
  return a.source === b.source && a.referrer === b.referrer && a.layer === b.layer;
}

/**
 * The bytes of one SBOM listSboms() gave for the same input. Refuses (SIGNATURE_INVALID) an SBOM
 * attestation no trusted key verified, and (BLOB_MISMATCH) an attachment whose blob is missing or
 * damaged.
 */
export function readSbom(input: SbomInput, entry: SbomEntry): Buffer {
  const found = list(input).find((l) => sameItem(l.entry, entry));
  if (!found) throw new FerryError('INTERNAL', `no SBOM ${printable(entry.referrer)} ${printable(entry.layer ?? '')} is carried for ${input.image.digest}`);
  if (found.bytes) return found.bytes;
  const why = found.entry.reason ?? 'it cannot be read';
  if (found.entry.source === 'attestation') {
    throw new FerryError('SIGNATURE_INVALID', `the SBOM attestation ${found.entry.layer ?? found.entry.referrer} of ${input.image.digest} is not verified by a trusted key: ${why}`, { digest: input.image.digest });
  }
  throw new FerryError('BLOB_MISMATCH', `the SBOM ${found.entry.layer ?? found.entry.referrer} of ${input.image.digest}: ${why}`, { digest: input.image.digest });
}
