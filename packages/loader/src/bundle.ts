// Deciding whether to trust a bundle manifest found on disk (format-spec's bundle-location.ts
// finds and reads it): the signed manifest is checked against keys the high side gives us,
// never against anything found in the bundle.

import {
  FerryError,
  claimedSignerFingerprint,
  locateBundle,
  parseManifest,
  readBundleManifest,
  verifyDetached,
  type BundleManifest,
  type LoadedManifest,
  type TrustedKey,
} from '@ferry/format-spec';

// Locating and reading live in format-spec (ferry-bundle diff reads bundles too); the loader's
// names stay.
export { locateBundle, readBundleManifest as readManifest, volumePath, type BundleLocation, type LoadedManifest } from '@ferry/format-spec';

export interface TrustOptions {
  trustedKeys: readonly TrustedKey[];
  allowUnsigned?: boolean;
}

export interface TrustedManifest extends LoadedManifest {
  manifest: BundleManifest;
  /** The trusted key that verified the signature; undefined only for an allowed unsigned bundle. */
  verifiedBy?: TrustedKey;
}

/** Signature first (against trusted keys only), then schema. */
export async function openTrusted(path: string, trust: TrustOptions): Promise<TrustedManifest> {
  const loc = await locateBundle(path);
  const loaded = await readBundleManifest(loc);
  let verifiedBy: TrustedKey | undefined;
  if (!loaded.signature) {
    if (!trust.allowUnsigned) throw new FerryError('SIGNATURE_MISSING', `${loc.name} has no ${loc.name}.manifest.json.sig: the bundle is unsigned`);
  } else if (trust.trustedKeys.length === 0) {
    if (!trust.allowUnsigned) throw new FerryError('TRUSTED_KEY_REQUIRED', `${loc.name} is signed; pass --trusted-key KEY.pub to check who signed it`);
  } else {
    // The claimed signer comes from bytes not yet trusted: it only makes a refusal clearer.
    verifiedBy = verifyDetached(loaded.bytes, loaded.signature, trust.trustedKeys, `${loc.name}.manifest.json`, { claimedFingerprint: claimedSignerFingerprint(loaded.bytes) });
  }
  const manifest = parseManifest(loaded.bytes, loaded.from);
  if (manifest.name !== loc.name) {
    throw new FerryError('SCHEMA_INVALID', `${loaded.from} names the bundle "${manifest.name}", but its files are named "${loc.name}"`);
  }
  return { ...loaded, manifest, ...(verifiedBy ? { verifiedBy } : {}) };
}
