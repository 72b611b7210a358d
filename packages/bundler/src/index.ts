export {
  createBundle,
  type CreateEvent,
  type CreateOptions,
  type CreateResult,
  type ImageRequest,
  layoutIndexBytes,
  OCI_LAYOUT_BYTES,
} from './create.js';
export {
  bundlePath,
  type CollectedFile,
  collectFiles,
  type FileRequest,
  hashFiles,
  type ListedFile,
  listFiles,
  parseFileArg,
} from './sources/files.js';
export { type CollectedKey, collectKeys } from './sources/keys.js';
export {
  type BundleSpec,
  isLocalChartSpec,
  loadSpecFile,
  parseSpecText,
  type SpecChart,
  type SpecFileEntry,
  type SpecImage,
} from './spec-file.js';
export {
  type Baseline,
  type BaselineBlob,
  type BaselineReadOptions,
  readBaseline,
  readInventoryBaseline,
  readManifestBaseline,
  resolveBaselines,
  STATE_MANIFESTS_DIR,
} from './baseline/index.js';
