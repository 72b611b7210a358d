// The Ferry release (recorded in every manifest it writes, and printed by --version) and the
// bundle format versions this code reads and writes (manifest-types.ts BUNDLE_FORMATS).

import { BUNDLE_FORMATS } from './manifest-types.js';

export const FERRY_VERSION = '0.1.0';

/** A writer uses the lowest version that says what the bundle holds: it writes each of these. */
export const FORMAT_VERSIONS: { reads: readonly number[]; writes: readonly number[] } = {
  reads: Object.keys(BUNDLE_FORMATS).map(Number).sort((a, b) => a - b),
  writes: Object.keys(BUNDLE_FORMATS).map(Number).sort((a, b) => a - b),
};
