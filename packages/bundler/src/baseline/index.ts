export type { Baseline, BaselineBlob } from './types.js';
export { readManifestBaseline } from './manifest.js';
export { readBaseline, type BaselineReadOptions } from './read.js';
export { readInventoryBaseline } from './inventory.js';
export { resolveBaselines } from './resolve.js';
export { STATE_MANIFESTS_DIR, keepManifest, keptManifests, type KeptManifest } from './kept-manifests.js';
