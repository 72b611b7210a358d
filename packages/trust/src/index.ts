// @ferry/trust: offline, key-based verification of cosign image signatures and attestations, and
// the SBOMs carried beside an image. Input is what a bundle carries for one image (its referrer
// manifests and blobs); trust comes only from the keys the caller passes. No network, no
// transparency log, no trusted root.

export {
  MAX_RSA_BITS, MIN_RSA_BITS, loadImageKeys, parseImageKeys, verifyWithImageKey,
  type ImageKey, type ImageKeyAlgorithm, type SignatureAlgorithm, type VerifyWithKeyOptions,
} from './keys.js';
export { preAuthEncoding } from './dsse.js';
