// A chart from a classic Helm repository over HTTP(S), fetched the way `helm pull --repo` does:
// GET <repo>/index.yaml, pick the version (repo-index-read.ts), follow the entry's first URL
// (relative to the repository URL, or absolute; Helm's ResolveReferenceURL), download the
// .tgz (at most 100 MiB), check it against the index digest, and fetch `<chart url>.prov`
// when there is one. Also: the CLI's chart specs (`parseChartSpec`).

import { existsSync } from 'node:fs';
import { FerryError, printable, sha256Digest } from '@ferry/format-spec';
import { ChartHttp, showUrl, type ChartHttpOptions } from './http.js';
import { MAX_INDEX_BYTES, parseRepoIndex, resolveChartVersion } from './repo-index-read.js';
import type { FetchedChart, RepoIndex, RepoIndexEntry } from './types.js';

/** Helm's MaxDecompressedChartSize; a packed chart is never larger. */
export const MAX_CHART_BYTES = 100 << 20;
/** A .prov is a clear-signed Chart.yaml plus one hash line. */
export const MAX_PROV_BYTES = 4 << 20;

export type ChartSpec =
  | { kind: 'http'; repo: string; name: string; version?: string }
  | { kind: 'oci'; ref: string }
  | { kind: 'local'; path: string }
  | { kind: 'repo-name'; repoName: string; name: string; version?: string };

const CHART_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const REPO_NAME_FORM_RE = /^([A-Za-z0-9][A-Za-z0-9._-]*)\/([A-Za-z0-9][A-Za-z0-9._-]*)(?:@(.*))?$/;

function usage(s: string, why: string): FerryError {
  return new FerryError('USAGE', `chart "${showUrl(s)}": ${why}`);
}

function splitNameVersion(s: string, last: string): { name: string; version?: string } {
  const at = last.indexOf('@');
  const name = at < 0 ? last : last.slice(0, at);
  const version = at < 0 ? undefined : last.slice(at + 1).trim();
  if (!name) throw usage(s, 'no chart name (expected …/NAME[@VERSION])');
  if (/\.tgz$/i.test(name)) throw usage(s, 'give the repository URL and the chart name (https://HOST/PATH/NAME@VERSION), not the .tgz URL');
  if (!CHART_NAME_RE.test(name)) throw usage(s, `"${printable(name)}" is not a chart name`);
  if (version === '') throw usage(s, 'nothing after "@" (expected a version or a SemVer range)');
  return { name, ...(version !== undefined ? { version } : {}) };
}

/**
 * What `--chart` names:
 * - `oci://HOST/PATH/NAME[:VERSION|@sha256:…]` — a Helm OCI artifact;
 * - `https://HOST/PATH/NAME[@VERSION|@RANGE]` — a chart in a classic repository: the repository
 *   is the URL up to the last `/` (keeping its query), the chart name follows, `@` starts the
 *   version or range (`@2.0.0`, `@^2.0.0`, `@~1.2`);
 * - `REPO/NAME[@VERSION]` — REPO a Helm repository name from repositories.yaml, when no such
 *   local path exists (as helm itself decides);
 * - anything else is a local path or glob (a chart directory or .tgz).
 */
export function parseChartSpec(s: string, exists: (p: string) => boolean = existsSync): ChartSpec {
  const spec = s.trim();
  if (!spec) throw new FerryError('USAGE', 'empty chart name');
  if (/^oci:\/\//i.test(spec)) return { kind: 'oci', ref: spec };
  if (/^https?:\/\//i.test(spec)) {
    let u: URL;
    try {
      u = new URL(spec);
    } catch {
      throw usage(spec, 'not a valid URL');
    }
    const path = u.pathname;
    const slash = path.lastIndexOf('/');
    let last: string;
    try {
      last = decodeURIComponent(path.slice(slash + 1));
    } catch {
      throw usage(spec, 'the chart name is not valid URL encoding');
    }
    const nv = splitNameVersion(spec, last);
    const repo = new URL(u.href);
    repo.pathname = path.slice(0, slash + 1) || '/';
    repo.hash = '';
    // No trailing slash on the repository unless it is the host root (Helm adds one to resolve).
    let repoStr = repo.href;
    if (repo.pathname !== '/') repoStr = repoStr.replace(/\/(\?|$)/, '$1');
    return { kind: 'http', repo: repoStr, ...nv };
  }
  if (/^file:\/\//i.test(spec)) return { kind: 'local', path: decodeURIComponent(new URL(spec).pathname) };
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(spec)) throw usage(spec, 'unsupported scheme (use oci://, https://, http:// or a local path)');
  const looksLocal = /^[./~]/.test(spec) || /[*?[\]{}]/.test(spec) || /\.tgz$/i.test(spec) || exists(spec);
  if (!looksLocal) {
    const m = REPO_NAME_FORM_RE.exec(spec);
    if (m) {
      const version = m[3]?.trim();
      if (version === '') throw usage(spec, 'nothing after "@" (expected a version or a SemVer range)');
      return { kind: 'repo-name', repoName: m[1]!, name: m[2]!, ...(version !== undefined ? { version } : {}) };
    }
  }
  return { kind: 'local', path: spec };
}

export interface HttpChartRequest {
  /** The repository URL (http(s)://HOST[:PORT][/PATH][?QUERY]). */
  repo: string;
  name: string;
  /** Exact version or SemVer range; none: the newest stable. */
  version?: string;
}

export interface HttpChartOptions extends ChartHttpOptions {
  /** A client for this repository to reuse (its connections; it is not closed here). */
  http?: ChartHttp;
  /** An index already read for this repository (several charts from one repository). */
  index?: RepoIndex;
  maxChartBytes?: number;
}

/** One repository: its index read once, any number of charts fetched from it. */
export class HttpChartRepository {
  readonly http: ChartHttp;
  private readonly owns: boolean;
  private indexP?: Promise<{ index: RepoIndex; notes: string[] }>;

  constructor(repo: string, private readonly opts: HttpChartOptions = {}) {
    this.http = opts.http ?? new ChartHttp(repo, opts);
    this.owns = opts.http === undefined;
    if (opts.index) this.indexP = Promise.resolve({ index: opts.index, notes: [] });
  }

  /** `<repo>/index.yaml` (ResolveReferenceURL, so a query on the repository URL is kept). */
  get indexUrl(): URL {
    return this.http.resolve('index.yaml');
  }

  index(): Promise<{ index: RepoIndex; notes: string[] }> {
    this.indexP ??= (async () => {
      const url = this.indexUrl;
      const res = await this.http.fetch({ method: 'GET', url, accept: [200, 404], limit: MAX_INDEX_BYTES, what: 'index', headers: { Accept: 'application/x-yaml, application/yaml, text/yaml, application/json, */*' } });
      if (res.status === 404) {
        throw new FerryError('SOURCE_NOT_FOUND', `${showUrl(url)} not found (HTTP 404): ${this.http.name} is not a Helm chart repository, or the URL lacks its path`, { repository: this.http.name, url: showUrl(url), status: 404 });
      }
      const notes: string[] = [];
      return { index: parseRepoIndex(res.body, showUrl(url), notes), notes };
    })().catch((e: unknown) => {
      this.indexP = undefined;
      throw e;
    });
    return this.indexP;
  }

  async fetch(name: string, version?: string): Promise<FetchedChart> {
    const { index, notes: indexNotes } = await this.index();
    const entry = resolveChartVersion(index, name, version, this.http.name);
    const notes = [...indexNotes];
    if (version && version.trim() !== entry.version) notes.push(`${this.http.name}: ${name}@${version} resolved to version ${entry.version}`);
    return this.download(entry, `${this.http.name}/${name}${version ? `@${version}` : ''}`, notes);
  }

  /** Download one index entry: archive checked against the index digest, provenance if any. */
  async download(entry: RepoIndexEntry, source: string, notes: string[] = []): Promise<FetchedChart> {
    const first = entry.urls[0];
    if (!first) throw new FerryError('CHART_REPO_ERROR', `chart ${printable(entry.name)} ${printable(entry.version)} in ${this.http.name} has no downloadable URLs`, { repository: this.http.name });
    let url: URL;
    try {
      url = this.http.resolve(first);
    } catch {
      throw new FerryError('CHART_REPO_ERROR', `chart ${printable(entry.name)} ${printable(entry.version)} in ${this.http.name}: "${showUrl(first)}" is not a URL`, { repository: this.http.name });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new FerryError('CHART_REPO_ERROR', `chart ${printable(entry.name)} ${printable(entry.version)} in ${this.http.name}: URL scheme ${printable(url.protocol)} is not supported (http or https)`, { repository: this.http.name, url: showUrl(url) });
    }
    if (url.origin !== this.http.base.origin && this.http.hasCredentials && !this.http.sendsCredentialsTo(url)) {
      notes.push(`${this.http.name}: the chart is served from another host (${url.host}); the repository's credentials are not sent there (passCredentialsAll would)`);
    }
    const limit = this.opts.maxChartBytes ?? MAX_CHART_BYTES;
    const res = await this.http.fetch({ method: 'GET', url, accept: [200], limit, what: 'chart' });
    const archive = res.body;
    const got = sha256Digest(archive);
    const want = normaliseDigest(entry.digest, entry, this.http.name);
    if (want === undefined) {
      notes.push(`${this.http.name}: the index gives no digest for ${entry.name} ${entry.version}; the archive (${got}) could not be checked against it`);
    } else if (want !== got) {
      throw new FerryError('BLOB_MISMATCH', `chart ${printable(entry.name)} ${printable(entry.version)} from ${showUrl(url)}: the index of ${this.http.name} says digest ${want}, the bytes received hash to ${got}; refusing it`, { repository: this.http.name, url: showUrl(url), expected: want, actual: got });
    }
    const provenance = await this.provenance(url, notes);
    const out: FetchedChart = { source, archive, notes };
    if (provenance) out.provenance = provenance;
    if (typeof entry.created === 'string' && entry.created) out.created = entry.created;
    return out;
  }

  /** `<chart url>.prov`: absent (404/410) is normal; a refusal (401/403, as S3 answers for a missing key) is a note. */
  private async provenance(chartUrl: URL, notes: string[]): Promise<Buffer | undefined> {
    const url = new URL(chartUrl.href);
    url.pathname += '.prov';
    try {
      const res = await this.http.fetch({ method: 'GET', url, accept: [200, 404, 410], limit: MAX_PROV_BYTES, what: 'provenance' });
      return res.status === 200 ? res.body : undefined;
    } catch (e) {
      if (e instanceof FerryError && e.code === 'REGISTRY_AUTH') {
        notes.push(`provenance ${showUrl(url)} not fetched (${e.details.status === 403 ? 'HTTP 403' : 'HTTP 401'}); carried without a .prov`);
        return undefined;
      }
      throw e;
    }
  }

  close(): void {
    if (this.owns) this.http.close();
  }
}

/** The index digest as `sha256:<hex>`: bare hex (helm repo index) or prefixed (Helm 4). */
function normaliseDigest(d: string | undefined, entry: RepoIndexEntry, repo: string): string | undefined {
  if (d === undefined || d === '') return undefined;
  const hex = d.startsWith('sha256:') ? d.slice(7) : d;
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new FerryError('CHART_REPO_ERROR', `chart ${printable(entry.name)} ${printable(entry.version)} in ${repo}: index digest "${printable(d.slice(0, 80))}" is not a sha256 (64 hex digits, optionally prefixed sha256:)`, { repository: repo });
  }
  return `sha256:${hex.toLowerCase()}`;
}

/** Fetch one chart from a classic repository (see HttpChartRepository for several). */
export async function fetchHttpChart(req: HttpChartRequest, opts: HttpChartOptions = {}): Promise<FetchedChart> {
  const repo = new HttpChartRepository(req.repo, opts);
  try {
    return await repo.fetch(req.name, req.version);
  } finally {
    repo.close();
  }
}
