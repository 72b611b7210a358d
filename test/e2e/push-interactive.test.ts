// The operator at a terminal (a real pseudo-terminal through util-linux `script`): nothing is
// written while the question waits, "no" exits with its own code, Ctrl-C at the prompt or
// during the load prints one line and exits 130, and the next run completes and leaves no
// temp files. A kill -9 leaves nothing half-tagged and a lock the next run takes over.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeOciLayout } from '../helpers/images.js';
import { bundleCli, loadCli, sh, type RunResult } from '../helpers/cli.js';

const loader = fileURLToPath(new URL('../../packages/loader/bin/ferry-load.js', import.meta.url));
const INTERRUPTED = 'ferry-load: interrupted; nothing was tagged that is incomplete; run the same command again to continue';
let tmp = '';
let bundle = '';

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-push-tty-'));
  await makeOciLayout(join(tmp, 'src'), [
    { tag: 'small', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 5_000, seed: 'i-small' }] }] },
    // Large enough that an interrupt lands while its blob is being written.
    { tag: 'big', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 400 << 20, seed: 'i-big', gzipLevel: 0 }] }] },
  ]);
  assert.is((await bundleCli(['keygen', '--no-password', '--out', join(tmp, 'k')])).code, 0);
  bundle = join(tmp, 'bundle');
  const r = await bundleCli(['create', '--name', 'tty', '--out', bundle, '--key', join(tmp, 'k.key'), '--image', `oci:${join(tmp, 'src')}:small`, '--image', `oci:${join(tmp, 'src')}:big`]);
  assert.is(r.code, 0, r.stderr);
});

test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Wait until a blob is being written into the layout (its temp file, named <pid>-<hex12>-…, is in
 *  Ferry's area; the layout's own oci-layout and index.json temps do not count). */
async function blobBeingWritten(out: string): Promise<void> {
  const end = Date.now() + 60_000;
  for (;;) {
    const names = await readdir(join(out, '.ferry', 'tmp')).catch(() => [] as string[]);
    if (names.some((n) => /^\d+-[0-9a-f]{12}-/.test(n)) && existsSync(join(out, '.ferry', 'lock'))) return;
    if (Date.now() > end) throw new Error('the load never started writing a blob');
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** ferry-load push on a pseudo-terminal; `answer` is typed once the question shows. */
function onTerminal(out: string, answer: (seen: () => void) => string): Promise<RunResult & { sawTargetWhileAsking: boolean }> {
  const cmd = [process.execPath, loader, 'push', bundle, '--trusted-key', join(tmp, 'k.pub'), '--to', `oci:${out}`].map((a) => `'${a}'`).join(' ');
  const child = spawn('script', ['-qec', cmd, '/dev/null'], { env: { ...process.env, CI: 'true', TERM: 'dumb' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let answered = false;
  let sawTargetWhileAsking = false;
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (!answered && stdout.includes('Load it? [y/N]')) {
      answered = true;
      sawTargetWhileAsking = existsSync(out) || existsSync(`${out}-files`);
      child.stdin.write(answer(() => undefined));
    }
  });
  return new Promise((resolve) => child.on('close', (code) => {
    child.stdin.destroy();
    resolve({ code: code ?? -1, stdout, stderr: '', sawTargetWhileAsking });
  }));
}

test('nothing is written while the question waits; "no" exits 20 with its own message', async () => {
  const out = join(tmp, 'declined');
  const r = await onTerminal(out, () => 'n\r');
  assert.is(r.code, 20, r.stdout);
  assert.not.ok(r.sawTargetWhileAsking, 'the target did not exist while the prompt waited');
  assert.match(r.stdout, /Bundle tty, created .* signed by/);
  assert.match(r.stdout, /DECLINED.*not loaded: the operator answered no; nothing was written/);
  assert.not.ok(existsSync(out), 'nothing written after no');
  assert.not.ok(existsSync(`${out}-files`));
});

test('Ctrl-C at the prompt prints one line and exits 130, writing nothing', async () => {
  const out = join(tmp, 'ctrl-c-prompt');
  const r = await onTerminal(out, () => '\x03');
  assert.is(r.code, 130, r.stdout);
  assert.ok(r.stdout.includes(INTERRUPTED), r.stdout);
  assert.not.match(r.stdout, /INTERNAL|This is a bug|error \[/);
  assert.not.ok(existsSync(out));
});

test('"yes" at the terminal loads it', async () => {
  const out = join(tmp, 'yes');
  const r = await onTerminal(out, () => 'y\r');
  assert.is(r.code, 0, r.stdout);
  assert.match(r.stdout, /Complete\./);
});

test('Ctrl-C during the load: one line, exit 130, nothing incomplete tagged; the same command then completes and leaves no temp files', async () => {
  const out = join(tmp, 'ctrl-c-work');
  const child = spawn(process.execPath, [loader, 'push', bundle, '--trusted-key', join(tmp, 'k.pub'), '--to', `oci:${out}`, '--yes'], { env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  await blobBeingWritten(out);
  child.kill('SIGINT');
  const code = await done;
  assert.is(code, 130, stderr);
  const lines = stderr.trim().split('\n');
  assert.is(lines[lines.length - 1], INTERRUPTED);
  assert.is(lines.filter((l) => l.includes('interrupted')).length, 1);
  assert.not.match(stderr, /INTERNAL|This is a bug|error \[/);
  const idx = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')).manifests as Array<{ annotations: Record<string, string> }>;
  assert.not.ok(idx.some((m) => m.annotations['org.opencontainers.image.ref.name'] === 'src:big'), 'the interrupted image is not tagged');
  assert.not.ok(existsSync(join(out, '.ferry', 'lock')), 'the lock is released on the way out');

  const again = await loadCli(['push', bundle, '--trusted-key', join(tmp, 'k.pub'), '--to', `oci:${out}`, '--yes']);
  assert.is(again.code, 0, again.stderr);
  assert.equal(await readdir(join(out, '.ferry', 'tmp')), []);
  assert.equal(await readdir(join(out, '.ferry', 'partial')), []);
  const insp = await sh(`skopeo inspect oci:${out}:src:big`);
  assert.is(insp.code, 0, insp.stderr);
});

test('kill -9 during the load: index.json never names an incomplete image; the next run takes over the dead lock and completes', async () => {
  const out = join(tmp, 'kill-9');
  const child = spawn(process.execPath, [loader, 'push', bundle, '--trusted-key', join(tmp, 'k.pub'), '--to', `oci:${out}`, '--yes'], { env: { ...process.env, CI: 'true' }, stdio: 'ignore' });
  const done = new Promise<void>((resolve) => child.on('close', () => resolve()));
  await blobBeingWritten(out);
  child.kill('SIGKILL');
  await done;
  assert.ok(existsSync(join(out, '.ferry', 'lock')), 'a killed run cannot release its lock');
  const idx = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')).manifests as Array<{ annotations: Record<string, string> }>;
  for (const m of idx) {
    const tag = m.annotations['org.opencontainers.image.ref.name'];
    // Every tag that is there must be complete: skopeo reads and checks every blob it needs.
    const copy = await sh(`skopeo copy oci:${out}:${tag} oci:${join(tmp, 'kill-9-check')}:x`);
    assert.is(copy.code, 0, `${tag}: ${copy.stderr}`);
  }
  assert.not.ok(idx.some((m) => m.annotations['org.opencontainers.image.ref.name'] === 'src:big'));
  const again = await loadCli(['push', bundle, '--trusted-key', join(tmp, 'k.pub'), '--to', `oci:${out}`, '--yes']);
  assert.is(again.code, 0, again.stderr);
  assert.equal(await readdir(join(out, '.ferry', 'tmp')), []);
  assert.not.ok(existsSync(join(out, '.ferry', 'lock')));
});

test.run();
