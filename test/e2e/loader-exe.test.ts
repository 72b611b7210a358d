// The ferry-load single executable (npm run build:loader) as the high side runs it: with no
// Node.js, no npm and nothing else on PATH. It is built once (build:loader keeps an executable
// whose inputs did not change), carried by `ferry-bundle create --with-loader`, and then runs
// checksum, verify, inspect and push against a real docker-registry, read back with skopeo.
// A tampered executable beside the volumes fails checksum and verify, named. The SHA256SUMS
// signature of a separately carried loader verifies with stock openssl. The decoder the
// executable uses (node:zlib's zstd) passes the volume reader's own tests under the bundled
// runtime. linux-arm64 runs under qemu-user (qemu-aarch64-static with Debian's arm64 cross
// libc: .ci/run installs both).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { copyFile, link, mkdir, mkdtemp, open, readFile, readdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeOciLayout } from '../helpers/images.js';
import { bundleCli, run, sh, type RunResult } from '../helpers/cli.js';
import { startRegistry, type StartedRegistry } from '../harness/registry.js';
import { seedLayout, skopeoInspectRaw } from '../harness/seed.js';
import { createHash } from 'node:crypto';

const root = fileURLToPath(new URL('../../', import.meta.url));
const LOADER_DIR = join(root, 'dist/loader');
const X64 = join(LOADER_DIR, 'ferry-load-linux-x64');
const ARM64 = join(LOADER_DIR, 'ferry-load-linux-arm64');
const QEMU = '/usr/bin/qemu-aarch64-static';
const ARM64_SYSROOT = '/usr/aarch64-linux-gnu'; // libc6-arm64-cross: the libc an arm64 machine has
const PW = 'loader exe password';

let tmp = '';
let emptyBin = '';
let src: StartedRegistry;
let dst: StartedRegistry;
let seeded = '';
let bundle = '';

/** Run with exactly this environment (`env -i`): PATH holds nothing, so no node, npm or shell tool is found. */
function bare(cmd: string, args: string[], cwd: string = tmp): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: { PATH: emptyBin, HOME: join(tmp, 'home') }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const exe = (args: string[], cwd?: string) => bare(join(bundle, 'ferry-load-linux-x64'), args, cwd);
const pub = () => join(tmp, 'ferry.pub');

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-e2e-exe-'));
  emptyBin = join(tmp, 'empty-bin');
  await mkdir(emptyBin);
  await mkdir(join(tmp, 'home'));
  // Build what this test runs (kept when its inputs are unchanged: a warm run takes seconds).
  const b = await run(process.execPath, [join(root, 'scripts/build-loader.mjs'), '--platforms', 'linux-x64,linux-arm64', '--quiet']);
  assert.is(b.code, 0, b.stderr);
  const k = await bundleCli(['keygen', '--out', join(tmp, 'ferry')], { env: { FERRY_KEY_PASSWORD: PW } });
  assert.is(k.code, 0, k.stderr);
  await makeOciLayout(join(tmp, 'layout'), [{ tag: 'web', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 300_000, seed: 'exe-web' }, { size: 20_000, seed: 'exe-cfg', gzipLevel: 0 }] }] }]);
  [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
  ({ digest: seeded } = await seedLayout(src, join(tmp, 'layout'), 'web', 'team/web:1.0'));
  bundle = join(tmp, 'out');
  const c = await bundleCli(
    ['create', '--name', 'wk', '--out', bundle, '--key', join(tmp, 'ferry.key'), '--image', `${src.host}/team/web:1.0`, '--insecure-registry', src.host, '--with-loader=linux-x64,linux-arm64', '--loader-dir', LOADER_DIR],
    { env: { FERRY_KEY_PASSWORD: PW } },
  );
  assert.is(c.code, 0, c.stdout + c.stderr);
});

test.after(async () => {
  await Promise.all([src?.stop(), dst?.stop()]);
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('nothing is on PATH: no node, and the executable needs none', async () => {
  const which = await bare('/bin/sh', ['-c', 'command -v node || command -v npm || command -v sha256sum']);
  assert.is.not(which.code, 0, `found ${which.stdout}`);
  const v = await exe(['--version']);
  assert.is(v.code, 0, v.stderr);
  assert.match(v.stdout, /^ferry-load 0\.1\.0\nbundle format: reads 1, 2, 3, 4; writes 1, 2, 3, 4\nruntime: Node\.js v2[2-9]\.\d+\.\d+ \(linux-x64, single executable\)\n$/);
});

test('the bundle lists the executables in the signed manifest and NAME.sha256; sha256sum -c agrees', async () => {
  const m = JSON.parse(await readFile(join(bundle, 'wk.manifest.json'), 'utf8')) as { schemaVersion: number; loaders: Array<{ platform: string; file: string; digest: string; size: number }> };
  assert.is(m.schemaVersion, 3);
  assert.equal(m.loaders.map((l) => l.file), ['ferry-load-linux-x64', 'ferry-load-linux-arm64']);
  const built = createHash('sha256').update(await readFile(X64)).digest('hex');
  assert.is(m.loaders[0]!.digest, `sha256:${built}`);
  const sums = await readFile(join(bundle, 'wk.sha256'), 'utf8');
  assert.match(sums, new RegExp(`^${built}  ferry-load-linux-x64$`, 'm'));
  const c = await sh('sha256sum -c wk.sha256', bundle);
  assert.is(c.code, 0, c.stdout + c.stderr);
});

test('checksum, verify and inspect run from the executable beside the volumes', async () => {
  const c = await exe(['checksum', 'wk.sha256', '--key', pub()], bundle);
  assert.is(c.code, 0, c.stdout + c.stderr);
  assert.match(c.stdout, /PASS\s+ferry-load-linux-x64/);
  assert.match(c.stdout, /PASS\s+ferry-load-linux-arm64/);
  assert.match(c.stdout, /RESULT: PASS — 5 passed/);
  const v = await exe(['verify', bundle, '--trusted-key', pub()]);
  assert.is(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /OK\s+wk-001\.tar\.zst/);
  assert.match(v.stdout, /OK\s+ferry-load-linux-x64\s+ferry-load executable as signed/);
  assert.match(v.stdout, /RESULT: OK/);
  const i = await exe(['inspect', bundle, '--trusted-key', pub(), '--json']);
  assert.is(i.code, 0, i.stderr);
  const r = JSON.parse(i.stdout) as { images: Array<{ ref: string; digest: string }>; loaders: Array<{ file: string; present: boolean }> };
  assert.equal(r.images.map((x) => [x.ref, x.digest]), [['team/web:1.0', seeded]]);
  assert.equal(r.loaders.map((l) => [l.file, l.present]), [['ferry-load-linux-x64', true], ['ferry-load-linux-arm64', true]]);
});

test('push from the executable lands the exact digest in a real registry (read back with skopeo)', async () => {
  const p = await exe(['push', bundle, '--trusted-key', pub(), '--to', `${dst.host}/mirror`, '--insecure-registry', dst.host, '--state-dir', join(tmp, 'state'), '--yes', '--json']);
  assert.is(p.code, 0, p.stdout + p.stderr);
  const bytes = await skopeoInspectRaw(dst, 'mirror/team/web:1.0');
  assert.is(`sha256:${createHash('sha256').update(bytes).digest('hex')}`, seeded);
});

test('a tampered executable beside the volumes fails checksum and verify, named; an absent one is only reported', async () => {
  const t = join(tmp, 'tampered');
  await mkdir(t);
  for (const f of await readdir(bundle)) if (f.startsWith('wk')) await link(join(bundle, f), join(t, f));
  await copyFile(X64, join(t, 'ferry-load-linux-x64'));
  const fh = await open(join(t, 'ferry-load-linux-x64'), 'r+');
  const one = Buffer.alloc(1);
  await fh.read(one, 0, 1, 4_000_000);
  one[0]! ^= 0x01;
  await fh.write(one, 0, 1, 4_000_000);
  await fh.close();
  // The good executable checks the tampered directory (the arm64 one is not carried there).
  const c = await exe(['checksum', t]);
  assert.is(c.code, 7, c.stdout + c.stderr);
  assert.match(c.stdout, /FAIL\s+ferry-load-linux-x64\s+expected sha256:/);
  assert.match(c.stdout, /ABSENT\s+ferry-load-linux-arm64/);
  const v = await exe(['verify', t, '--trusted-key', pub()]);
  assert.is(v.code, 7, v.stdout + v.stderr);
  assert.match(v.stdout, /BAD\s+ferry-load-linux-x64/);
  assert.match(v.stdout, /ABSENT\s+ferry-load-linux-arm64/);
  assert.match(v.stderr, /CHECKSUM_MISMATCH.*ferry-load-linux-x64.*not the one the signed manifest lists/);
  const s = await sh('sha256sum -c --ignore-missing wk.sha256', t);
  assert.is.not(s.code, 0);
  assert.match(s.stdout, /ferry-load-linux-x64: FAILED/);
});

test('SHA256SUMS of a separately carried loader: sha256sum -c, and its signature verifies with stock openssl', async () => {
  const b = await run(process.execPath, [join(root, 'scripts/build-loader.mjs'), '--platforms', 'linux-x64', '--key', join(tmp, 'ferry.key'), '--quiet'], { env: { FERRY_KEY_PASSWORD: PW } });
  assert.is(b.code, 0, b.stderr);
  const c = await sh('sha256sum -c --ignore-missing SHA256SUMS', LOADER_DIR);
  assert.is(c.code, 0, c.stdout + c.stderr);
  assert.match(c.stdout, /ferry-load-linux-x64: OK/);
  const der = join(tmp, 'SHA256SUMS.sig.der');
  const o = await sh(`base64 -d SHA256SUMS.sig > ${der} && openssl dgst -sha256 -verify ${pub()} -signature ${der} SHA256SUMS`, LOADER_DIR);
  assert.is(o.code, 0, o.stdout + o.stderr);
  assert.match(o.stdout, /Verified OK/);
  // A changed list fails the same check.
  const bad = await sh(`sed 's/^./0/' SHA256SUMS > ${tmp}/sums && openssl dgst -sha256 -verify ${pub()} -signature ${der} ${tmp}/sums`, LOADER_DIR);
  assert.is.not(bad.code, 0);
  // Unsigned again, as a plain build leaves it (no stale signature over a later list).
  const u = await run(process.execPath, [join(root, 'scripts/build-loader.mjs'), '--platforms', 'linux-x64', '--quiet']);
  assert.is(u.code, 0, u.stderr);
  assert.not.ok(existsSync(join(LOADER_DIR, 'SHA256SUMS.sig')));
});

test('inside a chroot holding only the executable and glibc, verify still passes (root only)', async () => {
  if (process.getuid?.() !== 0) {
    console.log('  (skipped: chroot needs root; the PATH checks above still ran)');
    return;
  }
  const jail = join(tmp, 'jail');
  await mkdir(join(jail, 'b'), { recursive: true });
  const libs = await sh(`ldd ${X64} | grep -o '/lib[^ ]*'`);
  assert.is(libs.code, 0, libs.stderr);
  for (const l of libs.stdout.trim().split('\n')) {
    await mkdir(join(jail, l, '..'), { recursive: true });
    await copyFile(l, join(jail, l));
  }
  await copyFile(X64, join(jail, 'ferry-load'));
  for (const f of await readdir(bundle)) if (f.startsWith('wk')) await link(join(bundle, f), join(jail, 'b', f));
  await copyFile(pub(), join(jail, 'ferry.pub'));
  assert.not.ok(existsSync(join(jail, 'usr')), 'no /usr in the jail');
  const v = await bare('/usr/sbin/chroot', [jail, '/ferry-load', 'verify', '/b', '--trusted-key', '/ferry.pub']);
  assert.is(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /RESULT: OK/);
});

test('the decoder the executable uses (node:zlib zstd) passes the volume reader and serve reader tests under its runtime', async () => {
  const v = await exe(['--version']);
  const version = /Node\.js v(\d+\.\d+\.\d+)/.exec(v.stdout)?.[1];
  assert.ok(version, v.stdout);
  const node = join(process.env.FERRY_RUNTIME_CACHE || join(root, '.tools/node-runtimes'), version, 'linux-x64', 'node');
  assert.ok(existsSync(node), node);
  for (const file of ['packages/format-spec/test/volume-reader.test.ts', 'packages/format-spec/test/zstd-frame-walker.test.ts', 'packages/loader/test/serve/blob-reader.test.ts']) {
    const r = await run(node, ['-e', "process.exit(typeof require('node:zlib').createZstdDecompress === 'function' ? 0 : 99)"]);
    assert.is(r.code, 0, `the runtime has no zstd in node:zlib: ${r.stderr}`);
    const t = await run(node, ['--conditions=ferry-src', '--import', 'tsx', file], { env: { FORCE_COLOR: '0' } });
    assert.is(t.code, 0, `${file} under Node ${version}: ${t.stdout}${t.stderr}`);
    assert.match(t.stdout, /Total:\s+(\d+)\s+Passed:\s+\1\b/, t.stdout);
  }
});

test('linux-arm64: the executable runs under qemu-user (--version, verify)', async () => {
  assert.ok(existsSync(QEMU), `${QEMU} not found: apt-get install qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross (.ci/run does)`);
  assert.ok(existsSync(join(ARM64_SYSROOT, 'lib/ld-linux-aarch64.so.1')), `${ARM64_SYSROOT}: install libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross`);
  assert.ok(existsSync(ARM64));
  const v = await bare(QEMU, ['-L', ARM64_SYSROOT, join(bundle, 'ferry-load-linux-arm64'), '--version']);
  assert.is(v.code, 0, v.stderr);
  assert.match(v.stdout, /runtime: Node\.js v\d+\.\d+\.\d+ \(linux-arm64, single executable\)/);
  const r = await bare(QEMU, ['-L', ARM64_SYSROOT, join(bundle, 'ferry-load-linux-arm64'), 'verify', bundle, '--trusted-key', pub()]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /RESULT: OK/);
  assert.match(r.stdout, /OK\s+ferry-load-linux-arm64\s+ferry-load executable as signed/);
});

test.run();
