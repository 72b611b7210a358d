// ChartHttp against loopback servers: credentials only to the repository's own origin (unless
// passCredentialsAll), Basic and bearer, 401/403 as REGISTRY_AUTH without the secret, other
// statuses as CHART_REPO_ERROR naming method, redacted URL and status, size limits, TLS with a
// CA file or insecure_skip_tls_verify, and Helm's ResolveReferenceURL.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCerts, type TestCerts } from '../../../test/harness/certs.js';
import { ChartHttp, resolveReferenceUrl, showUrl } from '../src/http.js';
import { ferryError, startServer, type TestServer } from './fixtures.js';

const PASSWORD = 'Ch4rt-s3cret-PW';
const TOKEN = 'tok-abcdef-0123456789';
const BASIC = Buffer.from(`alice:${PASSWORD}`).toString('base64');
const SECRETS = [PASSWORD, TOKEN, BASIC];

let repo: TestServer;
let other: TestServer;
let tlsRepo: TestServer;
let certs: TestCerts;
let dir: string;

const fast = { attempts: 2, backoffMs: 1 };

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-charthttp-'));
  certs = await makeCerts(join(dir, 'certs'));
  [repo, other, tlsRepo] = await Promise.all([
    startServer(), startServer(),
    startServer({ cert: await readFile(certs.certFile), key: await readFile(certs.keyFile) }),
  ]);
});

test.after(async () => {
  await Promise.all([repo.close(), other.close(), tlsRepo.close()]);
  await rm(dir, { recursive: true, force: true });
});

test.before.each(() => {
  repo.seen.length = 0;
  other.seen.length = 0;
  const ok = (r: { url: string }, res: import('node:http').ServerResponse) => { res.writeHead(200); res.end(`ok ${r.url}`); };
  repo.handle = ok;
  other.handle = ok;
  tlsRepo.handle = ok;
});

test('resolveReferenceUrl: Helm semantics (directory base, base query kept, absolute as is)', () => {
  assert.is(resolveReferenceUrl('https://h/charts', 'a-1.0.0.tgz').href, 'https://h/charts/a-1.0.0.tgz');
  assert.is(resolveReferenceUrl('https://h/charts/', 'a-1.0.0.tgz').href, 'https://h/charts/a-1.0.0.tgz');
  assert.is(resolveReferenceUrl('https://h/charts?token=x', 'sub/a.tgz').href, 'https://h/charts/sub/a.tgz?token=x');
  assert.is(resolveReferenceUrl('https://h/charts?token=x', '/root/a.tgz').href, 'https://h/root/a.tgz?token=x');
  assert.is(resolveReferenceUrl('https://h/charts', 'https://cdn/x/a.tgz?sig=1').href, 'https://cdn/x/a.tgz?sig=1');
  assert.is(resolveReferenceUrl('https://h', 'index.yaml').href, 'https://h/index.yaml');
});

test('showUrl: no userinfo, query values hidden, flags kept', () => {
  assert.is(showUrl('https://alice:pw@h/p?token=abc&force'), 'https://h/p?token=***&force');
  assert.is(showUrl('https://h/p'), 'https://h/p');
});

test('Basic auth goes to the repository origin, not to a chart URL on another host', async () => {
  const h = new ChartHttp(`${repo.url}/charts`, { creds: `alice:${PASSWORD}`, ...fast });
  const a = await h.fetch({ method: 'GET', url: 'index.yaml', accept: [200], limit: 1000 });
  assert.is(a.body.toString(), 'ok /charts/index.yaml');
  assert.is(repo.seen[0]!.headers.authorization, `Basic ${BASIC}`);
  await h.fetch({ method: 'GET', url: `${other.url}/cdn/a-1.0.0.tgz`, accept: [200], limit: 1000 });
  assert.is(other.seen[0]!.headers.authorization, undefined);
  h.close();
  const all = new ChartHttp(`${repo.url}/charts`, { creds: `alice:${PASSWORD}`, passCredentialsAll: true, ...fast });
  await all.fetch({ method: 'GET', url: `${other.url}/cdn/a-1.0.0.tgz`, accept: [200], limit: 1000 });
  assert.is(other.seen[1]!.headers.authorization, `Basic ${BASIC}`);
  all.close();
});

test('--creds :TOKEN and bearerToken are sent as Bearer', async () => {
  const h = new ChartHttp(repo.url, { creds: `:${TOKEN}`, ...fast });
  await h.fetch({ method: 'GET', url: 'index.yaml', accept: [200], limit: 1000 });
  assert.is(repo.seen[0]!.headers.authorization, `Bearer ${TOKEN}`);
  h.close();
  const b = new ChartHttp(repo.url, { bearerToken: TOKEN, creds: `alice:${PASSWORD}`, ...fast });
  await b.fetch({ method: 'GET', url: 'index.yaml', accept: [200], limit: 1000 });
  assert.is(repo.seen[1]!.headers.authorization, `Bearer ${TOKEN}`);
  b.close();
});

test('user:password in the repository URL is used and never shown', async () => {
  const h = new ChartHttp(`http://alice:${PASSWORD}@${repo.host}/charts`, fast);
  assert.not.ok(h.name.includes(PASSWORD));
  assert.not.ok(h.base.href.includes(PASSWORD));
  await h.fetch({ method: 'GET', url: 'index.yaml', accept: [200], limit: 1000 });
  assert.is(repo.seen[0]!.headers.authorization, `Basic ${BASIC}`);
  h.close();
});

test('401 with credentials: REGISTRY_AUTH naming the repository and the source, no secret', async () => {
  repo.handle = (_r, res) => { res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="x"' }); res.end(`bad credentials ${PASSWORD}`); };
  const h = new ChartHttp(`${repo.url}/charts`, { creds: `alice:${PASSWORD}`, ...fast });
  const e = await ferryError(h.fetch({ method: 'GET', url: 'index.yaml', accept: [200], limit: 1000 }), 'REGISTRY_AUTH', SECRETS);
  assert.match(e.message, `chart repository ${repo.url}/charts rejected the credentials from the --creds option`);
  assert.match(e.message, 'GET');
  assert.is(e.details.status, 401);
  h.close();
});

test('401 without credentials, and 401 from another host: each says why', async () => {
  repo.handle = (_r, res) => { res.writeHead(401); res.end(); };
  other.handle = (_r, res) => { res.writeHead(401); res.end(); };
  const anon = new ChartHttp(repo.url, fast);
  const e1 = await ferryError(anon.fetch({ method: 'GET', url: 'index.yaml', accept: [200], limit: 1000 }), 'REGISTRY_AUTH');
  assert.match(e1.message, 'no credentials were given');
  anon.close();
  const h = new ChartHttp(repo.url, { creds: `alice:${PASSWORD}`, ...fast });
  const e2 = await ferryError(h.fetch({ method: 'GET', url: `${other.url}/a.tgz`, accept: [200], limit: 1000 }), 'REGISTRY_AUTH', SECRETS);
  assert.match(e2.message, 'not sent to another host');
  assert.match(e2.message, 'passCredentialsAll');
  h.close();
});

test('403 → REGISTRY_AUTH "denied"', async () => {
  repo.handle = (_r, res) => { res.writeHead(403, { 'Content-Type': 'application/json' }); res.end('{"error":"no deploy permission"}'); };
  const h = new ChartHttp(repo.url, { creds: `alice:${PASSWORD}`, ...fast });
  const e = await ferryError(h.fetch({ method: 'PUT', url: 'x.tgz', body: Buffer.from('x'), accept: [201], limit: 1000 }), 'REGISTRY_AUTH', SECRETS);
  assert.match(e.message, 'denied PUT');
  assert.match(e.message, 'no deploy permission');
  h.close();
});

test('500 is retried, then CHART_REPO_ERROR with method, redacted URL, status and the server text', async () => {
  repo.handle = (_r, res) => { res.writeHead(500); res.end('storage \x1b[31mbroke'); };
  const h = new ChartHttp(`${repo.url}/charts?token=${TOKEN}`, { attempts: 3, backoffMs: 1 });
  const e = await ferryError(h.fetch({ method: 'GET', url: 'index.yaml', accept: [200], limit: 1000, what: 'index' }), 'CHART_REPO_ERROR', SECRETS);
  assert.is(repo.seen.length, 3);
  assert.is(repo.seen[0]!.url, `/charts/index.yaml?token=${TOKEN}`);
  assert.match(e.message, `GET index ${repo.url}/charts/index.yaml?token=***`);
  assert.match(e.message, 'HTTP 500');
  assert.match(e.message, 'storage \\x1b[31mbroke');
  assert.is(e.details.status, 500);
  assert.is(e.details.method, 'GET');
  h.close();
});

test('bodies are size-limited: by Content-Length and while streaming', async () => {
  repo.handle = (_r, res) => { res.writeHead(200, { 'Content-Length': '5000' }); res.end(Buffer.alloc(5000)); };
  const h = new ChartHttp(repo.url, fast);
  const e1 = await ferryError(h.fetch({ method: 'GET', url: 'big.tgz', accept: [200], limit: 1000, what: 'chart' }), 'CHART_REPO_ERROR');
  assert.match(e1.message, 'the chart is 5000 bytes, more than the 1000 allowed');
  repo.handle = (_r, res) => { res.writeHead(200); res.write(Buffer.alloc(800)); res.end(Buffer.alloc(800)); };
  const e2 = await ferryError(h.fetch({ method: 'GET', url: 'big.tgz', accept: [200], limit: 1000, what: 'chart' }), 'CHART_REPO_ERROR');
  assert.match(e2.message, 'larger than the 1000 bytes allowed');
  h.close();
});

test('unreachable repository: CHART_REPO_ERROR naming it', async () => {
  const gone = await startServer();
  const url = gone.url;
  await gone.close();
  const h = new ChartHttp(url, fast);
  const e = await ferryError(h.fetch({ method: 'GET', url: 'index.yaml', accept: [200], limit: 1000 }), 'CHART_REPO_ERROR');
  assert.match(e.message, `cannot reach chart repository ${url}`);
  h.close();
});

test('TLS: CA file trusted, untrusted refused as REGISTRY_TLS, insecureSkipTlsVerify for the repository only', async () => {
  const good = new ChartHttp(`${tlsRepo.url}/r`, { caFile: certs.caFile, ...fast });
  assert.is((await good.fetch({ method: 'GET', url: 'index.yaml', accept: [200], limit: 1000 })).status, 200);
  good.close();
  const bad = new ChartHttp(`${tlsRepo.url}/r`, fast);
  const e = await ferryError(bad.fetch({ method: 'GET', url: 'index.yaml', accept: [200], limit: 1000 }), 'REGISTRY_TLS');
  assert.match(e.message, 'chart repository');
  bad.close();
  const insecure = new ChartHttp(`${tlsRepo.url}/r`, { insecureSkipTlsVerify: true, ...fast });
  assert.is((await insecure.fetch({ method: 'GET', url: 'index.yaml', accept: [200], limit: 1000 })).status, 200);
  insecure.close();
  const byHost = new ChartHttp(`${tlsRepo.url}/r`, { insecure: [tlsRepo.host], ...fast });
  assert.is((await byHost.fetch({ method: 'GET', url: 'index.yaml', accept: [200], limit: 1000 })).status, 200);
  byHost.close();
});

test('a redirect to another host drops Authorization', async () => {
  repo.handle = (_r, res) => { res.writeHead(302, { Location: `${other.url}/blob/a.tgz` }); res.end(); };
  const h = new ChartHttp(repo.url, { creds: `alice:${PASSWORD}`, ...fast });
  const r = await h.fetch({ method: 'GET', url: 'a.tgz', accept: [200], limit: 1000 });
  assert.is(r.body.toString(), 'ok /blob/a.tgz');
  assert.is(repo.seen[0]!.headers.authorization, `Basic ${BASIC}`);
  assert.is(other.seen[0]!.headers.authorization, undefined);
  h.close();
});

test('not a URL, or not http(s): USAGE', async () => {
  await ferryError(Promise.resolve().then(() => new ChartHttp('charts.example.com/x')), 'USAGE');
  await ferryError(Promise.resolve().then(() => new ChartHttp('ftp://charts.example.com/x')), 'USAGE');
});

test.run();
