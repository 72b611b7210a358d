// The image policy flags as one decision, shared by push (what is left out of the plan) and
// verify (what fails the check): --image-key, --require-signed-images, --require-attestation,
// --image-identity.

import { FerryError } from '@ferry/format-spec';
import type { ImageKey, TrustedLogs } from '@ferry/trust';
import type { TrustedManifest } from '../bundle.js';
import { checkImageSignatures, type ImageSignature } from './image-signatures.js';

export interface ImagePolicy {
  /** The high side's image keys (--image-key). */
  imageKeys?: readonly ImageKey[];
  /** Only images with a valid signature by one of imageKeys pass (--require-signed-images). */
  requireSignedImages?: boolean;
  /** Only images with a verified attestation of each of these types pass (--require-attestation). */
  requireAttestations?: readonly string[];
  /** A simple-signing signature counts only when it names one of these repositories (--image-identity). */
  imageIdentity?: readonly string[];
  /** --trusted-root: a signature or attestation counts only with a log entry these logs promised. */
  trustedRoot?: TrustedLogs;
}

export interface PolicyOutcome {
  /** Per image in manifest order; absent when no image key was given. */
  signatures?: ImageSignature[];
  /** Images the policy refuses, by index, with why. */
  refused: Map<number, string>;
}

/** USAGE for policy flags without keys to check them with (asked before any volume is read). */
export function checkImagePolicy(p: ImagePolicy): void {
  const wants = p.requireSignedImages ? '--require-signed-images' : p.requireAttestations?.length ? '--require-attestation' : p.imageIdentity?.length ? '--image-identity' : p.trustedRoot ? '--trusted-root' : undefined;
  if (wants && !p.imageKeys?.length) throw new FerryError('USAGE', `${wants} needs the keys to check with: give --image-key COSIGN.pub`);
}

/** Check every image against the policy (reads the volumes that are here; writes nothing). */
export async function applyImagePolicy(tm: TrustedManifest, p: ImagePolicy, opts: { signal?: AbortSignal } = {}): Promise<PolicyOutcome> {
  checkImagePolicy(p);
  const types = p.requireAttestations ?? [];
  const refused = new Map<number, string>();
  if (!p.imageKeys?.length) return { refused };
  const signatures = await checkImageSignatures(tm, p.imageKeys, {
    ...(types.length ? { types } : {}),
    ...(p.imageIdentity?.length ? { identity: p.imageIdentity } : {}),
    ...(p.trustedRoot ? { trustedRoot: p.trustedRoot } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  signatures.forEach((sig, i) => {
    if (p.requireSignedImages && sig.status !== 'signed') refused.set(i, `${sig.status}: ${sig.reason ?? ''}`);
    else if (sig.required?.some((t) => !t.satisfied)) refused.set(i, `no verified attestation of type ${sig.required.filter((t) => !t.satisfied).map((t) => t.type).join(', ')} by a trusted image key`);
  });
  return { signatures, refused };
}
