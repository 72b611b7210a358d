// The Ferry release (recorded in every manifest it writes, in receipts and reports, and printed by
// --version; kept equal to the root package.json version) and the bundle format versions this
// code reads and writes (manifest-types.ts BUNDLE_FORMATS).

import { BUNDLE_FORMATS } from './manifest-types.js';

export const FERRY_VERSION = '0.1.0';

/** A writer uses the lowest version that says what the bundle holds: it writes each of these. */
export const FORMAT_VERSIONS: { reads: readonly number[]; writes: readonly number[] } = {
  reads: Object.keys(BUNDLE_FORMATS).map(Number).sort((a, b) => a - b),
  writes: Object.keys(BUNDLE_FORMATS).map(Number).sort((a, b) => a - b),
};

/** Every --json report (and --report FILE) carries this; schemas/*-report.schema.json describe version 1. */
export const REPORT_VERSION = 1;
