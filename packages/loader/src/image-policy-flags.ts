// The image-policy flags push and verify share (--image-key, --require-signed-images,
// --require-attestation, --image-identity, --trusted-root) -> ImagePolicy. Keys are always files of the high
// side, never taken from the bundle.

import { asArray } from '@ferry/cli-kit';
import { loadImageKeys, loadTrustedRoot } from '@ferry/trust';
import type { Argv } from 'yargs';
import type { ImagePolicy } from './trust/policy.js';

export interface ImagePolicyArgs {
  imageKey?: string[];
  requireSignedImages: boolean;
  requireAttestation?: string[];
  imageIdentity?: string[];
  trustedRoot?: string;
}

export async function imagePolicyFrom(a: ImagePolicyArgs): Promise<ImagePolicy> {
  const keys = asArray(a.imageKey);
  return {
    ...(keys.length ? { imageKeys: await loadImageKeys(keys) } : {}),
    requireSignedImages: a.requireSignedImages,
    ...(asArray(a.requireAttestation).length ? { requireAttestations: asArray(a.requireAttestation) } : {}),
    ...(asArray(a.imageIdentity).length ? { imageIdentity: asArray(a.imageIdentity) } : {}),
    ...(a.trustedRoot ? { trustedRoot: await loadTrustedRoot(a.trustedRoot) } : {}),
  };
}

/** `what`: what an image that fails the policy does not get ("pushed", "counted as good"). */
export function imagePolicyFlags<T>(y: Argv<T>, what: 'push' | 'verify') {
  const refused = what === 'push' ? 'are not pushed nor tagged, and the report says why' : 'make verify fail';
  return y
    .option('image-key', { type: 'string', array: true, describe: `The high side's cosign public key(s) (a .pub, a keyring FILE#N, or a directory of them; never one from the bundle): every image's signatures (and each platform's, as cosign sign --recursive makes them) are checked${what === 'push' ? ' before anything is pushed' : ''}, and the ${what === 'push' ? 'plan and report say' : 'report says'} signed / unsigned / invalid` })
    .option('require-signed-images', { type: 'boolean', default: false, describe: `Images without a valid signature by an --image-key ${refused} (exit 24)` })
    .option('require-attestation', { type: 'string', array: true, describe: `Images without an attestation of this type verified by an --image-key ${refused} (repeatable): slsaprovenance, spdx, spdxjson, cyclonedx, vuln, custom or a predicate URI (exit 24)` })
    .option('image-identity', { type: 'string', array: true, describe: 'A signature counts only if its payload names this repository (REPO, or REPO/* for all under it; repeatable). Name the repositories as the signer signed them on the low side (ghcr.io/acme/app), not their names in your registry. Sigstore bundle signatures name no repository and do not count under it' })
    .option('trusted-root', { type: 'string', describe: "A Sigstore trusted_root.json (the high side's copy): signatures and attestations count only with a transparency-log entry whose signed entry timestamp one of its logs signed, checked offline (cosign verify --offline). Without it log entries are not needed: key-based trust, as for --tlog-upload=false signatures" });
}
