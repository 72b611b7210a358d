// HTTP to one registry over node:http/https: keep-alive agents, TLS with the system roots plus
// configured CA files, insecure hosts (HTTPS without verification, else plain HTTP, like
// docker's insecure-registries), redirects that never carry Authorization to another host,
// and retries with backoff on 429/5xx and dropped connections. The same layer serves a plain
// HTTP(S) origin such as a chart repository (`fixedBase`): then there is no `/v2/` probe, the
// URL's scheme is used as given, and messages name the peer by `noun`. HTTPS_PROXY/HTTP_PROXY/
// NO_PROXY are honoured for every request (proxy.ts: CONNECT tunnels for https, absolute-URI
// requests for http; TLS to the peer is verified inside the tunnel as it is direct).

import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import tls, { type SecureContext } from 'node:tls';
import { readFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import { FerryError } from '@ferry/format-spec';
import { Semaphore } from './semaphore.js';
import { registryError, redact, describeRef, type RegistryErrorContext } from './errors.js';
import { ForwardingAgent, TunnelingAgent, proxyRoute, proxySettingsFromEnv, type ProxyRoute, type ProxySettings } from './proxy.js';

export interface TransportOptions {
  /** Extra CA certificates (PEM files) trusted for this registry, on top of the system roots. */
  caFiles: string[];
  /** Named in the insecure list: HTTPS without verification, falling back to plain HTTP. */
  insecure: boolean;
  /** Most requests in flight at once (a blob stream holds its slot until it ends). */
  concurrency: number;
  /** Attempts per request, first one included. */
  attempts: number;
  /** First backoff delay; doubles per attempt, plus up to 50% jitter. */
  backoffMs: number;
  /** Longest Retry-After we are willing to wait. */
  maxRetryAfterMs: number;
  /** Socket idle timeout. */
  timeoutMs: number;
  userAgent: string;
  /** Told about every retry (for progress/log lines; carries no credentials). */
  onRetry?: (info: { url: string; attempt: number; delayMs: number; reason: string }) => void;
  /**
   * Not a registry but a plain HTTP(S) origin (a chart repository): requests go to this URL's
   * scheme, host and port, with no `/v2/` probe; `insecure` then only skips TLS verification
   * (no fallback to plain HTTP: the URL says which).
   */
  fixedBase?: URL;
  /** What the peer is called in messages (default `registry`; e.g. `chart repository`). */
  noun?: string;
  /** Proxies (default: HTTPS_PROXY/HTTP_PROXY/NO_PROXY from the environment); `false`: none. */
  proxy?: ProxySettings | false;
}

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path + query on the registry (`/v2/...`), or an absolute URL (upload Location). */
  url: string | URL;
  headers?: Record<string, string>;
  /** A buffer can be replayed on retry; a stream is sent once (no retry, no redirect). */
  body?: Buffer | Readable;
  /** Required with a stream body. */
  contentLength?: number;
  /** Status codes the caller handles itself (no retry even if 5xx). */
  noRetryStatus?: number[];
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Final URL after redirects. */
  url: URL;
  body: IncomingMessage;
}

const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);
const RETRY_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED', 'ECONNABORTED', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET']);
const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH', 'EPROTO', 'ERR_SSL_WRONG_VERSION_NUMBER',
]);

export function isTlsError(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== 'string') return false;
  return TLS_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code.startsWith('CERT_');
}

export function isRetryableNetError(e: unknown): boolean {
  const err = e as NodeJS.ErrnoException | undefined;
  if (!err) return false;
  if (typeof err.code === 'string' && RETRY_CODES.has(err.code)) return true;
  return /socket hang up|aborted|premature close/i.test(err.message ?? '');
}

/** Milliseconds to wait from a Retry-After header (seconds or HTTP date); undefined if absent/bad. */
export function parseRetryAfter(v: string | string[] | undefined, now = Date.now()): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (!s) return undefined;
  if (/^\s*\d+\s*$/.test(s)) return Number(s) * 1000;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

let systemCaCache: string[] | undefined;
/** Node's bundled roots plus the OS bundle and NODE_EXTRA_CA_CERTS (passing `ca` replaces both). */
function systemCas(): string[] {
  if (systemCaCache) return systemCaCache;
  const out = [...tls.rootCertificates];
  for (const f of ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', process.env.NODE_EXTRA_CA_CERTS]) {
    if (f && existsSync(f)) {
      try { out.push(readFileSync(f, 'utf8')); } catch { /* unreadable: skip */ }
    }
  }
  systemCaCache = out;
  return out;
}

function tlsHint(noun: string, registry: string, fixed: boolean, e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  if (code === 'EPROTO' || code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number/i.test(String((e as Error).message))) {
    return `${noun} ${registry} did not answer with TLS (is it a plain HTTP ${noun}? then ${fixed ? 'give its http:// URL' : 'name it as an insecure registry'})`;
  }
  // The code alone (UNABLE_TO_VERIFY_LEAF_SIGNATURE) does not say "certificate"; node's text does.
  const text = String((e as Error).message ?? '');
  const what = code && text && !text.includes(code) ? `${code}: ${text}` : code || text;
  return `TLS connection to ${noun} ${registry} failed: ${what} (give its CA with --ca-file, or name it as an insecure ${fixed ? 'host' : 'registry'} to skip verification)`;
}

export class Transport {
  readonly slots: Semaphore;
  private base?: Promise<URL>;
  private agents?: { https: https.Agent; http: http.Agent };
  /** For redirects to other hosts (blob storage): verified TLS with the same trust roots. */
  private foreign?: { https: https.Agent; http: http.Agent };

  /** What the peer is called in messages: `registry`, or e.g. `chart repository`. */
  readonly noun: string;
  private readonly proxy: ProxySettings | undefined;
  /** Agents through a proxy, by proxy, scheme and whether they carry this peer's TLS options. */
  private readonly proxied = new Map<string, http.Agent>();
  private sc?: SecureContext;

  constructor(readonly registry: string, readonly apiHost: string, readonly opts: TransportOptions) {
    this.slots = new Semaphore(opts.concurrency);
    this.noun = opts.noun ?? 'registry';
    this.proxy = opts.proxy === false ? undefined : opts.proxy ?? proxySettingsFromEnv();
  }

  private async secureContext(): Promise<SecureContext> {
    const extra: string[] = [];
    for (const f of this.opts.caFiles) {
      try {
        extra.push(await readFile(f, 'utf8'));
      } catch (e) {
        throw registryError('REGISTRY_TLS', { registry: this.registry }, `cannot read CA file ${f} for ${this.noun} ${this.registry}: ${(e as Error).message}`, { cause: e });
      }
    }
    return tls.createSecureContext({ ca: [...systemCas(), ...extra] });
  }

  private async init(): Promise<void> {
    if (this.agents) return;
    const sc = await this.secureContext();
    this.sc = sc;
    const common = { keepAlive: true, maxSockets: this.opts.concurrency + 2, timeout: this.opts.timeoutMs };
    this.agents = {
      https: new https.Agent({ ...common, ...(this.opts.insecure ? { rejectUnauthorized: false } : { secureContext: sc }) }),
      http: new http.Agent(common),
    };
    this.foreign = { https: new https.Agent({ ...common, secureContext: sc }), http: new http.Agent(common) };
  }

  /**
   * `https://host` or, for an insecure host that does not speak TLS, `http://host`. Probed once.
   * With `fixedBase`: that URL's origin, unprobed.
   */
  baseUrl(): Promise<URL> {
    // A failed probe (registry down) is not remembered: the next request probes again.
    this.base ??= this.detectBase().catch((e: unknown) => {
      this.base = undefined;
      throw e;
    });
    return this.base;
  }

  private async detectBase(): Promise<URL> {
    await this.init();
    if (this.opts.fixedBase) return new URL(`${this.opts.fixedBase.origin}/`);
    const httpsUrl = new URL(`https://${this.apiHost}/`);
    if (!this.opts.insecure) return httpsUrl;
    try {
      const res = await this.once({ method: 'GET', url: new URL('/v2/', httpsUrl) }, httpsUrl);
      res.body.resume();
      return httpsUrl;
    } catch (e) {
      // docker's order for insecure registries: HTTPS (unverified) first, then plain HTTP.
      const httpUrl = new URL(`http://${this.apiHost}/`);
      try {
        const res = await this.once({ method: 'GET', url: new URL('/v2/', httpUrl) }, httpUrl);
        res.body.resume();
        return httpUrl;
      } catch {
        throw this.netError(e, { registry: this.registry });
      }
    }
  }

  private netError(e: unknown, ctx: RegistryErrorContext): Error {
    const prefix = ctx.repository ? `${describeRef(ctx)}: ` : '';
    if (isTlsError(e)) return registryError('REGISTRY_TLS', ctx, prefix + tlsHint(this.noun, this.registry, this.opts.fixedBase !== undefined, e), { cause: e });
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EPROXY' || err.code === 'EPROXYAUTH') {
      return registryError('REGISTRY_ERROR', ctx, `${prefix}cannot reach ${this.noun} ${this.registry}: ${redact(err.message)}`, { cause: e });
    }
    const what = err.code ? `${err.code}${err.message && !err.message.includes(err.code) ? ` ${err.message}` : ''}` : err.message;
    return registryError('REGISTRY_ERROR', ctx, `${prefix}cannot reach ${this.noun} ${this.registry} (${redact(String(what))})`, { cause: e });
  }

  /** One attempt, following redirects for GET/HEAD. */
  private async once(req: HttpRequest, base: URL): Promise<HttpResponse> {
    let url = typeof req.url === 'string' ? new URL(req.url, base) : req.url;
    const origin = base.origin;
    const headers: Record<string, string> = { 'User-Agent': this.opts.userAgent, ...req.headers };
    for (let hop = 0; ; hop++) {
      const res = await this.raw(req.method, url, headers, req.body, req.contentLength, url.origin === origin);
      const loc = res.headers.location;
      const redirect = [301, 302, 303, 307, 308].includes(res.status) && loc && (req.method === 'GET' || req.method === 'HEAD');
      if (!redirect) return { ...res, url };
      res.body.resume();
      if (hop >= 5) throw Object.assign(new Error(`too many redirects (last to ${new URL(loc, url).host})`), { code: 'EREDIRECTS' });
      const next = new URL(loc, url);
      if (next.origin !== url.origin) {
        // Never forward credentials across hosts (distribution-spec; blob storage is another host).
        for (const k of Object.keys(headers)) if (k.toLowerCase() === 'authorization') delete headers[k];
      }
      url = next;
    }
  }

  /** The agent for a request through `route`: tunnels for https (TLS options as direct), forwarding for http. */
  private proxyAgent(route: ProxyRoute, isHttps: boolean, sameOrigin: boolean): http.Agent {
    const key = `${route.proxy.href} ${isHttps ? 'https' : 'http'} ${sameOrigin ? 'own' : 'foreign'}`;
    let agent = this.proxied.get(key);
    if (!agent) {
      const common = { keepAlive: true, maxSockets: this.opts.concurrency + 2, timeout: this.opts.timeoutMs };
      agent = isHttps
        ? new TunnelingAgent(route, { ...common, ...(sameOrigin && this.opts.insecure ? { rejectUnauthorized: false } : { secureContext: this.sc! }) })
        : new ForwardingAgent(route, common);
      this.proxied.set(key, agent);
    }
    return agent;
  }

  private raw(method: string, url: URL, headers: Record<string, string>, body: Buffer | Readable | undefined, contentLength: number | undefined, sameOrigin: boolean): Promise<Omit<HttpResponse, 'url'>> {
    const agents = sameOrigin ? this.agents! : this.foreign!;
    const isHttps = url.protocol === 'https:';
    const mod = isHttps ? https : http;
    const h: Record<string, string> = { ...headers };
    const route = this.proxy ? proxyRoute(url, this.proxy) : undefined;
    const agent = route ? this.proxyAgent(route, isHttps, sameOrigin) : isHttps ? agents.https : agents.http;
    // Plain HTTP through a proxy: an absolute-URI request; the proxy's own credentials only in
    // Proxy-Authorization (never the peer's).
    const forward = route && !isHttps ? { path: `${url.origin}${url.pathname}${url.search}` } : {};
    if (route && !isHttps && route.authorization) h['Proxy-Authorization'] = route.authorization;
    const len = Buffer.isBuffer(body) ? body.length : body ? contentLength : 0;
    if (body !== undefined || method === 'PUT' || method === 'POST' || method === 'PATCH') {
      if (len === undefined) throw new TypeError('a stream body needs contentLength');
      h['Content-Length'] = String(len);
    }
    return new Promise((resolve, reject) => {
      const r = mod.request(url, { method, headers: h, agent, ...forward }, (res) => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res });
      });
      r.setTimeout(this.opts.timeoutMs, () => r.destroy(Object.assign(new Error(`no answer within ${this.opts.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      r.on('error', reject);
      if (body === undefined || Buffer.isBuffer(body)) {
        r.end(body);
      } else {
        // A failing source (e.g. a digest mismatch found mid-stream) aborts the request with its error.
        body.once('error', (e) => { r.destroy(e); reject(e); });
        body.pipe(r);
      }
    });
  }

  /**
   * Send with retries: 429/5xx (honouring Retry-After) and dropped connections are retried with
   * exponential backoff and jitter, up to `attempts`. Returns the last response otherwise; the
   * caller maps statuses to errors. Network failures become REGISTRY_TLS / REGISTRY_ERROR.
   */
  async send(req: HttpRequest, ctx: RegistryErrorContext): Promise<HttpResponse> {
    const base = await this.baseUrl();
    for (let attempt = 1; ; attempt++) {
      let res: HttpResponse;
      try {
        res = await this.once(req, base);
      } catch (e) {
        if (e instanceof FerryError) throw e; // raised by a stream body, not by the network
        const replayable = req.body === undefined || Buffer.isBuffer(req.body);
        if (replayable && attempt < this.opts.attempts && isRetryableNetError(e)) {
          await this.backoff(req, attempt, (e as NodeJS.ErrnoException).code ?? (e as Error).message);
          continue;
        }
        throw this.netError(e, ctx);
      }
      const replayable = req.body === undefined || Buffer.isBuffer(req.body);
      if (replayable && RETRY_STATUS.has(res.status) && !req.noRetryStatus?.includes(res.status) && attempt < this.opts.attempts) {
        const after = parseRetryAfter(res.headers['retry-after']);
        if (after === undefined || after <= this.opts.maxRetryAfterMs) {
          res.body.resume();
          await this.backoff(req, attempt, `HTTP ${res.status}`, after);
          continue;
        }
      }
      return res;
    }
  }

  private async backoff(req: HttpRequest, attempt: number, reason: string, retryAfterMs?: number): Promise<void> {
    const exp = this.opts.backoffMs * 2 ** (attempt - 1);
    const delayMs = retryAfterMs !== undefined ? Math.max(retryAfterMs, 0) : Math.round(exp + Math.random() * exp * 0.5);
    const u = typeof req.url === 'string' ? req.url : req.url.pathname;
    this.opts.onRetry?.({ url: u.split('?')[0]!, attempt, delayMs, reason });
    await sleep(delayMs);
  }

  close(): void {
    this.agents?.https.destroy();
    this.agents?.http.destroy();
    this.foreign?.https.destroy();
    this.foreign?.http.destroy();
    for (const a of this.proxied.values()) a.destroy();
    this.proxied.clear();
  }
}

/** Read a whole (small) body; refuses more than `limit` bytes so a hostile server cannot fill memory. */
export async function readBody(res: HttpResponse, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) {
      res.body.destroy();
      throw Object.assign(new Error(`response body larger than ${limit} bytes`), { code: 'ETOOBIG' });
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** Header value as one string (first of a repeated header). */
export function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
