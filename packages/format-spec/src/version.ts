// The Ferry release, for receipts and reports the high side files (the loader has no other
// record of which Ferry checked a bundle). Kept equal to the root package.json version.
export const FERRY_VERSION = '0.1.0';
