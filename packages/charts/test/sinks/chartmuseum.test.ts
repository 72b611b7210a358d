// ChartmuseumSink against an in-process stand-in for ChartMuseum's API. The real chartmuseum
// could not be had here (the Go module proxy refuses it, see scripts/test-tools.sh), so this
// stand-in follows its handlers (helm/chartmuseum pkg/chartmuseum/server/multitenant
// handlers.go, api.go): POST /api[/TENANT]/charts raw or multipart (fields chart, prov; a
// filename required), 201 {"saved":true}; 409 {"error":"file already exists"} (raw) or "chart
// already exists" (multipart) unless --allow-overwrite or ?force without
// --disable-force-overwrite; HEAD|GET /api/charts/NAME/VERSION; GET /charts/FILE; GET /health;
// 507 at a storage limit. When a chartmuseum harness lands, these cases move onto it.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gunzipSync } from 'node:zlib';
import { sha256Digest } from '@ferry/format-spec';
import { ChartmuseumSink, multipartBody, parseChartmuseumDestination } from '../../src/sinks/chartmuseum.js';
import type { ChartUpload } from '../../src/types.js';
import { ferryError, packChart, startServer, type SeenRequest, type TestServer } from '../fixtures.js';

const USER = 'cm-user';
const PASSWORD = 'Museum-pw-42!';
const SECRETS = [PASSWORD, Buffer.from(`${USER}:${PASSWORD}`).toString('base64')];
const fast = { attempts: 1 };

interface Museum {
  srv: TestServer;
  files: Map<string, Buffer>;
  opts: { allowOverwrite?: boolean; disableForceOverwrite?: boolean; auth?: boolean; storageFull?: boolean };
}

function chartOf(tgz: Buffer): { name: string; version: string } | undefined {
  try {
    const text = gunzipSync(tgz).toString('latin1');
    const name = /\nname: (\S+)/.exec(text)?.[1];
    const version = /\nversion: (\S+)/.exec(text)?.[1];
    return name && version ? { name, version } : undefined;
  } catch {
    return undefined;
  }
}

function formFiles(r: SeenRequest): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const b = /boundary=([^;]+)/.exec(String(r.headers['content-type']))?.[1];
  if (!b) return out;
  const sep = Buffer.from(`--${b}`);
  let at = r.body.indexOf(sep);
  while (at >= 0) {
    const next = r.body.indexOf(sep, at + sep.length);
    if (next < 0) break;
    const part = r.body.subarray(at + sep.length + 2, next - 2);
    const headEnd = part.indexOf('\r\n\r\n');
    const head = part.subarray(0, headEnd).toString();
    const field = /name="([^"]+)"/.exec(head)?.[1];
    if (field && /filename="/.test(head)) out.set(field, part.subarray(headEnd + 4));
    at = next;
  }
  return out;
}

async function startMuseum(opts: Museum['opts'] = {}): Promise<Museum> {
  const srv = await startServer();
  const m: Museum = { srv, files: new Map(), opts };
  const json = (res: import('node:http').ServerResponse, status: number, body: unknown) => { res.writeHead(status, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(body)); };
  srv.handle = (r, res) => {
    const u = new URL(r.url, 'http://x');
    if (u.pathname === '/health') { json(res, 200, { healthy: true }); return; }
    if (opts.auth && r.headers.authorization !== `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="ChartMuseum"' }); res.end('{"error":"unauthorized"}'); return;
    }
    const api = /^\/api(?:\/([^/]+))?\/charts(?:\/([^/]+)\/([^/]+))?$/.exec(u.pathname);
    const file = /^(?:\/([^/]+))?\/charts\/([^/]+)$/.exec(u.pathname);
    if (api && r.method === 'POST' && !api[2]) {
      const tenant = api[1] ?? '';
      const force = u.searchParams.has('force');
      const multipart = String(r.headers['content-type']).startsWith('multipart/form-data');
      const form = multipart ? formFiles(r) : undefined;
      const tgz = multipart ? form!.get('chart') : r.body;
      const c = tgz ? chartOf(tgz) : undefined;
      if (!tgz || !c) { json(res, multipart ? 400 : 500, { error: 'chart: error unpacking' }); return; }
      const key = `${tenant}/${c.name}-${c.version}.tgz`;
      if (m.files.has(key) && !opts.allowOverwrite && (opts.disableForceOverwrite || !force)) {
        json(res, 409, { error: multipart ? 'chart already exists' : 'file already exists' }); return;
      }
      if (opts.storageFull) { json(res, 507, { error: 'repo has reached storage limit' }); return; }
      m.files.set(key, tgz);
      const prov = form?.get('prov');
      if (prov) m.files.set(`${key}.prov`, prov);
      json(res, 201, { saved: true });
      return;
    }
    if (api && (r.method === 'GET' || r.method === 'HEAD') && !api[2]) {
      json(res, 200, {});
      return;
    }
    if (api && api[2] && (r.method === 'GET' || r.method === 'HEAD')) {
      const key = `${api[1] ?? ''}/${decodeURIComponent(api[2])}-${decodeURIComponent(api[3]!)}.tgz`;
      if (!m.files.has(key)) { res.writeHead(404); res.end(r.method === 'HEAD' ? undefined : '{"error":"no chart version found"}'); return; }
      json(res, 200, { name: api[2], version: api[3] });
      return;
    }
    if (file && r.method === 'GET') {
      const f = m.files.get(`${file[1] ?? ''}/${decodeURIComponent(file[2]!)}`);
      if (!f) { json(res, 404, { error: 'object not found' }); return; }
      res.writeHead(200, { 'Content-Type': 'application/x-tar' });
      res.end(f);
      return;
    }
    json(res, 404, { error: 'not found' });
  };
  return m;
}

async function chart(name: string, version: string, salt = '', prov = false): Promise<ChartUpload> {
  const archive = await packChart(name, version, salt);
  return {
    name, version, archive, digest: sha256Digest(archive),
    ...(prov ? { provenance: Buffer.from(`-----BEGIN PGP SIGNED MESSAGE-----\n${name}\n`) } : {}),
    oci: { manifest: Buffer.alloc(0), manifestDigest: '', manifestMediaType: '', config: Buffer.alloc(0), configDigest: '' },
    metadata: { apiVersion: 'v2', name, version },
  };
}

const posts = (m: Museum) => m.srv.seen.filter((r) => r.method === 'POST');

test('destination parsing and the multipart body', async () => {
  const d = parseChartmuseumDestination('chartmuseum+https://cm.example.com:8443/org/team/');
  assert.is(d.server.href, 'https://cm.example.com:8443/');
  assert.is(d.tenant, 'org/team');
  assert.is(parseChartmuseumDestination('chartmuseum+http://h').tenant, '');
  await ferryError(Promise.resolve().then(() => parseChartmuseumDestination('https://h')), 'USAGE');
  const { body, contentType } = multipartBody([{ field: 'chart', filename: 'a-1.tgz', contentType: 'application/gzip', data: Buffer.from('AAA') }]);
  const b = /boundary=(.+)$/.exec(contentType)![1]!;
  assert.is(body.toString(), `--${b}\r\nContent-Disposition: form-data; name="chart"; filename="a-1.tgz"\r\nContent-Type: application/gzip\r\n\r\nAAA\r\n--${b}--\r\n`);
});

test('upload raw (no prov) and multipart (with prov); same bytes again: skipped without a POST', async () => {
  const m = await startMuseum();
  const sink = new ChartmuseumSink(`chartmuseum+${m.srv.url}`, fast);
  await sink.preflight();
  const a = await chart('app', '1.0.0');
  assert.equal(await sink.check(a), { state: 'absent' });
  assert.is(await sink.put(a, { force: false }), 'uploaded');
  assert.is(posts(m)[0]!.headers['content-type'], 'application/gzip');
  assert.ok(m.files.get('/app-1.0.0.tgz')!.equals(a.archive));
  const s = await chart('signed', '0.1.0', '', true);
  assert.is(await sink.put(s, { force: false }), 'uploaded');
  assert.match(String(posts(m)[1]!.headers['content-type']), /^multipart\/form-data; boundary=/);
  assert.ok(m.files.get('/signed-0.1.0.tgz.prov')!.equals(s.provenance!));
  assert.equal(await sink.check(a), { state: 'same' });
  assert.is(await sink.put(a, { force: false }), 'skipped');
  assert.is(posts(m).length, 2);
  assert.is(sink.locationOf(a), `${m.srv.url}/app`);
  await sink.close();
  await m.srv.close();
});

test('different bytes: CHART_CONFLICT without force; --force POSTs ?force; a server with --allow-overwrite is never silently overwritten', async () => {
  const m = await startMuseum({ allowOverwrite: true });
  const sink = new ChartmuseumSink(`chartmuseum+${m.srv.url}`, fast);
  const a = await chart('app', '1.0.0');
  const b = await chart('app', '1.0.0', ' rebuilt');
  await sink.put(a, { force: false });
  const st = await sink.check(b);
  assert.is(st.state, 'different');
  const e = await ferryError(sink.put(b, { force: false }), 'CHART_CONFLICT');
  assert.match(e.message, a.digest.slice(7, 20));
  assert.is(posts(m).length, 1, 'nothing sent for the refused put');
  assert.is(await sink.put(b, { force: true }), 'uploaded');
  assert.is(posts(m)[1]!.url, '/api/charts?force');
  assert.ok(m.files.get('/app-1.0.0.tgz')!.equals(b.archive));
  await sink.close();
  await m.srv.close();
});

test('a 409 race: same bytes turn out skipped; --disable-force-overwrite makes --force a CHART_CONFLICT that says so', async () => {
  const m = await startMuseum({ disableForceOverwrite: true });
  const sink = new ChartmuseumSink(`chartmuseum+${m.srv.url}/tenant`, fast);
  const a = await chart('app', '1.0.0');
  // Someone else uploads between our look and our POST.
  const orig = m.srv.handle;
  let raced = false;
  m.srv.handle = (r, res) => {
    if (r.method === 'POST' && !raced) { raced = true; m.files.set('tenant/app-1.0.0.tgz', a.archive); }
    orig(r, res);
  };
  assert.is(await sink.put(a, { force: false }), 'skipped');
  m.srv.handle = orig;
  const b = await chart('app', '1.0.0', ' other');
  const e = await ferryError(sink.put(b, { force: true }), 'CHART_CONFLICT');
  assert.match(e.message, '--disable-force-overwrite');
  assert.match(e.message, 'file already exists');
  await sink.close();
  await m.srv.close();
});

test('multitenant prefix: /api/TENANT/charts, files under /TENANT/charts', async () => {
  const m = await startMuseum();
  const sink = new ChartmuseumSink(`chartmuseum+${m.srv.url}/org1`, fast);
  const a = await chart('svc', '1.0.0+build.1');
  assert.is(await sink.put(a, { force: false }), 'uploaded');
  assert.ok(m.files.has('org1/svc-1.0.0+build.1.tgz'));
  assert.equal(await sink.check(a), { state: 'same' });
  assert.ok(m.srv.seen.some((r) => r.method === 'HEAD' && r.url === '/api/org1/charts/svc/1.0.0%2Bbuild.1'));
  assert.ok(m.srv.seen.some((r) => r.method === 'GET' && r.url === '/org1/charts/svc-1.0.0%2Bbuild.1.tgz'));
  assert.is(sink.locationOf(a), `${m.srv.url}/org1/svc`);
  await sink.close();
  await m.srv.close();
});

test('auth: preflight 401 is REGISTRY_AUTH without the secret; with credentials it passes', async () => {
  const m = await startMuseum({ auth: true });
  const wrong = new ChartmuseumSink(`chartmuseum+${m.srv.url}`, { creds: `${USER}:bad-${PASSWORD}`, ...fast });
  const e = await ferryError(wrong.preflight(), 'REGISTRY_AUTH', [...SECRETS, `bad-${PASSWORD}`]);
  assert.match(e.message, 'ChartMuseum');
  await wrong.close();
  const good = new ChartmuseumSink(`chartmuseum+${m.srv.url}`, { creds: `${USER}:${PASSWORD}`, ...fast });
  await good.preflight();
  assert.is(await good.put(await chart('x', '1.0.0'), { force: false }), 'uploaded');
  await good.close();
  await m.srv.close();
});

test('507 and 400: CHART_REPO_ERROR with the server message; not ChartMuseum: preflight says so', async () => {
  const m = await startMuseum({ storageFull: true });
  const sink = new ChartmuseumSink(`chartmuseum+${m.srv.url}`, fast);
  const e = await ferryError(sink.put(await chart('big', '1.0.0'), { force: false }), 'CHART_REPO_ERROR');
  assert.match(e.message, 'HTTP 507');
  assert.match(e.message, 'storage limit');
  assert.match(e.message, 'repo has reached storage limit');
  const orig = m.srv.handle;
  m.srv.handle = (r, res) => {
    if (r.method === 'POST') { res.writeHead(400, { 'Content-Type': 'application/json' }); res.end(`{"error":"${'x'.repeat(2000)}\\u001b[2J"}`); return; }
    orig(r, res);
  };
  const e2 = await ferryError(sink.put(await chart('bad', '1.0.0'), { force: false }), 'CHART_REPO_ERROR');
  assert.match(e2.message, 'refused the content as a chart');
  assert.ok(e2.message.length < 1000, 'the server text is bounded');
  assert.not.ok(e2.message.includes('\u001b'), 'control characters escaped');
  m.srv.handle = (_r, res) => { res.writeHead(200); res.end('<html>nginx</html>'); };
  const e3 = await ferryError(sink.preflight(), 'CHART_REPO_ERROR');
  assert.match(e3.message, 'ChartMuseum');
  await sink.close();
  await m.srv.close();
});

test.run();
