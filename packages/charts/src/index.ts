export * from './types.js';
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
