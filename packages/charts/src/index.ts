export {
  type ChartDependency,
  chartFileName,
  type ChartLock,
  type ChartMaintainer,
  type ChartMetadata,
  type ChartPresence,
  type ChartPutOptions,
  type ChartSink,
  chartTag,
  type ChartUpload,
  type CheckedChart,
  type FetchedChart,
  type FoundImage,
  HelmMediaTypes,
  type RepoIndex,
  type RepoIndexEntry,
} from './types.js';
export {
  ChartHttp, resolveReferenceUrl, showUrl,
  type ChartHttpMethod, type ChartHttpOptions, type ChartTransportOptions, type ChartRequest, type ChartFetchRequest, type ChartResponse,
} from './http.js';
export {
  chartHttpOptionsFor, defaultRepositoryConfigPath, findRepositoryByName, findRepositoryByUrl, parseHelmRepositories, readHelmRepositories, resolveRepoName, sameRepoUrl,
  type HelmRepositories, type HelmRepositoryEntry,
} from './helm-repositories.js';
export {
  MAX_INDEX_BYTES, compareVersionsDesc, parseChartVersion, parseHelmRange, parseRepoIndex, pickVersion, resolveChartVersion, satisfiesHelmRange,
} from './repo-index-read.js';
export {
  HttpChartRepository, MAX_CHART_BYTES, MAX_PROV_BYTES, fetchHttpChart, parseChartSpec,
  type ChartSpec, type HttpChartOptions, type HttpChartRequest,
} from './http-repo-source.js';
export { MAX_CHART_CONFIG_BYTES, fetchOciChart, parseOciChartRef, type OciChartOptions, type OciChartRef } from './oci-source.js';
export { OciChartSink, parseOciDestination } from './sinks/oci.js';
export { ChartmuseumSink, multipartBody, parseChartmuseumDestination, type ChartmuseumSinkOptions } from './sinks/chartmuseum.js';
export { ArtifactorySink, parseArtifactoryDestination, type ArtifactoryDestination, type ArtifactorySinkOptions } from './sinks/artifactory.js';

// Chart archives, metadata, packaging, the OCI artifact, image scanning, index writing, the dir sink.
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
export { GO_ZERO_TIME, formatGoTime, goYamlMarshal } from './go-yaml-emit.js';
export {
  indexEntryFor,
  mergeRepoIndex,
  readIndexForMerge,
  serializeRepoIndex,
  type MergeOptions,
} from './repo-index-write.js';
export { DirChartSink, type DirChartSinkOptions } from './sinks/dir.js';
