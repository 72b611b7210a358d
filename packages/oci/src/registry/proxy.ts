// HTTP(S) proxies for registry and chart-repository traffic, as curl, Go and undici read them:
// HTTPS_PROXY / https_proxy for https:// targets, HTTP_PROXY / http_proxy for http:// targets,
// NO_PROXY / no_proxy for the hosts that go direct (the lower-case name wins when both are set).
//
// - An https:// target is reached through an HTTP CONNECT tunnel: the proxy sees only
//   `CONNECT host:port` (and Proxy-Authorization, when the proxy URL has user:password); TLS to
//   the registry runs inside the tunnel with the transport's own trust (system roots + --ca-file,
//   or the insecure setting), so verification stays on and registry credentials travel only
//   encrypted, inside the tunnel.
// - An http:// target (an insecure registry, a plain chart repository) is sent to the proxy as
//   an absolute-URI request (`GET http://host/path`), the way HTTP proxies forward plain HTTP.
//   The request's own Authorization header then goes in the clear through the proxy, as it goes
//   in the clear on the wire without one: plain HTTP offers no secrecy either way. Registry
//   credentials are never put in Proxy-Authorization or a CONNECT.
// - Proxy credentials come only from the proxy URL and go only to the proxy.
//
// NO_PROXY entries, comma or space separated: `*` (everything direct), `host`, `.domain` or
// `domain` (the domain and every host under it), `host:port` (that port only), IP literals
// (`[::1]` or `::1`). No CIDR ranges. Loopback is not special: list `localhost,127.0.0.1` as
// usual (curl's and undici's behaviour; Go also skips loopback).
//
// The agents here plug into node:http/https's own Agent (createConnection with a callback), so
// keep-alive pooling, timeouts and the transport's retry logic are unchanged.

import http from 'node:http';
import https from 'node:https';
import net, { type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { FerryError, printable } from '@ferry/format-spec';

export interface ProxySettings {
  /** Proxy for http:// targets. */
  http?: URL;
  /** Proxy for https:// targets. */
  https?: URL;
  /** NO_PROXY entries, lower-cased. */
  noProxy: string[];
}

/** How one request is routed when it goes through a proxy. */
export interface ProxyRoute {
  proxy: URL;
  /** `Basic …` for the proxy when its URL has credentials. */
  authorization?: string;
  /** `host:port` of the proxy, for messages (never its credentials). */
  label: string;
}

type Env = Record<string, string | undefined>;

function pick(env: Env, name: string): { name: string; value: string } | undefined {
  const lower = env[name.toLowerCase()];
  if (lower !== undefined && lower.trim() !== '') return { name: name.toLowerCase(), value: lower.trim() };
  const upper = env[name.toUpperCase()];
  if (upper !== undefined && upper.trim() !== '') return { name: name.toUpperCase(), value: upper.trim() };
  return undefined;
}

function parseProxyUrl(v: { name: string; value: string }): URL {
  // `proxy:3128` without a scheme means http://, as curl reads it.
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(v.value) ? v.value : `http://${v.value}`;
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new FerryError('USAGE', `${v.name} is not a proxy URL (expected http://[USER:PASSWORD@]HOST:PORT)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new FerryError('USAGE', `${v.name}: proxy scheme ${printable(u.protocol)} is not supported (use http:// or https://)`);
  }
  return u;
}

/** The proxy settings in this environment (process.env by default). */
export function proxySettingsFromEnv(env: Env = process.env): ProxySettings {
  const h = pick(env, 'http_proxy');
  const s = pick(env, 'https_proxy');
  const n = pick(env, 'no_proxy');
  return {
    ...(h ? { http: parseProxyUrl(h) } : {}),
    ...(s ? { https: parseProxyUrl(s) } : {}),
    noProxy: n ? n.value.split(/[\s,]+/).map((x) => x.trim().toLowerCase()).filter(Boolean) : [],
  };
}

function defaultPort(protocol: string): string {
  return protocol === 'https:' ? '443' : '80';
}

/** Hostname without IPv6 brackets, lower case. */
function bare(host: string): string {
  return host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
}

/** Whether NO_PROXY sends this URL direct. */
export function bypassesProxy(url: URL, noProxy: readonly string[]): boolean {
  const host = bare(url.hostname);
  const port = url.port || defaultPort(url.protocol);
  for (const raw of noProxy) {
    if (raw === '*') return true;
    let entry = raw;
    let entryPort: string | undefined;
    const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    if (v6) {
      entry = v6[1]!;
      entryPort = v6[2];
    } else if (!net.isIPv6(entry)) {
      const m = /^(.*):(\d+)$/.exec(entry);
      if (m) {
        entry = m[1]!;
        entryPort = m[2];
      }
    }
    if (entryPort !== undefined && entryPort !== port) continue;
    if (entry.startsWith('*.')) entry = entry.slice(1);
    if (net.isIP(host) || net.isIP(entry)) {
      if (host === entry) return true;
      continue;
    }
    const domain = entry.startsWith('.') ? entry.slice(1) : entry;
    if (domain === '') continue;
    if (host === domain || host.endsWith(`.${domain}`)) return true;
  }
  return false;
}

/** The proxy a request to `url` goes through, or undefined for a direct connection. */
export function proxyRoute(url: URL, settings: ProxySettings): ProxyRoute | undefined {
  const proxy = url.protocol === 'https:' ? settings.https : url.protocol === 'http:' ? settings.http : undefined;
  if (!proxy || bypassesProxy(url, settings.noProxy)) return undefined;
  const user = decodeURIComponent(proxy.username);
  const pass = decodeURIComponent(proxy.password);
  return {
    proxy,
    ...(user || pass ? { authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` } : {}),
    label: proxy.host,
  };
}

/** An error from the proxy itself (not the registry): code EPROXY, never the proxy's credentials. */
export function proxyError(route: ProxyRoute, what: string, status?: number): NodeJS.ErrnoException {
  return Object.assign(new Error(`proxy ${route.label} ${what}`), { code: status === 407 ? 'EPROXYAUTH' : 'EPROXY', ...(status ? { status } : {}) });
}

/** A socket to the proxy itself (TLS when the proxy URL is https://, with the system roots). */
function connectToProxy(route: ProxyRoute, timeoutMs: number): Socket {
  const port = Number(route.proxy.port || defaultPort(route.proxy.protocol));
  const host = bare(route.proxy.hostname);
  const s = route.proxy.protocol === 'https:'
    ? tls.connect({ host, port, ...(net.isIP(host) ? {} : { servername: host }) })
    : net.connect({ host, port });
  s.setTimeout(timeoutMs, () => s.destroy(Object.assign(new Error(`proxy ${route.label} did not answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
  return s;
}

type ConnectCallback = (err: Error | null, stream: Duplex) => void;
type ConnectOptions = tls.ConnectionOptions & { host?: string | null; port?: number | string | null; servername?: string };

/**
 * https:// through the proxy: CONNECT host:port, then TLS inside the tunnel with this agent's
 * TLS options (secureContext / rejectUnauthorized), so verification is the same as direct.
 */
export class TunnelingAgent extends https.Agent {
  private readonly timeoutMs: number;
  constructor(private readonly route: ProxyRoute, opts: https.AgentOptions & { timeout: number }) {
    super(opts);
    this.timeoutMs = opts.timeout;
  }

  override createConnection(args: http.ClientRequestArgs, cb?: ConnectCallback): undefined {
    // node's Agent passes the request options merged with the agent's (TLS options included).
    const options = args as unknown as ConnectOptions;
    const target = `${options.host?.includes(':') ? `[${options.host}]` : options.host}:${options.port ?? 443}`;
    const raw = connectToProxy(this.route, this.timeoutMs);
    let done = false;
    const finish = (err: Error | null, s?: Socket): void => {
      if (done) return;
      done = true;
      cb?.(err, s ?? raw);
    };
    raw.once('error', (e) => finish(e));
    const ready = this.route.proxy.protocol === 'https:' ? 'secureConnect' : 'connect';
    raw.once(ready, () => {
      // Only the proxy's own credentials here; never the registry's.
      const lines = [`CONNECT ${target} HTTP/1.1`, `Host: ${target}`, ...(this.route.authorization ? [`Proxy-Authorization: ${this.route.authorization}`] : []), '', ''];
      raw.write(lines.join('\r\n'));
    });
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) {
        if (head.length > 16 * 1024) {
          raw.destroy();
          finish(proxyError(this.route, 'sent an over-long answer to CONNECT'));
        }
        return;
      }
      raw.off('data', onData);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head.subarray(0, end).toString('latin1'))?.[1] ?? NaN);
      if (status !== 200) {
        raw.destroy();
        const what = status === 407
          ? `refused the tunnel to ${target}: HTTP 407 Proxy Authentication Required (${this.route.authorization ? 'check the user and password in the proxy URL' : 'give user:password in the proxy URL, e.g. HTTPS_PROXY=http://USER:PASSWORD@HOST:PORT'})`
          : Number.isNaN(status) ? `did not answer CONNECT with HTTP` : `refused the tunnel to ${target}: HTTP ${status}`;
        finish(proxyError(this.route, what, Number.isNaN(status) ? undefined : status));
        return;
      }
      if (head.length > end + 4) raw.unshift(head.subarray(end + 4));
      raw.setTimeout(0);
      const servername = options.servername && !net.isIP(options.servername) ? options.servername : undefined;
      const { host: _h, port: _p, path: _path, servername: _s, ...tlsOpts } = options as ConnectOptions & { path?: string };
      const secure = tls.connect({ ...tlsOpts, socket: raw, ...(servername ? { servername } : {}) });
      finish(null, secure);
    };
    raw.on('data', onData);
    return undefined;
  }
}

/** http:// through the proxy: every connection goes to the proxy; requests use absolute URIs. */
export class ForwardingAgent extends http.Agent {
  private readonly timeoutMs: number;
  constructor(private readonly route: ProxyRoute, opts: http.AgentOptions & { timeout: number }) {
    super(opts);
    this.timeoutMs = opts.timeout;
  }

  override createConnection(_options: http.ClientRequestArgs, cb?: ConnectCallback): undefined {
    const s = connectToProxy(this.route, this.timeoutMs);
    const ready = this.route.proxy.protocol === 'https:' ? 'secureConnect' : 'connect';
    let done = false;
    s.once('error', (e) => { if (!done) { done = true; cb?.(e, s); } });
    s.once(ready, () => { if (!done) { done = true; s.setTimeout(0); cb?.(null, s); } });
    return undefined;
  }
}
