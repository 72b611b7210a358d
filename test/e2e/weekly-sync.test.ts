// The weekly sync end to end, with the files in examples/sync run as shipped: a source registry
// seeded by skopeo; `ferry-bundle sync` (full bundle, then deltas against the last one the state
// directory remembers); the high side's ferry-load-drop.sh loading each arrived bundle into a
// second real registry; skopeo reading the digests back. Also: a delta refused by a target that
// lacks its baseline before anything is pushed, an unchanged upstream (empty delta, or nothing
// with --skip-if-unchanged), --keep, failing images with and without --keep-going, a second run
// while one holds the state directory, and the report against its schema.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cp, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile, chmod } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeOciLayout, type WrittenImage } from '../helpers/images.js';
import { bundleCli, run } from '../helpers/cli.js';
import { startRegistry, type StartedRegistry } from '../harness/registry.js';
import { seedLayout, skopeoInspectRaw } from '../harness/seed.js';
import { reportValidator } from '../helpers/report-schemas.js';
import { acquireDirLock } from '../../packages/oci/src/index.js';
import { createHash } from 'node:crypto';

const root = fileURLToPath(new URL('../../', import.meta.url));
const DROP_SCRIPT = join(root, 'examples/sync/high-side/ferry-load-drop.sh');
const PW = 'weekly sync pass';

let tmp = '';
let home = '';
let src: StartedRegistry;
let dst: StartedRegistry;
let fresh: StartedRegistry;
let week1: WrittenImage[] = [];
let week2: WrittenImage[] = [];
const today = new Date().toISOString().slice(0, 10);

interface Report {
  ok: boolean; skipped: boolean; exitCode: number;
  bundle?: { name: string; dir: string };
  baseline?: { name: string };
  delta?: { carriedBytes: number; referencedBytes: number; requiredBytes: number; requiredBlobs: number };
  images: Array<{ source: string; status: string; change?: string; was?: string; digest?: string; code?: string }>;
  dropped: string[]; pruned: string[];
  error?: { code: string };
}
interface Manifest { blobs: Array<{ digest: string; size: number; kind: string }>; required?: Array<{ digest: string; size: number; baseline: string }> }

function env(extra: Record<string, string> = {}): Record<string, string | undefined> {
  return { FERRY_KEY_PASSWORD: PW, HOME: home, XDG_STATE_HOME: join(home, 'state'), REGISTRY_AUTH_FILE: undefined, DOCKER_CONFIG: undefined, FERRY_REGISTRY_CREDS: undefined, CI: 'true', ...extra };
}

async function writeSpec(file: string, images: string[]): Promise<string> {
  await writeFile(file, ['schemaVersion: 1', 'name: weekly', 'volumeSize: 64MiB', 'images:', ...images.map((i) => `  - ${src.host}/${i}`), ''].join('\n'));
  return file;
}

async function sync(spec: string, extra: string[] = []): Promise<{ code: number; report: Report; stdout: string; stderr: string }> {
  const rep = join(tmp, `report-${Math.random().toString(16).slice(2)}.json`);
  const r = await bundleCli(['sync', spec, '--state-dir', join(tmp, 'state'), '--out', join(tmp, 'out'), '--key', join(tmp, 'signer.key'), '--insecure-registry', src.host, '--log', join(tmp, 'sync.log'), '--report', rep, '--json', ...extra], { env: env() });
  const report = JSON.parse(r.stdout) as Report;
  const validate = reportValidator('sync-report');
  assert.ok(validate(report), `sync report does not match its schema: ${JSON.stringify(validate.errors)}\n${r.stdout}`);
  assert.equal(JSON.parse(await readFile(rep, 'utf8')), report, '--report FILE holds the --json document');
  return { code: r.code, report, stdout: r.stdout, stderr: r.stderr };
}

/** ferry-load-drop.sh exactly as shipped, with ferry-load from this checkout. */
async function drop(dir: string, to: string) {
  const wrapper = join(tmp, 'ferry-load');
  await writeFile(wrapper, `#!/bin/sh\nexec "${process.execPath}" "${join(root, 'packages/loader/bin/ferry-load.js')}" "$@"\n`);
  await chmod(wrapper, 0o755);
  return run('bash', [DROP_SCRIPT, dir], {
    env: { ...env(), FERRY_LOAD: wrapper, FERRY_TO: to, FERRY_TRUSTED_KEY: join(tmp, 'signer.pub'), FERRY_PUSH_ARGS: `--insecure-registry ${to}` },
  });
}

async function arrive(bundleDir: string, dropDir: string, copy = false): Promise<void> {
  await mkdir(join(dropDir, 'incoming'), { recursive: true });
  const name = bundleDir.split('/').pop()!;
  if (copy) await cp(bundleDir, join(dropDir, 'incoming', name), { recursive: true });
  else await rename(bundleDir, join(dropDir, 'incoming', name));
}

const digestOf = async (reg: StartedRegistry, ref: string): Promise<string> => 'sha256:' + createHash('sha256').update(await skopeoInspectRaw(reg, ref)).digest('hex');
const manifestOf = async (dir: string, name: string): Promise<Manifest> => JSON.parse(await readFile(join(dir, `${name}.manifest.json`), 'utf8')) as Manifest;
const catalog = async (reg: StartedRegistry): Promise<string[]> => ((await (await fetch(`${reg.url}/v2/_catalog`)).json()) as { repositories: string[] }).repositories;

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-e2e-sync-'));
  home = join(tmp, 'home');
  await mkdir(home);
  const base = { size: 3_000_000, seed: 'sync-base', gzipLevel: 0 };
  week1 = await makeOciLayout(join(tmp, 'w1'), [
    { tag: 'app1', platforms: [{ os: 'linux', architecture: 'amd64', layers: [base, { size: 400_000, seed: 'sync-app1', gzipLevel: 0 }] }] },
    { tag: 'db16', platforms: [{ os: 'linux', architecture: 'amd64', layers: [base, { size: 500_000, seed: 'sync-db-a', gzipLevel: 0 }] }] },
  ]);
  // Week 2 upstream: a new tag sharing base and app layer, and db:16 re-tagged to a rebuilt image.
  week2 = await makeOciLayout(join(tmp, 'w2'), [
    { tag: 'app2', platforms: [{ os: 'linux', architecture: 'amd64', layers: [base, { size: 400_000, seed: 'sync-app1', gzipLevel: 0 }, { size: 200_000, seed: 'sync-app2', gzipLevel: 0 }] }] },
    { tag: 'db16', platforms: [{ os: 'linux', architecture: 'amd64', layers: [base, { size: 300_000, seed: 'sync-db-b', gzipLevel: 0 }] }] },
  ]);
  const k = await bundleCli(['keygen', '--out', join(tmp, 'signer')], { env: { FERRY_KEY_PASSWORD: PW } });
  assert.is(k.code, 0, k.stderr);
  [src, dst, fresh] = await Promise.all([startRegistry(), startRegistry(), startRegistry()]);
  await seedLayout(src, join(tmp, 'w1'), 'app1', 'ns/app:1');
  await seedLayout(src, join(tmp, 'w1'), 'db16', 'ns/db:16');
});

test.after(async () => {
  await Promise.all([src?.stop(), dst?.stop(), fresh?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

test('week 1: a full bundle named by date, loaded by the drop script, read back by skopeo', async () => {
  const spec = await writeSpec(join(tmp, 'sync.yaml'), ['ns/app:1', 'ns/db:16']);
  const r = await sync(spec);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.report.bundle?.name, `weekly-${today}`);
  assert.is(r.report.baseline, undefined, 'no earlier bundle: a full one');
  assert.equal(r.report.images.map((i) => [i.status, i.change]), [['synced', 'new'], ['synced', 'new']]);
  const log = await readFile(join(tmp, 'sync.log'), 'utf8');
  assert.match(log, new RegExp(`✅ Synced: ${src.host}/ns/app:1 -> ns/app:1 sha256:`));
  assert.match(log, /\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] ✅ Synced: .*ns\/db:16/);
  assert.ok(existsSync(join(tmp, 'state', 'manifests', `weekly-${today}.manifest.json`)), 'the state directory remembers it');

  await arrive(r.report.bundle!.dir, join(tmp, 'drop'));
  const d = await drop(join(tmp, 'drop'), dst.host);
  assert.is(d.code, 0, d.stdout + d.stderr);
  assert.match(d.stdout, new RegExp(`✅ Loaded: weekly-${today}`));
  assert.ok(existsSync(join(tmp, 'drop', 'loaded', `weekly-${today}`)));
  const push = JSON.parse(await readFile(join(tmp, 'drop', 'reports', `weekly-${today}.push.json`), 'utf8')) as { ok?: boolean };
  assert.is(push.ok, true);
  assert.is(await digestOf(dst, 'ns/app:1'), week1[0]!.root.digest);
  assert.is(await digestOf(dst, 'ns/db:16'), week1[1]!.root.digest);
});

test('week 2: the delta carries only the new blobs; a target without the baseline refuses it untouched; the real target loads it', async () => {
  await seedLayout(src, join(tmp, 'w2'), 'app2', 'ns/app:2');
  await seedLayout(src, join(tmp, 'w2'), 'db16', 'ns/db:16');
  const spec = await writeSpec(join(tmp, 'sync.yaml'), ['ns/app:1', 'ns/app:2', 'ns/db:16']);
  const r = await sync(spec);
  assert.is(r.code, 0, r.stderr);
  const name = `weekly-${today}.2`;
  assert.is(r.report.bundle?.name, name, 'a second run on the same day gets its own name');
  assert.is(r.report.baseline?.name, `weekly-${today}`);
  assert.equal(r.report.images.map((i) => i.change), ['unchanged', 'new', 'updated']);
  assert.is(r.report.images[2]!.was, week1[1]!.root.digest);

  // Exactly the new layers and configs are carried; the base and app layers are required.
  const m = await manifestOf(r.report.bundle!.dir, name);
  const carried = new Set(m.blobs.filter((b) => b.kind === 'layer' || b.kind === 'config').map((b) => b.digest));
  const expected = new Set([week2[0]!.layers[0]![2]!.digest, week2[1]!.layers[0]![1]!.digest, week2[0]!.configs[0]!.digest, week2[1]!.configs[0]!.digest]);
  assert.equal([...carried].sort(), [...expected].sort());
  const required = new Set((m.required ?? []).map((b) => b.digest));
  assert.ok(required.has(week1[0]!.layers[0]![0]!.digest) && required.has(week1[0]!.layers[0]![1]!.digest), 'base and app layers are required, not carried');
  const newBytes = m.blobs.filter((b) => carried.has(b.digest)).reduce((s, b) => s + b.size, 0);
  assert.ok(newBytes >= 500_000 && newBytes < 600_000, `carried ${newBytes} bytes of layers and configs`);
  assert.ok(r.report.delta && r.report.delta.requiredBytes >= 3_400_000, JSON.stringify(r.report.delta));

  // A target that never loaded week 1: refused before anything is pushed.
  await arrive(r.report.bundle!.dir, join(tmp, 'drop-fresh'), true);
  const bad = await drop(join(tmp, 'drop-fresh'), fresh.host);
  assert.is(bad.code, 25, bad.stdout + bad.stderr);
  assert.match(bad.stdout, /left in incoming/);
  assert.ok(existsSync(join(tmp, 'drop-fresh', 'incoming', name)), 'kept for a later run');
  assert.equal(await catalog(fresh), [], 'nothing was pushed');
  const refusal = await readFile(join(tmp, 'drop-fresh', 'reports', `${name}.push.json`), 'utf8');
  assert.match(refusal, /BASELINE_MISSING/);
  assert.match(refusal, new RegExp(week1[0]!.layers[0]![0]!.digest.slice(7, 19)));

  await arrive(r.report.bundle!.dir, join(tmp, 'drop'));
  const d = await drop(join(tmp, 'drop'), dst.host);
  assert.is(d.code, 0, d.stdout + d.stderr);
  assert.is(await digestOf(dst, 'ns/app:2'), week2[0]!.root.digest);
  assert.is(await digestOf(dst, 'ns/db:16'), week2[1]!.root.digest);
  assert.is(await digestOf(dst, 'ns/app:1'), week1[0]!.root.digest);
});

test('an unchanged upstream: nothing with --skip-if-unchanged, else an empty delta; --keep prunes the oldest', async () => {
  const spec = join(tmp, 'sync.yaml');
  const before = (await readdir(join(tmp, 'state', 'manifests'))).sort();
  const skip = await sync(spec, ['--skip-if-unchanged']);
  assert.is(skip.code, 0, skip.stderr);
  assert.is(skip.report.skipped, true);
  assert.is(skip.report.bundle, undefined);
  assert.equal((await readdir(join(tmp, 'state', 'manifests'))).sort(), before, 'the state is unchanged');
  assert.not.ok(existsSync(join(tmp, 'out', `weekly-${today}.3`)), 'nothing left in --out');

  const empty = await sync(spec, ['--keep', '2']);
  assert.is(empty.code, 0, empty.stderr);
  const m = await manifestOf(empty.report.bundle!.dir, empty.report.bundle!.name);
  assert.equal(m.blobs.filter((b) => b.kind === 'layer' || b.kind === 'config'), [], 'no layer or config carried');
  assert.equal(empty.report.images.map((i) => i.change), ['unchanged', 'unchanged', 'unchanged']);
  assert.equal(empty.report.pruned, [`weekly-${today}`], '--keep 2 removes the oldest manifest');
  assert.is((await readdir(join(tmp, 'state', 'manifests'))).length, 2);

  // --full ignores the history: everything is carried again (a re-seed), and it is recorded.
  const full = await sync(spec, ['--full', '--skip-if-unchanged']);
  assert.is(full.code, 0, full.stderr);
  assert.is(full.report.baseline, undefined);
  const fm = await manifestOf(full.report.bundle!.dir, full.report.bundle!.name);
  assert.ok(fm.blobs.some((b) => b.digest === week1[0]!.layers[0]![0]!.digest), 'the base layer is carried again');
  assert.is(fm.required, undefined);
});

test('a failing image: bundled without it and exit 16 by default; --no-keep-going writes nothing', async () => {
  const spec = await writeSpec(join(tmp, 'sync-bad.yaml'), ['ns/app:2', 'ns/missing:1']);
  const state = (await readdir(join(tmp, 'state', 'manifests'))).sort();
  const stop = await sync(spec, ['--no-keep-going']);
  assert.is.not(stop.code, 0);
  assert.is(stop.report.bundle, undefined);
  assert.equal((await readdir(join(tmp, 'state', 'manifests'))).sort(), state, 'no bundle recorded');
  assert.ok(stop.report.images.some((i) => i.status === 'failed' && i.source.endsWith('ns/missing:1')));

  const go = await sync(spec);
  assert.is(go.code, 16, go.stderr);
  assert.ok(go.report.bundle, 'the others are bundled');
  assert.equal(go.report.images.map((i) => i.status).sort(), ['failed', 'synced']);
  assert.match(await readFile(join(tmp, 'sync.log'), 'utf8'), /❌ Failed: .*ns\/missing:1/);
});

test('a second run while one holds the state directory is refused (exit 18) and changes nothing', async () => {
  const lock = await acquireDirLock(join(tmp, 'state', 'sync.lock'), { what: 'a test holding the lock' });
  try {
    const r = await bundleCli(['sync', join(tmp, 'sync.yaml'), '--state-dir', join(tmp, 'state'), '--out', join(tmp, 'out'), '--key', join(tmp, 'signer.key'), '--insecure-registry', src.host, '--json'], { env: env() });
    assert.is(r.code, 18, r.stdout + r.stderr);
    assert.match(r.stdout, /TARGET_BUSY/);
  } finally {
    await lock.release();
  }
});

test('sync needs its spec, --out and a sane --keep', async () => {
  for (const [args, re] of [
    [['sync', '--state-dir', join(tmp, 'state'), '--out', join(tmp, 'out')], /spec/],
    [['sync', join(tmp, 'sync.yaml'), '--state-dir', join(tmp, 'state')], /--out/],
    [['sync', join(tmp, 'sync.yaml'), '--state-dir', join(tmp, 'state'), '--out', join(tmp, 'out'), '--keep', '0'], /--keep/],
  ] as Array<[string[], RegExp]>) {
    const r = await bundleCli(args, { env: env() });
    assert.is(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, re);
  }
});

test.run();
