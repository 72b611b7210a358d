export {
  type BundleLocation,
  type LoadedManifest,
  locateBundle,
  openTrusted,
  readManifest,
  type TrustedManifest,
  type TrustOptions,
  volumePath,
} from './bundle.js';
export {
  checksumBundle,
  type ChecksumLine,
  type ChecksumOptions,
  type ChecksumReport,
  type ChecksumScope,
  type ChecksumStatus,
  formatFailureReceipt,
  formatReceipt,
  listDigestOf,
  parseVolumeList,
  rangeText,
  type ReceiptContext,
  scopeText,
} from './checksum.js';
export {
  type ManifestProblem,
  verifyBundle,
  verifyFailure,
  type VerifyOptions,
  type VerifyReport,
  type VolumeResult,
} from './verify.js';
export { inspectBundle, type InspectReport } from './inspect.js';
export {
  defaultStateDir,
  type FileConflict,
  type FileStatus,
  type ImageStatus,
  type NameMapping,
  type NextVolume,
  parseRegistryTarget,
  pushBundle,
  type PushEvent,
  type PushOptions,
  pushOutcome,
  type PushPlan,
  type PushReport,
  type PushTargets,
  resolveTargets,
  type TagMove,
} from './push/index.js';
export { checkClosure, type ClosureCheck } from './closure.js';
export {
  applyRewrites,
  looksLikeHost,
  parseRewrite,
  type RewriteRule,
  rulesForTarget,
  sourceRegistry,
} from './rewrite.js';
