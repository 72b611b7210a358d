export * from './errors.js';
export * from './text.js';
export * from './safe-open.js';
export * from './redact-credentials.js';
export * from './oci-types.js';
export * from './manifest-types.js';
export { LOADER_PLATFORMS, isLoaderPlatform, loaderFileName, loaderPlatformOfFile, loaderRulesProblem, loadersOf, type BundleLoader, type LoaderPlatform } from './loader-files.js';
export * from './bundle-blobs.js';
export * from './digest.js';
export * from './signing.js';
export * from './checksums.js';
export * from './schema.js';
export * from './sizes.js';
export * from './plan.js';
export * from './volume-plan.js';
export * from './zstd-frames.js';
export * from './volume-writer.js';
export * from './volume-reader.js';
export {
  MAX_BUNDLE_PATH_BYTES,
  MAX_BUNDLE_SEGMENT_BYTES,
  RESERVED_TOP_SEGMENT,
  bundlePathProblem,
  containedPath,
  findPathConflict,
  type PathConflict,
} from './bundle-paths.js';
export { locateBundle, readBundleManifest, volumePath, type BundleLocation, type LoadedManifest } from './bundle-location.js';
export { chartRefName, checkLayoutIndex, imageRefName, layoutIndexBytes } from './layout-index.js';
export { hashSegments, segmentLabel, type HashSegmentsOptions } from './segment-digests.js';
export { mapLimit } from './map-limit.js';
export { diffBundles, diffManifests, type DiffBlob, type DiffChanged, type DiffImage, type DiffNamed, type DiffSide, type ManifestDiff } from './manifest-diff.js';
export {
  INVENTORY_MEDIA_TYPE,
  INVENTORY_VERSION,
  MAX_INVENTORY_BYTES,
  inventoryBytes,
  parseInventory,
  validateInventory,
  type Inventory,
  type InventoryBlob,
  type InventoryRepository,
} from './inventory.js';
export { decryptCosignKey, isCosignPrivateKey } from './cosign-key.js';
export {
  COSIGN_PASSWORD_ENV,
  KEY_PASSWORD_FILE_ENV,
  MAX_PASSWORD_FILE_BYTES,
  configuredKeyPassword,
  describeKeyPasswordSource,
  keyPasswordFor,
  keyPasswordOptionsText,
  readPasswordFile,
  type EncryptedKeyFormat,
  type KeyPassword,
  type KeyPasswordOptions,
  type KeyPasswordSource,
} from './key-password.js';
export { FERRY_VERSION, FORMAT_VERSIONS, REPORT_VERSION } from './version.js';
