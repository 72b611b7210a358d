// A small but real docker token server (the protocol of distribution's docs/spec/auth/token.md):
// GET /token?service=&scope=... with optional Basic credentials, and the OAuth2 refresh-token
// POST. It issues ES256 JWTs with an x5c header whose certificate is in the registry's
// `rootcertbundle`, which is what distribution 2.8's `auth: token` verifies. Anonymous callers
// get `pull` only. It records each request (without secrets) for assertions.

import http from 'node:http';
import { createPrivateKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { makeSelfSigned } from './certs.js';

export interface TokenServerOptions {
  dir: string;
  service: string;
  issuer: string;
  users: Record<string, string>;
  /** identitytoken -> user, for the OAuth2 refresh-token grant. */
  refreshTokens?: Record<string, string>;
  /** Users that get `pull` only, whatever they ask for. */
  pullOnly?: string[];
  /** Users that may push only to repositories under these prefixes (a project permission). */
  pushOnlyUnder?: Record<string, string[]>;
  /** Answer with `access_token` only (some servers do) instead of `token`. */
  accessTokenOnly?: boolean;
}

export interface TokenRequestLog {
  method: string;
  service: string | null;
  scopes: string[];
  account: string | null;
  /** The authenticated user, or null for anonymous. */
  user: string | null;
  grantType?: string;
  status: number;
}

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  certFile: string;
  requests: TokenRequestLog[];
  stop(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

function jwt(key: KeyObject, certDer: Buffer, claims: object): string {
  const header = { typ: 'JWT', alg: 'ES256', x5c: [certDer.toString('base64')] };
  const signing = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  // JWS ES256 signatures are raw r||s, not DER.
  const sig = sign('sha256', Buffer.from(signing), { key, dsaEncoding: 'ieee-p1363' });
  return `${signing}.${b64url(sig)}`;
}

function grant(scopes: string[], user: string | null, pullOnly: boolean, pushUnder?: string[]) {
  return scopes.map((s) => {
    const a = s.indexOf(':');
    const b = s.lastIndexOf(':');
    const actions = s.slice(b + 1).split(',').filter(Boolean);
    const name = s.slice(a + 1, b);
    const mayPush = user && !pullOnly && (!pushUnder || pushUnder.some((p) => name === p || name.startsWith(`${p}/`)));
    return { type: s.slice(0, a), name, actions: mayPush ? actions : actions.filter((x) => x === 'pull') };
  });
}

export async function startTokenServer(opts: TokenServerOptions): Promise<TokenServer> {
  const { certFile, keyFile } = await makeSelfSigned(opts.dir, 'token-signer');
  const key = createPrivateKey(await readFile(keyFile));
  const pem = await readFile(certFile, 'utf8');
  const certDer = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const requests: TokenRequestLog[] = [];

  const issue = (user: string | null, scopes: string[]) => {
    const now = Math.floor(Date.now() / 1000);
    const token = jwt(key, certDer, {
      iss: opts.issuer, sub: user ?? '', aud: opts.service, exp: now + 300, nbf: now - 10, iat: now,
      jti: randomBytes(8).toString('hex'), access: grant(scopes, user, user !== null && (opts.pullOnly ?? []).includes(user), user !== null ? opts.pushOnlyUnder?.[user] : undefined),
    });
    return JSON.stringify(opts.accessTokenOnly
      ? { access_token: token, expires_in: 300 }
      : { token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() });
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const reply = (status: number, json: string, log: Omit<TokenRequestLog, 'status' | 'method'>) => {
        requests.push({ method: req.method ?? '', status, ...log });
        res.writeHead(status, { 'Content-Type': 'application/json' }).end(json);
      };
      if (url.pathname !== '/token') return reply(404, '{"error":"not found"}', { service: null, scopes: [], account: null, user: null });
      if (req.method === 'POST') {
        const f = new URLSearchParams(body);
        const scopes = (f.get('scope') ?? '').split(' ').filter(Boolean);
        const user = f.get('grant_type') === 'refresh_token' ? opts.refreshTokens?.[f.get('refresh_token') ?? ''] : undefined;
        const log = { service: f.get('service'), scopes, account: null, user: user ?? null, grantType: f.get('grant_type') ?? '' };
        if (!user || !f.get('client_id')) return reply(401, '{"error":"invalid_grant"}', log);
        return reply(200, issue(user, scopes), log);
      }
      const scopes = url.searchParams.getAll('scope');
      let user: string | null = null;
      const auth = req.headers.authorization;
      const log = { service: url.searchParams.get('service'), scopes, account: url.searchParams.get('account') };
      if (auth) {
        const dec = Buffer.from(auth.replace(/^Basic /i, ''), 'base64').toString();
        const i = dec.indexOf(':');
        const [u, p] = [dec.slice(0, i), dec.slice(i + 1)];
        if (!/^Basic /i.test(auth) || opts.users[u] !== p) return reply(401, '{"errors":[{"code":"UNAUTHORIZED","message":"invalid username or password"}]}', { ...log, user: null });
        user = u;
      }
      reply(200, issue(user, scopes), { ...log, user });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : 0;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service: opts.service,
    issuer: opts.issuer,
    certFile,
    requests,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
