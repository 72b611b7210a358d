// The cross-process target lock: a second process is refused while the holder runs, a lock left
// by a process that no longer runs (or whose PID was reused) is taken over, and a holder only
// ever removes its own lock.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireDirLock } from '../src/dir-lock.js';
import { rejectsCode } from '../../../test/helpers/assert.js';

let root = '';
test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'ferry-lock-'));
});
test.after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A child process that takes the lock, says so, and holds it until its stdin closes. */
function holder(path: string): Promise<{ pid: number; stop: () => Promise<void> }> {
  const src = `
    import { acquireDirLock } from ${JSON.stringify(new URL('../src/dir-lock.ts', import.meta.url).pathname)};
    const l = await acquireDirLock(${JSON.stringify(path)}, { what: 'loading into the test target' });
    process.stdout.write('locked\\n');
    process.stdin.resume();
    process.stdin.on('end', async () => { await l.release(); process.exit(0); });
  `;
  const child = spawn(process.execPath, ['--conditions=ferry-src', '--import', 'tsx', '--input-type=module', '-e', src], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('locked')) {
        resolve({
          pid: child.pid!,
          stop: () => new Promise((r) => {
            child.on('close', () => r());
            child.stdin.end();
          }),
        });
      }
    });
  });
}

test('a second process is refused with TARGET_BUSY naming the holder; after release it gets the lock', async () => {
  const path = join(root, 'busy.lock');
  const h = await holder(path);
  try {
    const e = await rejectsCode(acquireDirLock(path, { what: 'loading' }), 'TARGET_BUSY', new RegExp(`another ferry-load \\(PID ${h.pid}`));
    assert.match(e.message, /loading into the test target/);
    assert.is(e.details.pid, h.pid);
  } finally {
    await h.stop();
  }
  assert.not.ok(existsSync(path), 'the holder removed its lock');
  const l = await acquireDirLock(path, { what: 'loading' });
  await l.release();
});

test('waiting: a lock released within waitMs is taken', async () => {
  const path = join(root, 'wait.lock');
  const first = await acquireDirLock(path, { what: 'first' });
  setTimeout(() => void first.release(), 200);
  const second = await acquireDirLock(path, { what: 'second', waitMs: 5000 });
  await second.release();
});

test('a stale lock (its process is gone, or its PID now belongs to another process) is taken over', async () => {
  const dead = join(root, 'dead.lock');
  // PID 2^22 + 1 is above Linux's pid_max default, so no process has it.
  await writeFile(dead, JSON.stringify({ pid: 4194305, host: hostname(), token: 'old', since: '2026-01-01T00:00:00Z', what: 'x' }));
  const l1 = await acquireDirLock(dead, { what: 'new holder' });
  assert.is(JSON.parse(await readFile(dead, 'utf8')).pid, process.pid);
  await l1.release();
  const reused = join(root, 'reused.lock');
  // Our own PID (alive) but another start time: the process that wrote it is gone.
  await writeFile(reused, JSON.stringify({ pid: process.pid, host: hostname(), start: '1', token: 'old', since: '2026-01-01T00:00:00Z', what: 'x' }));
  const l2 = await acquireDirLock(reused, { what: 'new holder' });
  await l2.release();
  // A damaged (unparsable) lock file is taken over after a short wait.
  const junk = join(root, 'junk.lock');
  await writeFile(junk, '{not json');
  const l3 = await acquireDirLock(junk, { what: 'new holder' });
  await l3.release();
});

test('release never removes a lock that another holder took since', async () => {
  const path = join(root, 'own.lock');
  const l = await acquireDirLock(path, { what: 'a' });
  await writeFile(path, JSON.stringify({ pid: process.pid, host: hostname(), token: 'someone-else', since: 'now', what: 'b' }));
  await l.release();
  assert.ok(existsSync(path));
  assert.is(JSON.parse(await readFile(path, 'utf8')).token, 'someone-else');
});

test.run();
