// HTTP to one chart repository (a classic Helm repository, ChartMuseum, Artifactory) on top of
// @ferry/oci's Transport, so TLS (system roots + --ca-file, insecure hosts), retries with
// backoff, redirects that drop Authorization across hosts and secret redaction are the same
// code that serves registries. One Transport per origin: the repository's own, plus one for
// each other host an index points at (a CDN); credentials go only to the repository's origin
// unless `passCredentialsAll` (Helm's pass_credentials_all). Bodies are read with a limit.
// Errors: 401/403 -> REGISTRY_AUTH naming the repository (never the secret), TLS ->
// REGISTRY_TLS, everything else -> CHART_REPO_ERROR with method, URL (redacted) and status.

import type { IncomingHttpHeaders } from 'node:http';
import { FerryError, printable, redactCredentials } from '@ferry/format-spec';
import {
  Transport, header, isInsecureHost, readBody, redact, registerSecret, summarizeErrorBody,
  type HttpResponse, type RegistryOptions,
} from '@ferry/oci';

/** TLS, retry and concurrency options, the same flags as for registries (--ca-file, --insecure-registry …). */
export type ChartTransportOptions = Pick<RegistryOptions, 'caFile' | 'caFiles' | 'insecure' | 'concurrency' | 'attempts' | 'backoffMs' | 'maxRetryAfterMs' | 'timeoutMs' | 'userAgent' | 'onRetry'>;

export interface ChartHttpOptions extends ChartTransportOptions {
  /**
   * `USER:PASSWORD` for Basic auth (--creds). `:TOKEN` (empty user) is an access token sent as
   * `Authorization: Bearer TOKEN` (Artifactory access tokens, ChartMuseum bearer auth).
   */
  creds?: string;
  /** A bearer token (wins over `creds`). */
  bearerToken?: string;
  /** Also send the credentials to chart URLs on other hosts (Helm's pass_credentials_all). */
  passCredentialsAll?: boolean;
  /** Skip TLS verification for the repository's own origin (Helm's insecure_skip_tls_verify). */
  insecureSkipTlsVerify?: boolean;
  /** Where the credentials came from, for messages (default: the --creds option). */
  credsSource?: string;
  /** What the server is called in messages (default `chart repository`). */
  noun?: string;
}

export type ChartHttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';

export interface ChartRequest {
  method: ChartHttpMethod;
  /** Absolute, or resolved against the repository URL (see `resolve`). */
  url: URL | string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** What is being fetched, for messages (`index`, `chart`, `provenance`, `upload`). */
  what?: string;
}

export interface ChartFetchRequest extends ChartRequest {
  /** Statuses that are answers, not failures (their bodies are read too). */
  accept: number[];
  /** Largest body read (bytes); a larger one is refused with CHART_REPO_ERROR. */
  limit: number;
}

export interface ChartResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Final URL after redirects. */
  url: URL;
  body: Buffer;
}

/** Largest error body read to quote the server's message. */
const ERROR_BODY_LIMIT = 64 << 10;

function asList(x: string | string[] | undefined): string[] {
  return x === undefined ? [] : Array.isArray(x) ? x : [x];
}

/**
 * A URL for messages and records: userinfo removed, query values replaced by `***` (a query may
 * carry an access token), registered secrets cut.
 */
export function showUrl(u: URL | string): string {
  let url: URL;
  try {
    url = new URL(String(u));
  } catch {
    return printable(redact(redactCredentials(String(u)))).slice(0, 300);
  }
  const c = new URL(url.href);
  c.username = '';
  c.password = '';
  if (c.search) {
    const q = new URLSearchParams();
    for (const [k, v] of c.searchParams) q.append(k, v === '' ? '' : '***');
    c.search = q.toString().replace(/=(&|$)/g, '$1');
  }
  return printable(redact(c.href)).slice(0, 300);
}

/** Helm's ResolveReferenceURL: an absolute `ref` as is; a relative one against `base` taken as a
 *  directory (a trailing `/` added), with the base's query (Artifactory/S3 tokens) kept. */
export function resolveReferenceUrl(base: URL | string, ref: string): URL {
  let abs: URL | undefined;
  try {
    abs = new URL(ref);
  } catch {
    abs = undefined;
  }
  if (abs) return abs;
  const b = new URL(String(base));
  if (!b.pathname.endsWith('/')) b.pathname += '/';
  const out = new URL(ref, b);
  out.search = b.search;
  return out;
}

type Auth = { kind: 'basic'; header: string; source: string } | { kind: 'bearer'; header: string; source: string };

function parseAuth(opts: ChartHttpOptions, fromUrl: { user: string; password: string } | undefined): Auth | undefined {
  if (opts.bearerToken) {
    registerSecret(opts.bearerToken);
    return { kind: 'bearer', header: `Bearer ${opts.bearerToken}`, source: opts.credsSource ?? 'the bearer token option' };
  }
  const source = opts.credsSource ?? 'the --creds option';
  if (opts.creds !== undefined) {
    const i = opts.creds.indexOf(':');
    const user = i < 0 ? opts.creds : opts.creds.slice(0, i);
    const password = i < 0 ? '' : opts.creds.slice(i + 1);
    registerSecret(password);
    if (!user && password) return { kind: 'bearer', header: `Bearer ${password}`, source };
    if (!user) throw new FerryError('USAGE', `${source}: expected USER:PASSWORD, or :TOKEN for an access token`);
    const b64 = Buffer.from(`${user}:${password}`).toString('base64');
    registerSecret(b64);
    return { kind: 'basic', header: `Basic ${b64}`, source };
  }
  if (fromUrl) {
    registerSecret(fromUrl.password);
    const b64 = Buffer.from(`${fromUrl.user}:${fromUrl.password}`).toString('base64');
    registerSecret(b64);
    return { kind: 'basic', header: `Basic ${b64}`, source: 'the user:password in the repository URL' };
  }
  return undefined;
}

/** A client for one chart repository origin. */
export class ChartHttp {
  /** The repository URL without userinfo (path and query as given). */
  readonly base: URL;
  /** The repository URL for messages (redacted). */
  readonly name: string;
  readonly noun: string;
  private readonly auth: Auth | undefined;
  private readonly transports = new Map<string, Transport>();

  constructor(baseUrl: string | URL, readonly opts: ChartHttpOptions = {}) {
    let u: URL;
    try {
      u = new URL(String(baseUrl));
    } catch {
      throw new FerryError('USAGE', `"${showUrl(String(baseUrl))}" is not a URL (expected http(s)://HOST[:PORT][/PATH])`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw new FerryError('USAGE', `${showUrl(u)}: a chart repository URL must be http:// or https://`);
    }
    const fromUrl = u.username ? { user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) } : undefined;
    u.username = '';
    u.password = '';
    u.hash = '';
    this.base = u;
    this.noun = opts.noun ?? 'chart repository';
    this.auth = parseAuth(opts, fromUrl);
    this.name = showUrl(u).replace(/\/$/, '');
  }

  /** Whether this client has credentials at all. */
  get hasCredentials(): boolean {
    return this.auth !== undefined;
  }

  /** Helm's ResolveReferenceURL against the repository URL. */
  resolve(ref: string): URL {
    return resolveReferenceUrl(this.base, ref);
  }

  /** Credentials go to the repository's own origin, elsewhere only with passCredentialsAll. */
  sendsCredentialsTo(url: URL): boolean {
    return this.auth !== undefined && (url.origin === this.base.origin || this.opts.passCredentialsAll === true);
  }

  private transportFor(url: URL): Transport {
    const origin = url.origin;
    let t = this.transports.get(origin);
    if (t) return t;
    const own = origin === this.base.origin;
    const host = url.host;
    const o = this.opts;
    t = new Transport(own ? this.name : origin, host, {
      caFiles: [...asList(o.caFile), ...asList(o.caFiles?.[host])],
      insecure: (own && o.insecureSkipTlsVerify === true) || isInsecureHost(host, o.insecure),
      concurrency: o.concurrency ?? 6,
      attempts: o.attempts ?? 4,
      backoffMs: o.backoffMs ?? 250,
      maxRetryAfterMs: o.maxRetryAfterMs ?? 60_000,
      timeoutMs: o.timeoutMs ?? 60_000,
      userAgent: o.userAgent ?? 'ferry/0.1',
      fixedBase: new URL(`${origin}/`),
      noun: own ? this.noun : `host (named by ${this.noun} ${this.name})`,
      ...(o.onRetry ? { onRetry: (i) => o.onRetry!({ registry: host, ...i }) } : {}),
    });
    this.transports.set(origin, t);
    return t;
  }

  private target(u: URL | string): URL {
    return typeof u === 'string' ? this.resolve(u) : u;
  }

  /**
   * One request (with retries); the body is the caller's to read or drain. 401/403 become
   * REGISTRY_AUTH; network failures CHART_REPO_ERROR (TLS: REGISTRY_TLS). Holds no slot.
   */
  async send(req: ChartRequest): Promise<HttpResponse> {
    const url = this.target(req.url);
    const headers: Record<string, string> = { ...req.headers };
    const withCreds = this.sendsCredentialsTo(url);
    if (withCreds) headers.Authorization = this.auth!.header;
    const t = this.transportFor(url);
    let res: HttpResponse;
    try {
      res = await t.send({ method: req.method, url, headers, ...(req.body ? { body: req.body } : {}) }, { registry: t.registry });
    } catch (e) {
      throw this.wrapNetError(e, req.method, url, req.what);
    }
    if (res.status === 401 || res.status === 403) {
      const text = await this.errorText(res);
      throw this.authError(res.status, req.method, url, withCreds, text);
    }
    return res;
  }

  /** `send`, then the whole body (at most `limit` bytes); a status outside `accept` is CHART_REPO_ERROR. */
  async fetch(req: ChartFetchRequest): Promise<ChartResponse> {
    const url = this.target(req.url);
    const t = this.transportFor(url);
    return t.slots.run(async () => {
      const res = await this.send({ ...req, url });
      if (!req.accept.includes(res.status)) throw await this.statusError(res, req.method, url, req.what);
      const body = req.method === 'HEAD' ? (res.body.resume(), Buffer.alloc(0)) : await this.readLimited(res, req.limit, req.method, url, req.what);
      return { status: res.status, headers: res.headers, url: res.url, body };
    });
  }

  /** A whole body, refused past `limit` bytes (Content-Length checked first) so a hostile server cannot fill memory. */
  async readLimited(res: HttpResponse, limit: number, method: ChartHttpMethod, url: URL, what?: string): Promise<Buffer> {
    const len = Number(header(res, 'content-length'));
    if (Number.isFinite(len) && len > limit) {
      res.body.destroy();
      throw this.repoError(`${method} ${showUrl(url)}: the ${what ?? 'response'} is ${len} bytes, more than the ${limit} allowed`, method, url, res.status);
    }
    try {
      return await readBody(res, limit);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ETOOBIG') {
        throw this.repoError(`${method} ${showUrl(url)}: the ${what ?? 'response'} is larger than the ${limit} bytes allowed`, method, url, res.status);
      }
      throw this.repoError(`${method} ${showUrl(url)}: reading the ${what ?? 'response'} from ${this.noun} ${this.name} failed: ${redact(String((e as Error).message))}`, method, url, res.status, e);
    }
  }

  /** The server's message from an error body: bounded, one line, printable. */
  async errorText(res: HttpResponse): Promise<string> {
    if (res.status === 0) return '';
    const body = await readBody(res, ERROR_BODY_LIMIT).catch(() => Buffer.alloc(0));
    return printable(redact(summarizeErrorBody(body.toString('utf8')).text)).slice(0, 300);
  }

  /** CHART_REPO_ERROR for an unexpected status, quoting the server's message. */
  async statusError(res: HttpResponse, method: ChartHttpMethod, url: URL, what?: string): Promise<FerryError> {
    const text = await this.errorText(res);
    const subject = what ? `${what} ` : '';
    return this.repoError(`${method} ${subject}${showUrl(url)}: ${this.noun} ${this.name} answered HTTP ${res.status}${text ? `: ${text}` : ''}`, method, url, res.status);
  }

  repoError(message: string, method: ChartHttpMethod, url: URL, status?: number, cause?: unknown): FerryError {
    return new FerryError('CHART_REPO_ERROR', redact(message), { repository: this.name, method, url: showUrl(url), status: status ?? null }, cause !== undefined ? { cause } : undefined);
  }

  private authError(status: number, method: ChartHttpMethod, url: URL, sent: boolean, text: string): FerryError {
    const detail = text ? `: ${text}` : '';
    const where = `${method} ${showUrl(url)}`;
    const own = url.origin === this.base.origin;
    let msg: string;
    if (status === 403) {
      msg = `${this.noun} ${this.name} denied ${where} (HTTP 403${detail})${sent ? ` with the credentials from ${this.auth!.source}` : ''}`;
    } else if (sent) {
      msg = `${this.noun} ${this.name} rejected the credentials from ${this.auth!.source} for ${where} (HTTP 401${detail})`;
    } else if (this.auth && !own) {
      msg = `${where} needs authentication (HTTP 401); the credentials for ${this.noun} ${this.name} are not sent to another host (${url.host}) unless pass_credentials_all / passCredentialsAll is set`;
    } else {
      msg = `${this.noun} ${this.name} requires authentication for ${where} (HTTP 401) and no credentials were given for it (--creds, or a Helm repositories.yaml entry)`;
    }
    return new FerryError('REGISTRY_AUTH', redact(msg), { repository: this.name, method, url: showUrl(url), status });
  }

  private wrapNetError(e: unknown, method: ChartHttpMethod, url: URL, what?: string): unknown {
    if (!(e instanceof FerryError)) return e;
    const prefix = `${method} ${what ? `${what} ` : ''}${showUrl(url)}: `;
    const details = { ...e.details, repository: this.name, method, url: showUrl(url) };
    // The transport says REGISTRY_ERROR for any unreachable peer; for a chart repository that is CHART_REPO_ERROR.
    const code = e.code === 'REGISTRY_ERROR' ? 'CHART_REPO_ERROR' : e.code;
    return new FerryError(code, redact(prefix + e.message), details, { cause: e });
  }

  close(): void {
    for (const t of this.transports.values()) t.close();
    this.transports.clear();
  }
}

/** `KIND+http(s)://…` (`chartmuseum+https://HOST`, `artifactory+https://HOST/artifactory/REPO`):
 *  the http(s) URL, with no query, fragment or credentials. */
export function parseSchemeUrl(dest: string, kind: string, form: string): URL {
  const m = new RegExp(`^${kind}\\+(https?://.*)$`, 'i').exec(dest.trim());
  if (!m) throw new FerryError('USAGE', `chart destination "${showUrl(dest)}": expected ${form}`);
  let u: URL;
  try {
    u = new URL(m[1]!);
  } catch {
    throw new FerryError('USAGE', `chart destination "${showUrl(dest)}" is not a URL`);
  }
  if (u.username || u.password) throw new FerryError('USAGE', `chart destination "${showUrl(dest)}": credentials do not belong in the destination (it is printed in plans and reports); give them with --chart-creds USER:PASSWORD`);
  if (u.search || u.hash) throw new FerryError('USAGE', `chart destination "${showUrl(dest)}": no query or fragment expected`);
  return u;
}
