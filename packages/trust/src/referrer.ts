// Reading one carried referrer: its manifest (bounded, shape-checked), what kind of artifact it is,
// whether it is about this image, and its blobs, each checked against its descriptor's digest and
// size before a byte of it is used.
//
// Kinds, as cosign v2.6.5 writes them (COS pkg/oci/remote, internal/pkg/oci/remote ArtifactType,
// pkg/oci/remote/write.go WriteAttestationNewBundleFormat):
//   tag `sha256-<hex>.sig` / .att / .sbom                  → signature / attestation / sbom
//   referrer, artifactType application/vnd.dev.cosign.artifact.{sig,att,sbom}.v1+json
//     (`--registry-referrers-mode=oci-1-1`; cosign sets it as config.mediaType only)
//                                                          → signature / attestation / sbom
//   referrer, artifactType application/vnd.dev.sigstore.bundle.v0.3+json (`--new-bundle-format`)
//                                                          → bundle (a signature or an attestation,
//                                                            by the predicate type inside)
//   referrer with an SBOM artifact type (oras attach, Ferry's --sbom-file) → sbom
// The artifact type of a referrer is the manifest's artifactType, else its config media type
// (the OCI image-spec rule the referrers API applies).

import { createHash } from 'node:crypto';
import { MAX_IMAGE_MANIFEST_BYTES, MediaTypes, digestHex, isSha256Digest, printable, type Descriptor } from '@ferry/format-spec';
import { isRecord, parseJson } from './json.js';
import type { FoundIn, ReferrerInput } from './types.js';

export const CosignMediaTypes = {
  simpleSigning: 'application/vnd.dev.cosign.simplesigning.v1+json',
  dsseEnvelope: 'application/vnd.dsse.envelope.v1+json',
  sigstoreBundleV03: 'application/vnd.dev.sigstore.bundle.v0.3+json',
  artifactSig: 'application/vnd.dev.cosign.artifact.sig.v1+json',
  artifactAtt: 'application/vnd.dev.cosign.artifact.att.v1+json',
  artifactSbom: 'application/vnd.dev.cosign.artifact.sbom.v1+json',
} as const;

/** Layers (and artifact types) cosign's bundle reader takes as Sigstore bundles (pkg/cosign/verify.go GetBundles). */
export const SIGSTORE_BUNDLE_PREFIX = 'application/vnd.dev.sigstore.bundle';

export type ReferrerKind = 'signature' | 'attestation' | 'sbom' | 'bundle' | 'other';

export interface CarriedReferrer {
  input: ReferrerInput;
  where: FoundIn;
  kind: ReferrerKind;
  /** manifest.artifactType ?? config.mediaType (or the input's hint when the manifest is unusable). */
  artifactType?: string;
  layers: Descriptor[];
  annotations: Record<string, string>;
  /** Why this referrer cannot be used at all (every item in it is then reported with this reason). */
  error?: string;
}

const MANIFEST_TYPES: ReadonlySet<string> = new Set([MediaTypes.ociManifest, MediaTypes.dockerManifest]);
const COSIGN_TAG_RE = /^sha256-([0-9a-f]{64})\.(sig|att|sbom)$/;

const SBOM_ARTIFACT_TYPES: ReadonlySet<string> = new Set([
  'application/spdx+json',
  'text/spdx',
  'text/spdx+json',
  'application/vnd.cyclonedx+json',
  'application/vnd.cyclonedx+xml',
  'application/vnd.cyclonedx',
  'application/vnd.syft+json',
  'application/vnd.spdx+json',
]);

export function isSbomArtifactType(t: string | undefined): boolean {
  return t !== undefined && (SBOM_ARTIFACT_TYPES.has(t) || t === CosignMediaTypes.artifactSbom);
}

function kindOfArtifactType(t: string | undefined): ReferrerKind {
  if (t === undefined) return 'other';
  if (t === CosignMediaTypes.artifactSig) return 'signature';
  if (t === CosignMediaTypes.artifactAtt) return 'attestation';
  if (isSbomArtifactType(t)) return 'sbom';
  if (t.startsWith(SIGSTORE_BUNDLE_PREFIX)) return 'bundle';
  return 'other';
}

function kindOfTag(tag: string | undefined): ReferrerKind {
  const m = tag === undefined ? null : COSIGN_TAG_RE.exec(tag);
  if (!m) return 'other';
  return m[2] === 'sig' ? 'signature' : m[2] === 'att' ? 'attestation' : 'sbom';
}

function asDescriptor(v: unknown): Descriptor | null {
  if (!isRecord(v)) return null;
  const { mediaType, digest, size, annotations } = v;
  if (typeof mediaType !== 'string' || typeof digest !== 'string' || !isSha256Digest(digest)) return null;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return null;
  const d: Descriptor = { mediaType, digest, size };
  if (annotations !== undefined) {
    if (!isRecord(annotations) || !Object.values(annotations).every((x) => typeof x === 'string')) return null;
    d.annotations = annotations as Record<string, string>;
  }
  if (typeof v.artifactType === 'string') d.artifactType = v.artifactType;
  return d;
}

interface ParsedManifest {
  artifactType?: string;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations: Record<string, string>;
}

function parseManifest(bytes: Buffer): ParsedManifest | { error: string } {
  if (bytes.length > MAX_IMAGE_MANIFEST_BYTES) return { error: `the referrer manifest is ${bytes.length} bytes, more than the ${MAX_IMAGE_MANIFEST_BYTES} an image manifest may have` };
  const p = parseJson(bytes);
  if ('error' in p) return { error: `the referrer manifest is ${p.error}` };
  const m = p.value;
  if (!isRecord(m) || m.schemaVersion !== 2) return { error: 'the referrer manifest is not an image manifest (schemaVersion 2)' };
  if (m.mediaType !== undefined && (typeof m.mediaType !== 'string' || !MANIFEST_TYPES.has(m.mediaType))) {
    return { error: `the referrer manifest has media type ${printable(String(m.mediaType)).slice(0, 100)}, not an image manifest` };
  }
  const config = asDescriptor(m.config);
  if (!config) return { error: 'the referrer manifest has no valid config descriptor' };
  if (!Array.isArray(m.layers)) return { error: 'the referrer manifest has no layers array' };
  const layers: Descriptor[] = [];
  for (const l of m.layers) {
    const d = asDescriptor(l);
    if (!d) return { error: `layer ${layers.length + 1} of the referrer manifest is not a valid descriptor` };
    layers.push(d);
  }
  let subject: Descriptor | undefined;
  if (m.subject !== undefined) {
    const s = asDescriptor(m.subject);
    if (!s) return { error: 'the referrer manifest has an invalid subject descriptor' };
    subject = s;
  }
  let annotations: Record<string, string> = {};
  if (m.annotations !== undefined) {
    if (!isRecord(m.annotations) || !Object.values(m.annotations).every((x) => typeof x === 'string')) return { error: 'the referrer manifest has invalid annotations' };
    annotations = m.annotations as Record<string, string>;
  }
  const artifactType = typeof m.artifactType === 'string' ? m.artifactType : config.mediaType;
  return { artifactType, layers, annotations, ...(subject ? { subject } : {}) };
}

/** Read one referrer carried for the image `imageDigest`. Never throws for what the referrer holds. */
export function readReferrer(input: ReferrerInput, imageDigest: string): CarriedReferrer {
  const digest = 'sha256:' + createHash('sha256').update(input.manifest).digest('hex');
  const where: FoundIn = { scheme: input.scheme, referrer: digest, ...(input.tag !== undefined ? { tag: input.tag } : {}) };
  const parsed = parseManifest(input.manifest);
  // What the artifact is: from its tag, or from its own manifest; from the bundle's record only
  // when the manifest is unreadable (that record can be wrong: go-containerregistry writes the
  // config's artifactType, application/vnd.oci.empty.v1+json, into the fallback index for bundles).
  const kind: ReferrerKind = input.scheme === 'cosign-tag'
    ? kindOfTag(input.tag)
    : kindOfArtifactType('error' in parsed ? input.artifactType : parsed.artifactType);
  const fail = (error: string): CarriedReferrer => ({
    input, where, kind, layers: [], error,
    // The annotations of a manifest that parsed still say what it claims to be (for the report).
    annotations: 'error' in parsed ? {} : parsed.annotations,
    ...(input.artifactType !== undefined ? { artifactType: input.artifactType } : {}),
  });
  if ('error' in parsed) return fail(parsed.error);

  if (input.scheme === 'cosign-tag') {
    const m = input.tag === undefined ? null : COSIGN_TAG_RE.exec(input.tag);
    if (!m) return fail(`tag ${printable(String(input.tag)).slice(0, 140)} is not a cosign tag (sha256-<hex>.sig, .att or .sbom)`);
    if (m[1] !== digestHex(imageDigest)) return fail(`tag ${input.tag} belongs to image sha256:${m[1]}, not to ${imageDigest}`);
  } else {
    if (!parsed.subject) return fail('the referrer manifest has no subject');
    if (parsed.subject.digest !== imageDigest) return fail(`the referrer's subject is ${parsed.subject.digest}, not ${imageDigest}`);
  }
  return {
    input, where, kind, layers: parsed.layers, annotations: parsed.annotations,
    ...(parsed.artifactType !== undefined ? { artifactType: parsed.artifactType } : {}),
  };
}

/**
 * A layer's bytes, checked against the descriptor: present, at most `max` bytes, that size and
 * that sha256. The descriptor's size is checked before anything is hashed.
 */
export function layerBytes(r: CarriedReferrer, desc: Descriptor, max: number, what: string): { bytes: Buffer } | { error: string } {
  if (desc.size > max) return { error: `the ${what} is ${desc.size} bytes, more than the ${max} accepted` };
  const b = r.input.blobs.get(desc.digest);
  if (!b) return { error: `the ${what} blob ${desc.digest} is not carried` };
  if (b.length !== desc.size) return { error: `the ${what} blob ${desc.digest} is ${b.length} bytes, its descriptor says ${desc.size}` };
  const actual = 'sha256:' + createHash('sha256').update(b).digest('hex');
  if (actual !== desc.digest) return { error: `the ${what} blob does not match its digest ${desc.digest} (it hashes to ${actual}): changed after signing or damaged` };
  return { bytes: b };
}
