// ferry-bundle create, the engineer's fixes, against a real docker-registry: absolute --file
// globs and SRC=DEST; every bad image reported in one run (text and --json); --replace/--force
// rebuilds a bundle in place safely; --cache hits counted; stale .partial leftovers in the cache
// reused or removed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeOciLayout, type WrittenImage } from '../helpers/images.js';
import { bundleCli, loadCli } from '../helpers/cli.js';
import { startRegistry, type StartedRegistry } from '../harness/registry.js';
import { seedLayout } from '../harness/seed.js';

const PW = 'correct horse';
let tmp = '';
let home = '';
let reg: StartedRegistry;
let app: WrittenImage;

function env(): Record<string, string | undefined> {
  return {
    FERRY_KEY_PASSWORD: PW, HOME: home, REGISTRY_AUTH_FILE: undefined, DOCKER_CONFIG: undefined, FERRY_REGISTRY_CREDS: undefined,
    HTTPS_PROXY: undefined, https_proxy: undefined, HTTP_PROXY: undefined, http_proxy: undefined,
  };
}

function create(out: string, name: string, args: string[], cwd?: string) {
  return bundleCli(['create', '--name', name, '--out', out, '--key', join(tmp, 'signer.key'), '--insecure-registry', reg.host, ...args], { env: env(), ...(cwd ? { cwd } : {}) });
}

async function verify(dir: string): Promise<void> {
  const v = await loadCli(['verify', dir, '--trusted-key', join(tmp, 'signer.pub')], { env: env() });
  assert.is(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /RESULT: OK/);
}

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-e2e-fixes-'));
  home = join(tmp, 'home');
  await mkdir(home);
  [app] = (await makeOciLayout(join(tmp, 'layout'), [
    { tag: 'app', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 300_000, seed: 'fix-a', gzipLevel: 0 }, { size: 50_000, seed: 'fix-b' }] }] },
  ])) as [WrittenImage];
  const k = await bundleCli(['keygen', '--out', join(tmp, 'signer')], { env: { FERRY_KEY_PASSWORD: PW } });
  assert.is(k.code, 0, k.stderr);
  reg = await startRegistry();
  await seedLayout(reg, join(tmp, 'layout'), 'app', 'ns/app:v1');
  await mkdir(join(tmp, 'docs', 'guides'), { recursive: true });
  await writeFile(join(tmp, 'docs', 'a.pdf'), 'A');
  await writeFile(join(tmp, 'docs', 'guides', 'b.pdf'), 'B');
  await writeFile(join(tmp, 'tools.iso'), 'ISO');
});

test.after(async () => {
  await reg?.stop();
  await rm(tmp, { recursive: true, force: true });
});

test('absolute --file globs and --file SRC=DEST from another directory; a glob matching nothing is named', async () => {
  const out = join(tmp, 'files');
  const r = await create(out, 'files', ['--file', `${tmp}/docs/**/*.pdf`, '--file', `${tmp}/tools.iso=media/tools-2026.iso`, '--file', `${tmp}/docs/*.pdf=manuals/`, '--json'], home);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const m = JSON.parse(await readFile(join(out, 'files.manifest.json'), 'utf8')) as { files: Array<{ path: string }> };
  assert.equal(m.files.map((f) => f.path).sort(), ['a.pdf', 'guides/b.pdf', 'manuals/a.pdf', 'media/tools-2026.iso']);
  await verify(out);
  const none = await create(join(tmp, 'files-none'), 'none', ['--file', `${tmp}/nowhere/*.iso`], home);
  assert.is(none.code, 12, none.stdout + none.stderr);
  assert.ok(none.stderr.includes(`${tmp}/nowhere/*.iso`), none.stderr);
});

test('several bad images are all reported (text and --json), nothing is written, exit code from the table', async () => {
  const out = join(tmp, 'bad');
  const args = ['--image', `${reg.host}/ns/app:v1`, '--image', `${reg.host}/ns/missing:v1`, '--image', `${reg.host}/ns/app:nope`];
  const r = await create(out, 'bad', args);
  assert.is(r.code, 12, r.stdout + r.stderr);
  assert.match(r.stderr, /2 images could not be resolved/);
  assert.ok(r.stderr.includes(`${reg.host}/ns/missing:v1`) && r.stderr.includes(`${reg.host}/ns/app:nope`), r.stderr);
  assert.not.ok(existsSync(join(out, 'bad.manifest.json')));
  const j = await create(out, 'bad', [...args, '--json']);
  assert.is(j.code, 12);
  const doc = JSON.parse(j.stdout) as { ok: boolean; error: { code: string; exitCode: number }; failures: Array<{ source: string; code: string; message: string }> };
  assert.is(doc.ok, false);
  assert.is(doc.error.code, 'SOURCE_NOT_FOUND');
  assert.equal(doc.failures.map((f) => f.source), [`${reg.host}/ns/missing:v1`, `${reg.host}/ns/app:nope`]);
  for (const f of doc.failures) assert.is(f.code, 'SOURCE_NOT_FOUND');
  assert.equal((await readdir(out).catch(() => [])).filter((f) => f.startsWith('bad')), []);
});

test('an existing bundle is refused without --replace; --replace/--force rebuild it in place, stale volumes removed', async () => {
  const out = join(tmp, 'weekly');
  const first = await create(out, 'weekly', ['--image', `${reg.host}/ns/app:v1`, '--volume-size', '128KiB', '--json']);
  assert.is(first.code, 0, first.stdout + first.stderr);
  const firstVolumes = (JSON.parse(first.stdout) as { volumes: unknown[] }).volumes.length;
  assert.ok(firstVolumes >= 3, `${firstVolumes} volumes`);

  const again = await create(out, 'weekly', ['--image', `${reg.host}/ns/app:v1`]);
  assert.is(again.code, 2, again.stdout + again.stderr);
  assert.match(again.stderr, /--replace/);

  // A failing rebuild leaves the old bundle as it was.
  const broken = await create(out, 'weekly', ['--image', `${reg.host}/ns/missing:v1`, '--replace']);
  assert.is(broken.code, 12, broken.stdout + broken.stderr);
  await verify(out);
  assert.is((await readdir(out)).filter((f) => f.endsWith('.tar.zst')).length, firstVolumes);

  for (const flag of ['--replace', '--force']) {
    const r = await create(out, 'weekly', ['--image', `${reg.host}/ns/app:v1`, '--file', `${tmp}/tools.iso`, '--volume-size', '10MiB', flag, '--json']);
    assert.is(r.code, 0, r.stdout + r.stderr);
    const rep = JSON.parse(r.stdout) as { dir: string; volumes: Array<{ file: string }> };
    assert.is(rep.dir, out);
    assert.equal(rep.volumes.map((v) => v.file), ['weekly-001.tar.zst']);
    const left = (await readdir(out)).sort();
    assert.equal(left, ['weekly-001.tar.zst', 'weekly.manifest.json', 'weekly.manifest.json.sig', 'weekly.sha256', 'weekly.sha256.sig'], 'no stale volume, no staging directory');
    await verify(out);
    const sums = await readFile(join(out, 'weekly.sha256'), 'utf8');
    assert.is(sums.trim().split('\n').length, 3, 'the checksum list names the new files only');
  }
});

test('--cache: the summary and --json count blobs and bytes from the cache; stale .partial leftovers reused or removed', async () => {
  const cache = join(tmp, 'cache');
  const one = await create(join(tmp, 'c1'), 'c1', ['--image', `${reg.host}/ns/app:v1`, '--cache', cache, '--json']);
  assert.is(one.code, 0, one.stdout + one.stderr);
  const s1 = (JSON.parse(one.stdout) as { cache: { hits: { blobs: number; bytes: number }; stored: { blobs: number; bytes: number } } }).cache;
  assert.is(s1.hits.blobs, 0);
  assert.is(s1.stored.blobs, 3, 'config and two layers fetched into the cache');
  const layerBytes = app.layers[0]!.reduce((n, l) => n + l.size, 0) + app.configs[0]!.size;
  assert.is(s1.stored.bytes, layerBytes);

  const two = await create(join(tmp, 'c2'), 'c2', ['--image', `${reg.host}/ns/app:v1`, '--cache', cache]);
  assert.is(two.code, 0, two.stdout + two.stderr);
  assert.match(two.stdout, /Cache: 3 blob\(s\), .* read from --cache; 0 blob\(s\), .* fetched and stored/);

  // Leftovers: the big layer as a complete but unrenamed partial (a run killed between the last
  // byte and the rename), a truncated partial, and a fresh partial of a run still going.
  const blobs = join(cache, 'blobs', 'sha256');
  const big = app.layers[0]![0]!.digest.slice(7);
  const complete = join(blobs, `${big}.aaaaaaaaaaaa.partial`);
  await copyFile(join(blobs, big), complete);
  await rm(join(blobs, big));
  const truncated = join(blobs, `${'1'.repeat(64)}.bbbbbbbbbbbb.partial`);
  await writeFile(truncated, 'half a blob');
  const fresh = join(blobs, `${'2'.repeat(64)}.cccccccccccc.partial`);
  await writeFile(fresh, 'in progress');
  const old = new Date(Date.now() - 60 * 60 * 1000);
  await utimes(complete, old, old);
  await utimes(truncated, old, old);
  const three = await create(join(tmp, 'c3'), 'c3', ['--image', `${reg.host}/ns/app:v1`, '--cache', cache, '--json']);
  assert.is(three.code, 0, three.stdout + three.stderr);
  const s3 = (JSON.parse(three.stdout) as { cache: { hits: { blobs: number }; stored: { blobs: number }; partials: { reused: number; removed: number } } }).cache;
  assert.equal(s3.partials, { reused: 1, removed: 1 });
  assert.is(s3.hits.blobs, 3, 'the reused partial served the big layer: nothing fetched');
  assert.is(s3.stored.blobs, 0);
  assert.ok(existsSync(join(blobs, big)) && !existsSync(complete) && !existsSync(truncated));
  assert.ok(existsSync(fresh), "another run's fresh partial is left alone");
  await verify(join(tmp, 'c3'));
});

test.run();
