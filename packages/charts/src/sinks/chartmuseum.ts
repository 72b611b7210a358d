// Charts into ChartMuseum (helm/chartmuseum): `chartmuseum+http(s)://HOST[:PORT][/PATH]`, PATH
// being a multitenant repository prefix (`/api/<PATH>/charts`, served at `/<PATH>/index.yaml`).
// Upload is `POST /api/charts` with a multipart/form-data body (fields `chart` and `prov`), or
// the raw .tgz when there is no provenance. The server refuses an existing version (409)
// unless `?force` (and it was not started with --disable-force-overwrite) or --allow-overwrite;
// because --allow-overwrite would silently replace a different chart, every put looks first
// (GET /[PATH/]charts/<name>-<version>.tgz, hashed) and a different chart is a CHART_CONFLICT
// unless forced. Same bytes already there: 'skipped', unless the bundle carries a .prov the
// server lacks (then it goes up alone, POST /api[/PATH]/prov) or holds another one (another
// signature: a CHART_CONFLICT unless forced). Forcing a chart without a .prov over one with is
// refused: the old .prov would stay, and ChartMuseum cannot delete it alone. ChartMuseum has no
// conditional upload, so on an --allow-overwrite server a different chart stored by someone
// else between the look and the POST is still replaced; the look closes all but that window.

import { randomBytes } from 'node:crypto';
import { FerryError, printable, sha256Digest } from '@ferry/format-spec';
import { ChartHttp, parseSchemeUrl, showUrl, type ChartHttpOptions } from '../http.js';
import { MAX_CHART_BYTES, MAX_PROV_BYTES } from '../http-repo-source.js';
import { chartFileName, type ChartPresence, type ChartPutOptions, type ChartSink, type ChartUpload } from '../types.js';

export interface ChartmuseumSinkOptions extends ChartHttpOptions {
  /** ChartMuseum's --chart-post-form-field-name (default `chart`). */
  chartField?: string;
  /** ChartMuseum's --prov-post-form-field-name (default `prov`). */
  provField?: string;
}

/** `chartmuseum+http(s)://HOST[:PORT][/PATH]` → the server URL and the tenant path (may be empty). */
export function parseChartmuseumDestination(dest: string): { server: URL; tenant: string } {
  const u = parseSchemeUrl(dest, 'chartmuseum', 'chartmuseum+https://HOST[:PORT][/PATH]');
  const tenant = u.pathname.replace(/^\/+|\/+$/g, '');
  if (tenant.split('/').some((s) => s === '.' || s === '..')) throw new FerryError('USAGE', `chart destination "${showUrl(dest)}": "." and ".." are not repository names`);
  const server = new URL(u.href);
  server.pathname = '/';
  return { server, tenant };
}

/** A multipart/form-data body with file parts (ChartMuseum reads them with FormFile: a filename is required). */
export function multipartBody(parts: Array<{ field: string; filename: string; contentType: string; data: Buffer }>): { body: Buffer; contentType: string } {
  for (;;) {
    const boundary = `ferry-${randomBytes(16).toString('hex')}`;
    const b = Buffer.from(boundary);
    if (parts.some((p) => p.data.includes(b))) continue;
    const chunks: Buffer[] = [];
    for (const p of parts) {
      chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.field}"; filename="${p.filename.replace(/["\r\n\\]/g, '_')}"\r\nContent-Type: ${p.contentType}\r\n\r\n`));
      chunks.push(p.data, Buffer.from('\r\n'));
    }
    chunks.push(Buffer.from(`--${boundary}--\r\n`));
    return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
  }
}

export class ChartmuseumSink implements ChartSink {
  readonly kind = 'chartmuseum' as const;
  readonly description: string;
  readonly notes: string[] = [];
  readonly http: ChartHttp;
  readonly tenant: string;
  private readonly chartField: string;
  private readonly provField: string;

  constructor(dest: string, opts: ChartmuseumSinkOptions = {}) {
    const d = parseChartmuseumDestination(dest);
    this.tenant = d.tenant;
    this.http = new ChartHttp(d.server, { noun: 'ChartMuseum', ...opts });
    this.description = `chartmuseum+${this.http.base.origin}${d.tenant ? `/${d.tenant}` : ''}`;
    this.chartField = opts.chartField ?? 'chart';
    this.provField = opts.provField ?? 'prov';
  }

  private get prefix(): string {
    return this.tenant ? `/${this.tenant}` : '';
  }

  private url(path: string): URL {
    return new URL(path, this.http.base);
  }

  /** `/api[/PATH]/charts` */
  private get apiCharts(): string {
    return `/api${this.prefix}/charts`;
  }

  /** Why ChartMuseum answers 404 for the API: a path that does not fit its --depth (or no API at all). */
  private get depthHint(): string {
    const segs = this.tenant ? this.tenant.split('/').length : 0;
    const given = this.tenant ? `this destination gives ${segs} ("${printable(this.tenant)}")` : 'this destination gives none';
    return `ChartMuseum has its API only under as many path segments as its --depth, and ${given}; or it runs with --disable-api`;
  }

  /** The repository URL users give `helm repo add`. */
  get repoUrl(): string {
    return `${this.http.base.origin}${this.prefix}`;
  }

  /** Reachable (GET /health) and the credentials accepted (GET /api/charts; 401 is REGISTRY_AUTH). */
  async preflight(): Promise<void> {
    const health = await this.http.fetch({ method: 'GET', url: this.url('/health'), accept: [200], limit: 64 << 10, what: 'health check' });
    let healthy = false;
    try {
      healthy = (JSON.parse(health.body.toString('utf8')) as { healthy?: unknown }).healthy === true;
    } catch {
      /* below */
    }
    if (!healthy) {
      throw this.http.repoError(`GET ${showUrl(health.url)}: the answer is not ChartMuseum's {"healthy":true}; is ${this.http.name} a ChartMuseum server?`, 'GET', health.url, health.status);
    }
    const list = this.url(`${this.apiCharts}?limit=1`);
    const listed = await this.http.fetch({ method: 'GET', url: list, accept: [200, 404], limit: 4 << 20, what: 'chart list' });
    if (listed.status === 404) {
      throw this.http.repoError(`GET ${showUrl(listed.url)}: ${this.http.name} has no chart API at ${this.apiCharts} (HTTP 404): ${this.depthHint}`, 'GET', listed.url, 404);
    }
    if (!this.http.hasCredentials) {
      this.notes.push(`${this.description}: no credentials given; uploads work only if the server allows anonymous writes`);
    }
  }

  private fileUrl(file: string): URL {
    return this.url(`${this.prefix}/charts/${encodeURIComponent(file)}`);
  }

  /**
   * The digest of the stored file (`<name>-<version>.tgz` or its `.prov`), or undefined when the
   * server has none. The file itself, not `HEAD /api/charts/<name>/<version>`: that looks the
   * version up as a semver constraint, so it answers 200 for 1.0.0 or 1.0.0+b2 when only
   * 1.0.0+b1 is there (build metadata does not count), while uploads are stored and refused by
   * file name.
   */
  private async storedDigest(file: string, limit: number): Promise<string | undefined> {
    const got = await this.http.fetch({ method: 'GET', url: this.fileUrl(file), accept: [200, 404], limit, what: file.endsWith('.prov') ? 'stored provenance' : 'stored chart' });
    return got.status === 404 ? undefined : sha256Digest(got.body);
  }

  async check(chart: Pick<ChartUpload, 'name' | 'version' | 'digest'>): Promise<ChartPresence> {
    const have = await this.storedDigest(chartFileName(chart), MAX_CHART_BYTES);
    if (have === undefined) return { state: 'absent' };
    if (have === chart.digest) return { state: 'same' };
    return { state: 'different', detail: `${this.description} holds ${chartFileName(chart)} with digest ${have}, the bundle carries ${chart.digest}` };
  }

  private conflict(chart: ChartUpload, detail: string): FerryError {
    return new FerryError('CHART_CONFLICT', `${this.description}: ${chart.name} ${chart.version} already exists with other content (${detail}); nothing was replaced`, { destination: this.description, chart: chart.name, version: chart.version });
  }

  async put(chart: ChartUpload, opts: ChartPutOptions): Promise<'uploaded' | 'skipped'> {
    const before = await this.check(chart);
    if (before.state === 'same') return this.putProvenance(chart, opts.force);
    if (before.state === 'different') {
      if (!opts.force) throw this.conflict(chart, before.detail);
      await this.refuseStaleProvenance(chart);
    }
    const force = before.state === 'different';
    const res = await this.upload(chart, force);
    if (res.status === 201 || res.status === 200) return 'uploaded';
    if (res.status === 409) {
      if (force) throw this.forceRefused(chart, res.text);
      // Someone uploaded it between our look and our POST: look again.
      const now = await this.check(chart);
      if (now.state === 'same') return this.putProvenance(chart, opts.force);
      if (now.state === 'different') {
        if (!opts.force) throw this.conflict(chart, now.detail);
        await this.refuseStaleProvenance(chart);
        const again = await this.upload(chart, true);
        if (again.status === 201 || again.status === 200) return 'uploaded';
        if (again.status === 409) throw this.forceRefused(chart, again.text);
        throw this.uploadError(chart, again.status, again.text, again.url);
      }
    }
    throw this.uploadError(chart, res.status, res.text, res.url);
  }

  /**
   * The chart bytes are there already; the bundle's .prov may not be (the version was loaded
   * before from a bundle without it) or may be another signature. ChartMuseum takes a .prov on
   * its own at POST /api[/PATH]/prov, and refuses an existing one (409) as it does charts.
   */
  private async putProvenance(chart: ChartUpload, force: boolean): Promise<'uploaded' | 'skipped'> {
    if (!chart.provenance) return 'skipped';
    const file = `${chartFileName(chart)}.prov`;
    const want = sha256Digest(chart.provenance);
    const have = await this.storedDigest(file, MAX_PROV_BYTES);
    if (have === want) return 'skipped';
    if (have !== undefined && !force) throw this.provConflict(chart, file, have, want);
    const url = this.url(`/api${this.prefix}/prov${have !== undefined ? '?force' : ''}`);
    const res = await this.http.send({ method: 'POST', url, headers: { 'Content-Type': 'application/pgp-signature' }, body: chart.provenance, what: 'provenance upload' });
    if (res.status === 201 || res.status === 200) {
      res.body.resume();
      return 'uploaded';
    }
    const text = await this.http.errorText(res);
    if (res.status === 409) {
      if (have !== undefined) throw this.forceRefused(chart, text, `${file} exists with another signature`);
      // Another client stored a .prov between our look and our POST.
      const now = await this.storedDigest(file, MAX_PROV_BYTES);
      if (now === want) return 'skipped';
      if (now !== undefined) throw this.provConflict(chart, file, now, want);
    }
    throw this.uploadError(chart, res.status, text, url, file);
  }

  private provConflict(chart: ChartUpload, file: string, have: string, want: string): FerryError {
    return new FerryError('CHART_CONFLICT', `${this.description}: ${chart.name} ${chart.version} is there with the same chart bytes but another provenance file (${file} has digest ${have}, the bundle carries ${want}: another signature); nothing was replaced`, { destination: this.description, chart: chart.name, version: chart.version });
  }

  /**
   * A forced upload without a .prov would replace the chart and leave the stored .prov, which
   * signs the old bytes (helm --verify then fails against the new ones). ChartMuseum cannot
   * delete a .prov alone, so refuse before anything is sent.
   */
  private async refuseStaleProvenance(chart: ChartUpload): Promise<void> {
    if (chart.provenance) return; // the multipart upload replaces both
    const file = `${chartFileName(chart)}.prov`;
    const have = await this.storedDigest(file, MAX_PROV_BYTES);
    if (have === undefined) return;
    throw new FerryError('CHART_CONFLICT', `${this.description}: ${chart.name} ${chart.version} exists with other content and a provenance file (${file}); the bundle's chart has none, so a forced upload would leave that .prov signing the old bytes: delete the version on the server first (DELETE ${this.apiCharts}/${chart.name}/${chart.version} removes both) or bump the chart version; nothing was replaced`, { destination: this.description, chart: chart.name, version: chart.version });
  }

  /** ?force answered 409: the server runs with --disable-force-overwrite. */
  private forceRefused(chart: ChartUpload, text: string, what = `${chart.name} ${chart.version} exists with other content`): FerryError {
    return new FerryError('CHART_CONFLICT', `${this.description}: ${what} and the server refused ?force (HTTP 409${text ? `: ${text}` : ''}); it was started with --disable-force-overwrite, so --force cannot replace it: delete the version on the server (DELETE ${this.apiCharts}/${chart.name}/${chart.version}) or bump the chart version`, { destination: this.description, chart: chart.name, version: chart.version, status: 409 });
  }

  private async upload(chart: ChartUpload, force: boolean): Promise<{ status: number; text: string; url: URL }> {
    const url = this.url(`${this.apiCharts}${force ? '?force' : ''}`);
    const file = chartFileName(chart);
    let body: Buffer;
    let contentType: string;
    if (chart.provenance) {
      ({ body, contentType } = multipartBody([
        { field: this.chartField, filename: file, contentType: 'application/gzip', data: chart.archive },
        { field: this.provField, filename: `${file}.prov`, contentType: 'application/pgp-signature', data: chart.provenance },
      ]));
    } else {
      body = chart.archive;
      contentType = 'application/gzip';
    }
    const res = await this.http.send({ method: 'POST', url, headers: { 'Content-Type': contentType }, body, what: 'upload' });
    const text = res.status === 201 || res.status === 200 ? (res.body.resume(), '') : await this.http.errorText(res);
    return { status: res.status, text, url };
  }

  /** `provFile`: the failed upload was that .prov alone. */
  private uploadError(chart: ChartUpload, status: number, text: string, url: URL, provFile?: string): FerryError {
    const why = status === 507 ? ' (the server reached its storage limit)'
      : status === 400 || (provFile && status === 500) ? ` (the server refused the content as ${provFile ? 'a provenance file' : 'a chart'})`
      : status === 413 ? ' (larger than the server accepts: its --max-upload-size, 20 MB by default)'
      : status === 404 ? ` (no upload API here: ${this.depthHint})`
      : '';
    const what = provFile ? printable(provFile) : `${printable(chart.name)} ${printable(chart.version)}`;
    return this.http.repoError(`POST ${showUrl(url)}: uploading ${what} to ${this.description} failed: HTTP ${status}${why}${text ? `: ${text}` : ''}`, 'POST', url, status);
  }

  /** `http(s)://HOST/PATH/<name>`: the repository URL for `helm repo add`, then the chart name. */
  locationOf(chart: Pick<ChartUpload, 'name' | 'version'>): string {
    return `${this.repoUrl}/${chart.name}`;
  }

  async finish(): Promise<void> {
    /* ChartMuseum rebuilds its index itself */
  }

  async close(): Promise<void> {
    this.http.close();
  }
}
