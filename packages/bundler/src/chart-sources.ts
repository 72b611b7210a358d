// Turn a chart request into fetched charts: a classic repository over the shared HTTP layer
// (credentials from --chart-creds or a Helm repositories.yaml entry for that URL), an OCI
// registry through the same registry clients as images, or local .tgz files and directories.

import { FerryError } from '@ferry/format-spec';
import { RegistryClients, type RegistryOptions } from '@ferry/oci';
import {
  HttpChartRepository,
  chartHttpOptionsFor,
  fetchOciChart,
  findRepositoryByUrl,
  localCharts,
  parseChartSpec,
  readHelmRepositories,
  resolveRepoName,
  type ChartHttpOptions,
  type FetchedChart,
  type HelmRepositories,
} from '@ferry/charts';
import type { ChartFetcher, ChartRequest } from './charts.js';

export interface ChartFetcherOptions {
  /** Auth, TLS and retries for OCI chart sources (the image flags). */
  registry: RegistryOptions;
  /** TLS and --chart-creds for classic chart repositories. */
  http: ChartHttpOptions;
  /** A Helm repositories.yaml (--repository-config); read only when a chart needs it. */
  repositoryConfig?: string;
  cwd: string;
}

export function chartFetcher(opts: ChartFetcherOptions): ChartFetcher & { close(): void } {
  let clients: RegistryClients | undefined;
  // One client per repository: its index read once and its connections kept for every chart.
  const repoCache = new Map<string, HttpChartRepository>();
  const repository = (repo: string, http: ChartHttpOptions): HttpChartRepository => {
    const key = `${repo}\0${http.creds ?? ''}\0${http.bearerToken ?? ''}`;
    let r = repoCache.get(key);
    if (!r) repoCache.set(key, (r = new HttpChartRepository(repo, http)));
    return r;
  };
  let repos: Promise<HelmRepositories> | undefined;
  const repositories = (): Promise<HelmRepositories> => (repos ??= readHelmRepositories(opts.repositoryConfig));
  const fromRepo = async (repo: string, name: string, version: string | undefined): Promise<FetchedChart> => {
    // An entry for this URL in repositories.yaml gives its credentials and TLS settings, unless
    // --chart-creds already names credentials.
    const entry = opts.http.creds || !opts.repositoryConfig ? undefined : findRepositoryByUrl(await repositories(), repo);
    return repository(repo, chartHttpOptionsFor(entry, opts.http)).fetch(name, version);
  };
  const fetch = async (req: ChartRequest): Promise<FetchedChart[]> => {
    if (typeof req !== 'string') return [await fromRepo(req.repo, req.name, req.version)];
    const spec = parseChartSpec(req);
    switch (spec.kind) {
      case 'http':
        return [await fromRepo(spec.repo, spec.name, spec.version)];
      case 'oci':
        clients ??= new RegistryClients(opts.registry);
        return [await fetchOciChart(spec.ref, { ...opts.registry, clients })];
      case 'local':
        return localCharts([spec.path], opts.cwd);
      case 'repo-name': {
        const r = resolveRepoName(spec, await repositories());
        return [await repository(r.repo, chartHttpOptionsFor(r.entry, opts.http)).fetch(r.name, r.version)];
      }
      default:
        throw new FerryError('INTERNAL', 'unknown chart request');
    }
  };
  return Object.assign(fetch, {
    close: () => {
      clients?.close();
      for (const r of repoCache.values()) r.close();
    },
  });
}
