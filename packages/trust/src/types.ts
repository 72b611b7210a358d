// What the verifiers take (what a bundle carries for one image) and what they report. Reports are
// plain data (JSON-serialisable): the loader shows them, prints them with --json and decides on
// them under its policy flags.

import type { ImageKey, SignatureAlgorithm } from './keys.js';
import type { TrustedLogs } from './tlog.js';

/** The image whose signatures are checked: one manifest or index, by digest. */
export interface ImageSubject {
  /** `sha256:<hex>` of the image manifest or index (what the signatures must bind). */
  digest: string;
  mediaType: string;
  /** Repository the image is known under (for messages). */
  repository?: string;
  /**
   * The image manifest bytes. Needed only for a Sigstore bundle holding a `messageSignature`
   * (signed over the artifact itself, not over a statement); checked against `digest`.
   */
  manifest?: Buffer;
}

/** One artifact carried beside the image: a cosign tag artifact or an OCI 1.1 referrer. */
export interface ReferrerInput {
  /** 'cosign-tag': stored under `sha256-<hex>.sig|.att|.sbom`; 'oci-referrer': a manifest whose subject is the image. */
  scheme: 'cosign-tag' | 'oci-referrer';
  /** For cosign-tag artifacts, the tag. */
  tag?: string;
  /** What the bundle recorded (a hint only: the manifest's own artifactType or config type decides). */
  artifactType?: string;
  /** The artifact's manifest bytes, exactly as stored. */
  manifest: Buffer;
  /** Its config and layer blobs by digest (each is checked against its digest and size before use). */
  blobs: ReadonlyMap<string, Buffer>;
}

export interface VerifyInput {
  image: ImageSubject;
  referrers: readonly ReferrerInput[];
  /** The trusted keys (the high side's, never the bundle's). */
  keys: readonly ImageKey[];
  /**
   * `--image-identity`: the repositories a simple-signing payload's
   * `critical.identity.docker-reference` may name (`REPO`, or `REPO/*` for everything under it;
   * Docker Hub names normalised: `alpine` = `docker.io/library/alpine`). They are the names the
   * signer signed on the low side, not the names in the private registry. A signature naming
   * another repository does not count; nor, when identities are given, does a Sigstore bundle
   * signature (its statement names only the digest).
   */
  identity?: string | readonly string[];
  /**
   * `--trusted-root`: the transparency logs to require. When given, a signature or attestation
   * counts only with a carried log entry whose SET a trusted log key signed and whose body binds
   * it (tlog.ts). When absent, log material is not read.
   */
  trustedRoot?: TrustedLogs;
}

export type ReferrerScheme = ReferrerInput['scheme'];

/** Where one checked item was found. */
export interface FoundIn {
  scheme: ReferrerScheme;
  /** `sha256:<hex>` of the referrer manifest. */
  referrer: string;
  tag?: string;
  /** Digest of the layer holding the item; absent when the referrer manifest itself is unusable. */
  layer?: string;
}

/** Who signed an item, when a trusted key verified its signature. */
export interface SignedBy {
  /** Fingerprint (`sha256:<hex>`) of the trusted key whose signature verified; null when none did. */
  keyFingerprint: string | null;
  /** That key's path (`FILE` or `FILE#N`); null when none verified. */
  keyPath: string | null;
  /** How the signature verified (key type, hash, padding); null when none verified. */
  algorithm: SignatureAlgorithm | null;
}

export type SignatureFormat = 'simple-signing' | 'sigstore-bundle';

export interface SignatureCheck extends FoundIn, SignedBy {
  format: SignatureFormat;
  /** A valid signature by a trusted key over a claim that binds this image (and identity, if asked). */
  verified: boolean;
  /** Why not, when not verified. */
  reason?: string;
  /** `critical.identity.docker-reference` of a simple-signing payload whose signature verified. */
  dockerReference?: string;
}

/** signed: at least one valid signature by a trusted key; invalid: signatures present, none valid; unsigned: none present. */
export type SignatureStatus = 'signed' | 'unsigned' | 'invalid';

export interface SignatureReport {
  digest: string;
  status: SignatureStatus;
  signatures: SignatureCheck[];
}

export type AttestationFormat = 'dsse-envelope' | 'sigstore-bundle';

export interface AttestationCheck extends FoundIn, SignedBy {
  format: AttestationFormat;
  /**
   * The statement's predicateType. When the signature did not verify, this is what the
   * unverified statement (or the layer annotation) claims, shown for the report only.
   */
  predicateType: string | null;
  /** The in-toto statement type (`https://in-toto.io/Statement/v0.1` or `/v1`), when verified. */
  statementType?: string;
  /** DSSE signature valid by a trusted key, an in-toto statement, and a subject with this image's sha256. */
  verified: boolean;
  reason?: string;
  /** The decoded predicate; only for a verified attestation (never content a trusted key did not sign). */
  predicate?: unknown;
}

export interface RequiredAttestationType {
  /** As asked: a cosign short name (`slsaprovenance`, `spdxjson`…) or a predicate URI. */
  type: string;
  /** The predicate type URIs it stands for. */
  predicateTypes: string[];
  /** A verified attestation of one of those predicate types is present. */
  satisfied: boolean;
}

/** attested: at least one verified attestation (of the asked types); invalid: some present, none verified; none: none present. */
export type AttestationStatus = 'attested' | 'none' | 'invalid';

export interface AttestationReport {
  digest: string;
  status: AttestationStatus;
  /** Every attestation found (only those of the asked types, when types were given). */
  attestations: AttestationCheck[];
  /** One entry per asked type, in the order asked; empty when no types were given. */
  types: RequiredAttestationType[];
}

export type SbomFormat = 'spdx-json' | 'spdx-tag-value' | 'cyclonedx-json' | 'cyclonedx-xml' | 'syft-json' | 'unknown';

export interface SbomEntry extends FoundIn {
  /**
   * attachment: a cosign `.sbom` attachment (or its OCI 1.1 form); not signed.
   * attestation: the predicate of an SBOM attestation (SPDX or CycloneDX predicate type).
   * referrer: an OCI 1.1 referrer with an SBOM artifact type (e.g. `oras attach`); not signed.
   */
  source: 'attachment' | 'attestation' | 'referrer';
  format: SbomFormat;
  /** The layer media type; for an attestation, the media type of the predicate's format. */
  mediaType: string;
  /**
   * Digest and size of the bytes readSbom() returns (for an attestation: the predicate, as JSON or,
   * for a tag-value SPDX document, as the text). Absent when there is nothing to read.
   */
  digest?: string;
  size?: number;
  /** For an attestation: the predicate type. */
  predicateType?: string;
  /** For an attestation: whether a trusted key signed it (false without keys). Absent for unsigned kinds. */
  verified?: boolean;
  keyFingerprint?: string | null;
  /** Why the SBOM cannot be read, or its attestation is not verified. */
  reason?: string;
}
