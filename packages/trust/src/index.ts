// @ferry/trust: offline, key-based verification of cosign image signatures and attestations, and
// the SBOMs carried beside an image. Input is what a bundle carries for one image (its referrer
// manifests and blobs); trust comes only from the keys the caller passes. No network, no
// transparency log, no trusted root.

export {
  MAX_RSA_BITS, MIN_RSA_BITS, loadImageKeys, parseImageKeys, verifyWithImageKey,
  type ImageKey, type ImageKeyAlgorithm, type SignatureAlgorithm, type VerifyWithKeyOptions,
} from './keys.js';
export { preAuthEncoding } from './dsse.js';
export { REKOR_BUNDLE_ANNOTATION, checkTlog, loadTrustedRoot, parseTrustedRoot, setPayload, type CarriedEntry, type SignedArtifact, type TlogKey, type TrustedLogs } from './tlog.js';
export { identityMatches, parseIdentities, type IdentityPattern } from './identity.js';
export { verifyCosignSignatures } from './signatures.js';
export { PREDICATE_TYPE_ANNOTATION, verifyAttestations } from './attestations.js';
export { ATTESTATION_TYPE_NAMES, PredicateTypes, predicateTypesFor } from './predicate-types.js';
export { MAX_SBOM_BYTES, listSboms, readSbom, sbomFormatOf, type SbomInput } from './sboms.js';
export { CosignMediaTypes } from './referrer.js';
export { MAX_SIMPLE_SIGNING_PAYLOAD_BYTES, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_TYPE } from './simple-signing.js';
export { BUNDLE_PREDICATE_ANNOTATION, MAX_ATTESTATION_LAYER_BYTES } from './sigstore-bundle.js';
export { COSIGN_SIGN_PREDICATE, IN_TOTO_PAYLOAD_TYPE } from './statement.js';
export type {
  AttestationCheck, AttestationFormat, AttestationReport, AttestationStatus, FoundIn, ImageSubject, ReferrerInput, ReferrerScheme,
  RequiredAttestationType, SbomEntry, SbomFormat, SignatureCheck, SignatureFormat, SignatureReport, SignatureStatus, SignedBy, VerifyInput,
} from './types.js';
