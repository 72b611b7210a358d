// The chart test components, proved against the real helm (v3.22.0): nginx as a classic chart
// repository (plain, Basic auth, TLS, a given root), a GPG-signed chart with .prov pulled with
// --verify, helm push/pull through the real docker-registry (plain and htpasswd+TLS), and the
// Artifactory deploy recorder's status codes. The chart tests lean on these behaving as claimed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import https from 'node:https';
import { parse } from 'yaml';
import { startNginx, type StartedNginx } from './nginx.js';
import { startRegistry, type StartedRegistry } from './registry.js';
import { startArtifactory, type StartedArtifactory } from './artifactory.js';
import { makeChart, makeSigningKeyring, newHelm, type HelmClient, type PackagedChart, type SigningKeyring } from './helm.js';

const USER = 'chart-bot';
const PASSWORD = 'Chart-Pa55word-71d3';
const TOKEN = 'ferry-test-access-token-5b2e';

let tmp = '';
let h: HelmClient;
let plain: StartedNginx;
let authed: StartedNginx;
let secure: StartedNginx;
let registry: StartedRegistry;
let securedRegistry: StartedRegistry;
let art: StartedArtifactory;
let keys: SigningKeyring;
let otherKeys: SigningKeyring;
let app: PackagedChart;
let signed: PackagedChart;

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

/** One HTTPS GET trusting only `caFile`; resolves with the status. */
function httpsStatus(url: string, caFile: string): Promise<number> {
  return readFile(caFile).then((ca) => new Promise<number>((ok, bad) => {
    const req = https.get(url, { ca, agent: false, timeout: 5000 }, (res) => { res.resume(); ok(res.statusCode ?? 0); });
    req.on('error', bad);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  }));
}

interface IndexEntry { version: string; digest: string; urls: string[] }

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-charts-harness-'));
  [h, plain, authed, secure, registry, securedRegistry, art, keys, otherKeys] = await Promise.all([
    newHelm(),
    startNginx(),
    startNginx({ basicAuth: { user: USER, password: PASSWORD } }),
    startNginx({ tls: true }),
    startRegistry(),
    startRegistry({ tls: true, auth: { user: USER, password: PASSWORD } }),
    startArtifactory({ basicAuth: { user: USER, password: PASSWORD }, token: TOKEN }),
    makeSigningKeyring(),
    makeSigningKeyring({ name: 'Someone Else', email: 'else@example.invalid' }),
  ]);
  await makeChart(join(tmp, 'src', 'app'), { name: 'app', version: '1.2.3', appVersion: '4.5', values: 'greeting: hi there\n' });
  app = await h.helmPackage(join(tmp, 'src', 'app'), join(tmp, 'pkg'));
  await makeChart(join(tmp, 'src', 'signed'), { name: 'signed', version: '0.1.0' });
  signed = await h.helmPackage(join(tmp, 'src', 'signed'), join(tmp, 'pkg'), { sign: { key: keys.name, keyring: keys.secring } });
});

test.after(async () => {
  await Promise.all([plain?.stop(), authed?.stop(), secure?.stop(), registry?.stop(), securedRegistry?.stop(), art?.stop(), h?.cleanup()]);
  await rm(tmp, { recursive: true, force: true });
});

test('helm: isolated HOME/HELM_* dirs; makeChart + helm package + helm template', async () => {
  for (const k of ['HOME', 'HELM_CONFIG_HOME', 'HELM_CACHE_HOME', 'HELM_DATA_HOME', 'HELM_REGISTRY_CONFIG', 'HELM_REPOSITORY_CONFIG', 'HELM_REPOSITORY_CACHE']) {
    assert.ok(h.env[k]?.startsWith(h.home), `${k}=${h.env[k]}`);
  }
  const env = await h.helm(['env']);
  assert.is(env.code, 0, env.stderr);
  assert.match(env.stdout, `HELM_REPOSITORY_CONFIG="${h.env.HELM_REPOSITORY_CONFIG}"`);
  const v = await h.helm(['version', '--template', '{{ .Version }}']);
  assert.is(v.stdout.trim().startsWith('v3.22'), true, v.stdout);

  assert.is(basename(app.tgz), 'app-1.2.3.tgz');
  assert.is(app.prov, undefined);
  const shown = parse(await h.helmShowChart(app.tgz)) as { name: string; version: string; appVersion: string };
  assert.equal([shown.name, shown.version, shown.appVersion], ['app', '1.2.3', '4.5']);
  const out = await h.helmTemplate(app.tgz, { releaseName: 'rel', set: ['greeting=override'] });
  assert.match(out, 'name: rel-app');
  assert.match(out, 'greeting: "override"');
  assert.match(await h.helmTemplate(app.tgz), 'greeting: "hi there"');
  // A broken chart fails: helm package really validates what makeChart writes.
  await makeChart(join(tmp, 'src', 'bad'), { name: 'bad', version: 'not-semver' });
  const bad = await h.helm(['package', join(tmp, 'src', 'bad'), '--destination', join(tmp, 'pkg')]);
  assert.is.not(bad.code, 0);
  assert.match(bad.stderr, /version/i);
});

test('nginx: helm repo index into www, helm repo add + helm pull give the packaged bytes', async () => {
  await copyFile(app.tgz, join(plain.root, 'app-1.2.3.tgz'));
  const index = await h.helmRepoIndex(plain.root, plain.url);
  const res = await fetch(`${plain.url}/index.yaml`);
  assert.is(res.status, 200);
  assert.is(res.headers.get('content-type'), 'application/yaml');
  const served = parse(await res.text()) as { entries: Record<string, IndexEntry[]> };
  assert.equal(served, parse(await readFile(index, 'utf8')));
  const entry = served.entries.app![0]!;
  const bytes = await readFile(app.tgz);
  assert.is(entry.digest, sha256(bytes), 'index digest = sha256 of the served tgz');
  assert.equal(entry.urls, [`${plain.url}/app-1.2.3.tgz`]);

  await h.helmRepoAdd('plain', plain.url);
  const pulled = await h.helmPull('plain/app', { version: '1.2.3' });
  assert.ok((await readFile(pulled.tgz)).equals(bytes));
  const viaRepo = await h.helmPull('app', { repo: plain.url, version: '1.2.3' });
  assert.ok((await readFile(viaRepo.tgz)).equals(bytes));
  const missing = await h.helm(['pull', 'plain/app', '--version', '9.9.9', '--destination', tmp]);
  assert.is.not(missing.code, 0, 'a version that is not in the index is not found');
  assert.match(missing.stderr, /9\.9\.9/);

  // A file nobody may read is refused, not silently served (nginx runs as nobody under root).
  await writeFile(join(plain.root, 'private.txt'), 'x', { mode: 0o600 });
  const priv = await fetch(`${plain.url}/private.txt`);
  assert.is(priv.status, process.getuid?.() === 0 ? 403 : 200);
});

test('nginx root option: serves an existing (0700 mkdtemp) directory', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-charts-given-'));
  const www = join(dir, 'repo');
  await makeChart(join(dir, 'src', 'given'), { name: 'given', version: '2.0.0' });
  const p = await h.helmPackage(join(dir, 'src', 'given'), www);
  const n = await startNginx({ root: www });
  try {
    assert.is(n.root, www);
    await h.helmRepoIndex(www, n.url);
    const pulled = await h.helmPull('given', { repo: n.url, version: '2.0.0' });
    assert.ok((await readFile(pulled.tgz)).equals(await readFile(p.tgz)));
  } finally {
    await n.stop();
  }
  assert.ok((await stat(www)).isDirectory(), 'stop() leaves a given root alone');
  await rm(dir, { recursive: true, force: true });
});

test('nginx basicAuth: 401 without credentials, helm repo add/pull with them', async () => {
  await copyFile(app.tgz, join(authed.root, 'app-1.2.3.tgz'));
  await h.helmRepoIndex(authed.root, authed.url);
  assert.is((await fetch(`${authed.url}/index.yaml`)).status, 401);
  assert.is((await fetch(`${authed.url}/index.yaml`, { headers: { Authorization: basic(USER, 'wrong') } })).status, 401);
  assert.is((await fetch(`${authed.url}/index.yaml`, { headers: { Authorization: basic(USER, PASSWORD) } })).status, 200);
  const noCreds = await h.helm(['repo', 'add', 'nocreds', authed.url]);
  assert.is.not(noCreds.code, 0);
  assert.match(noCreds.stderr, /401/);
  await h.helmRepoAdd('authed', authed.url, { username: USER, password: PASSWORD });
  const repos = await readFile(h.env.HELM_REPOSITORY_CONFIG!, 'utf8');
  assert.match(repos, `username: ${USER}`, 'repositories.yaml lives in the isolated home');
  const pulled = await h.helmPull('authed/app', { version: '1.2.3' });
  assert.ok((await readFile(pulled.tgz)).equals(await readFile(app.tgz)));
});

test('nginx tls: helm trusts the test CA only when told (caFile or insecureSkipTls)', async () => {
  await copyFile(app.tgz, join(secure.root, 'app-1.2.3.tgz'));
  await h.helmRepoIndex(secure.root, secure.url);
  assert.ok(secure.url.startsWith('https://') && secure.caFile);
  assert.is(await httpsStatus(`${secure.url}/index.yaml`, secure.caFile!), 200);
  const untrusted = await h.helm(['repo', 'add', 'untrusted', secure.url]);
  assert.is.not(untrusted.code, 0);
  assert.match(untrusted.stderr, /certificate/);
  await h.helmRepoAdd('secure', secure.url, { caFile: secure.caFile! });
  assert.ok((await readFile((await h.helmPull('secure/app', { version: '1.2.3' })).tgz)).equals(await readFile(app.tgz)));
  await h.helmRepoAdd('skip', secure.url, { insecureSkipTls: true });
  // helm 3.22 uses a repo's stored insecure_skip_tls_verify for its index only, not for the chart
  // download: `helm pull` needs the flag again (a stored ca_file, above, is used for both).
  const noFlag = await h.helm(['pull', 'skip/app', '--version', '1.2.3', '--destination', tmp]);
  assert.is.not(noFlag.code, 0);
  await h.helmPull('skip/app', { version: '1.2.3', insecureSkipTlsVerify: true });
});

test('signed chart: .prov from helm package --sign; helm verify and helm pull --verify', async () => {
  assert.ok(signed.prov, 'a .prov path');
  const prov = await readFile(signed.prov!, 'utf8');
  assert.match(prov, '-----BEGIN PGP SIGNED MESSAGE-----');
  assert.match(prov, `signed-0.1.0.tgz: sha256:${sha256(await readFile(signed.tgz))}`);
  const ok = await h.helmVerify(signed.tgz, keys.pubring);
  assert.is(ok.code, 0, ok.stderr);
  assert.match(ok.stdout + ok.stderr, 'Ferry Test');
  const wrong = await h.helmVerify(signed.tgz, otherKeys.pubring);
  assert.is.not(wrong.code, 0, 'another key does not verify it');

  await copyFile(signed.tgz, join(plain.root, 'signed-0.1.0.tgz'));
  await copyFile(signed.prov!, join(plain.root, 'signed-0.1.0.tgz.prov'));
  await h.helmRepoIndex(plain.root, plain.url);
  await h.helmRepoAdd('plainsigned', plain.url, { forceUpdate: true });
  const pulled = await h.helmPull('plainsigned/signed', { version: '0.1.0', verify: { keyring: keys.pubring } });
  assert.ok(pulled.prov, 'helm fetched the .prov next to the chart');
  assert.ok((await readFile(pulled.tgz)).equals(await readFile(signed.tgz)));
  const refused = await h.helm(['pull', 'plainsigned/signed', '--version', '0.1.0', '--verify', '--keyring', otherKeys.pubring, '--destination', join(tmp, 'refused')]);
  assert.is.not(refused.code, 0, '--verify with the wrong keyring fails');
  // An unsigned chart cannot pass --verify (no .prov on the server).
  const unsigned = await h.helm(['pull', 'plainsigned/app', '--version', '1.2.3', '--verify', '--keyring', keys.pubring, '--destination', join(tmp, 'unsigned')]);
  assert.is.not(unsigned.code, 0);
});

test('helm push to docker-registry, helm pull oci:// gives the same bytes (and the .prov layer)', async () => {
  const pushed = await h.helmPush(signed.tgz, `oci://${registry.host}/charts`, { plainHttp: true });
  assert.is(pushed.ref, `${registry.host}/charts/signed:0.1.0`);
  const mres = await fetch(`${registry.url}/v2/charts/signed/manifests/0.1.0`, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
  assert.is(mres.status, 200);
  const raw = Buffer.from(await mres.arrayBuffer());
  assert.is(`sha256:${sha256(raw)}`, pushed.digest);
  const manifest = JSON.parse(raw.toString()) as { config: { mediaType: string }; layers: { mediaType: string }[] };
  assert.is(manifest.config.mediaType, 'application/vnd.cncf.helm.config.v1+json');
  assert.equal(manifest.layers.map((l) => l.mediaType).sort(), [
    'application/vnd.cncf.helm.chart.content.v1.tar+gzip',
    'application/vnd.cncf.helm.chart.provenance.v1.prov',
  ]);
  const pulled = await h.helmPull(`oci://${registry.host}/charts/signed`, { version: '0.1.0', plainHttp: true });
  assert.ok((await readFile(pulled.tgz)).equals(await readFile(signed.tgz)));
  const verified = await h.helmPull(`oci://${registry.host}/charts/signed`, { version: '0.1.0', plainHttp: true, verify: { keyring: keys.pubring } });
  assert.ok(verified.prov);
  const none = await h.helm(['pull', `oci://${registry.host}/charts/signed`, '--version', '0.2.0', '--plain-http', '--destination', tmp]);
  assert.is.not(none.code, 0, 'a tag that is not there');
});

test('helm registry login + push/pull against htpasswd + TLS docker-registry', async () => {
  const oci = `oci://${securedRegistry.host}/charts`;
  const denied = await h.helm(['push', app.tgz, oci, '--ca-file', securedRegistry.caFile!]);
  assert.is.not(denied.code, 0, 'no login, no push');
  const other = await newHelm();
  try {
    await h.helmRegistryLogin(securedRegistry.host, USER, PASSWORD, { caFile: securedRegistry.caFile! });
    const cfg = JSON.parse(await readFile(h.env.HELM_REGISTRY_CONFIG!, 'utf8')) as { auths: Record<string, unknown> };
    assert.ok(cfg.auths[securedRegistry.host], 'credentials stored in the isolated registry config');
    await h.helmPush(app.tgz, oci, { caFile: securedRegistry.caFile! });
    const pulled = await h.helmPull(`${oci}/app`, { version: '1.2.3', caFile: securedRegistry.caFile! });
    assert.ok((await readFile(pulled.tgz)).equals(await readFile(app.tgz)));
    // Another helper does not see this one's login.
    const anon = await other.helm(['pull', `${oci}/app`, '--version', '1.2.3', '--ca-file', securedRegistry.caFile!, '--destination', tmp]);
    assert.is.not(anon.code, 0);
    const badLogin = await other.helm(['registry', 'login', securedRegistry.host, '--username', USER, '--password-stdin', '--ca-file', securedRegistry.caFile!], { input: 'wrong' });
    assert.is.not(badLogin.code, 0);
  } finally {
    await other.cleanup();
  }
});

test('artifactory recorder: auth, checksum mismatch refused, deploy, checksum deploy 404 then 201, reindex', async () => {
  const bytes = await readFile(app.tgz);
  const url = `${art.url}/helm-local/app/app-1.2.3.tgz`;
  const auth = { Authorization: basic(USER, PASSWORD) };
  art.requests.length = 0;

  assert.is((await fetch(url, { method: 'PUT', body: bytes })).status, 401);
  assert.is((await fetch(url, { method: 'PUT', body: bytes, headers: { Authorization: basic(USER, 'nope') } })).status, 401);
  assert.is((await fetch(url, { method: 'PUT', body: bytes, headers: { Authorization: 'Bearer wrong' } })).status, 401);

  const byChecksum = { ...auth, 'X-Checksum-Deploy': 'true', 'X-Checksum-Sha256': sha256(bytes), 'X-Checksum-Sha1': sha1(bytes) };
  assert.is((await fetch(url, { method: 'PUT', headers: byChecksum })).status, 404, 'unknown content: upload expected');

  const bad = await fetch(url, { method: 'PUT', body: bytes, headers: { ...auth, 'X-Checksum-Sha256': sha256(Buffer.from('other')) } });
  assert.is(bad.status, 409);
  assert.match(((await bad.json()) as { errors: { message: string }[] }).errors[0]!.message, 'rejected the artifact');
  assert.is(art.files.size, 0, 'nothing stored after a mismatch');
  const badSha1 = await fetch(url, { method: 'PUT', body: bytes, headers: { ...auth, 'X-Checksum-Sha1': sha1(Buffer.from('other')) } });
  assert.is(badSha1.status, 409);

  const good = await fetch(url, { method: 'PUT', body: bytes, headers: { ...auth, 'X-Checksum-Sha256': sha256(bytes), 'X-Checksum-Sha1': sha1(bytes) } });
  assert.is(good.status, 201);
  const created = (await good.json()) as { repo: string; path: string; downloadUri: string; checksums: { sha1: string; sha256: string; md5: string } };
  assert.is(created.repo, 'helm-local');
  assert.is(created.path, '/app/app-1.2.3.tgz');
  assert.is(created.downloadUri, url);
  assert.equal(created.checksums, { sha1: sha1(bytes), md5: createHash('md5').update(bytes).digest('hex'), sha256: sha256(bytes) });
  const got = await fetch(url, { headers: auth });
  assert.is(got.status, 200);
  assert.ok(Buffer.from(await got.arrayBuffer()).equals(bytes));
  assert.is((await fetch(url, { method: 'HEAD', headers: auth })).status, 200);
  assert.is((await fetch(`${art.url}/helm-local/absent.tgz`, { headers: auth })).status, 404);

  // The same content at another path (another repo, a bearer token): no body needed now.
  const copy = `${art.url}/helm-other/app-1.2.3.tgz`;
  const dedup = await fetch(copy, { method: 'PUT', headers: { ...byChecksum, Authorization: `Bearer ${TOKEN}` } });
  assert.is(dedup.status, 201);
  assert.ok(Buffer.from(await (await fetch(copy, { headers: auth })).arrayBuffer()).equals(bytes));

  const reindex = await fetch(`${art.url}/api/helm/helm-local/reindex`, { method: 'POST', headers: auth });
  assert.is(reindex.status, 200);
  assert.equal(art.reindexed, ['helm-local']);

  // The record: order, statuses, headers, and no secret.
  const puts = art.requests.filter((r) => r.method === 'PUT');
  assert.equal(puts.map((r) => r.status), [401, 401, 401, 404, 409, 409, 201, 201]);
  assert.is(puts[3]!.headers['x-checksum-deploy'], 'true');
  assert.is(puts[3]!.bodyBytes, 0);
  assert.is(puts[6]!.bodyBytes, bytes.length);
  const firstChecksumDeploy = art.requests.findIndex((r) => r.headers['x-checksum-deploy'] === 'true');
  const firstUpload = art.requests.findIndex((r) => r.method === 'PUT' && r.status === 201);
  assert.ok(firstChecksumDeploy < firstUpload, 'checksum deploy came before the body upload');
  for (const r of art.requests) {
    const a = r.headers.authorization;
    assert.ok(a === undefined || a === 'Basic' || a === 'Bearer', `authorization recorded as scheme only: ${a}`);
  }
  assert.not.match(JSON.stringify(art.requests), PASSWORD);
  assert.not.match(JSON.stringify(art.requests), TOKEN);
});

test('artifactory noOverwrite: a second PUT to a path is 409', async () => {
  const a = await startArtifactory({ noOverwrite: true });
  try {
    const url = `${a.url}/generic/x.bin`;
    assert.is((await fetch(url, { method: 'PUT', body: 'one' })).status, 201, 'anonymous deploy without auth options');
    assert.is((await fetch(url, { method: 'PUT', body: 'two' })).status, 409);
    assert.is(a.files.get('generic/x.bin')!.bytes.toString(), 'one');
  } finally {
    await a.stop();
  }
});

test('stop(): nginx process gone and its dir removed', async () => {
  const n = await startNginx();
  const { pid, dir } = n;
  assert.is((await fetch(`${n.url}/`)).status, 200);
  await n.stop();
  let alive = true;
  try { process.kill(pid, 0); } catch { alive = false; }
  assert.is(alive, false, `nginx ${pid} exited`);
  let gone = false;
  try { await stat(dir); } catch { gone = true; }
  assert.ok(gone, 'temp dir removed');
  let err: unknown;
  try { await fetch(`${n.url}/`, { signal: AbortSignal.timeout(2000) }); } catch (e) { err = e; }
  assert.ok(err, 'nothing listens any more');
});

test.run();
