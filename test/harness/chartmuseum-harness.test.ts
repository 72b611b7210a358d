// startChartmuseum proved against the real ChartMuseum v0.16.3 and the real helm v3.22.0: uploads
// through POST /api/charts (raw body and multipart chart+prov) with its 201/409 answers, Basic auth
// (401 without it), helm repo add + helm pull giving back the uploaded bytes, ?force overwrite and
// the flags that change it (--allow-overwrite, --disable-force-overwrite), --depth repo paths and
// TLS with the test CA. The chart upload tests lean on these behaving as claimed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import https from 'node:https';
import { parse } from 'yaml';
import { startChartmuseum, type StartedChartmuseum } from './chartmuseum.js';
import { goTool, runTool } from './tools.js';
import { makeChart, makeSigningKeyring, newHelm, type HelmClient, type PackagedChart, type SigningKeyring } from './helm.js';

const USER = 'museum-bot';
const PASSWORD = 'Museum-Pa55word-8c41';

let tmp = '';
let h: HelmClient;
let cm: StartedChartmuseum; // Basic auth, defaults otherwise
let noForce: StartedChartmuseum; // --disable-force-overwrite
let overwrite: StartedChartmuseum; // --allow-overwrite
let tenants: StartedChartmuseum; // --depth 1
let secure: StartedChartmuseum; // TLS + Basic auth
let keys: SigningKeyring;
let app: PackagedChart; // app 1.2.3
let app2: PackagedChart; // app 1.2.3 again, other content
let signed: PackagedChart; // signed 0.1.0 + .prov
let denied: PackagedChart; // denied 0.0.1, only ever uploaded without credentials

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
const AUTH = { Authorization: basic(USER, PASSWORD) };

interface Answer { status: number; body: string }

async function postRaw(server: StartedChartmuseum, tgz: string, o: { path?: string; query?: string; auth?: boolean } = {}): Promise<Answer> {
  const res = await fetch(`${server.url}${o.path ?? '/api/charts'}${o.query ?? ''}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/octet-stream', ...(o.auth === false ? {} : AUTH) },
    body: await readFile(tgz),
  });
  return { status: res.status, body: await res.text() };
}

async function getBytes(url: string, auth = true): Promise<{ status: number; bytes: Buffer }> {
  const res = await fetch(url, { headers: auth ? AUTH : {} });
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) };
}

/** One HTTPS request trusting only `caFile`. */
function httpsRequest(url: string, caFile: string, o: { method?: string; headers?: Record<string, string>; body?: Buffer } = {}): Promise<Answer> {
  return readFile(caFile).then((ca) => new Promise<Answer>((ok, bad) => {
    const req = https.request(url, { method: o.method ?? 'GET', headers: o.headers, ca, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => ok({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', bad);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(o.body);
  }));
}

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-cm-harness-'));
  const auth = { basicAuth: { user: USER, password: PASSWORD } };
  [h, cm, noForce, overwrite, tenants, secure, keys] = await Promise.all([
    newHelm(),
    startChartmuseum(auth),
    startChartmuseum({ ...auth, disableForceOverwrite: true }),
    startChartmuseum({ ...auth, allowOverwrite: true }),
    startChartmuseum({ ...auth, depth: 1 }),
    startChartmuseum({ ...auth, tls: true }),
    makeSigningKeyring(),
  ]);
  await makeChart(join(tmp, 'src', 'app'), { name: 'app', version: '1.2.3', values: 'greeting: first\n' });
  app = await h.helmPackage(join(tmp, 'src', 'app'), join(tmp, 'pkg1'));
  await makeChart(join(tmp, 'src', 'app2'), { name: 'app', version: '1.2.3', values: 'greeting: second\n' });
  app2 = await h.helmPackage(join(tmp, 'src', 'app2'), join(tmp, 'pkg2'));
  await makeChart(join(tmp, 'src', 'signed'), { name: 'signed', version: '0.1.0' });
  signed = await h.helmPackage(join(tmp, 'src', 'signed'), join(tmp, 'pkg1'), { sign: { key: keys.name, keyring: keys.secring } });
  await makeChart(join(tmp, 'src', 'denied'), { name: 'denied', version: '0.0.1' });
  denied = await h.helmPackage(join(tmp, 'src', 'denied'), join(tmp, 'pkg1'));
});

test.after(async () => {
  await Promise.all([cm?.stop(), noForce?.stop(), overwrite?.stop(), tenants?.stop(), secure?.stop(), h?.cleanup()]);
  await rm(tmp, { recursive: true, force: true });
});

test('the pinned v0.16.3 on 127.0.0.1; /health answers without credentials, the rest does not', async () => {
  const v = await runTool(await goTool('chartmuseum'), ['--version'], tmp);
  assert.is(v.code, 0, v.stderr);
  assert.match(v.stdout, /version v0\.16\.3\b/);
  assert.ok(cm.url.startsWith('http://127.0.0.1:'), cm.url);
  assert.is(cm.host, cm.url.slice('http://'.length));
  assert.ok(!(await readFile(`/proc/${cm.pid}/cmdline`, 'utf8')).includes(PASSWORD), 'the password is not in argv');
  const health = await fetch(`${cm.url}/health`);
  assert.is(health.status, 200);
  assert.equal(await health.json(), { healthy: true });
  assert.ok(app.tgz !== app2.tgz && sha256(await readFile(app.tgz)) !== sha256(await readFile(app2.tgz)), 'two different app-1.2.3.tgz');
});

test('401 without credentials or with a wrong password; WWW-Authenticate names Basic', async () => {
  for (const [what, headers] of [['none', {}], ['wrong password', { Authorization: basic(USER, 'wrong') }]] as const) {
    const idx = await fetch(`${cm.url}/index.yaml`, { headers });
    assert.is(idx.status, 401, `GET /index.yaml, ${what}`);
    assert.match(idx.headers.get('www-authenticate') ?? '', /^Basic /);
    const list = await fetch(`${cm.url}/api/charts`, { headers });
    assert.is(list.status, 401, `GET /api/charts, ${what}`);
  }
  const up = await postRaw(cm, denied.tgz, { auth: false });
  assert.is(up.status, 401, 'POST /api/charts without credentials');
  assert.not.ok((await readdir(cm.storageDir)).includes('denied-0.0.1.tgz'), 'nothing stored');
  assert.is((await fetch(`${cm.url}/api/charts/denied`, { headers: AUTH })).status, 404, 'nothing listed');
});

test('POST /api/charts raw body: 201 {"saved":true}, again 409; stored, listed, indexed, served as uploaded', async () => {
  const bytes = await readFile(app.tgz);
  const first = await postRaw(cm, app.tgz);
  assert.is(first.status, 201, first.body);
  assert.equal(JSON.parse(first.body), { saved: true });
  const again = await postRaw(cm, app.tgz);
  assert.is(again.status, 409, again.body);
  assert.equal(JSON.parse(again.body), { error: 'file already exists' });
  const other = await postRaw(cm, app2.tgz);
  assert.is(other.status, 409, 'other content under the same name and version is refused too');

  assert.ok((await readFile(join(cm.storageDir, 'app-1.2.3.tgz'))).equals(bytes), 'local storage holds the uploaded bytes');
  const listed = await (await fetch(`${cm.url}/api/charts/app`, { headers: AUTH })).json() as { version: string; digest: string }[];
  assert.equal(listed.map((c) => [c.version, c.digest]), [['1.2.3', sha256(bytes)]]);
  const index = parse(await (await fetch(`${cm.url}/index.yaml`, { headers: AUTH })).text()) as { entries: Record<string, { version: string; digest: string; urls: string[] }[]> };
  assert.equal(index.entries.app!.map((e) => [e.version, e.digest, e.urls]), [['1.2.3', sha256(bytes), ['charts/app-1.2.3.tgz']]]);
  const got = await getBytes(`${cm.url}/charts/app-1.2.3.tgz`);
  assert.is(got.status, 200);
  assert.ok(got.bytes.equals(bytes));
  assert.is((await getBytes(`${cm.url}/charts/app-1.2.3.tgz`, false)).status, 401);
  assert.is((await getBytes(`${cm.url}/charts/app-9.9.9.tgz`)).status, 404);
});

test('multipart chart + prov: 201; GET /charts/<name>-<ver>.tgz.prov gives the prov; helm pull --verify', async () => {
  const tgz = await readFile(signed.tgz);
  const prov = await readFile(signed.prov!);
  const form = new FormData();
  form.append('chart', new Blob([tgz]), 'signed-0.1.0.tgz');
  form.append('prov', new Blob([prov]), 'signed-0.1.0.tgz.prov');
  const res = await fetch(`${cm.url}/api/charts`, { method: 'POST', headers: AUTH, body: form });
  const body = await res.text();
  assert.is(res.status, 201, body);
  assert.equal(JSON.parse(body), { saved: true });

  const gotProv = await getBytes(`${cm.url}/charts/signed-0.1.0.tgz.prov`);
  assert.is(gotProv.status, 200);
  assert.ok(gotProv.bytes.equals(prov), 'the uploaded .prov');
  assert.ok((await getBytes(`${cm.url}/charts/signed-0.1.0.tgz`)).bytes.equals(tgz));
  assert.is((await getBytes(`${cm.url}/charts/app-1.2.3.tgz.prov`)).status, 404, 'no .prov for the unsigned chart');

  // The same form again is a conflict, as the raw upload is.
  const dup = new FormData();
  dup.append('chart', new Blob([tgz]), 'signed-0.1.0.tgz');
  dup.append('prov', new Blob([prov]), 'signed-0.1.0.tgz.prov');
  assert.is((await fetch(`${cm.url}/api/charts`, { method: 'POST', headers: AUTH, body: dup })).status, 409);

  await h.helmRepoAdd('museum-signed', cm.url, { username: USER, password: PASSWORD });
  const pulled = await h.helmPull('museum-signed/signed', { version: '0.1.0', verify: { keyring: keys.pubring } });
  assert.ok(pulled.prov, 'helm fetched the .prov from chartmuseum');
  assert.ok((await readFile(pulled.tgz)).equals(tgz));
});

test('helm repo add with Basic auth + helm pull: the bytes uploaded; without credentials helm gets 401', async () => {
  // Own chart and version, so this test does not depend on the order of the others.
  await makeChart(join(tmp, 'src', 'pulled'), { name: 'pulled', version: '3.0.0' });
  const p = await h.helmPackage(join(tmp, 'src', 'pulled'), join(tmp, 'pkg1'));
  const up = await postRaw(cm, p.tgz);
  assert.is(up.status, 201, up.body);

  const noCreds = await h.helm(['repo', 'add', 'museum-nocreds', cm.url]);
  assert.is.not(noCreds.code, 0);
  assert.match(noCreds.stderr, /401/);
  await h.helmRepoAdd('museum', cm.url, { username: USER, password: PASSWORD });
  const pulled = await h.helmPull('museum/pulled', { version: '3.0.0' });
  assert.ok((await readFile(pulled.tgz)).equals(await readFile(p.tgz)));
  const missing = await h.helm(['pull', 'museum/pulled', '--version', '3.0.1', '--destination', join(tmp, 'missing')]);
  assert.is.not(missing.code, 0);
});

test('?force overwrites an existing version; without it 409 and the old bytes stay', async () => {
  await makeChart(join(tmp, 'src', 'forced-a'), { name: 'forced', version: '1.0.0', values: 'greeting: a\n' });
  await makeChart(join(tmp, 'src', 'forced-b'), { name: 'forced', version: '1.0.0', values: 'greeting: b\n' });
  const a = await h.helmPackage(join(tmp, 'src', 'forced-a'), join(tmp, 'forced-a'));
  const b = await h.helmPackage(join(tmp, 'src', 'forced-b'), join(tmp, 'forced-b'));
  const url = `${cm.url}/charts/forced-1.0.0.tgz`;
  assert.is((await postRaw(cm, a.tgz)).status, 201);
  assert.is((await postRaw(cm, b.tgz)).status, 409);
  assert.ok((await getBytes(url)).bytes.equals(await readFile(a.tgz)), 'a refused upload changes nothing');
  const forced = await postRaw(cm, b.tgz, { query: '?force' });
  assert.is(forced.status, 201, forced.body);
  assert.equal(JSON.parse(forced.body), { saved: true });
  assert.ok((await getBytes(url)).bytes.equals(await readFile(b.tgz)), 'served: the forced upload');
  const listed = await (await fetch(`${cm.url}/api/charts/forced`, { headers: AUTH })).json() as { digest: string }[];
  assert.equal(listed.map((c) => c.digest), [sha256(await readFile(b.tgz))], 'the index follows the overwrite');
});

test('--disable-force-overwrite: ?force is refused with 409 too', async () => {
  assert.is((await postRaw(noForce, app.tgz)).status, 201);
  const forced = await postRaw(noForce, app2.tgz, { query: '?force' });
  assert.is(forced.status, 409, forced.body);
  assert.ok((await getBytes(`${noForce.url}/charts/app-1.2.3.tgz`)).bytes.equals(await readFile(app.tgz)));
});

test('--allow-overwrite: a second upload replaces the first without ?force', async () => {
  assert.is((await postRaw(overwrite, app.tgz)).status, 201);
  const again = await postRaw(overwrite, app2.tgz);
  assert.is(again.status, 201, again.body);
  assert.ok((await getBytes(`${overwrite.url}/charts/app-1.2.3.tgz`)).bytes.equals(await readFile(app2.tgz)));
});

test('depth 1: /api/<repo>/charts, /<repo>/index.yaml, storageDir/<repo>/; repos are separate', async () => {
  const up = await postRaw(tenants, app.tgz, { path: '/api/team-a/charts' });
  assert.is(up.status, 201, up.body);
  assert.ok((await readFile(join(tenants.storageDir, 'team-a', 'app-1.2.3.tgz'))).equals(await readFile(app.tgz)));
  assert.is((await postRaw(tenants, app2.tgz, { path: '/api/team-b/charts' })).status, 201, 'same name+version in another repo');
  assert.is((await postRaw(tenants, app.tgz, { path: '/api/team-a/charts' })).status, 409);
  assert.ok((await getBytes(`${tenants.url}/team-b/charts/app-1.2.3.tgz`)).bytes.equals(await readFile(app2.tgz)));
  // Without a repo segment there is no upload route at depth 1.
  assert.is.not((await postRaw(tenants, app.tgz)).status, 201);
  await h.helmRepoAdd('team-a', `${tenants.url}/team-a`, { username: USER, password: PASSWORD });
  const pulled = await h.helmPull('team-a/app', { version: '1.2.3' });
  assert.ok((await readFile(pulled.tgz)).equals(await readFile(app.tgz)));
});

test('tls: https with the test CA; helm needs --ca-file', async () => {
  assert.ok(secure.url.startsWith('https://127.0.0.1:') && secure.caFile, secure.url);
  const health = await httpsRequest(`${secure.url}/health`, secure.caFile!);
  assert.is(health.status, 200);
  const up = await httpsRequest(`${secure.url}/api/charts`, secure.caFile!, { method: 'POST', headers: AUTH, body: await readFile(app.tgz) });
  assert.is(up.status, 201, up.body);
  let plainErr: unknown;
  try { await fetch(`${secure.url}/health`); } catch (e) { plainErr = e; }
  assert.ok(plainErr, 'the test CA is trusted by nobody by default');
  const untrusted = await h.helm(['repo', 'add', 'museum-untrusted', secure.url, '--username', USER, '--password-stdin'], { input: PASSWORD });
  assert.is.not(untrusted.code, 0);
  assert.match(untrusted.stderr, /certificate/);
  await h.helmRepoAdd('museum-tls', secure.url, { username: USER, password: PASSWORD, caFile: secure.caFile! });
  const pulled = await h.helmPull('museum-tls/app', { version: '1.2.3' });
  assert.ok((await readFile(pulled.tgz)).equals(await readFile(app.tgz)));
});

test('--max-storage-objects counts index-cache.yaml too and is 507 past it (raw uploads only); --max-upload-size is 413; custom form field names', async () => {
  const c = await startChartmuseum({ maxStorageObjects: 2, maxUploadSize: 8192, formFields: { chart: 'pkg', prov: 'sig' } });
  try {
    const first = await postRaw(c, app.tgz, { auth: false });
    assert.is(first.status, 201, first.body);
    assert.equal((await readdir(c.storageDir)).sort(), ['app-1.2.3.tgz', 'index-cache.yaml'], 'two objects: the limit is reached');
    const full = await postRaw(c, denied.tgz, { auth: false });
    assert.is(full.status, 507, full.body);
    assert.equal(JSON.parse(full.body), { error: 'repo has reached storage limit' });
    // chartmuseum checks the limit only on the raw route: a multipart upload is stored past it.
    const form = new FormData();
    form.append('pkg', new Blob([await readFile(signed.tgz)]), 'signed-0.1.0.tgz');
    form.append('sig', new Blob([await readFile(signed.prov!)]), 'signed-0.1.0.tgz.prov');
    const multi = await fetch(`${c.url}/api/charts`, { method: 'POST', body: form });
    assert.is(multi.status, 201, 'multipart under the custom field names, past the object limit');
    assert.ok((await readFile(join(c.storageDir, 'signed-0.1.0.tgz.prov'))).equals(await readFile(signed.prov!)));
    const big = await fetch(`${c.url}/api/charts`, { method: 'POST', body: Buffer.alloc(9000, 1) });
    assert.is(big.status, 413);
    assert.is(await big.text(), 'request too large');
  } finally {
    await c.stop();
  }
});

test('stop(): chartmuseum process gone and its dir removed; log() had its requests', async () => {
  const c = await startChartmuseum();
  const { pid, dir } = c;
  assert.is((await postRaw(c, app.tgz, { auth: false })).status, 201, 'no auth options: anonymous upload');
  assert.match(await c.log(), '/api/charts');
  await c.stop();
  let alive = true;
  try { process.kill(pid, 0); } catch { alive = false; }
  assert.is(alive, false, `chartmuseum ${pid} exited`);
  let gone = false;
  try { await stat(dir); } catch { gone = true; }
  assert.ok(gone, 'temp dir removed');
  let err: unknown;
  try { await fetch(`${c.url}/health`); } catch (e) { err = e; }
  assert.ok(err, 'port closed');
  await c.stop(); // twice is fine
});

test.run();
