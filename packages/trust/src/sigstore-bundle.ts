// A Sigstore bundle (v0.3, protobuf JSON) stored as a layer of an OCI 1.1 referrer, as
// `cosign sign|attest --new-bundle-format` writes it (cosign 3.x by default). Parsed and
// structurally validated by @sigstore/bundle; the signature is checked here, with the trusted keys
// only (see docs/dependencies.md for why not @sigstore/verify):
// - dsseEnvelope: DSSE over an in-toto statement. Predicate https://sigstore.dev/cosign/sign/v1
//   makes it an image signature; any other predicate makes it an attestation.
// - messageSignature: a signature over the artifact bytes themselves (here: the image manifest,
//   which the caller must pass; its sha256 must be the image digest). An image signature.
// Timestamps and certificates in the bundle are not needed for key-based trust and are not read;
// transparency-log entries are required and checked only under --trusted-root (tlog.ts). The publicKey hint is unauthenticated: every trusted key is tried, the hint is named
// only in the reason of a signature that does not verify.

import { createHash } from 'node:crypto';
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { digestHex, printable, type Descriptor } from '@ferry/format-spec';
import type { DsseEnvelope } from './dsse.js';
import { checkStatementEnvelope, signerClaimText, type EnvelopeOutcome, type SignerClaim } from './envelope-check.js';
import { parseJson } from './json.js';
import { findVerifyingKey, type ImageKey } from './keys.js';
import { layerBytes, type CarriedReferrer } from './referrer.js';
import { COSIGN_SIGN_PREDICATE } from './statement.js';
import { entriesFromBundle, loggedEnvelope, requireLogged, type TrustedLogs } from './tlog.js';
import type { AttestationCheck, ImageSubject, SignatureCheck } from './types.js';

/** A bundle or DSSE envelope layer may carry a large SBOM predicate (base64 inside JSON). */
export const MAX_ATTESTATION_LAYER_BYTES = 64 << 20;
/** The referrer annotation cosign writes with the bundle's predicate type (unauthenticated). */
export const BUNDLE_PREDICATE_ANNOTATION = 'dev.sigstore.bundle.predicateType';

export type BundleItem = { kind: 'signature'; check: SignatureCheck } | { kind: 'attestation'; check: AttestationCheck };

/**
 * Who the bundle says signed it, unauthenticated: the publicKey hint is base64 of the sha256 of the
 * DER SPKI (cosign's rule, the same as our fingerprints); a certificate means keyless signing.
 */
function signerClaim(b: Bundle): SignerClaim {
  const c = b.verificationMaterial.content;
  if (c.$case !== 'publicKey') return { certificate: true };
  const raw = Buffer.from(c.publicKey.hint, 'base64');
  return raw.length === 32 ? { key: `sha256:${raw.toString('hex')}` } : null;
}

function item(r: CarriedReferrer, layer: Descriptor, o: EnvelopeOutcome | (Omit<EnvelopeOutcome, 'predicateType'> & { predicateType: string | null })): BundleItem {
  const isSignature = o.predicateType === COSIGN_SIGN_PREDICATE || o.predicateType === null;
  const common = {
    ...r.where, layer: layer.digest, format: 'sigstore-bundle' as const,
    keyFingerprint: o.keyFingerprint, keyPath: o.keyPath, algorithm: o.algorithm, verified: o.verified,
    ...(o.reason !== undefined ? { reason: o.reason } : {}),
  };
  if (isSignature) return { kind: 'signature', check: common };
  return {
    kind: 'attestation',
    check: {
      ...common, predicateType: o.predicateType,
      ...(o.statementType !== undefined ? { statementType: o.statementType } : {}),
      ...(o.verified && o.predicate !== undefined ? { predicate: o.predicate } : {}),
    },
  };
}

function failed(r: CarriedReferrer, layer: Descriptor, reason: string): BundleItem {
  const claimed = r.annotations[BUNDLE_PREDICATE_ANNOTATION] ?? null;
  return item(r, layer, { keyFingerprint: null, keyPath: null, algorithm: null, predicateType: claimed, verified: false, reason });
}

function checkMessageSignature(b: Bundle & { content: { $case: 'messageSignature' } }, image: ImageSubject, keys: readonly ImageKey[]): EnvelopeOutcome {
  const nobody = { keyFingerprint: null, keyPath: null, algorithm: null, predicateType: null, verified: false } as const;
  const ms = b.content.messageSignature;
  const hex = digestHex(image.digest);
  if (ms.messageDigest && Buffer.from(ms.messageDigest.digest).toString('hex') !== hex) {
    return { ...nobody, reason: `the bundle's message digest is not the image digest ${image.digest}: it signs another artifact` };
  }
  if (!image.manifest) return { ...nobody, reason: 'a message-signature bundle is checked over the image manifest bytes, which were not given' };
  if (createHash('sha256').update(image.manifest).digest('hex') !== hex) return { ...nobody, reason: `the image manifest given does not hash to ${image.digest}` };
  if (keys.length === 0) return { ...nobody, reason: 'no trusted key was given' };
  const found = findVerifyingKey(keys, image.manifest, ms.signature);
  if (!found) {
    return { ...nobody, reason: `the message signature does not verify with the trusted key${keys.length > 1 ? `s (${keys.length} tried)` : ''}${signerClaimText(keys, signerClaim(b))}` };
  }
  return { keyFingerprint: found.key.fingerprint, keyPath: found.key.path, algorithm: found.algorithm, predicateType: null, verified: true };
}

/** Check one bundle layer of `r` for `image`. */
export function checkBundleLayer(r: CarriedReferrer, layer: Descriptor, image: ImageSubject, keys: readonly ImageKey[], logs?: TrustedLogs): BundleItem {
  const got = layerBytes(r, layer, MAX_ATTESTATION_LAYER_BYTES, 'Sigstore bundle');
  if ('error' in got) return failed(r, layer, got.error);
  const json = parseJson(got.bytes);
  if ('error' in json) return failed(r, layer, `the Sigstore bundle is ${json.error}`);
  let b: Bundle;
  try {
    b = bundleFromJSON(json.value);
  } catch (e) {
    const fields = (e as { fields?: unknown }).fields;
    const which = Array.isArray(fields) && fields.length ? ` (${fields.slice(0, 5).map((f) => printable(String(f))).join(', ')})` : '';
    return failed(r, layer, `not a valid Sigstore bundle: ${printable((e as Error).message).slice(0, 200)}${which}`);
  }
  const entries = entriesFromBundle(b.verificationMaterial.tlogEntries);
  if (b.content.$case === 'messageSignature') {
    const ms = b.content.messageSignature;
    const logged = [{ signature: Buffer.from(ms.signature), payloadSha256: digestHex(image.digest) }];
    return item(r, layer, requireLogged(checkMessageSignature(b as Bundle & { content: { $case: 'messageSignature' } }, image, keys), entries, logged, logs));
  }
  const e = b.content.dsseEnvelope;
  const env: DsseEnvelope = { payloadType: e.payloadType, payload: Buffer.from(e.payload), signatures: e.signatures.map((s) => ({ sig: Buffer.from(s.sig) })) };
  const outcome = checkStatementEnvelope(env, keys, image.digest, { predicateType: r.annotations[BUNDLE_PREDICATE_ANNOTATION] ?? null, signer: signerClaim(b) });
  return item(r, layer, requireLogged(outcome, entries, loggedEnvelope(env), logs));
}
