// verifyAttestations: the in-toto attestations carried for one image, as `cosign
// verify-attestation --key` checks them: legacy `sha256-<hex>.att` manifests (and their OCI 1.1
// form), whose layers are DSSE envelopes (application/vnd.dsse.envelope.v1+json; the layer's
// signature annotation is empty, the signature is inside the envelope), and Sigstore bundle
// referrers whose statement is not a cosign signature. Each: DSSE signature by a trusted key,
// then an in-toto statement whose subject carries the image's sha256. Only a verified
// attestation's predicate is returned.

import { digestHex, printable, type Descriptor } from '@ferry/format-spec';
import { parseEnvelope } from './dsse.js';
import { checkStatementEnvelope } from './envelope-check.js';
import { predicateTypesFor } from './predicate-types.js';
import { CosignMediaTypes, layerBytes, readReferrer, SIGSTORE_BUNDLE_PREFIX, type CarriedReferrer } from './referrer.js';
import { BUNDLE_PREDICATE_ANNOTATION, MAX_ATTESTATION_LAYER_BYTES, checkBundleLayer } from './sigstore-bundle.js';
import { COSIGN_SIGN_PREDICATE } from './statement.js';
import { REKOR_BUNDLE_ANNOTATION, entriesFromAnnotation, loggedEnvelope, requireLogged } from './tlog.js';
import type { AttestationCheck, AttestationReport, AttestationStatus, RequiredAttestationType, VerifyInput } from './types.js';

/** The layer annotation cosign writes with an attestation's predicate type (unauthenticated). */
export const PREDICATE_TYPE_ANNOTATION = 'predicateType';

const NOBODY = { keyFingerprint: null, keyPath: null, algorithm: null } as const;

function envelopeLayer(r: CarriedReferrer, layer: Descriptor, input: VerifyInput): AttestationCheck {
  const claimedType = layer.annotations?.[PREDICATE_TYPE_ANNOTATION] ?? null;
  const base = { ...r.where, layer: layer.digest, format: 'dsse-envelope' as const };
  const failed = (reason: string): AttestationCheck => ({ ...base, ...NOBODY, predicateType: claimedType, verified: false, reason });
  if (layer.mediaType !== CosignMediaTypes.dsseEnvelope) return failed(`the layer's media type is ${printable(layer.mediaType).slice(0, 100)}, not a DSSE envelope`);
  const got = layerBytes(r, layer, MAX_ATTESTATION_LAYER_BYTES, 'DSSE envelope');
  if ('error' in got) return failed(got.error);
  const env = parseEnvelope(got.bytes);
  if ('error' in env) return failed(env.error);
  const o = checkStatementEnvelope(env, input.keys, input.image.digest, { predicateType: claimedType });
  return requireLogged({
    ...base,
    keyFingerprint: o.keyFingerprint, keyPath: o.keyPath, algorithm: o.algorithm,
    predicateType: o.predicateType,
    ...(o.statementType !== undefined ? { statementType: o.statementType } : {}),
    verified: o.verified,
    ...(o.reason !== undefined ? { reason: o.reason } : {}),
    ...(o.verified && o.predicate !== undefined ? { predicate: o.predicate } : {}),
  }, entriesFromAnnotation(layer.annotations?.[REKOR_BUNDLE_ANNOTATION]), loggedEnvelope(env), input.trustedRoot);
}

/** Every attestation check for the image (all predicate types). */
export function attestationChecks(input: VerifyInput, referrers: readonly CarriedReferrer[]): AttestationCheck[] {
  const out: AttestationCheck[] = [];
  for (const r of referrers) {
    if (r.kind === 'attestation') {
      if (r.error !== undefined) {
        out.push({ ...r.where, format: 'dsse-envelope', ...NOBODY, predicateType: null, verified: false, reason: r.error });
        continue;
      }
      if (r.layers.length === 0) {
        out.push({ ...r.where, format: 'dsse-envelope', ...NOBODY, predicateType: null, verified: false, reason: 'the attestation manifest has no layers' });
        continue;
      }
      for (const l of r.layers) out.push(envelopeLayer(r, l, input));
    } else if (r.kind === 'bundle') {
      if (r.error !== undefined) {
        const claimed = r.annotations[BUNDLE_PREDICATE_ANNOTATION];
        if (claimed !== undefined && claimed !== COSIGN_SIGN_PREDICATE) {
          out.push({ ...r.where, format: 'sigstore-bundle', ...NOBODY, predicateType: claimed, verified: false, reason: r.error });
        }
        continue;
      }
      for (const l of r.layers) {
        if (!l.mediaType.startsWith(SIGSTORE_BUNDLE_PREFIX)) continue;
        const it = checkBundleLayer(r, l, input.image, input.keys, input.trustedRoot);
        if (it.kind === 'attestation') out.push(it.check);
      }
    }
  }
  return out;
}

function statusOf(checks: readonly AttestationCheck[]): AttestationStatus {
  if (checks.some((c) => c.verified)) return 'attested';
  return checks.length ? 'invalid' : 'none';
}

/**
 * Check the attestations carried for `input.image`. With `types` (cosign short names such as
 * `slsaprovenance`, `spdxjson`, or predicate URIs), only attestations of those predicate types are
 * listed, and `types` in the report says which of them a verified attestation satisfies. Throws
 * USAGE for an unknown type name and SCHEMA_INVALID for a malformed image digest.
 */
export function verifyAttestations(input: VerifyInput & { types?: readonly string[] }): AttestationReport {
  digestHex(input.image.digest);
  const asked = (input.types ?? []).map((type) => ({ type, predicateTypes: predicateTypesFor(type) }));
  const referrers = input.referrers.map((r) => readReferrer(r, input.image.digest));
  let attestations = attestationChecks(input, referrers);
  if (asked.length) {
    const wanted = new Set(asked.flatMap((a) => a.predicateTypes));
    attestations = attestations.filter((a) => a.predicateType !== null && wanted.has(a.predicateType));
  }
  const types: RequiredAttestationType[] = asked.map((a) => ({
    ...a,
    satisfied: attestations.some((c) => c.verified && c.predicateType !== null && a.predicateTypes.includes(c.predicateType)),
  }));
  return { digest: input.image.digest, status: statusOf(attestations), attestations, types };
}
