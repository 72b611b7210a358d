export * from './types.js';
export {
  checkChartArchive,
  MAX_CHART_ARCHIVE_BYTES,
  MAX_DECOMPRESSED_CHART_SIZE,
  MAX_DECOMPRESSED_FILE_SIZE,
  MAX_INFLATED_CHART_BYTES,
  MAX_SUBCHART_DEPTH,
  type CheckChartOptions,
} from './archive.js';
export { isStrictSemver, parseChartLock, parseChartYaml, sanitizeString } from './metadata.js';
export { PACKAGE_MTIME, packageChartDir } from './package-dir.js';
export { localCharts, MAX_PROVENANCE_BYTES } from './local-source.js';
export {
  OCI_ANNOTATIONS,
  helmConfigBlob,
  helmOciAnnotations,
  helmOciArtifact,
  parseHelmOciManifest,
  type HelmOciArtifact,
  type HelmOciManifest,
} from './oci-artifact.js';
export { findChartImages } from './image-scan.js';
export {
  GO_ZERO_TIME,
  formatGoTime,
  indexEntryFor,
  mergeRepoIndex,
  readIndexForMerge,
  serializeRepoIndex,
  type MergeOptions,
} from './repo-index-write.js';
export { DirChartSink, MAX_INDEX_BYTES, type DirChartSinkOptions } from './sinks/dir.js';
