// Charts into a JFrog Artifactory Helm repository: `artifactory+https://HOST[/PREFIX]/artifactory/REPO[/FOLDER]`
// (`artifactory+http://` for tests).
//
// TESTED ONLY AGAINST A RECORDING SERVER OF THE DOCUMENTED API (test/harness/artifactory.ts), never
// against a real Artifactory: no Artifactory could be run here. What it relies on, from JFrog's
// REST API documentation:
//   - Deploy Artifact: `PUT /artifactory/REPO/PATH` with the body; `X-Checksum-Sha1` and
//     `X-Checksum-Sha256` are verified by Artifactory ("rejects the deployment if the checksums do
//     not match"); 201 Created; 409 Duplicate/Conflict (also a checksum-policy rejection).
//   - Deploy Artifact by Checksum: the same PUT with `X-Checksum-Deploy: true` and the checksum
//     headers, no body: 201 when Artifactory already holds that content (nothing is sent), else
//     404 "to indicate that content upload is expected".
//   - Retrieve an artifact: `GET|HEAD /artifactory/REPO/PATH`, answered with `X-Checksum-Sha256`
//     (when a server omits it, the bytes are hashed instead).
//   - Calculate Helm Chart Index: `POST /artifactory/api/helm/REPO/reindex` (Artifactory indexes
//     on deploy anyway; a 404 or a refusal is only a note).
// Auth: Basic (`--creds USER:PASSWORD`) or `Authorization: Bearer` (an access token: `--creds
// :TOKEN` or the bearerToken option).
//
// Each of .tgz and .prov: look first (a PUT over an existing path would silently overwrite it
// when the account may), then a checksum deploy, then the full upload when that says 404.

import { createHash, randomBytes } from 'node:crypto';
import { FerryError, printable, sha256Digest } from '@ferry/format-spec';
import { ChartHttp, parseSchemeUrl, showUrl, type ChartHttpOptions } from '../http.js';
import { MAX_CHART_BYTES, MAX_PROV_BYTES } from '../http-repo-source.js';
import { chartFileName, type ChartPresence, type ChartPutOptions, type ChartSink, type ChartUpload } from '../types.js';

export interface ArtifactoryDestination {
  /** Scheme, host, port and any prefix before `/artifactory`. */
  server: URL;
  /** `/…/artifactory` as it appears in the URL. */
  contextPath: string;
  repo: string;
  /** A folder inside the repository (may be empty). */
  folder: string;
}

/** Parse `artifactory+http(s)://HOST[:PORT][/PREFIX]/artifactory/REPO[/FOLDER]`. */
export function parseArtifactoryDestination(dest: string): ArtifactoryDestination {
  const u = parseSchemeUrl(dest, 'artifactory', 'artifactory+https://HOST/artifactory/REPO');
  const segs = u.pathname.split('/').filter(Boolean);
  const at = segs.lastIndexOf('artifactory');
  const repo = at >= 0 ? segs[at + 1] : undefined;
  if (at < 0 || !repo || repo === 'api') {
    throw new FerryError('USAGE', `chart destination "${showUrl(dest)}": expected …/artifactory/REPO (the local Helm repository's key)`);
  }
  const rest = segs.slice(at + 2);
  if (rest.some((s) => s === '.' || s === '..')) throw new FerryError('USAGE', `chart destination "${showUrl(dest)}": "." and ".." are not folder names`);
  const server = new URL(u.href);
  server.pathname = '/';
  return { server, contextPath: `/${segs.slice(0, at + 1).join('/')}`, repo: decodeURIComponent(repo), folder: rest.map(decodeURIComponent).join('/') };
}

const hex = (alg: string, b: Buffer): string => createHash(alg).update(b).digest('hex');

export type ArtifactorySinkOptions = ChartHttpOptions;

export class ArtifactorySink implements ChartSink {
  readonly kind = 'artifactory' as const;
  readonly description: string;
  readonly notes: string[] = [];
  readonly http: ChartHttp;
  readonly dest: ArtifactoryDestination;
  private uploaded = false;

  constructor(dest: string, opts: ArtifactorySinkOptions = {}) {
    this.dest = parseArtifactoryDestination(dest);
    this.http = new ChartHttp(this.dest.server, { noun: 'Artifactory', ...opts });
    this.description = `artifactory+${this.http.base.origin}${this.dest.contextPath}/${this.dest.repo}${this.dest.folder ? `/${this.dest.folder}` : ''}`;
  }

  private enc(path: string): string {
    return path.split('/').map(encodeURIComponent).join('/');
  }

  private fileUrl(file: string): URL {
    const d = this.dest;
    return new URL(`${d.contextPath}/${encodeURIComponent(d.repo)}/${d.folder ? `${this.enc(d.folder)}/` : ''}${encodeURIComponent(file)}`, this.http.base);
  }

  /**
   * Reachable, credentials accepted, deploy allowed: a checksum deploy of content that cannot
   * exist (a random checksum) to a probe path. Artifactory checks the deploy permission, then
   * answers 404 (no such content); nothing is stored. A missing repository also answers 404.
   */
  async preflight(): Promise<void> {
    const probe = this.fileUrl(`.ferry-preflight-${randomBytes(6).toString('hex')}.tgz`);
    const fake = randomBytes(32);
    const res = await this.http.fetch({
      method: 'PUT', url: probe, accept: [404, 201, 200], limit: 64 << 10, what: 'pre-flight checksum deploy',
      headers: { 'X-Checksum-Deploy': 'true', 'X-Checksum-Sha256': hex('sha256', fake), 'X-Checksum-Sha1': hex('sha1', fake) },
    });
    if (res.status !== 404) this.notes.push(`${this.description}: the pre-flight checksum deploy of random content answered HTTP ${res.status}; ${showUrl(probe)} may need removing`);
    if (!this.http.hasCredentials) this.notes.push(`${this.description}: no credentials given; deploys work only if anonymous deploy is allowed`);
  }

  /** Digest of what the repository holds at `file` (X-Checksum-Sha256, else the bytes hashed), or undefined. */
  private async storedDigest(file: string, limit: number): Promise<string | undefined> {
    const url = this.fileUrl(file);
    const head = await this.http.fetch({ method: 'HEAD', url, accept: [200, 404], limit: 0, what: 'stored file' });
    if (head.status === 404) return undefined;
    const h = head.headers['x-checksum-sha256'];
    const v = Array.isArray(h) ? h[0] : h;
    if (v && /^[0-9a-fA-F]{64}$/.test(v.trim())) return `sha256:${v.trim().toLowerCase()}`;
    const got = await this.http.fetch({ method: 'GET', url, accept: [200, 404], limit, what: 'stored file' });
    return got.status === 404 ? undefined : sha256Digest(got.body);
  }

  async check(chart: Pick<ChartUpload, 'name' | 'version' | 'digest'>): Promise<ChartPresence> {
    const file = chartFileName(chart);
    const have = await this.storedDigest(file, MAX_CHART_BYTES);
    if (have === undefined) return { state: 'absent' };
    if (have === chart.digest) return { state: 'same' };
    return { state: 'different', detail: `${this.description} holds ${file} with digest ${have}, the bundle carries ${chart.digest}` };
  }

  private conflict(chart: ChartUpload, file: string, detail: string): FerryError {
    return new FerryError('CHART_CONFLICT', `${this.description}: ${file} already exists with other content (${detail}); nothing was replaced`, { destination: this.description, chart: chart.name, version: chart.version });
  }

  async put(chart: ChartUpload, opts: ChartPutOptions): Promise<'uploaded' | 'skipped'> {
    const file = chartFileName(chart);
    const a = await this.putFile(chart, file, chart.archive, MAX_CHART_BYTES, opts.force);
    let p: 'uploaded' | 'skipped' = 'skipped';
    if (chart.provenance) p = await this.putFile(chart, `${file}.prov`, chart.provenance, MAX_PROV_BYTES, opts.force);
    const r = a === 'uploaded' || p === 'uploaded' ? 'uploaded' : 'skipped';
    if (r === 'uploaded') this.uploaded = true;
    return r;
  }

  private async putFile(chart: ChartUpload, file: string, data: Buffer, limit: number, force: boolean): Promise<'uploaded' | 'skipped'> {
    const digest = sha256Digest(data);
    const have = await this.storedDigest(file, limit);
    if (have === digest) return 'skipped';
    if (have !== undefined && !force) throw this.conflict(chart, file, `${this.description} holds digest ${have}, the bundle carries ${digest}`);
    const url = this.fileUrl(file);
    const sums = { 'X-Checksum-Sha256': hex('sha256', data), 'X-Checksum-Sha1': hex('sha1', data) };
    // 1. By checksum: nothing sent when Artifactory already holds the content (another path, an earlier load).
    const byChecksum = await this.http.send({ method: 'PUT', url, headers: { 'X-Checksum-Deploy': 'true', ...sums }, what: 'checksum deploy' });
    if (byChecksum.status === 201 || byChecksum.status === 200) {
      byChecksum.body.resume();
      return 'uploaded';
    }
    if (byChecksum.status !== 404) {
      const text = await this.http.errorText(byChecksum);
      return this.afterRefusal(chart, file, data, digest, limit, force, byChecksum.status, text, url);
    }
    byChecksum.body.resume();
    // 2. The bytes, with the checksums Artifactory verifies.
    const full = await this.http.send({ method: 'PUT', url, headers: { 'Content-Type': 'application/octet-stream', ...sums }, body: data, what: 'deploy' });
    if (full.status === 201 || full.status === 200) {
      full.body.resume();
      return 'uploaded';
    }
    const text = await this.http.errorText(full);
    return this.afterRefusal(chart, file, data, digest, limit, force, full.status, text, url);
  }

  /** A 409 (or other refusal): look again to tell a race, an overwrite refusal and a checksum rejection apart. */
  private async afterRefusal(chart: ChartUpload, file: string, data: Buffer, digest: string, limit: number, force: boolean, status: number, text: string, url: URL): Promise<'uploaded' | 'skipped'> {
    if (status === 409) {
      const now = await this.storedDigest(file, limit);
      if (now === digest) return 'skipped';
      if (now !== undefined) {
        if (!force) throw this.conflict(chart, file, `${this.description} holds digest ${now}, the bundle carries ${digest}`);
        throw new FerryError('CHART_CONFLICT', `${this.description}: ${file} exists with other content (digest ${now}) and Artifactory refused to overwrite it (HTTP 409${text ? `: ${text}` : ''}); --force needs an account with delete/overwrite permission on ${this.dest.repo}`, { destination: this.description, chart: chart.name, version: chart.version, status });
      }
      throw this.http.repoError(`PUT ${showUrl(url)}: Artifactory refused ${file} (HTTP 409${text ? `: ${text}` : ''}); the checksums sent were the bundle's verified ones (sha256 ${digest}), so the repository's checksum policy or a proxy changed something`, 'PUT', url, status);
    }
    const why = status === 413 ? ' (larger than the server accepts)' : status === 400 ? ' (the repository refused the content; is it a local Helm repository?)' : '';
    throw this.http.repoError(`PUT ${showUrl(url)}: deploying ${file} to ${this.description} failed: HTTP ${status}${why}${text ? `: ${text}` : ''}`, 'PUT', url, status);
  }

  /** `http(s)://HOST/artifactory/api/helm/REPO/<name>`: the Helm repository URL for `helm repo add`, then the chart name. */
  locationOf(chart: Pick<ChartUpload, 'name' | 'version'>): string {
    return `${this.http.base.origin}${this.dest.contextPath}/api/helm/${this.dest.repo}/${chart.name}`;
  }

  /** Ask Artifactory to recalculate the Helm index once, when anything was deployed. */
  async finish(): Promise<void> {
    if (!this.uploaded) return;
    const url = new URL(`${this.dest.contextPath}/api/helm/${encodeURIComponent(this.dest.repo)}/reindex`, this.http.base);
    try {
      const res = await this.http.fetch({ method: 'POST', url, accept: [200, 201, 202, 204, 404], limit: 64 << 10, what: 'reindex' });
      if (res.status === 404) this.notes.push(`${this.description}: POST ${showUrl(url)} answered 404 (no Helm reindex API there); Artifactory indexes deployed charts itself`);
    } catch (e) {
      if (e instanceof FerryError && (e.code === 'REGISTRY_AUTH' || e.code === 'CHART_REPO_ERROR')) {
        this.notes.push(`${this.description}: the Helm reindex request failed (${printable(e.message)}); Artifactory indexes deployed charts itself`);
        return;
      }
      throw e;
    }
  }

  async close(): Promise<void> {
    this.http.close();
  }
}
