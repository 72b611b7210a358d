// Two ferry-load processes into one target: the second is refused with a clear message naming
// the first (never a silent race that drops tags), a re-run then completes, and a lock left by a
// process that died is taken over.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeOciLayout, type ImageSpec } from '../helpers/images.js';
import { bundleCli, loadCli, type RunResult } from '../helpers/cli.js';

const loader = fileURLToPath(new URL('../../packages/loader/bin/ferry-load.js', import.meta.url));
let tmp = '';
const IMAGES = 30;

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-push-conc-'));
  assert.is((await bundleCli(['keygen', '--no-password', '--out', join(tmp, 'k')])).code, 0);
  for (const side of ['a', 'b']) {
    const specs: ImageSpec[] = Array.from({ length: IMAGES }, (_, i) => ({ tag: `${side}${i}`, platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 2_000, seed: `${side}-${i}` }] }] }));
    // Side a also carries one large layer, so its load lasts long enough for b to meet its lock.
    if (side === 'a') specs.push({ tag: 'big', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 400 << 20, seed: 'a-big', gzipLevel: 0 }] }] });
    await makeOciLayout(join(tmp, side, 'src'), specs);
    const images = specs.flatMap((s) => ['--image', `oci:${join(tmp, side, 'src')}:${s.tag}`]);
    const r = await bundleCli(['create', '--name', side, '--out', join(tmp, `bundle-${side}`), '--key', join(tmp, 'k.key'), ...images]);
    assert.is(r.code, 0, r.stderr);
  }
});

test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function start(side: string, out: string): { pid: number; done: Promise<RunResult> } {
  const child = spawn(process.execPath, [loader, 'push', join(tmp, `bundle-${side}`), '--trusted-key', join(tmp, 'k.pub'), '--to', `oci:${out}`, '--yes'], { env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return { pid: child.pid!, done: new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))) };
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('a second ferry-load into the same target is refused naming the first; re-run, every tag of both is there', async () => {
  const out = join(tmp, 'target');
  const a = start('a', out);
  await until(() => existsSync(join(out, '.ferry', 'lock')), 60_000);
  const b = start('b', out);
  const [ra, rb] = await Promise.all([a.done, b.done]);
  assert.is(ra.code, 0, ra.stderr);
  assert.is(rb.code, 18, `b: ${rb.stdout}${rb.stderr}`);
  assert.match(rb.stderr, new RegExp(`TARGET_BUSY.*another ferry-load \\(PID ${a.pid}, since [^)]*\\) is loading a into ${out.replace(/[/.]/g, '\\$&')}`));
  assert.match(rb.stderr, /Wait for the other ferry-load to finish/);
  const again = await loadCli(['push', join(tmp, 'bundle-b'), '--trusted-key', join(tmp, 'k.pub'), '--to', `oci:${out}`, '--yes']);
  assert.is(again.code, 0, again.stderr);
  const names = (JSON.parse(await readFile(join(out, 'index.json'), 'utf8')).manifests as Array<{ annotations: Record<string, string> }>).map((m) => m.annotations['org.opencontainers.image.ref.name']);
  assert.is(new Set(names).size, 2 * IMAGES + 1);
  assert.is(names.length, 2 * IMAGES + 1);
  assert.not.ok(existsSync(join(out, '.ferry', 'lock')));
});

test('both started at the same moment: one waits its turn (refused, then re-run); no tag is lost', async () => {
  const out = join(tmp, 'target2');
  const sides = ['b', 'a'];
  const runs = await Promise.all(sides.map((side) => start(side, out).done));
  for (const [i, r] of runs.entries()) {
    assert.ok(r.code === 0 || r.code === 18, `${sides[i]}: ${r.code} ${r.stderr}`);
    if (r.code === 18) {
      const again = await loadCli(['push', join(tmp, `bundle-${sides[i]}`), '--trusted-key', join(tmp, 'k.pub'), '--to', `oci:${out}`, '--yes']);
      assert.is(again.code, 0, again.stderr);
    }
  }
  const idx = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')).manifests as unknown[];
  assert.is(idx.length, 2 * IMAGES + 1);
});

test('a lock left by a process that no longer runs is taken over', async () => {
  const out = join(tmp, 'stale');
  await mkdir(join(out, '.ferry'), { recursive: true });
  await writeFile(join(out, '.ferry', 'lock'), JSON.stringify({ pid: 4194305, host: hostname(), token: 'crashed', since: '2026-11-30T23:00:00Z', what: 'loading something' }));
  const r = await loadCli(['push', join(tmp, 'bundle-b'), '--trusted-key', join(tmp, 'k.pub'), '--to', `oci:${out}`, '--yes']);
  assert.is(r.code, 0, r.stderr);
  assert.not.ok(existsSync(join(out, '.ferry', 'lock')));
});

test.run();
