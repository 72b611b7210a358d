// Every failure Ferry reports is a FerryError with a stable string code. The CLI maps
// codes to exit codes and hints here, in one place, so scripts can rely on them.

export const ERROR_CODES = {
  // usage and input
  USAGE: { exit: 2, hint: 'Run the command with --help to see the accepted options.' },
  INPUT_NOT_FOUND: { exit: 3, hint: 'Check the path; PATH may be the bundle directory, NAME.manifest.json or NAME.sha256.' },
  INPUT_INVALID: { exit: 17, hint: 'A bundle file must be a regular file no larger than Ferry writes it; re-copy the file named above from the original media, or find out what replaced it.' },
  SPEC_INVALID: { exit: 4, hint: 'Fix the field named above in the spec file; schemas/bundle-spec.schema.json lists what is allowed.' },
  SCHEMA_INVALID: { exit: 4, hint: 'The bundle manifest does not match schemas/bundle-manifest.schema.json; it was not written by a compatible Ferry.' },
  SCHEMA_VERSION_UNSUPPORTED: { exit: 4, hint: 'This bundle was written by a different Ferry format version; use a Ferry release that reads it.' },
  // keys and signatures
  KEY_INVALID: { exit: 5, hint: 'Give a PEM key made by `ferry-bundle keygen` (PKCS#8 private, PKIX public; ECDSA P-256 or Ed25519) or by `cosign generate-key-pair`.' },
  KEY_PASSWORD_REQUIRED: { exit: 5, hint: 'A key passphrase is needed: give --password-file FILE (its first line), FERRY_KEY_PASSWORD_FILE=FILE or FERRY_KEY_PASSWORD (COSIGN_PASSWORD for a cosign key), or run on a terminal to be asked; keygen also takes --no-password for an unencrypted key.' },
  KEY_PASSWORD_WRONG: { exit: 5, hint: 'The passphrase named above does not decrypt this key (checked in the order --password-file, FERRY_KEY_PASSWORD_FILE, FERRY_KEY_PASSWORD, COSIGN_PASSWORD for a cosign key, the prompt).' },
  SIGNATURE_MISSING: { exit: 6, hint: 'The bundle is unsigned. Ask for a signed bundle, or pass --allow-unsigned if your policy allows it.' },
  SIGNATURE_INVALID: { exit: 6, hint: 'Do not load this bundle: it was changed after signing or signed by a key you do not trust.' },
  IMAGE_KEY_INVALID: { exit: 5, hint: 'Give the PEM public key the images were signed with (-----BEGIN PUBLIC KEY-----, e.g. cosign.pub), or a directory of *.pub / *.pem keys: ECDSA P-256/P-384/P-521, Ed25519 or RSA of 2048 bits or more.' },
  TRUSTED_KEY_REQUIRED: { exit: 6, hint: 'Pass --trusted-key KEY.pub (a key the high side already trusts; never one taken from the bundle).' },
  // integrity
  CHECKSUM_MISMATCH: { exit: 7, hint: 'Re-copy or re-burn the file named above from the original media.' },
  VOLUME_MISSING: { exit: 8, hint: 'Bring the missing volume(s) and run the command again; nothing already loaded is lost.' },
  VOLUME_UNEXPECTED: { exit: 8, hint: 'A file that is not part of this bundle sits beside it; remove it or check where it came from.' },
  BLOB_MISMATCH: { exit: 9, hint: 'The content does not match its digest. From a volume: it is damaged or was tampered with, re-copy it from the original media. From a source while bundling: the source changed or is damaged, fetch it again.' },
  ARCHIVE_CORRUPT: { exit: 10, hint: 'The volume named above is damaged or truncated: re-copy it from the original media.' },
  ARCHIVE_HOSTILE: { exit: 11, hint: 'The volume holds entries no Ferry writer produces; treat it as hostile and do not extract it by hand.' },
  // sources and targets
  SOURCE_INVALID: { exit: 12, hint: 'Check the image reference or archive named above.' },
  SOURCE_NOT_FOUND: { exit: 12, hint: 'Check the image reference or path named above.' },
  REGISTRY_ERROR: { exit: 13, hint: 'Check the registry address, that it is running, and your network.' },
  REGISTRY_AUTH: { exit: 13, hint: 'Check the credentials for this registry (--authfile, --creds or docker login).' },
  REGISTRY_DENIED: { exit: 13, hint: 'The registry accepted the credentials but refuses this push: ask its administrator for push permission on the repository named above (or whether it is read-only), or use another account (--creds, --authfile).' },
  REGISTRY_TLS: { exit: 13, hint: 'Give the registry CA with --ca-file, or --insecure-registry HOST if you accept an unverified connection to that host.' },
  SIGNATURE_POLICY: { exit: 24, hint: 'The images named above were not pushed (--require-signed-images, --require-attestation): no signature or attestation of theirs verifies with a trusted --image-key as the policy asks. Sign or attest them with cosign on the connected side and bring a new bundle, or give the right --image-key; the others were loaded.' },
  BASELINE_MISSING: { exit: 25, hint: 'Nothing was written. This bundle is a delta: the target lacks blobs an earlier bundle carried (named above). Load that earlier bundle into this target first, or ask for a bundle built without --baseline.' },
  BASELINE_INVALID: { exit: 4, hint: 'A --baseline must be a NAME.manifest.json an earlier ferry-bundle create wrote (or `last` with --state-dir), or an inventory ferry-load inventory wrote; check the file named above.' },
  CHART_INVALID: { exit: 22, hint: 'The chart named above breaks a rule Helm itself enforces (Chart.yaml, SemVer 2 version, archive layout or size); fix or re-package the chart, or leave it out.' },
  CHART_REPO_ERROR: { exit: 13, hint: 'Check the chart repository address, that it is running, your network, and its credentials (--authfile, --creds, a Helm repositories.yaml).' },
  CHART_CONFLICT: { exit: 23, hint: 'Nothing was replaced: the destination holds a different chart under the same name and version. Bump the chart version, or pass --force to replace it.' },
  TARGET_ERROR: { exit: 14, hint: 'Check that the target is writable and has space.' },
  TARGET_BUSY: { exit: 18, hint: 'Wait for the other ferry-load to finish, then run the same command again (a lock left by a process that no longer runs is taken over automatically).' },
  TAG_CONFLICT: { exit: 19, hint: 'Nothing was written. A tag in the target points at a different image: run without --no-retag to move it, or load into another target.' },
  INCOMPLETE: { exit: 15, hint: 'Bring the remaining volumes and run the same command again; what was loaded is kept.' },
  PARTIAL_FAILURE: { exit: 16, hint: 'Some items failed; the report lists each with its reason.' },
  CHECK_FAILED: { exit: 21, hint: 'The target does not hold what the bundle promises (listed above): run ferry-load push again with the same bundle, or find out who changed the target.' },
  DECLINED: { exit: 20, hint: 'Nothing was written. Run the same command again and answer y to load, or pass --yes.' },
  INTERRUPTED: { exit: 130, hint: 'Nothing incomplete was tagged; run the same command again to continue.' },
  INTERNAL: { exit: 70, hint: 'This is a bug in Ferry; please report it with the command you ran.' },
} as const satisfies Record<string, { exit: number; hint: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class FerryError extends Error {
  readonly code: ErrorCode;
  /** Extra machine-readable facts (file, volume, digest...). Never credentials. */
  readonly details: Readonly<Record<string, string | number | boolean | null>>;

  constructor(code: ErrorCode, message: string, details: Record<string, string | number | boolean | null> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FerryError';
    this.code = code;
    this.details = details;
  }

  get exitCode(): number {
    return ERROR_CODES[this.code].exit;
  }

  get hint(): string {
    return ERROR_CODES[this.code].hint;
  }
}

export function isFerryError(e: unknown, code?: ErrorCode): e is FerryError {
  return e instanceof FerryError && (code === undefined || e.code === code);
}

/** Wrap anything thrown into a FerryError so the CLI always has a code to report. */
export function toFerryError(e: unknown): FerryError {
  if (e instanceof FerryError) return e;
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err === 'object' && typeof err.code === 'string') {
    if (err.code === 'ENOENT') return new FerryError('INPUT_NOT_FOUND', `not found: ${err.path ?? err.message}`, {}, { cause: e });
    if (err.code === 'EACCES' || err.code === 'EPERM') return new FerryError('TARGET_ERROR', `permission denied: ${err.path ?? err.message}`, {}, { cause: e });
    if (err.code === 'ENOSPC') return new FerryError('TARGET_ERROR', `no space left on device${err.path ? `: ${err.path}` : ''}`, {}, { cause: e });
  }
  const message = e instanceof Error ? e.message : String(e);
  return new FerryError('INTERNAL', message, {}, { cause: e });
}

/** Exit code for a command's outcome; one table for both CLIs. */
export function exitCodeFor(e: unknown): number {
  return toFerryError(e).exitCode;
}
