// Corporate proxies on the connected side: `ferry-bundle create` from a real docker-registry
// (plain HTTP, and htpasswd + TLS) and a chart from nginx, through a CONNECT + forwarding proxy
// (test/harness/connect-proxy.ts) named by HTTPS_PROXY / HTTP_PROXY (and the lower-case forms).
// The proxy must see the traffic; NO_PROXY must bypass it; proxy auth must work; the registry
// password must never reach the proxy readable (for TLS it sees only CONNECT lines); TLS to
// the registry is still verified inside the tunnel.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeOciLayout } from '../helpers/images.js';
import { bundleCli, loadCli, sh } from '../helpers/cli.js';
import { startRegistry, type StartedRegistry } from '../harness/registry.js';
import { startNginx, type StartedNginx } from '../harness/nginx.js';
import { startConnectProxy, type ConnectProxy } from '../harness/connect-proxy.js';
import { seedLayout } from '../harness/seed.js';

const USER = 'ferry-bot';
const PASSWORD = 'Reg1stry-Pa55word-proxy';
const PROXY_USER = 'corp-user';
const PROXY_PASSWORD = 'Pr0xy-Pa55word-3128';
const PW = 'correct horse';

let tmp = '';
let home = '';
let plain: StartedRegistry;
let secure: StartedRegistry;
let charts: StartedNginx;
let open: ConnectProxy;
let authed: ConnectProxy;
let chartDigest = '';
let imageDigest = '';

const PROXY_VARS = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy'];

/** No ambient credentials or proxies from the host; then the given proxy variables. */
function env(extra: Record<string, string> = {}): Record<string, string | undefined> {
  const clean: Record<string, string | undefined> = {
    FERRY_KEY_PASSWORD: PW, HOME: home, REGISTRY_AUTH_FILE: undefined, XDG_RUNTIME_DIR: undefined, XDG_CONFIG_HOME: undefined,
    DOCKER_CONFIG: undefined, FERRY_REGISTRY_CREDS: undefined, FERRY_CHART_CREDS: undefined, SSL_CERT_FILE: undefined, NODE_EXTRA_CA_CERTS: undefined,
  };
  for (const v of PROXY_VARS) clean[v] = undefined;
  return { ...clean, ...extra };
}

async function create(name: string, args: string[], extraEnv: Record<string, string>) {
  const r = await bundleCli(['create', '--name', name, '--out', join(tmp, name), '--key', join(tmp, 'signer.key'), '--volume-size', '10MiB', '--json', ...args], { env: env(extraEnv) });
  return { ...r, out: join(tmp, name) };
}

async function verify(name: string): Promise<void> {
  const v = await loadCli(['verify', join(tmp, name), '--trusted-key', join(tmp, 'signer.pub')], { env: env() });
  assert.is(v.code, 0, `${name}: ${v.stdout}${v.stderr}`);
  assert.match(v.stdout, /RESULT: OK/);
}

async function manifestOf(name: string): Promise<{ images: Array<{ digest: string }>; charts?: Array<{ digest: string }> }> {
  return JSON.parse(await readFile(join(tmp, name, `${name}.manifest.json`), 'utf8')) as { images: Array<{ digest: string }> };
}

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

/** Every way the registry password could show up in what the proxy received. */
function assertNoRegistrySecret(p: ConnectProxy): void {
  const seen = p.received();
  for (const s of [PASSWORD, Buffer.from(`${USER}:${PASSWORD}`).toString('base64')]) {
    assert.is(seen.indexOf(Buffer.from(s, 'latin1')), -1, `the proxy received ${s === PASSWORD ? 'the registry password' : 'the registry Basic credentials'}`);
  }
  for (const r of p.seen) {
    assert.not.ok(String(r.headers['proxy-authorization'] ?? '').includes(Buffer.from(`${USER}:`).toString('base64').slice(0, 8)), 'registry credentials never go in Proxy-Authorization');
  }
}

test.before(async () => {
  try {
    tmp = await mkdtemp(join(tmpdir(), 'ferry-e2e-proxy-'));
    home = join(tmp, 'home');
    await mkdir(home);
    await chmod(tmp, 0o755);
    const layout = join(tmp, 'layout');
    const [img] = await makeOciLayout(layout, [{ tag: 'app', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 150_000, seed: 'proxy-app', gzipLevel: 0 }] }] }]);
    imageDigest = img!.root.digest;
    const k = await bundleCli(['keygen', '--out', join(tmp, 'signer')], { env: { FERRY_KEY_PASSWORD: PW } });
    assert.is(k.code, 0, k.stderr);
    [plain, secure, charts, open, authed] = await Promise.all([
      startRegistry(), startRegistry({ tls: true, auth: { user: USER, password: PASSWORD } }), startNginx(),
      startConnectProxy(), startConnectProxy({ auth: { user: PROXY_USER, password: PROXY_PASSWORD } }),
    ]);
    await seedLayout(plain, layout, 'app', 'ns/app:v1');
    await seedLayout(secure, layout, 'app', 'secure/app:v1', `${USER}:${PASSWORD}`);

    // A classic chart repository: one chart archive and its index.yaml.
    const src = join(tmp, 'chart-src', 'web');
    await mkdir(join(src, 'templates'), { recursive: true });
    await writeFile(join(src, 'Chart.yaml'), 'apiVersion: v2\nname: web\nversion: 1.0.0\nappVersion: "1.0"\n');
    await writeFile(join(src, 'values.yaml'), 'replicas: 1\n');
    await writeFile(join(src, 'templates', 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n');
    const t = await sh(`tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C ${join(tmp, 'chart-src')} -czf ${join(charts.root, 'web-1.0.0.tgz')} web`);
    assert.is(t.code, 0, t.stderr);
    const tgz = await readFile(join(charts.root, 'web-1.0.0.tgz'));
    chartDigest = createHash('sha256').update(tgz).digest('hex');
    await writeFile(join(charts.root, 'index.yaml'), ['apiVersion: v1', 'entries:', '  web:', '  - apiVersion: v2', '    name: web', '    version: 1.0.0', `    digest: ${chartDigest}`, '    urls: [web-1.0.0.tgz]', ''].join('\n'));
    await sh(`chmod -R a+rX ${charts.root}`);
  } catch (e) {
    console.error('setup failed:', e);
    throw e;
  }
});

test.after(async () => {
  await Promise.all([plain?.stop(), secure?.stop(), charts?.stop(), open?.stop(), authed?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

test('plain-HTTP registry through HTTP_PROXY: absolute-URI requests to the proxy, the bundle verifies', async () => {
  open.reset();
  const r = await create('plain', ['--image', `${plain.host}/ns/app:v1`, '--insecure-registry', plain.host], { HTTP_PROXY: open.url, HTTPS_PROXY: open.url });
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.is((await manifestOf('plain')).images[0]!.digest, imageDigest);
  const lines = open.forwarded().map((x) => x.line);
  assert.ok(lines.some((l) => l === `GET http://${plain.host}/v2/`), lines.join('\n'));
  assert.ok(lines.some((l) => new RegExp(`^GET http://${plain.host}/v2/ns/app/blobs/sha256:`).test(l)), 'blobs came through the proxy');
  assert.ok(lines.some((l) => new RegExp(`^GET http://${plain.host}/v2/ns/app/manifests/v1$`).test(l)), 'the manifest came through the proxy');
  await verify('plain');
});

test('TLS + htpasswd registry through HTTPS_PROXY: only CONNECT lines, never the registry password; TLS still verified', async () => {
  open.reset();
  const ref = `${secure.host}/secure/app:v1`;
  const r = await create('tls', ['--image', ref, '--ca-file', secure.caFile!, '--creds', `${USER}:${PASSWORD}`], { https_proxy: open.url });
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.is((await manifestOf('tls')).images[0]!.digest, imageDigest);
  assert.ok(open.connects().length >= 1, 'the registry was reached through a tunnel');
  assert.equal([...new Set(open.seen.map((x) => x.line))], [`CONNECT ${secure.host}`], 'the proxy saw nothing but CONNECT to the registry');
  assertNoRegistrySecret(open);
  await verify('tls');

  // Verification stays on inside the tunnel: without the CA the certificate is refused.
  open.reset();
  const noCa = await create('tls-noca', ['--image', ref, '--creds', `${USER}:${PASSWORD}`], { HTTPS_PROXY: open.url });
  assert.is(noCa.code, 13, noCa.stdout + noCa.stderr);
  assert.match(noCa.stdout + noCa.stderr, /REGISTRY_TLS/);
  assert.ok(open.connects().length >= 1, 'it did go through the proxy');
  assertNoRegistrySecret(open);
});

test('NO_PROXY bypasses the proxy: host, host:port, and *', async () => {
  for (const [i, np] of ['127.0.0.1', plain.host, '*', `localhost, .example.com ${plain.host}`].entries()) {
    open.reset();
    const r = await create(`noproxy${i}`, ['--image', `${plain.host}/ns/app:v1`, '--insecure-registry', plain.host], { HTTP_PROXY: open.url, HTTPS_PROXY: open.url, ...(i % 2 ? { no_proxy: np } : { NO_PROXY: np }) });
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.is(open.seen.length, 0, `NO_PROXY=${np}: the proxy saw ${open.seen.map((x) => x.line).join(', ')}`);
  }
  // An entry for another port does not bypass it.
  open.reset();
  const other = await create('noproxy-port', ['--image', `${plain.host}/ns/app:v1`, '--insecure-registry', plain.host], { HTTP_PROXY: open.url, HTTPS_PROXY: open.url, NO_PROXY: '127.0.0.1:1' });
  assert.is(other.code, 0, other.stdout + other.stderr);
  assert.ok(open.seen.length > 0, 'a NO_PROXY entry for another port does not match');
});

test('proxy auth: user:password in the proxy URL goes to the proxy only; without it, a clear 407 error and no secret printed', async () => {
  authed.reset();
  const proxyUrl = `http://${PROXY_USER}:${PROXY_PASSWORD}@127.0.0.1:${authed.port}`;
  const ref = `${secure.host}/secure/app:v1`;
  const r = await create('pauth', ['--image', ref, '--ca-file', secure.caFile!, '--creds', `${USER}:${PASSWORD}`], { HTTPS_PROXY: proxyUrl });
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.ok(authed.connects().length >= 1);
  for (const c of authed.connects()) assert.is(c.headers['proxy-authorization'], basic(PROXY_USER, PROXY_PASSWORD));
  assertNoRegistrySecret(authed);
  assert.not.ok((r.stdout + r.stderr).includes(PROXY_PASSWORD), 'the proxy password is never printed');
  await verify('pauth');

  // The plain registry through the same proxy: Proxy-Authorization on the forwarded requests.
  authed.reset();
  const fwd = await create('pauth-plain', ['--image', `${plain.host}/ns/app:v1`, '--insecure-registry', plain.host], { HTTP_PROXY: proxyUrl, HTTPS_PROXY: proxyUrl });
  assert.is(fwd.code, 0, fwd.stdout + fwd.stderr);
  assert.ok(authed.forwarded().length > 0);
  for (const f of authed.forwarded()) assert.is(f.headers['proxy-authorization'], basic(PROXY_USER, PROXY_PASSWORD));

  for (const [name, url] of [['pauth-none', `http://127.0.0.1:${authed.port}`], ['pauth-wrong', `http://${PROXY_USER}:Wrong-Pr0xy-pw@127.0.0.1:${authed.port}`]] as const) {
    authed.reset();
    const bad = await create(name, ['--image', ref, '--ca-file', secure.caFile!, '--creds', `${USER}:${PASSWORD}`], { HTTPS_PROXY: url });
    assert.is(bad.code, 13, bad.stdout + bad.stderr);
    const text = bad.stdout + bad.stderr;
    assert.match(text, /407/);
    assert.match(text, new RegExp(`proxy 127\\.0\\.0\\.1:${authed.port}`));
    assert.not.ok(text.includes('Wrong-Pr0xy-pw') || text.includes(PASSWORD), 'no secret in the error');
    assert.ok(authed.refused >= 1);
    assertNoRegistrySecret(authed);
  }
});

test('a chart from nginx through http_proxy: index and archive fetched through the proxy', async () => {
  open.reset();
  const r = await create('chart', ['--chart', `${charts.url}/web@1.0.0`], { http_proxy: open.url });
  assert.is(r.code, 0, r.stdout + r.stderr);
  const m = await manifestOf('chart');
  assert.is(m.charts?.[0]?.digest, `sha256:${chartDigest}`);
  const lines = open.forwarded().map((x) => x.line);
  assert.ok(lines.includes(`GET ${charts.url}/index.yaml`), lines.join('\n'));
  assert.ok(lines.includes(`GET ${charts.url}/web-1.0.0.tgz`), lines.join('\n'));
  await verify('chart');
  // And bypassed with NO_PROXY.
  open.reset();
  const direct = await create('chart-direct', ['--chart', `${charts.url}/web@1.0.0`], { http_proxy: open.url, NO_PROXY: '127.0.0.1' });
  assert.is(direct.code, 0, direct.stdout + direct.stderr);
  assert.is(open.seen.length, 0);
});

test.run();
