// The classic-repository source against an in-process server (nginx with a real `helm repo
// index` is in http-repo-nginx.test.ts): relative and absolute chart URLs, a repository URL with
// a path and a query, digests bare and prefixed, a wrong digest refused, a missing one noted,
// provenance, ranges, Basic auth; and the CLI's chart specs.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { fetchHttpChart, HttpChartRepository, parseChartSpec } from '../src/http-repo-source.js';
import { ferryError, packChart, startServer, type TestServer } from './fixtures.js';

let repo: TestServer;
let cdn: TestServer;
const files = new Map<string, Buffer>();
let index = '';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const PW = 'idx-S3cret-pw';

test.before(async () => {
  [repo, cdn] = await Promise.all([startServer(), startServer()]);
  const a1 = await packChart('app', '1.0.0');
  const a2 = await packChart('app', '1.4.2');
  const a3 = await packChart('app', '2.0.0');
  const bad = await packChart('bad', '1.0.0');
  const nod = await packChart('nodigest', '0.1.0');
  const ext = await packChart('ext', '3.1.0');
  files.set('/repo/sub/charts/app-1.0.0.tgz', a1);
  files.set('/repo/sub/charts/app-1.4.2.tgz', a2);
  files.set('/repo/sub/charts/app-1.4.2.tgz.prov', Buffer.from('-----BEGIN PGP SIGNED MESSAGE-----\n'));
  files.set('/repo/sub/app-2.0.0.tgz', a3);
  files.set('/repo/sub/bad-1.0.0.tgz', bad);
  files.set('/repo/sub/nodigest-0.1.0.tgz', nod);
  files.set('/cdn/ext-3.1.0.tgz', ext);
  index = [
    'apiVersion: v1',
    'entries:',
    '  app:',
    `  - {name: app, version: 1.0.0, urls: [charts/app-1.0.0.tgz], digest: ${sha(a1)}, created: "2024-01-01T00:00:00Z"}`,
    `  - {name: app, version: 1.4.2, urls: [charts/app-1.4.2.tgz], digest: "sha256:${sha(a2).toUpperCase()}", created: "2024-02-02T00:00:00Z"}`,
    `  - {name: app, version: 2.0.0, urls: [app-2.0.0.tgz], digest: ${sha(a3)}}`,
    '  bad:',
    `  - {name: bad, version: 1.0.0, urls: [bad-1.0.0.tgz], digest: ${sha(a1)}}`,
    '  nodigest:',
    '  - {name: nodigest, version: 0.1.0, urls: [nodigest-0.1.0.tgz]}',
    '  ext:',
    `  - {name: ext, version: 3.1.0, urls: ["${cdn.url}/cdn/ext-3.1.0.tgz"], digest: ${sha(ext)}}`,
    '',
  ].join('\n');
  const serve = (auth: boolean) => (r: { url: string; headers: Record<string, string | string[] | undefined> }, res: import('node:http').ServerResponse) => {
    const u = new URL(r.url, 'http://x');
    if (auth && r.headers.authorization !== `Basic ${Buffer.from(`ci:${PW}`).toString('base64')}`) { res.writeHead(401); res.end(); return; }
    if (u.pathname === '/repo/sub/index.yaml') { res.writeHead(200, { 'Content-Type': 'application/x-yaml' }); res.end(index); return; }
    const f = files.get(u.pathname);
    if (f) { res.writeHead(200); res.end(f); return; }
    res.writeHead(404);
    res.end('not found');
  };
  repo.handle = serve(false);
  cdn.handle = serve(false);
});

test.after(async () => {
  await Promise.all([repo.close(), cdn.close()]);
});

test.before.each(() => {
  repo.seen.length = 0;
  cdn.seen.length = 0;
});

test('exact version through a relative URL in a subdirectory; the repository query goes everywhere', async () => {
  const c = await fetchHttpChart({ repo: `${repo.url}/repo/sub?key=abc`, name: 'app', version: '1.0.0' }, { attempts: 1 });
  assert.ok(c.archive.equals(files.get('/repo/sub/charts/app-1.0.0.tgz')!));
  assert.is(c.provenance, undefined);
  assert.is(c.created, '2024-01-01T00:00:00Z');
  assert.equal(repo.seen.map((s) => s.url), ['/repo/sub/index.yaml?key=abc', '/repo/sub/charts/app-1.0.0.tgz?key=abc', '/repo/sub/charts/app-1.0.0.tgz.prov?key=abc']);
  assert.is(c.source, `${repo.url}/repo/sub?key=***/app@1.0.0`);
});

test('a range picks the newest match; sha256:-prefixed upper-case digest accepted; .prov fetched', async () => {
  const c = await fetchHttpChart({ repo: `${repo.url}/repo/sub/`, name: 'app', version: '~1.4' }, { attempts: 1 });
  assert.ok(c.archive.equals(files.get('/repo/sub/charts/app-1.4.2.tgz')!));
  assert.is(c.provenance!.toString(), '-----BEGIN PGP SIGNED MESSAGE-----\n');
  assert.ok(c.notes!.some((n) => n.includes('resolved to version 1.4.2')));
  const newest = await fetchHttpChart({ repo: `${repo.url}/repo/sub`, name: 'app' }, { attempts: 1 });
  assert.ok(newest.archive.equals(files.get('/repo/sub/app-2.0.0.tgz')!));
});

test('a wrong index digest: BLOB_MISMATCH naming the URL and both digests', async () => {
  const e = await ferryError(fetchHttpChart({ repo: `${repo.url}/repo/sub`, name: 'bad', version: '1.0.0' }, { attempts: 1 }), 'BLOB_MISMATCH');
  const want = `sha256:${sha(files.get('/repo/sub/charts/app-1.0.0.tgz')!)}`;
  const got = `sha256:${sha(files.get('/repo/sub/bad-1.0.0.tgz')!)}`;
  assert.match(e.message, `${repo.url}/repo/sub/bad-1.0.0.tgz`);
  assert.match(e.message, want);
  assert.match(e.message, got);
});

test('no digest in the index: allowed, noted', async () => {
  const c = await fetchHttpChart({ repo: `${repo.url}/repo/sub`, name: 'nodigest' }, { attempts: 1 });
  assert.ok(c.notes!.some((n) => n.includes('gives no digest')), c.notes!.join('\n'));
});

test('an absolute URL on another host: fetched there, the credentials not sent, and that is noted', async () => {
  const c = await fetchHttpChart({ repo: `${repo.url}/repo/sub`, name: 'ext', version: '3.1.0' }, { attempts: 1, creds: `ci:${PW}` });
  assert.ok(c.archive.equals(files.get('/cdn/ext-3.1.0.tgz')!));
  assert.is(repo.seen[0]!.headers.authorization, `Basic ${Buffer.from(`ci:${PW}`).toString('base64')}`);
  assert.equal(cdn.seen.map((s) => [s.url, s.headers.authorization]), [['/cdn/ext-3.1.0.tgz', undefined], ['/cdn/ext-3.1.0.tgz.prov', undefined]]);
  assert.ok(c.notes!.some((n) => n.includes('not sent there')));
});

test('misses: unknown chart, no matching version, no index at the URL', async () => {
  const r = new HttpChartRepository(`${repo.url}/repo/sub`, { attempts: 1 });
  const e1 = await ferryError(r.fetch('app', '^3'), 'SOURCE_NOT_FOUND');
  assert.match(e1.message, 'newest available: 2.0.0, 1.4.2, 1.0.0');
  await ferryError(r.fetch('nope'), 'SOURCE_NOT_FOUND');
  assert.is(repo.seen.filter((s) => s.url.endsWith('index.yaml')).length, 1, 'the index is read once per repository');
  r.close();
  const e3 = await ferryError(fetchHttpChart({ repo: `${repo.url}/wrong`, name: 'app' }, { attempts: 1 }), 'SOURCE_NOT_FOUND');
  assert.match(e3.message, 'is not a Helm chart repository');
});

test('parseChartSpec: http(s) URL with version or range, oci, repo-name, local', () => {
  assert.equal(parseChartSpec('https://charts.example.com/path/cleanstart-core@2.0.0'), { kind: 'http', repo: 'https://charts.example.com/path', name: 'cleanstart-core', version: '2.0.0' });
  assert.equal(parseChartSpec('https://charts.example.com/path/cleanstart-core@^2.0.0'), { kind: 'http', repo: 'https://charts.example.com/path', name: 'cleanstart-core', version: '^2.0.0' });
  assert.equal(parseChartSpec('https://charts.example.com/a/b/core@~1.2'), { kind: 'http', repo: 'https://charts.example.com/a/b', name: 'core', version: '~1.2' });
  assert.equal(parseChartSpec('http://127.0.0.1:8080/core'), { kind: 'http', repo: 'http://127.0.0.1:8080/', name: 'core' });
  assert.equal(parseChartSpec('https://h/p/core@>=1.0.0 <2.0.0'), { kind: 'http', repo: 'https://h/p', name: 'core', version: '>=1.0.0 <2.0.0' });
  assert.equal(parseChartSpec('https://h/p/core@1.0.0?token=x'), { kind: 'http', repo: 'https://h/p?token=x', name: 'core', version: '1.0.0' });
  assert.equal(parseChartSpec('oci://reg.example.com/charts/core:1.0.0'), { kind: 'oci', ref: 'oci://reg.example.com/charts/core:1.0.0' });
  const none = () => false;
  assert.equal(parseChartSpec('bitnami/nginx@15.0.0', none), { kind: 'repo-name', repoName: 'bitnami', name: 'nginx', version: '15.0.0' });
  assert.equal(parseChartSpec('bitnami/nginx', none), { kind: 'repo-name', repoName: 'bitnami', name: 'nginx' });
  assert.equal(parseChartSpec('charts/nginx', (p) => p === 'charts/nginx'), { kind: 'local', path: 'charts/nginx' });
  assert.equal(parseChartSpec('./charts/nginx', none), { kind: 'local', path: './charts/nginx' });
  assert.equal(parseChartSpec('charts/*.tgz', none), { kind: 'local', path: 'charts/*.tgz' });
  assert.equal(parseChartSpec('dist/app-1.0.0.tgz', none), { kind: 'local', path: 'dist/app-1.0.0.tgz' });
  assert.equal(parseChartSpec('/abs/chart', none), { kind: 'local', path: '/abs/chart' });
  assert.equal(parseChartSpec('file:///abs/chart', none), { kind: 'local', path: '/abs/chart' });
});

test('parseChartSpec refusals: a .tgz URL, an empty version, an odd scheme', async () => {
  const e = await ferryError(Promise.resolve().then(() => parseChartSpec('https://h/p/app-1.0.0.tgz')), 'USAGE');
  assert.match(e.message, 'not the .tgz URL');
  await ferryError(Promise.resolve().then(() => parseChartSpec('https://h/p/app@')), 'USAGE');
  await ferryError(Promise.resolve().then(() => parseChartSpec('s3://bucket/charts/app')), 'USAGE');
  await ferryError(Promise.resolve().then(() => parseChartSpec('https://h/')), 'USAGE');
  const pw = 'in-url-Secret9';
  const e2 = await ferryError(Promise.resolve().then(() => parseChartSpec(`https://u:${pw}@h/p/app-1.tgz`)), 'USAGE', [pw]);
  assert.match(e2.message, 'h/p/app-1.tgz');
});

test.run();
