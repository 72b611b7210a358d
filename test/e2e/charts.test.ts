// Helm charts end to end, proven with the real helm v3.22 (built by scripts/test-tools.sh):
// a source repository made by `helm package` + `helm repo index` and served by nginx (a semver
// range, a signed chart with .prov, a +build version, a chart with a dependency it does not
// vendor and an image in its values), an OCI chart pushed by `helm push` into docker-registry;
// one bundle carries them all; `ferry-load push` publishes them to a static repository (served by
// nginx again, `helm repo add` + `helm pull` + `helm template`), to a second docker-registry as
// Helm OCI artifacts (`helm pull oci://`, the same digest as on the low side), and to the
// Artifactory recording server (the one stand-in: Artifactory has no package here). Then: a
// second push writes nothing, a different chart under the same version is refused before
// anything is written (and replaced with --force), a wrong index digest, a hostile archive and a
// chart that lies about its name are refused when bundling, and `ferry-load check --charts`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmod, cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import * as tar from 'tar-stream';
import { gzipSync } from 'node:zlib';
import { bundleCli, loadCli, sh } from '../helpers/cli.js';
import { makeOciLayout } from '../helpers/images.js';
import { startRegistry, type StartedRegistry } from '../harness/registry.js';
import { startNginx, type StartedNginx } from '../harness/nginx.js';
import { makeChart, makeSigningKeyring, newHelm, type HelmClient } from '../harness/helm.js';
import { startArtifactory, type StartedArtifactory } from '../harness/artifactory.js';
import { startChartmuseum } from '../harness/chartmuseum.js';
import { seedLayout } from '../harness/seed.js';
import { craneDigest } from '../harness/cosign.js';
import { resignBundle } from '../helpers/tamper.js';
import { reportValidator } from '../helpers/report-schemas.js';

const reportSchema = reportValidator('push-report');
/** A push report, checked against schemas/push-report.schema.json first. */
function report(stdout: string): Report {
  const doc = JSON.parse(stdout) as Report;
  assert.ok(reportSchema(doc), `the report matches the schema: ${JSON.stringify(reportSchema.errors)}`);
  return doc;
}

let tmp = '';
let home = '';
let helm: HelmClient;
let repo: StartedNginx; // the low side's chart repository
let src: StartedRegistry; // the low side's OCI registry (an OCI chart, an image a chart names)
let dst: StartedRegistry; // the high side's registry for oci:// charts
let art: StartedArtifactory;
let pubring = '';
const tgz = new Map<string, Buffer>(); // name-version -> the bytes helm packaged
let ociChartDigest = '';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function env(extra: Record<string, string> = {}): Record<string, string | undefined> {
  return { HOME: home, REGISTRY_AUTH_FILE: undefined, DOCKER_CONFIG: undefined, XDG_CONFIG_HOME: undefined, FERRY_REGISTRY_CREDS: undefined, FERRY_CHART_CREDS: undefined, HELM_REPOSITORY_CONFIG: undefined, ...extra };
}

interface Report {
  charts: Array<{ chart: string; destination: string; location: string; status: string; reason?: string }>;
  complete: boolean;
  check?: { ok: boolean; items: unknown[] };
  error?: { code: string; message: string };
}

async function pkg(name: string, version: string, extra: Parameters<typeof makeChart>[1] extends infer S ? Partial<S> : never = {}, sign?: { key: string; keyring: string }): Promise<void> {
  const dir = await makeChart(join(tmp, 'src', `${name}-${version}`), { name, version, appVersion: '1.0', ...extra });
  const out = join(repo.root, 'charts');
  const p = await helm.helmPackage(dir, out, sign ? { sign } : {});
  tgz.set(`${name}-${version}`, await readFile(p.tgz));
}

// uvu reports a failing before() only as failed tests; print why.
test.before(async () => {
  try {
    await setup();
  } catch (e) {
    console.error('setup failed:', e);
    throw e;
  }
});
async function setup(): Promise<void> {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-e2e-charts-'));
  home = join(tmp, 'home');
  await mkdir(home);
  await chmod(tmp, 0o755);
  helm = await newHelm();
  repo = await startNginx();
  [src, dst, art] = await Promise.all([startRegistry(), startRegistry(), startArtifactory()]);
  const k = await bundleCli(['keygen', '--no-password', '--out', join(tmp, 'signer')], { env: env() });
  assert.is(k.code, 0, k.stderr);

  // An image one chart names in its values, in the source registry.
  const layout = join(tmp, 'layout');
  await makeOciLayout(layout, [{ tag: 'app', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 40_000, seed: 'charts-app' }] }] }]);
  await seedLayout(src, layout, 'app', 'demo/app:1');

  await mkdir(join(repo.root, 'charts'), { recursive: true });
  for (const v of ['1.0.0', '1.1.0', '2.0.0-rc.1']) await pkg('web', v);
  await pkg('build', '1.0.0+build.5');
  await pkg('redis-lite', '2.0.0');
  // helm package refuses a chart whose dependency is not vendored; such archives are published
  // all the same (made with tar), and --chart-dependencies fetches what they lack.
  const appDir = await makeChart(join(tmp, 'src', 'app'), {
    name: 'app', version: '0.1.0', appVersion: '1.0',
    values: ['image:', `  repository: ${src.host}/demo/app`, '  tag: "1"', ''].join('\n'),
    dependencies: [{ name: 'redis-lite', version: '^2.0.0', repository: `${repo.url}/charts` }],
  });
  const t = await sh(`tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C ${join(tmp, 'src')} --transform 's,^app,app,' -czf ${join(repo.root, 'charts', 'app-0.1.0.tgz')} app`);
  assert.is(t.code, 0, t.stderr);
  assert.ok(appDir);
  tgz.set('app-0.1.0', await readFile(join(repo.root, 'charts', 'app-0.1.0.tgz')));
  const ring = await makeSigningKeyring();
  pubring = ring.pubring;
  await pkg('signed', '0.3.0', {}, { key: ring.name, keyring: ring.secring });
  await helm.helmRepoIndex(join(repo.root, 'charts'), `${repo.url}/charts`);
  await sh(`chmod -R a+rX ${repo.root}`);

  // The same source, with one index digest wrong.
  await mkdir(join(repo.root, 'bad'));
  await cp(join(repo.root, 'charts', 'web-1.0.0.tgz'), join(repo.root, 'bad', 'web-1.0.0.tgz'));
  const idx = parseYaml(await readFile(join(repo.root, 'charts', 'index.yaml'), 'utf8')) as { entries: Record<string, Array<{ version: string; digest: string; urls: string[] }>> };
  const entry = idx.entries.web!.find((e) => e.version === '1.0.0')!;
  await writeFile(join(repo.root, 'bad', 'index.yaml'), ['apiVersion: v1', 'entries:', '  web:', '  - apiVersion: v2', '    name: web', '    version: 1.0.0', `    digest: ${'f'.repeat(64)}`, '    urls:', `    - ${repo.url}/bad/web-1.0.0.tgz`, ''].join('\n'));
  assert.ok(entry.digest);
  await sh(`chmod -R a+rX ${repo.root}`);

  // An OCI chart, pushed by the real helm.
  const ociDir = await makeChart(join(tmp, 'src', 'ocichart'), { name: 'ocichart', version: '0.2.0' });
  const ociTgz = (await helm.helmPackage(ociDir, join(tmp, 'oci-pkg'))).tgz;
  tgz.set('ocichart-0.2.0', await readFile(ociTgz));
  ociChartDigest = (await helm.helmPush(ociTgz, `oci://${src.host}/charts`, { plainHttp: true })).digest;
}

test.after(async () => {
  await Promise.all([repo?.stop(), src?.stop(), dst?.stop(), art?.stop(), helm?.cleanup()]);
  await rm(tmp, { recursive: true, force: true });
});

const CHARTS = () => [
  '--chart', `${repo.url}/charts/web@^1.0.0`,
  '--chart', `${repo.url}/charts/signed@0.3.0`,
  '--chart', `${repo.url}/charts/build@1.0.0+build.5`,
  '--chart', `${repo.url}/charts/app@0.1.0`,
  '--chart', `oci://${src.host}/charts/ocichart:0.2.0`,
];

async function bundle(name: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string; dir: string }> {
  const out = join(tmp, 'bundles', name);
  const r = await bundleCli(['create', '--name', name, '--out', out, '--key', join(tmp, 'signer.key'), '--insecure-registry', src.host, '--json', ...args], { env: env() });
  return { ...r, dir: out };
}

interface ManifestChart { name: string; version: string; digest: string; provenance?: { digest: string }; requiredBy?: string[]; images?: Array<{ reference: string; file: string }>; manifest: { digest: string } }
let main: { dir: string; charts: ManifestChart[] } | undefined;

test('ferry-bundle carries charts from an HTTP repository (a range, .prov, +build, a dependency, an image it names) and from OCI', async () => {
  const r = await bundle('charts', [...CHARTS(), '--chart-dependencies', '--chart-images']);
  assert.is(r.code, 0, r.stderr + r.stdout);
  const m = JSON.parse(await readFile(join(r.dir, 'charts.manifest.json'), 'utf8')) as { schemaVersion: number; charts: ManifestChart[]; images: Array<{ repository: string; tag?: string }> };
  assert.is(m.schemaVersion, 2);
  const byName = new Map(m.charts.map((c) => [c.name, c]));
  assert.is(byName.get('web')!.version, '1.1.0', 'the newest version in ^1.0.0, not 2.0.0-rc.1');
  assert.is(byName.get('build')!.version, '1.0.0+build.5');
  for (const [n, v] of [['web', '1.1.0'], ['signed', '0.3.0'], ['build', '1.0.0+build.5'], ['app', '0.1.0'], ['redis-lite', '2.0.0'], ['ocichart', '0.2.0']] as const) {
    assert.is(byName.get(n)?.digest, `sha256:${sha(tgz.get(`${n}-${v}`)!)}`, `${n} is carried with the exact bytes helm packaged`);
  }
  assert.ok(byName.get('signed')!.provenance, 'the .prov is carried');
  assert.not.ok(byName.get('web')!.provenance);
  assert.equal(byName.get('redis-lite')!.requiredBy, ['app@0.1.0']);
  assert.ok(byName.get('app')!.images?.some((i) => i.reference === `${src.host}/demo/app:1` && i.file === 'values.yaml'), JSON.stringify(byName.get('app')!.images));
  assert.ok(m.images.some((i) => i.repository === 'demo/app' && i.tag === '1'), 'the image the chart names is carried');
  assert.is(byName.get('ocichart')!.manifest.digest, ociChartDigest, 'an OCI chart keeps its manifest digest');
  main = { dir: r.dir, charts: m.charts };

  // Plain tools see the charts in the volumes' OCI layout.
  const x = join(tmp, 'extracted');
  await mkdir(x);
  const ex = await sh(`for v in ${r.dir}/charts-*.tar.zst; do zstd -dc "$v" | tar -x -C ${x}; done`);
  assert.is(ex.code, 0, ex.stderr);
  const index = JSON.parse(await readFile(join(x, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations: Record<string, string> }> };
  const named = index.manifests.find((d) => d.annotations['org.opencontainers.image.ref.name'] === 'charts/build:1.0.0_build.5');
  assert.ok(named, 'a chart is named charts/NAME:TAG, + as _');

  // inspect shows each chart and the helm commands for a destination.
  const i = await loadCli(['inspect', r.dir, '--trusted-key', join(tmp, 'signer.pub'), '--charts', `oci://${dst.host}/charts`]);
  assert.is(i.code, 0, i.stderr);
  assert.match(i.stdout, /Charts:/);
  assert.ok(i.stdout.includes(`helm install web oci://${dst.host}/charts/web --version 1.1.0`), i.stdout);
  const ij = await loadCli(['inspect', r.dir, '--json', '--charts', 'dir:/srv/charts']);
  const doc = JSON.parse(ij.stdout) as { charts: Array<{ name: string; next: string[]; layoutRef: string }> };
  assert.ok(doc.charts.find((c) => c.name === 'web')!.next.some((n) => n.includes('/srv/charts/web-1.1.0.tgz')));
});

test('ferry-load push publishes every chart to a static repository, an OCI registry and Artifactory; the real helm reads them back', async () => {
  assert.ok(main, 'the bundle test ran');
  const dir = join(tmp, 'static');
  await mkdir(dir);
  // An index already there keeps its entries.
  await writeFile(join(dir, 'index.yaml'), ['apiVersion: v1', 'entries:', '  older:', '  - apiVersion: v2', '    name: older', '    version: 0.0.1', '    urls:', '    - older-0.0.1.tgz', '    created: "2020-01-01T00:00:00Z"', '    digest: ' + 'a'.repeat(64), 'generated: "2020-01-01T00:00:00Z"', ''].join('\n'));
  const layout = join(tmp, 'high-layout');
  const r = await loadCli(['push', main.dir, '--trusted-key', join(tmp, 'signer.pub'), '--to', `oci:${layout}`,
    '--charts', `dir:${dir}`, '--charts', `oci://${dst.host}/charts`, '--charts', `artifactory+${art.url}/helm-local`,
    '--insecure-registry', dst.host, '--yes', '--json'], { env: env() });
  assert.is(r.code, 0, r.stderr + r.stdout);
  const rep = report(r.stdout);
  assert.ok(rep.complete);
  assert.is(rep.charts.length, 6 * 3);
  assert.ok(rep.charts.every((c) => c.status === 'uploaded'), JSON.stringify(rep.charts.filter((c) => c.status !== 'uploaded')));

  // The static repository: helm repo add + pull + template, and the older entry is still there.
  const index = parseYaml(await readFile(join(dir, 'index.yaml'), 'utf8')) as { apiVersion: string; entries: Record<string, Array<{ version: string; digest: string; urls: string[]; created: string }>> };
  assert.is(index.apiVersion, 'v1');
  assert.ok(index.entries.older, 'existing entries are kept');
  assert.is(index.entries.web![0]!.digest, sha(tgz.get('web-1.1.0')!), 'bare hex, as helm repo index writes it');
  assert.ok(await readFile(join(dir, 'signed-0.3.0.tgz.prov')), 'the .prov is published beside its chart');
  const site = await startNginx({ root: dir });
  try {
    await helm.helmRepoAdd('high', site.url);
    const pulled = await helm.helmPull('high/web', { version: '1.1.0', destination: join(tmp, 'pull-static') });
    assert.ok((await readFile(pulled.tgz)).equals(tgz.get('web-1.1.0')!), 'helm pull gets the exact bytes');
    const rendered = await helm.helmTemplate('high/web', { version: '1.1.0' });
    assert.match(rendered, /kind: ConfigMap/);
    const signed = await helm.helmPull('high/signed', { version: '0.3.0', destination: join(tmp, 'pull-signed'), verify: { keyring: pubring } });
    assert.ok((await readFile(signed.tgz)).equals(tgz.get('signed-0.3.0')!), 'the signed chart verifies with its .prov');
    const plus = await helm.helmPull('high/build', { version: '1.0.0+build.5', destination: join(tmp, 'pull-build') });
    assert.ok((await readFile(plus.tgz)).equals(tgz.get('build-1.0.0+build.5')!));
  } finally {
    await site.stop();
  }

  // The OCI registry: helm pull oci:// and helm show chart; the OCI chart keeps its digest.
  const pulled = await helm.helmPull(`oci://${dst.host}/charts/web`, { version: '1.1.0', destination: join(tmp, 'pull-oci'), plainHttp: true });
  assert.ok((await readFile(pulled.tgz)).equals(tgz.get('web-1.1.0')!));
  assert.match(await helm.helmShowChart(`oci://${dst.host}/charts/build`, { version: '1.0.0+build.5', plainHttp: true }), /version: 1\.0\.0\+build\.5/);
  assert.is(await craneDigest(`${dst.host}/charts/ocichart:0.2.0`, { insecure: true }), ociChartDigest, 'the same digest as on the low side');

  // Artifactory: every chart deployed once, checksum-deploy tried first.
  for (const [n, v] of [['web', '1.1.0'], ['signed', '0.3.0']] as const) {
    const f = [...art.files.entries()].find(([p]) => p.endsWith(`${n}-${v}.tgz`));
    assert.ok(f && sha(f[1].bytes) === sha(tgz.get(`${n}-${v}`)!), `${n} in Artifactory`);
  }
  const puts = art.requests.filter((q) => q.method === 'PUT' && q.path.endsWith('web-1.1.0.tgz'));
  assert.ok(puts[0]?.headers['x-checksum-deploy'] === 'true', 'checksum deploy comes first');
  assert.ok(puts.some((q) => q.bodyBytes > 0 && q.headers['x-checksum-sha256'] === sha(tgz.get('web-1.1.0')!)), 'the upload carries its sha256 for Artifactory to check');

  // The same push again writes nothing anywhere.
  const before = art.requests.filter((q) => q.method === 'PUT' && q.bodyBytes > 0).length;
  const again = await loadCli(['push', main.dir, '--trusted-key', join(tmp, 'signer.pub'), '--to', `oci:${layout}`,
    '--charts', `dir:${dir}`, '--charts', `oci://${dst.host}/charts`, '--charts', `artifactory+${art.url}/helm-local`,
    '--insecure-registry', dst.host, '--yes', '--json'], { env: env() });
  assert.is(again.code, 0, again.stderr);
  assert.ok((report(again.stdout)).charts.every((c) => c.status === 'exists'));
  assert.is(art.requests.filter((q) => q.method === 'PUT' && q.bodyBytes > 0).length, before, 'no byte uploaded twice');

  // check --charts: all there; then a chart removed from the static repository is named.
  const ok = await loadCli(['check', main.dir, '--trusted-key', join(tmp, 'signer.pub'), '--to', `oci:${layout}`, '--charts', `dir:${dir}`], { env: env() });
  assert.is(ok.code, 0, ok.stdout + ok.stderr);
  await rm(join(dir, 'web-1.1.0.tgz'));
  const bad = await loadCli(['check', main.dir, '--trusted-key', join(tmp, 'signer.pub'), '--to', `oci:${layout}`, '--charts', `dir:${dir}`], { env: env() });
  assert.is(bad.code, 21, bad.stdout + bad.stderr);
  assert.match(bad.stdout, /web@1\.1\.0 in dir:/);
});

test('a destination holding another chart under the same version: refused before anything is written; --force replaces it', async () => {
  assert.ok(main);
  const dir = join(tmp, 'conflict');
  await mkdir(dir);
  const other = tgz.get('web-1.0.0')!;
  await writeFile(join(dir, 'web-1.1.0.tgz'), other);
  // Through a load config this time: the target and the chart destination in one file.
  await writeFile(join(tmp, 'load.yaml'), [`trustedKeys: [${join(tmp, 'signer.pub')}]`, 'to: oci:conflict-layout', 'charts: [dir:conflict]', ''].join('\n'));
  const args = ['push', main.dir, '--config', join(tmp, 'load.yaml'), '--yes', '--json'];
  const r = await loadCli(args, { env: env() });
  assert.is(r.code, 23, r.stdout + r.stderr);
  assert.match(r.stdout, /CHART_CONFLICT/);
  assert.equal((await readdir(dir)).sort(), ['web-1.1.0.tgz'], 'nothing else was written');
  assert.ok((await readFile(join(dir, 'web-1.1.0.tgz'))).equals(other));
  const f = await loadCli([...args, '--force'], { env: env() });
  assert.is(f.code, 0, f.stdout + f.stderr);
  assert.ok((await readFile(join(dir, 'web-1.1.0.tgz'))).equals(tgz.get('web-1.1.0')!), 'replaced with the bundled bytes');
  assert.ok((report(f.stdout)).charts.some((c) => c.chart === 'web@1.1.0' && c.status === 'replaced'));
});

test('ChartMuseum (the real server, Basic auth): upload with the .prov, helm repo add + pull gets the bytes, a second push skips, a wrong password is refused before anything is written', async () => {
  assert.ok(main);
  const USER = 'cm-loader';
  const PASSWORD = 'Museum-Pa55-e2e';
  const cm = await startChartmuseum({ basicAuth: { user: USER, password: PASSWORD } });
  try {
    const args = (creds: string) => ['push', main!.dir, '--trusted-key', join(tmp, 'signer.pub'), '--to', `oci:${join(tmp, 'cm-layout')}`, '--charts', `chartmuseum+${cm.url}`, '--chart-creds', creds, '--yes', '--json'];
    const wrong = await loadCli(args(`${USER}:wrong-password`), { env: env() });
    assert.is(wrong.code, 13, wrong.stdout + wrong.stderr);
    assert.not.ok((wrong.stdout + wrong.stderr).includes('wrong-password'), 'no password in the output');
    assert.is((await readdir(join(tmp, 'cm-layout')).catch(() => [])).length, 0, 'nothing was written before the refusal');
    const r = await loadCli(args(`${USER}:${PASSWORD}`), { env: env() });
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.ok((report(r.stdout)).charts.every((c) => c.status === 'uploaded'));
    assert.not.ok(r.stdout.includes(PASSWORD));
    await helm.helmRepoAdd('museum', cm.url, { username: USER, password: PASSWORD });
    const pulled = await helm.helmPull('museum/signed', { version: '0.3.0', destination: join(tmp, 'pull-cm'), verify: { keyring: pubring } });
    assert.ok((await readFile(pulled.tgz)).equals(tgz.get('signed-0.3.0')!), 'helm pull --verify from ChartMuseum: the exact bytes, the .prov verifies');
    const again = await loadCli(args(`${USER}:${PASSWORD}`), { env: env() });
    assert.is(again.code, 0, again.stderr);
    assert.ok((report(again.stdout)).charts.every((c) => c.status === 'exists'));
  } finally {
    await cm.stop();
  }
});

test('a chart in a volume that is not here yet is pending (exit 15, the volume named); the next run with it loads the chart', async () => {
  // The image's 40 kB layer fills the first volume(s); the charts come after it.
  const r = await bundle('split', ['--image', `${src.host}/demo/app:1`, '--chart', `${repo.url}/charts/web@1.1.0`, '--chart', `${repo.url}/charts/signed@0.3.0`, '--volume-size', '30KiB']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const m = JSON.parse(await readFile(join(r.dir, 'split.manifest.json'), 'utf8')) as { charts: ManifestChart[]; blobs: Array<{ digest: string; volume?: number }>; volumes: Array<{ file: string }> };
  assert.ok(m.volumes.length >= 2, 'several volumes');
  const signed = m.charts.find((c) => c.name === 'signed')!;
  const vol = m.blobs.find((b) => b.digest === signed.digest)!.volume!;
  assert.ok(vol > 1, 'the chart is not in the first volume');
  const file = m.volumes[vol - 1]!.file;
  const away = join(tmp, 'away');
  await mkdir(away, { recursive: true });
  await cp(join(r.dir, file), join(away, file));
  await rm(join(r.dir, file));
  const dir = join(tmp, 'split-static');
  const args = ['push', r.dir, '--trusted-key', join(tmp, 'signer.pub'), '--to', `oci:${join(tmp, 'split-layout')}`, '--charts', `dir:${dir}`, '--yes', '--json'];
  const first = await loadCli(args, { env: env() });
  assert.is(first.code, 15, first.stdout + first.stderr);
  const rep = report(first.stdout) as Report & { volumesMissing: string[] };
  assert.ok(rep.volumesMissing.includes(file), JSON.stringify(rep.volumesMissing));
  assert.is(rep.charts.find((c) => c.chart === 'signed@0.3.0')!.status, 'pending');
  assert.not.ok(await readFile(join(dir, 'signed-0.3.0.tgz')).catch(() => undefined), 'nothing of a chart whose volume is missing');
  await cp(join(away, file), join(r.dir, file));
  const second = await loadCli(args, { env: env() });
  assert.is(second.code, 0, second.stdout + second.stderr);
  assert.ok((await readFile(join(dir, 'signed-0.3.0.tgz'))).equals(tgz.get('signed-0.3.0')!));
  const idx = parseYaml(await readFile(join(dir, 'index.yaml'), 'utf8')) as { entries: Record<string, unknown[]> };
  assert.equal(Object.keys(idx.entries).sort(), ['signed', 'web'], 'the index has both, written by two runs');
});

test('a correctly signed bundle whose chart is not what its entry says: refused by the loader, never published; the other charts are', async () => {
  assert.ok(main);
  const d = join(tmp, 'bundles', 'lying');
  await cp(main.dir, d, { recursive: true });
  await resignBundle(d, {
    key: join(tmp, 'signer.key'),
    // The archive says web 1.1.0; the signed entry claims another name (and so another file).
    manifest: (m: { charts: Array<{ name: string }> }) => { m.charts.find((c) => c.name === 'web')!.name = 'webx'; return m; },
  });
  // verify, which writes nothing, already says so.
  const v = await loadCli(['verify', d, '--trusted-key', join(tmp, 'signer.pub')], { env: env() });
  assert.is(v.code, 22, v.stdout + v.stderr);
  assert.match(v.stderr, /CHART_INVALID/);
  const ok = await loadCli(['verify', main.dir, '--trusted-key', join(tmp, 'signer.pub')], { env: env() });
  assert.is(ok.code, 0, 'the honest bundle verifies, charts included');
  const dir = join(tmp, 'lying-static');
  const r = await loadCli(['push', d, '--trusted-key', join(tmp, 'signer.pub'), '--to', `oci:${join(tmp, 'lying-layout')}`, '--charts', `dir:${dir}`, '--yes', '--json'], { env: env() });
  assert.is(r.code, 22, r.stdout + r.stderr);
  const rep = report(r.stdout);
  const lie = rep.charts.find((c) => c.chart === 'webx@1.1.0')!;
  assert.is(lie.status, 'refused');
  assert.match(lie.reason ?? '', /web/);
  assert.not.ok(await readFile(join(dir, 'webx-1.1.0.tgz')).catch(() => undefined), 'the lying chart is not published');
  assert.ok(await readFile(join(dir, 'signed-0.3.0.tgz')), 'the honest charts are');
});

test('a chart repository behind Basic auth: --chart-creds, or the entry helm repo add wrote in repositories.yaml; no password echoed', async () => {
  const USER = 'chart-reader';
  const PASSWORD = 'Repo-Pa55-basic';
  const site = await startNginx({ basicAuth: { user: USER, password: PASSWORD } });
  try {
    await cp(join(repo.root, 'charts', 'web-1.0.0.tgz'), join(site.root, 'web-1.0.0.tgz'));
    await writeFile(join(site.root, 'index.yaml'), ['apiVersion: v1', 'entries:', '  web:', '  - apiVersion: v2', '    name: web', '    version: 1.0.0', `    digest: ${sha(tgz.get('web-1.0.0')!)}`, '    urls: [web-1.0.0.tgz]', ''].join('\n'));
    await sh(`chmod -R a+rX ${site.root}`);
    const none = await bundle('auth-none', ['--chart', `${site.url}/web@1.0.0`]);
    assert.is(none.code, 13, none.stdout + none.stderr);
    assert.match(none.stdout, /REGISTRY_AUTH/);
    const creds = await bundle('auth-creds', ['--chart', `${site.url}/web@1.0.0`, '--chart-creds', `${USER}:${PASSWORD}`]);
    assert.is(creds.code, 0, creds.stdout + creds.stderr);
    assert.not.ok((creds.stdout + creds.stderr).includes(PASSWORD), 'the password is never printed');
    assert.not.ok((await readFile(join(creds.dir, 'auth-creds.manifest.json'), 'utf8')).includes(PASSWORD), 'nor signed into the manifest');
    // The operator's own helm repo add: Ferry reads the entry helm wrote.
    await helm.helmRepoAdd('private', site.url, { username: USER, password: PASSWORD });
    const byName = await bundle('auth-reponame', ['--chart', 'private/web@1.0.0', '--repository-config', helm.env.HELM_REPOSITORY_CONFIG!]);
    assert.is(byName.code, 0, byName.stdout + byName.stderr);
    const m = JSON.parse(await readFile(join(byName.dir, 'auth-reponame.manifest.json'), 'utf8')) as { charts: ManifestChart[] };
    assert.is(m.charts[0]!.digest, `sha256:${sha(tgz.get('web-1.0.0')!)}`);
  } finally {
    await site.stop();
  }
});

test('a bundle of charts only loads with --charts alone (no --to), and check needs only --charts; a bundle with images still asks for --to', async () => {
  const b = await bundle('only-charts', ['--chart', `${repo.url}/charts/web@1.1.0`, '--chart', `${repo.url}/charts/build@1.0.0+build.5`]);
  assert.is(b.code, 0, b.stdout + b.stderr);
  const dir = join(tmp, 'only-static');
  const r = await loadCli(['push', b.dir, '--trusted-key', join(tmp, 'signer.pub'), '--charts', `dir:${dir}`, '--yes', '--json'], { env: env() });
  assert.is(r.code, 0, r.stdout + r.stderr);
  const rep = report(r.stdout) as Report & { targetKind: string };
  assert.is(rep.targetKind, 'charts');
  assert.equal(rep.charts.map((c) => c.status), ['uploaded', 'uploaded']);
  assert.ok((await readFile(join(dir, 'build-1.0.0+build.5.tgz'))).equals(tgz.get('build-1.0.0+build.5')!));
  const text = await loadCli(['push', b.dir, '--trusted-key', join(tmp, 'signer.pub'), '--charts', `dir:${dir}`, '--yes'], { env: env() });
  assert.is(text.code, 0, text.stderr);
  assert.match(text.stdout, /Loaded 2\/2 chart\(s\) into dir:/);
  const c = await loadCli(['check', b.dir, '--trusted-key', join(tmp, 'signer.pub'), '--charts', `dir:${dir}`], { env: env() });
  assert.is(c.code, 0, c.stdout + c.stderr);
  assert.ok(main);
  const needsTo = await loadCli(['push', main.dir, '--trusted-key', join(tmp, 'signer.pub'), '--charts', `dir:${join(tmp, 'unused')}`, '--yes', '--json'], { env: env() });
  assert.is(needsTo.code, 2, needsTo.stdout + needsTo.stderr);
  assert.match(needsTo.stdout, /give --to TARGET/);
  assert.not.ok(await readdir(join(tmp, 'unused')).catch(() => undefined), 'nothing was written');
});

test('bundling refuses a chart whose bytes do not match the index digest, a hostile archive, and a chart that is not what was asked', async () => {
  const wrong = await bundle('bad-digest', ['--chart', `${repo.url}/bad/web@1.0.0`]);
  assert.is(wrong.code, 9, wrong.stdout + wrong.stderr);
  assert.match(wrong.stdout + wrong.stderr, /BLOB_MISMATCH/);

  const hostile = async (name: string, entries: Array<{ name: string; type?: 'file' | 'symlink'; linkname?: string; data?: string }>): Promise<string> => {
    const pack = tar.pack();
    for (const e of entries) {
      if (e.type === 'symlink') pack.entry({ name: e.name, type: 'symlink', linkname: e.linkname! });
      else pack.entry({ name: e.name }, e.data ?? '');
    }
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
    const p = join(tmp, `${name}.tgz`);
    await writeFile(p, gzipSync(Buffer.concat(chunks)));
    return p;
  };
  const chartYaml = 'apiVersion: v2\nname: evil\nversion: 1.0.0\n';
  const cases: Array<[string, string, RegExp]> = [
    ['dotdot', await hostile('dotdot', [{ name: 'evil/Chart.yaml', data: chartYaml }, { name: 'evil/../../escape.txt', data: 'x' }]), /\.\./],
    ['absolute', await hostile('absolute', [{ name: 'evil/Chart.yaml', data: chartYaml }, { name: '/etc/evil', data: 'x' }]), /absolute|\/etc\/evil/],
    ['symlink', await hostile('symlink', [{ name: 'evil/Chart.yaml', data: chartYaml }, { name: 'evil/templates/x.yaml', type: 'symlink', linkname: '/etc/passwd' }]), /link/i],
    ['no Chart.yaml', await hostile('nochart', [{ name: 'evil/values.yaml', data: 'a: 1\n' }]), /Chart\.yaml/],
    ['bad version', await hostile('badver', [{ name: 'evil/Chart.yaml', data: 'apiVersion: v2\nname: evil\nversion: 1.0\n' }]), /SemVer|version/],
  ];
  for (const [what, path, re] of cases) {
    const r = await bundle(`hostile-${what.replace(/\W/g, '')}`, ['--chart', path]);
    assert.is(r.code, 22, `${what}: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout + r.stderr, re, what);
  }
  assert.not.ok(await readFile(join(tmp, 'escape.txt')).catch(() => undefined), 'nothing was extracted');

  // A repository entry whose archive is another chart: refused, naming both.
  const liar = join(tmp, 'liar');
  await mkdir(liar);
  await cp(join(repo.root, 'charts', 'web-1.0.0.tgz'), join(liar, 'api-1.0.0.tgz'));
  const lr = await bundle('liar', ['--chart', join(liar, 'api-1.0.0.tgz')]);
  assert.is(lr.code, 0, 'a local file is what it says it is: its name is only a file name');
  const site = await startNginx();
  try {
    await cp(join(repo.root, 'charts', 'web-1.0.0.tgz'), join(site.root, 'api-1.0.0.tgz'));
    await writeFile(join(site.root, 'index.yaml'), ['apiVersion: v1', 'entries:', '  api:', '  - apiVersion: v2', '    name: api', '    version: 1.0.0', `    digest: ${sha(tgz.get('web-1.0.0')!)}`, '    urls: [api-1.0.0.tgz]', ''].join('\n'));
    await sh(`chmod -R a+rX ${site.root}`);
    const r = await bundle('liar-http', ['--chart', `${site.url}/api@1.0.0`]);
    assert.is(r.code, 22, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /web/);
  } finally {
    await site.stop();
  }
});

test.run();
