// verifyCosignSignatures: every cosign signature carried for one image, each checked with the
// trusted keys, and the image's status from them. Where signatures are looked for is what
// `cosign verify` reads (v2 tags, v2 `--registry-referrers-mode=oci-1-1` referrers, v3 bundle
// referrers), all of them, not only the first kind found: a valid one anywhere signs the image,
// and an invalid one anywhere is shown.

import { digestHex } from '@ferry/format-spec';
import { readReferrer, SIGSTORE_BUNDLE_PREFIX, type CarriedReferrer } from './referrer.js';
import { BUNDLE_PREDICATE_ANNOTATION, checkBundleLayer } from './sigstore-bundle.js';
import { COSIGN_SIGN_PREDICATE } from './statement.js';
import { checkSimpleSigning } from './simple-signing.js';
import { identitiesText, parseIdentities, type IdentityPattern } from './identity.js';
import type { SignatureCheck, SignatureReport, SignatureStatus, VerifyInput } from './types.js';

function referrerFailure(r: CarriedReferrer, format: SignatureCheck['format']): SignatureCheck {
  return { ...r.where, format, verified: false, keyFingerprint: null, keyPath: null, algorithm: null, reason: r.error ?? 'unusable referrer' };
}

/** Every signature check for the image (internal: also used for SBOM and attestation listing). */
export function signatureChecks(input: VerifyInput, referrers: readonly CarriedReferrer[], identities: readonly IdentityPattern[] = parseIdentities(input.identity)): SignatureCheck[] {
  const out: SignatureCheck[] = [];
  for (const r of referrers) {
    if (r.kind === 'signature') {
      if (r.error !== undefined) {
        out.push(referrerFailure(r, 'simple-signing'));
        continue;
      }
      if (r.layers.length === 0) {
        out.push({ ...referrerFailure(r, 'simple-signing'), reason: 'the signature manifest has no layers' });
        continue;
      }
      for (const l of r.layers) out.push(checkSimpleSigning(r, l, input.image.digest, input.keys, identities, input.trustedRoot));
    } else if (r.kind === 'bundle') {
      if (r.error !== undefined) {
        // Unusable as a whole: shown as a signature unless it claims to be an attestation.
        const claimed = r.annotations[BUNDLE_PREDICATE_ANNOTATION];
        if (claimed === undefined || claimed === COSIGN_SIGN_PREDICATE) out.push(referrerFailure(r, 'sigstore-bundle'));
        continue;
      }
      for (const l of r.layers) {
        if (!l.mediaType.startsWith(SIGSTORE_BUNDLE_PREFIX)) continue;
        const it = checkBundleLayer(r, l, input.image, input.keys, input.trustedRoot);
        if (it.kind !== 'signature') continue;
        // A bundle's statement names the digest only: under --image-identity it proves no name.
        if (identities.length && it.check.verified) out.push({ ...it.check, verified: false, reason: `signed by a trusted key for this image, but a Sigstore bundle signature names no repository to check against ${identitiesText(identities)} (--image-identity)` });
        else out.push(it.check);
      }
    }
  }
  return out;
}

export function signatureStatus(checks: readonly SignatureCheck[]): SignatureStatus {
  if (checks.some((c) => c.verified)) return 'signed';
  return checks.length ? 'invalid' : 'unsigned';
}

/**
 * Check the cosign signatures carried for `input.image` against `input.keys`. Throws only for a
 * malformed image digest (SCHEMA_INVALID) or identity (USAGE); whatever the referrers hold
 * becomes a check with a reason.
 */
export function verifyCosignSignatures(input: VerifyInput): SignatureReport {
  digestHex(input.image.digest);
  const identities = parseIdentities(input.identity);
  const referrers = input.referrers.map((r) => readReferrer(r, input.image.digest));
  const signatures = signatureChecks(input, referrers, identities);
  return { digest: input.image.digest, status: signatureStatus(signatures), signatures };
}
