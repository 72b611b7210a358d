// Progress off a terminal (a log, a pipe): plain lines whose totals are right from the first
// line. checksum's total is the bytes of the listed files that are here (not what it has read
// so far); push's and verify's count only the volumes that are here (a missing volume is no part
// of it); each ends at 100% of that total. Ctrl-C leaves one line saying how far the work got, exit 130.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatBytes } from '@ferry/cli-kit';
import { bundleCli, loadCli } from '../helpers/cli.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const DEMO = `oci:${fileURLToPath(new URL('../../examples/oci-layout', import.meta.url))}:demo-1.0`;
let tmp = '';
let bundle = '';
/** Not CI (which shows only the final state) and not a terminal: the plain-line display. */
const plain = { env: { CI: undefined, NO_COLOR: '1' } };

interface Line {
  pct: number;
  done: string;
  total: string;
}
/** The `TITLE: N% DONE / TOTAL RATE/s` lines of a plain run. */
function progressLines(stderr: string, title: string): Line[] {
  return [...stderr.matchAll(new RegExp(`^${title}: (\\d+)% (\\S+ \\S+) / (\\S+ \\S+) \\S+ \\S+/s`, 'gm'))].map((m) => ({ pct: Number(m[1]), done: m[2]!, total: m[3]! }));
}

function assertTotals(lines: Line[], bytes: number, what: string): void {
  assert.ok(lines.length >= 2, `${what}: progress lines were printed`);
  for (const l of lines) assert.is(l.total, formatBytes(bytes), `${what}: every line's total is what is here (${bytes} bytes)`);
  assert.is(lines[0]!.pct, 0, `${what}: the first line already knows the total`);
  const last = lines[lines.length - 1]!;
  assert.is(last.pct, 100, what);
  assert.is(last.done, formatBytes(bytes), what);
}

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-e2e-progress-'));
  bundle = join(tmp, 'b');
  // Small volumes: the image's large layer is split over several of them.
  const c = await bundleCli(['create', '--name', 'p', '--out', bundle, '--unsigned', '--image', DEMO, '--volume-size', '128KiB']);
  assert.is(c.code, 0, c.stderr);
});

test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** The bundle without volume 2 (one disc of the set not here). */
async function withoutVolume2(): Promise<string> {
  const dir = join(tmp, 'part');
  await mkdir(dir, { recursive: true });
  for (const f of await readdir(bundle)) if (f !== 'p-002.tar.zst') await copyFile(join(bundle, f), join(dir, f));
  return dir;
}

test('checksum: the total is the listed files that are here, from the first line; --ignore-missing leaves the absent volume out of it', async () => {
  const listed = (await readFile(join(bundle, 'p.sha256'), 'utf8')).trim().split('\n').map((l) => l.split(/\s+\*?/)[1]!);
  const sizes = new Map(await Promise.all(listed.map(async (f) => [f, (await stat(join(bundle, f))).size] as const)));
  const all = [...sizes.values()].reduce((a, b) => a + b, 0);
  const r = await loadCli(['checksum', bundle], plain);
  assert.is(r.code, 0, r.stderr);
  assertTotals(progressLines(r.stderr, 'checking'), all, 'whole set');

  const part = await withoutVolume2();
  const one = await loadCli(['checksum', part, '--ignore-missing'], plain);
  assert.is(one.code, 0, one.stdout + one.stderr);
  assertTotals(progressLines(one.stderr, 'checking'), all - sizes.get('p-002.tar.zst')!, 'one volume absent');
  const sel = await loadCli(['checksum', bundle, '--volumes', '1'], plain);
  const notSelected = [...sizes].filter(([f]) => /^p-00[2-9]\.tar\.zst$/.test(f)).reduce((n, [, s]) => n + s, 0);
  assertTotals(progressLines(sel.stderr, 'checking'), all - notSelected, '--volumes 1');
});

/** The content bytes (blobs, and the segments of split ones) the volumes other than 2 hold, and all of it. */
async function contentWithoutVolume2(): Promise<{ here: number; all: number }> {
  const m = JSON.parse(await readFile(join(bundle, 'p.manifest.json'), 'utf8')) as { blobs: Array<{ size: number; volume?: number; segments?: Array<{ volume: number; size: number }> }> };
  const here = (v: number) => v !== 2;
  return {
    here: m.blobs.reduce((n, b) => n + (b.volume !== undefined ? (here(b.volume) ? b.size : 0) : (b.segments ?? []).filter((g) => here(g.volume)).reduce((s, g) => s + g.size, 0)), 0),
    all: m.blobs.reduce((n, b) => n + b.size, 0),
  };
}

test('push and verify: the total counts only the volumes that are here (whole blobs and the segments of split ones)', async () => {
  const content = await contentWithoutVolume2();
  assert.ok(content.here < content.all, 'volume 2 holds part of the content');
  const part = await withoutVolume2();
  const r = await loadCli(['push', part, '--allow-unsigned', '--to', `oci:${join(tmp, 'oci')}`, '--yes'], plain);
  assert.is(r.code, 15, r.stderr);
  assertTotals(progressLines(r.stderr, 'loading'), content.here, 'push without volume 2');
  assert.match(r.stdout, /Not complete: bring p-002\.tar\.zst/);
  const v = await loadCli(['verify', part, '--allow-unsigned'], plain);
  assert.is(v.code, 8, v.stderr);
  assertTotals(progressLines(v.stderr, 'verifying'), content.here, 'verify without volume 2');
  const whole = await loadCli(['verify', bundle, '--allow-unsigned'], plain);
  assert.is(whole.code, 0, whole.stderr);
  assertTotals(progressLines(whole.stderr, 'verifying'), content.all, 'verify of the whole set');
});

/** A list naming one 4 GiB volume, made once (sparse: quick to make, slow to hash). */
let big: Promise<string> | undefined;
function bigList(): Promise<string> {
  big ??= (async () => {
    const dir = join(tmp, 'big');
    await mkdir(dir);
    await writeFile(join(dir, 'x-001.tar.zst'), '');
    await truncate(join(dir, 'x-001.tar.zst'), 4 * 1024 ** 3);
    await writeFile(join(dir, 'x.sha256'), `${'0'.repeat(64)}  x-001.tar.zst\n`);
    return join(dir, 'x.sha256');
  })();
  return big;
}

/** Whether process `pid` has `file` open (Linux /proc). */
async function hashing(pid: number, file: string): Promise<boolean> {
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  const targets = await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
  return targets.some((t) => t.endsWith(`/${file}`));
}

test('Ctrl-C during checksum: one line says how far it got, exit 130 (plain lines and CI alike)', async () => {
  const list = await bigList();
  for (const ci of [undefined, 'true']) {
    const child = spawn(process.execPath, [`${root}packages/loader/bin/ferry-load.js`, 'checksum', list], { env: { ...process.env, CI: ci, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const done = new Promise<number>((r) => child.on('close', (code) => r(code ?? -1)));
    // Once it is hashing (the volume is open), whatever the display shows.
    for (let i = 0; i < 400 && !(await hashing(child.pid!, 'x-001.tar.zst')); i++) await new Promise((r) => setTimeout(r, 25));
    child.kill('SIGINT');
    assert.is(await done, 130, stderr);
    const lines = stderr.trim().split('\n');
    assert.match(lines[lines.length - 1]!, /^checking: interrupted at \d+% \(.+ of 4\.0 GiB\); nothing more is done \(exit 130\): run the same command again$/, `CI=${ci}: ${stderr}`);
    assert.is(lines.filter((l) => l.includes('interrupted')).length, 1);
  }
});

test('on a terminal: the bar fits the terminal width, and Ctrl-C leaves the same one line, exit 130', async () => {
  const list = await bigList();
  for (const cols of [60, 200]) {
    const cmd = `stty cols ${cols} rows 30; '${process.execPath}' '${root}packages/loader/bin/ferry-load.js' checksum '${list}'`;
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { env: { ...process.env, CI: undefined, NO_COLOR: '1', TERM: 'xterm' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let sent = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!sent && /checking .*\d+%/.test(out)) {
        sent = true;
        child.stdin.write('\x03');
      }
    });
    const code = await new Promise<number>((r) => child.on('close', (c) => r(c ?? -1)));
    child.stdin.destroy();
    assert.is(code, 130, out);
    // eslint-disable-next-line no-control-regex
    const text = out.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '\n').replace(/\r/g, '');
    const bars = text.split('\n').filter((l) => /^checking \S+ +\d+% /.test(l));
    assert.ok(bars.length > 0, out);
    for (const b of bars) assert.ok([...b].length <= cols, `${[...b].length} > ${cols}: ${b}`);
    if (cols === 200) assert.is([...bars[0]!.split(' ')[1]!].length, 40, 'a wide terminal: the bar\'s longest');
    assert.match(text, /checking: interrupted at \d+% \(.+ of 4\.0 GiB\); nothing more is done \(exit 130\): run the same command again/);
  }
});

test.run();
