// A cosign simple-signing signature (a layer of a `sha256-<hex>.sig` manifest, or of an OCI 1.1
// referrer with artifactType application/vnd.dev.cosign.artifact.sig.v1+json), checked as
// `cosign verify --key` checks it (COS pkg/cosign/verify.go verifyOCISignature,
// pkg/cosign/verifiers.go SimpleClaimVerifier):
//   1. the layer blob (the payload) matches its digest;
//   2. the base64 annotation dev.cosignproject.cosign/signature verifies over the payload bytes
//      with a trusted key (keys.ts says which variants);
//   3. only then is the payload parsed: critical.type is "cosign container image signature" and
//      critical.image.docker-manifest-digest equals the image digest (a payload for another
//      image is an invalid signature, not a missing one);
//   4. with identities asked for (identity.ts), critical.identity.docker-reference names one of
//      those repositories (cosign does not check this; containers-image policy's matchRepository does).
// Certificates and chains in other annotations are not needed for key-based trust and are not
// read; the Rekor bundle annotation is read only under --trusted-root (tlog.ts).

import { parseReference } from '@ferry/oci';
import { printable, type Descriptor } from '@ferry/format-spec';
import { createHash } from 'node:crypto';
import { signerClaimText } from './envelope-check.js';
import { REKOR_BUNDLE_ANNOTATION, entriesFromAnnotation, requireLogged, type TrustedLogs } from './tlog.js';
import { identitiesText, identityMatches, type IdentityPattern } from './identity.js';
import { findVerifyingKey, type ImageKey } from './keys.js';
import { decodeBase64, goField, isRecord, parseJson, type JsonRecord } from './json.js';
import { layerBytes, type CarriedReferrer } from './referrer.js';
import type { SignatureCheck } from './types.js';

export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
/** Present on keyless (Fulcio) signatures (COS pkg/oci/static/signature.go; the spec's key name is wrong). */
const CERTIFICATE_ANNOTATION = 'dev.sigstore.cosign/certificate';
export const SIMPLE_SIGNING_TYPE = 'cosign container image signature';
/** A simple-signing payload is a few hundred bytes; `-a` annotations make it larger, not this large. */
export const MAX_SIMPLE_SIGNING_PAYLOAD_BYTES = 1 << 20;

/** The repository a docker reference names (Docker Hub spellings folded), or null when it is not one. */
export function repositoryOf(ref: string): string | null {
  try {
    return parseReference(ref).name;
  } catch {
    return null;
  }
}

type Claims = { digest: string; dockerReference?: string } | { error: string };

function readClaims(payload: Buffer): Claims {
  const p = parseJson(payload);
  if ('error' in p) return { error: `the payload is ${p.error}` };
  if (!isRecord(p.value)) return { error: 'the payload is not a JSON object' };
  const field = (o: JsonRecord, name: string): { value: unknown } | { error: string } | undefined => goField(o, name);
  const critical = field(p.value, 'critical');
  if (critical && 'error' in critical) return critical;
  if (!critical || !isRecord(critical.value)) return { error: 'the payload has no "critical" object' };
  const type = field(critical.value, 'type');
  if (type && 'error' in type) return type;
  if (type?.value !== SIMPLE_SIGNING_TYPE) return { error: `critical.type is ${JSON.stringify(type?.value ?? null).slice(0, 80)}, not "${SIMPLE_SIGNING_TYPE}"` };
  const image = field(critical.value, 'image');
  if (image && 'error' in image) return image;
  if (!image || !isRecord(image.value)) return { error: 'the payload has no critical.image object' };
  const digest = field(image.value, 'docker-manifest-digest');
  if (digest && 'error' in digest) return digest;
  if (typeof digest?.value !== 'string') return { error: 'the payload has no critical.image.docker-manifest-digest' };
  let dockerReference: string | undefined;
  const identity = field(critical.value, 'identity');
  if (identity && 'error' in identity) return identity;
  if (identity && isRecord(identity.value)) {
    const ref = field(identity.value, 'docker-reference');
    if (ref && 'error' in ref) return ref;
    if (typeof ref?.value === 'string') dockerReference = ref.value;
  }
  return { digest: digest.value, ...(dockerReference !== undefined ? { dockerReference } : {}) };
}

/** Check one simple-signing layer of `r` for the image `imageDigest`. */
export function checkSimpleSigning(r: CarriedReferrer, layer: Descriptor, imageDigest: string, keys: readonly ImageKey[], identities: readonly IdentityPattern[], logs?: TrustedLogs): SignatureCheck {
  const base = { ...r.where, layer: layer.digest, format: 'simple-signing' as const };
  const unverified = (reason: string): SignatureCheck => ({ ...base, verified: false, keyFingerprint: null, keyPath: null, algorithm: null, reason });

  if (layer.mediaType !== 'application/vnd.dev.cosign.simplesigning.v1+json') {
    return unverified(`the layer's media type is ${printable(layer.mediaType).slice(0, 100)}, not a cosign simple-signing payload`);
  }
  const sigText = layer.annotations?.[SIGNATURE_ANNOTATION];
  if (sigText === undefined || sigText === '') return unverified(`the layer has no ${SIGNATURE_ANNOTATION} annotation`);
  const sig = decodeBase64(sigText);
  if (!sig || sig.length === 0) return unverified(`the ${SIGNATURE_ANNOTATION} annotation is not base64`);
  const got = layerBytes(r, layer, MAX_SIMPLE_SIGNING_PAYLOAD_BYTES, 'simple-signing payload');
  if ('error' in got) return unverified(got.error);
  if (keys.length === 0) return unverified('no trusted key was given');

  const found = findVerifyingKey(keys, got.bytes, sig);
  if (!found) {
    const keyless = layer.annotations?.[CERTIFICATE_ANNOTATION] ? signerClaimText(keys, { certificate: true }) : '';
    return unverified(`the signature does not verify with the trusted key${keys.length > 1 ? `s (${keys.length} tried)` : ''}: signed by another key, or the payload was changed${keyless}`);
  }
  const signedBy = { keyFingerprint: found.key.fingerprint, keyPath: found.key.path, algorithm: found.algorithm };

  // From here on the payload is bytes a trusted key signed.
  const claims = readClaims(got.bytes);
  if ('error' in claims) return { ...base, ...signedBy, verified: false, reason: `signed by a trusted key, but ${claims.error}` };
  const ref = claims.dockerReference !== undefined ? { dockerReference: claims.dockerReference } : {};
  if (claims.digest !== imageDigest) {
    return { ...base, ...signedBy, ...ref, verified: false, reason: `signed by a trusted key for image ${printable(claims.digest).slice(0, 80)}, not for ${imageDigest}` };
  }
  if (identities.length && !identityMatches(identities, claims.dockerReference)) {
    const shown = claims.dockerReference === undefined ? 'names no docker-reference' : `names ${printable(claims.dockerReference).slice(0, 200)}`;
    return { ...base, ...signedBy, ...ref, verified: false, reason: `signed by a trusted key for this image, but the payload ${shown}, not ${identitiesText(identities)} (--image-identity)` };
  }
  const logged = { signature: sig, payloadSha256: createHash('sha256').update(got.bytes).digest('hex') };
  return requireLogged({ ...base, ...signedBy, ...ref, verified: true }, entriesFromAnnotation(layer.annotations?.[REKOR_BUNDLE_ANNOTATION]), [logged], logs);
}
