// The classic-repository source against the real nginx serving charts packaged and indexed by
// the real helm (v3.22.0): relative URLs (`helm repo index` without --url) and absolute ones
// (with --url), a semver range, a chart whose bytes no longer match the index refused, a .prov
// made by `helm package --sign`, Basic auth (also from a repositories.yaml written by `helm repo
// add`), and TLS with the CA file. What Ferry fetched is byte for byte what `helm pull` gets.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { startNginx, type StartedNginx } from '../../../test/harness/nginx.js';
import { makeChart, makeSigningKeyring, newHelm, type HelmClient, type PackagedChart } from '../../../test/harness/helm.js';
import { fetchHttpChart } from '../src/http-repo-source.js';
import { chartHttpOptionsFor, findRepositoryByName, readHelmRepositories } from '../src/helm-repositories.js';
import { ferryError } from './fixtures.js';

const USER = 'reader';
const PASSWORD = 'Nginx-Chart-pw-9';
const SECRETS = [PASSWORD, Buffer.from(`${USER}:${PASSWORD}`).toString('base64')];
const fast = { attempts: 1 };

let tmp = '';
let h: HelmClient;
let rel: StartedNginx;
let abs: StartedNginx;
let authed: StartedNginx;
let secure: StartedNginx;
const pkgs: Record<string, PackagedChart> = {};

async function publish(n: StartedNginx, sub: string, charts: PackagedChart[], url?: string): Promise<void> {
  const dir = join(n.root, sub);
  await mkdir(dir, { recursive: true });
  for (const c of charts) {
    await copyFile(c.tgz, join(dir, basename(c.tgz)));
    if (c.prov) await copyFile(c.prov, join(dir, basename(c.prov)));
  }
  await h.helmRepoIndex(dir, url ?? '');
}

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-http-nginx-'));
  const keys = await makeSigningKeyring();
  [h, rel, abs, authed, secure] = await Promise.all([
    newHelm(), startNginx(), startNginx(), startNginx({ basicAuth: { user: USER, password: PASSWORD } }), startNginx({ tls: true }),
  ]);
  for (const v of ['1.0.0', '1.4.0', '1.4.7', '2.0.0-beta.1']) {
    await makeChart(join(tmp, 'src', `core-${v}`), { name: 'core', version: v });
    pkgs[`core-${v}`] = await h.helmPackage(join(tmp, 'src', `core-${v}`), join(tmp, 'pkg'));
  }
  await makeChart(join(tmp, 'src', 'signed'), { name: 'signed', version: '0.3.0' });
  pkgs.signed = await h.helmPackage(join(tmp, 'src', 'signed'), join(tmp, 'pkg'), { sign: { key: keys.name, keyring: keys.secring } });
  const all = Object.values(pkgs);
  // `helm repo index DIR` with an empty --url: relative URLs; with --url: absolute.
  await publish(rel, 'stable/charts', all);
  await publish(abs, 'repo', all, `${abs.url}/repo`);
  await publish(authed, 'private', all, `${authed.url}/private`);
  await publish(secure, 'tls', all);
});

test.after(async () => {
  await Promise.all([rel?.stop(), abs?.stop(), authed?.stop(), secure?.stop(), h?.cleanup()]);
  await rm(tmp, { recursive: true, force: true });
});

test('relative URLs from helm repo index: the same bytes helm pull gets, created from the index', async () => {
  assert.match(await readFile(join(rel.root, 'stable/charts/index.yaml'), 'utf8'), /- core-1\.4\.7\.tgz/);
  assert.match(await readFile(join(abs.root, 'repo/index.yaml'), 'utf8'), new RegExp(`- ${abs.url}/repo/core-1\\.4\\.7\\.tgz`));
  const c = await fetchHttpChart({ repo: `${rel.url}/stable/charts`, name: 'core', version: '1.4.7' }, fast);
  assert.ok(c.archive.equals(await readFile(pkgs['core-1.4.7']!.tgz)));
  const pulled = await h.helmPull('core', { repo: `${rel.url}/stable/charts`, version: '1.4.7' });
  assert.ok(c.archive.equals(await readFile(pulled.tgz)));
  assert.match(c.created ?? '', /^\d{4}-\d\d-\d\dT/);
  assert.is(c.provenance, undefined);
  assert.equal(c.notes, []);
});

test('absolute URLs (helm repo index --url) and a range: ^1.0.0 picks 1.4.7, the beta only when asked', async () => {
  const r = await fetchHttpChart({ repo: `${abs.url}/repo/`, name: 'core', version: '^1.0.0' }, fast);
  assert.ok(r.archive.equals(await readFile(pkgs['core-1.4.7']!.tgz)));
  const t = await fetchHttpChart({ repo: `${abs.url}/repo`, name: 'core', version: '~1.4.0' }, fast);
  assert.ok(t.archive.equals(await readFile(pkgs['core-1.4.7']!.tgz)));
  const latest = await fetchHttpChart({ repo: `${abs.url}/repo`, name: 'core' }, fast);
  assert.ok(latest.archive.equals(await readFile(pkgs['core-1.4.7']!.tgz)));
  const beta = await fetchHttpChart({ repo: `${abs.url}/repo`, name: 'core', version: '>=2.0.0-0' }, fast);
  assert.ok(beta.archive.equals(await readFile(pkgs['core-2.0.0-beta.1']!.tgz)));
  // helm agrees on the range.
  const pulled = await h.helmPull('core', { repo: `${abs.url}/repo`, version: '^1.0.0' });
  assert.ok(r.archive.equals(await readFile(pulled.tgz)));
});

test('the .prov made by helm package --sign comes along', async () => {
  const c = await fetchHttpChart({ repo: `${rel.url}/stable/charts`, name: 'signed', version: '0.3.0' }, fast);
  assert.ok(c.provenance!.equals(await readFile(pkgs.signed!.prov!)));
  assert.match(c.provenance!.toString(), /BEGIN PGP SIGNED MESSAGE/);
});

test('a chart replaced after indexing: BLOB_MISMATCH naming the URL and both digests', async () => {
  const dir = join(rel.root, 'tampered');
  await publish(rel, 'tampered', [pkgs['core-1.0.0']!]);
  await copyFile(pkgs['core-1.4.0']!.tgz, join(dir, 'core-1.0.0.tgz'));
  const e = await ferryError(fetchHttpChart({ repo: `${rel.url}/tampered`, name: 'core', version: '1.0.0' }, fast), 'BLOB_MISMATCH');
  assert.match(e.message, `${rel.url}/tampered/core-1.0.0.tgz`);
  const sha = async (p: string) => (await import('node:crypto')).createHash('sha256').update(await readFile(p)).digest('hex');
  assert.match(e.message, `sha256:${await sha(pkgs['core-1.0.0']!.tgz)}`);
  assert.match(e.message, `sha256:${await sha(pkgs['core-1.4.0']!.tgz)}`);
});

test('Basic auth: refused without credentials, fetched with --creds and with the repositories.yaml helm repo add wrote', async () => {
  const e = await ferryError(fetchHttpChart({ repo: `${authed.url}/private`, name: 'core', version: '1.0.0' }, fast), 'REGISTRY_AUTH');
  assert.match(e.message, 'no credentials were given');
  const bad = await ferryError(fetchHttpChart({ repo: `${authed.url}/private`, name: 'core', version: '1.0.0' }, { creds: `${USER}:x${PASSWORD}`, ...fast }), 'REGISTRY_AUTH', [...SECRETS, `x${PASSWORD}`]);
  assert.match(bad.message, 'rejected the credentials');
  const c = await fetchHttpChart({ repo: `${authed.url}/private`, name: 'core', version: '1.4.0' }, { creds: `${USER}:${PASSWORD}`, ...fast });
  assert.ok(c.archive.equals(await readFile(pkgs['core-1.4.0']!.tgz)));
  await h.helmRepoAdd('private', `${authed.url}/private`, { username: USER, password: PASSWORD });
  const repos = await readHelmRepositories(h.env.HELM_REPOSITORY_CONFIG);
  const entry = findRepositoryByName(repos, 'private')!;
  const viaFile = await fetchHttpChart({ repo: entry.url, name: 'core', version: '1.0.0' }, chartHttpOptionsFor(entry, fast, repos.file));
  assert.ok(viaFile.archive.equals(await readFile(pkgs['core-1.0.0']!.tgz)));
});

test('TLS: the CA file is trusted; without it REGISTRY_TLS; insecure_skip_tls_verify works', async () => {
  const c = await fetchHttpChart({ repo: `${secure.url}/tls`, name: 'core', version: '1.0.0' }, { caFile: secure.caFile!, ...fast });
  assert.ok(c.archive.equals(await readFile(pkgs['core-1.0.0']!.tgz)));
  await ferryError(fetchHttpChart({ repo: `${secure.url}/tls`, name: 'core', version: '1.0.0' }, fast), 'REGISTRY_TLS');
  const k = await fetchHttpChart({ repo: `${secure.url}/tls`, name: 'core', version: '1.0.0' }, { insecureSkipTlsVerify: true, ...fast });
  assert.ok(k.archive.equals(c.archive));
});

test('an index with no apiVersion is refused as helm refuses it', async () => {
  const dir = join(rel.root, 'noapi');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'index.yaml'), 'entries: {}\n');
  const e = await ferryError(fetchHttpChart({ repo: `${rel.url}/noapi`, name: 'core' }, fast), 'CHART_REPO_ERROR');
  assert.match(e.message, 'no API version');
  const r = await h.helm(['pull', 'core', '--repo', `${rel.url}/noapi`, '-d', tmp]);
  assert.is.not(r.code, 0);
  assert.match(r.stderr, /no API version/);
});

test.run();
