// Authorization for one registry: anonymous, Basic (sent preemptively once the registry has
// said Basic), or the Bearer token flow (docker token spec / OAuth2 refresh-token grant). The
// challenge comes from the first 401; tokens are cached per realm+service+scope set and a
// cached token that covers a request's scopes (e.g. pull,push for a pull) is reused.

import { FerryError } from '@ferry/format-spec';
import { parseWwwAuthenticate, challengeScopes, type Challenge } from './www-authenticate.js';
import { resolveCredentials, type Credentials, type CredentialOptions } from './credentials.js';
import { registryError, registerSecret, summarizeErrorBody, describeRef, type RegistryErrorContext } from './errors.js';
import { readBody, type Transport, type HttpResponse } from './transport.js';

/** `repository:<name>:<actions>` as the token spec writes it. */
export function repositoryScope(repository: string, actions: Array<'pull' | 'push' | 'delete'>): string {
  return `repository:${repository}:${actions.join(',')}`;
}

interface ParsedScope { type: string; name: string; actions: Set<string> }

/** Split a scope; the resource name may hold a `:` (host:port), so split at the first and last. */
export function parseScope(s: string): ParsedScope | undefined {
  const a = s.indexOf(':');
  const b = s.lastIndexOf(':');
  if (a < 0 || b <= a) return undefined;
  return { type: s.slice(0, a), name: s.slice(a + 1, b), actions: new Set(s.slice(b + 1).split(',').filter(Boolean)) };
}

/** Merge scopes on the same resource (pull + pull,push -> pull,push), keep order stable. */
export function mergeScopes(scopes: string[]): string[] {
  const byRes = new Map<string, ParsedScope>();
  const raw: string[] = [];
  for (const s of scopes) {
    const p = parseScope(s);
    if (!p) { if (!raw.includes(s)) raw.push(s); continue; }
    const k = `${p.type}:${p.name}`;
    const have = byRes.get(k);
    if (have) for (const x of p.actions) have.actions.add(x);
    else byRes.set(k, { ...p, actions: new Set(p.actions) });
  }
  const order = (a: string) => ['pull', 'push', 'delete', '*'].indexOf(a) >>> 0;
  return [...[...byRes.values()].map((p) => `${p.type}:${p.name}:${[...p.actions].sort((x, y) => order(x) - order(y) || x.localeCompare(y)).join(',')}`), ...raw].sort();
}

function covers(have: string[], want: string[]): boolean {
  const h = have.map(parseScope);
  return want.every((w) => {
    const pw = parseScope(w);
    if (!pw) return have.includes(w);
    return h.some((ph) => ph && ph.type === pw.type && ph.name === pw.name && [...pw.actions].every((x) => ph.actions.has(x) || ph.actions.has('*')));
  });
}

interface CachedToken { scopes: string[]; token: string; expiresAt: number }

export interface TokenRequestInfo {
  url: string;
  method: 'GET' | 'POST';
  /** Whether credentials were sent (never the credentials themselves). */
  authenticated: boolean;
}

export class Authenticator {
  private challenge?: Challenge;
  private readonly creds = new Map<string, Promise<Credentials | undefined>>();
  private readonly tokens = new Map<string, CachedToken>();
  private readonly inflight = new Map<string, Promise<CachedToken>>();
  /** Token requests made, for diagnostics and tests. */
  readonly tokenRequests: TokenRequestInfo[] = [];

  constructor(private readonly registry: string, private readonly transport: Transport, private readonly credOpts: CredentialOptions) {}

  /** Lazily resolved; namespaced auth.json keys make this depend on the repository. */
  credentialsFor(repository: string | undefined): Promise<Credentials | undefined> {
    const k = repository ?? '';
    let p = this.creds.get(k);
    if (!p) {
      p = resolveCredentials(this.registry, repository, this.credOpts);
      this.creds.set(k, p);
    }
    return p;
  }

  get scheme(): string | undefined {
    return this.challenge?.scheme;
  }

  /** Authorization header value for a request needing `scopes`, or undefined (anonymous). */
  async authorize(scopes: string[], repository: string | undefined, ctx: RegistryErrorContext): Promise<string | undefined> {
    const c = this.challenge;
    if (!c) return undefined;
    const creds = await this.credentialsFor(repository);
    if (creds?.registryToken) return `Bearer ${creds.registryToken}`;
    if (c.scheme === 'basic') {
      if (creds?.username === undefined) return undefined;
      return `Basic ${Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64')}`;
    }
    if (c.scheme === 'bearer') return `Bearer ${(await this.token(mergeScopes(scopes), creds, ctx)).token}`;
    return undefined;
  }

  /**
   * Learn from a 401: record the challenge and drop a rejected token. Returns the scopes to
   * retry with, or undefined when a retry cannot help (then the caller reports the 401).
   */
  async onUnauthorized(res: HttpResponse, scopes: string[], sentAuth: string | undefined, repository: string | undefined): Promise<string[] | undefined> {
    let challenges = parseWwwAuthenticate(res.headers['www-authenticate']);
    if (!challenges.length && !this.challenge) {
      // Some registries (gcr.io) send 401 without a challenge on real requests; the ping has it.
      const ping = await this.transport.send({ method: 'GET', url: '/v2/' }, { registry: this.registry });
      ping.body.resume();
      challenges = ping.status === 401 ? parseWwwAuthenticate(ping.headers['www-authenticate']) : [];
    }
    const c = challenges.find((x) => x.scheme === 'bearer') ?? challenges.find((x) => x.scheme === 'basic') ?? this.challenge;
    if (!c) return undefined;
    const known = this.challenge;
    this.challenge = c;
    let want = scopes;
    if (c.scheme === 'bearer') {
      // insufficient_scope: ask for what the registry says it needs as well.
      want = mergeScopes([...scopes, ...challengeScopes(c)]);
      if (sentAuth?.startsWith('Bearer ')) {
        const sent = sentAuth.slice(7);
        for (const [k, t] of this.tokens) if (t.token === sent) this.tokens.delete(k);
        // The same token rejected twice for the same scopes: a retry would loop.
        if (known?.scheme === 'bearer' && c.params.error !== 'insufficient_scope' && c.params.error !== 'invalid_token') return undefined;
      }
      return want;
    }
    if (c.scheme === 'basic') {
      if (sentAuth?.startsWith('Basic ')) return undefined; // our password was refused
      const creds = await this.credentialsFor(repository);
      return creds?.username !== undefined ? want : undefined;
    }
    return undefined;
  }

  private async token(scopes: string[], creds: Credentials | undefined, ctx: RegistryErrorContext): Promise<CachedToken> {
    const c = this.challenge!;
    const realm = c.params.realm;
    if (!realm) throw registryError('REGISTRY_AUTH', ctx, `registry ${this.registry} asked for a bearer token without a realm`);
    const service = c.params.service ?? '';
    const now = Date.now();
    for (const t of this.tokens.values()) {
      if (t.expiresAt > now && covers(t.scopes, scopes)) return t;
    }
    const key = `${realm} ${service} ${scopes.join(' ')} ${creds?.source ?? ''}`;
    let p = this.inflight.get(key);
    if (!p) {
      p = this.fetchToken(realm, service, scopes, creds, ctx).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    const t = await p;
    this.tokens.set(key, t);
    return t;
  }

  private async fetchToken(realm: string, service: string, scopes: string[], creds: Credentials | undefined, ctx: RegistryErrorContext): Promise<CachedToken> {
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw registryError('REGISTRY_AUTH', ctx, `registry ${this.registry} sent a token realm that is not a URL`);
    }
    const realmHost = url.host;
    let res: HttpResponse | undefined;
    if (creds?.identityToken) {
      // OAuth2 refresh-token grant (docker token spec oauth.md); client_id is required.
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, service, client_id: 'ferry', scope: scopes.join(' ') });
      this.tokenRequests.push({ url: `${url.origin}${url.pathname}`, method: 'POST', authenticated: true });
      res = await this.transport.send({ method: 'POST', url, headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: Buffer.from(form.toString()) }, ctx);
      // 404/405: the server has no OAuth2 endpoint; the spec says to use GET instead.
      if (res.status === 404 || res.status === 405) {
        res.body.resume();
        res = undefined;
      }
    }
    if (!res) {
      if (service) url.searchParams.set('service', service);
      for (const s of scopes) url.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      if (creds?.username !== undefined) {
        url.searchParams.set('account', creds.username);
        headers.Authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64')}`;
      }
      this.tokenRequests.push({ url: `${url.origin}${url.pathname}`, method: 'GET', authenticated: headers.Authorization !== undefined });
      res = await this.transport.send({ method: 'GET', url, headers }, ctx);
    }
    let body: Buffer;
    try {
      body = await readBody(res, 1 << 20);
    } catch (e) {
      throw registryError('REGISTRY_AUTH', ctx, `token server ${realmHost} for registry ${this.registry} sent an oversized answer`, { status: res.status, cause: e });
    }
    if (res.status === 401 || res.status === 403) {
      const who = creds ? `the credentials from ${creds.source}` : 'anonymous access';
      const s = summarizeErrorBody(body.toString('utf8'));
      throw registryError('REGISTRY_AUTH', ctx, `token server ${realmHost} for registry ${this.registry} refused ${who} for ${describeRef(ctx)} (HTTP ${res.status}${s.text ? `: ${s.text}` : ''})`, { status: res.status });
    }
    if (res.status !== 200) {
      const s = summarizeErrorBody(body.toString('utf8'));
      throw registryError('REGISTRY_ERROR', ctx, `token server ${realmHost} for registry ${this.registry} answered HTTP ${res.status}${s.text ? ` (${s.text})` : ''}`, { status: res.status });
    }
    let j: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      j = JSON.parse(body.toString('utf8')) as typeof j;
    } catch {
      throw registryError('REGISTRY_AUTH', ctx, `token server ${realmHost} for registry ${this.registry} answered with something that is not JSON`, { status: res.status });
    }
    const token = typeof j.token === 'string' && j.token ? j.token : typeof j.access_token === 'string' ? j.access_token : '';
    if (!token) throw registryError('REGISTRY_AUTH', ctx, `token server ${realmHost} for registry ${this.registry} sent no token`, { status: res.status });
    registerSecret(token);
    // expires_in defaults to 60 s and should never be less (token spec); renew 10 s early.
    const ttl = Math.max(typeof j.expires_in === 'number' ? j.expires_in : 60, 60);
    return { scopes, token, expiresAt: Date.now() + ttl * 1000 - 10_000 };
  }
}

export function unauthorizedError(ctx: RegistryErrorContext, res: HttpResponse, body: string, creds: Credentials | undefined): FerryError {
  const s = summarizeErrorBody(body);
  const detail = s.text ? `: ${s.text}` : '';
  const challenge = parseWwwAuthenticate(res.headers['www-authenticate']).find((c) => c.params.error === 'insufficient_scope');
  const msg = res.status === 403
    ? `registry ${ctx.registry} denied access to ${describeRef(ctx)} (HTTP 403${detail})`
    : challenge && creds
      ? `registry ${ctx.registry}: the credentials from ${creds.source} do not grant ${challengeScopes(challenge).join(' ') || 'the needed access'} for ${describeRef(ctx)} (HTTP ${res.status} insufficient_scope)`
      : creds
      ? `registry ${ctx.registry} rejected the credentials from ${creds.source} for ${describeRef(ctx)} (HTTP ${res.status}${detail})`
      : `registry ${ctx.registry} requires authentication for ${describeRef(ctx)} (HTTP ${res.status}) and no credentials were found for it`;
  return registryError('REGISTRY_AUTH', ctx, msg, { status: res.status, ...(s.code ? { registryCode: s.code } : {}) });
}
