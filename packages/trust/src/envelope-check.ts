// One DSSE envelope holding an in-toto statement, checked for one image: a trusted key's
// signature over the PAE, then (on those verified bytes only) an in-toto statement whose subject
// carries the image's sha256. Shared by legacy `.att` layers and Sigstore bundle layers.

import { digestHex, printable } from '@ferry/format-spec';
import { verifyEnvelope, type DsseEnvelope } from './dsse.js';
import type { ImageKey } from './keys.js';
import { bindsDigest, claimedPredicateType, parseStatement, subjectDigests } from './statement.js';
import type { SignedBy } from './types.js';

export interface EnvelopeOutcome extends SignedBy {
  /** From the verified statement; otherwise what the unverified payload or the layer claims. */
  predicateType: string | null;
  statementType?: string;
  verified: boolean;
  reason?: string;
  /** The predicate of a verified statement. */
  predicate?: unknown;
}

const NOBODY: SignedBy = { keyFingerprint: null, keyPath: null, algorithm: null };

/**
 * Who a signature says made it, unauthenticated: a key fingerprint (a Sigstore bundle's publicKey
 * hint), or a certificate (keyless signing, which key-based offline verification does not accept).
 */
export type SignerClaim = { key: string } | { certificate: true } | null;

/** What a failed signature says about its signer, for the reason. */
export function signerClaimText(keys: readonly ImageKey[], claim: SignerClaim | undefined): string {
  if (!claim) return '';
  if ('certificate' in claim) return '; it carries a certificate instead (keyless signing): only signatures by a trusted key are accepted offline';
  const same = keys.find((k) => k.fingerprint === claim.key);
  if (same) return `; it names the trusted key ${printable(same.path)} (${claim.key.slice(0, 19)}…): its content was changed after signing`;
  return `; it names key ${claim.key}, which is not a trusted key`;
}

export function checkStatementEnvelope(
  env: DsseEnvelope,
  keys: readonly ImageKey[],
  imageDigest: string,
  claims: { predicateType?: string | null; signer?: SignerClaim } = {},
): EnvelopeOutcome {
  const claimed = claimedPredicateType(env.payload) ?? claims.predicateType ?? null;
  if (keys.length === 0) return { ...NOBODY, predicateType: claimed, verified: false, reason: 'no trusted key was given' };
  const v = verifyEnvelope(env, keys);
  if (!v) {
    const n = keys.length > 1 ? `s (${keys.length} tried)` : '';
    return { ...NOBODY, predicateType: claimed, verified: false, reason: `the DSSE signature does not verify with the trusted key${n}: signed by another key, or the payload was changed${signerClaimText(keys, claims.signer)}` };
  }
  const signedBy: SignedBy = { keyFingerprint: v.key.fingerprint, keyPath: v.key.path, algorithm: v.algorithm };
  // From here on only the verified payload bytes are read.
  const s = parseStatement(env.payloadType, v.payload);
  if ('error' in s) return { ...signedBy, predicateType: claimed, verified: false, reason: `signed by a trusted key, but ${s.error}` };
  const base = { ...signedBy, predicateType: s.predicateType, statementType: s.type };
  if (!bindsDigest(s, digestHex(imageDigest))) {
    return { ...base, verified: false, reason: `signed by a trusted key for ${printable(subjectDigests(s))}, not for ${imageDigest}` };
  }
  return { ...base, verified: true, predicate: s.predicate };
}
