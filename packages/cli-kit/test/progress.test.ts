// Progress displays and Ctrl-C: the line an interrupted display leaves, and a display that never
// takes the signal from a command that handles it itself (push), nor keeps listening after finish().
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createProgress, interruptLine } from '../src/index.js';

/** Run `f` with process.exit and stderr captured: what it would have exited with, what it wrote. */
async function captured(f: () => Promise<void>): Promise<{ exited: number | undefined; err: string }> {
  const exit = process.exit;
  const write = process.stderr.write.bind(process.stderr);
  const seen: { exited: number | undefined; err: string } = { exited: undefined, err: '' };
  process.exit = ((code?: number) => void (seen.exited = code)) as typeof process.exit;
  process.stderr.write = ((c: string | Uint8Array) => ((seen.err += String(c)), true)) as typeof process.stderr.write;
  try {
    await f();
  } finally {
    process.exit = exit;
    process.stderr.write = write;
  }
  return seen;
}

test('interruptLine: how far the work got, and what to do when the run stops there', () => {
  assert.is(interruptLine('checking', { bytes: 512 * 1024, total: 2 * 1024 * 1024 }, true), 'checking: interrupted at 25% (512.0 KiB of 2.0 MiB); nothing more is done (exit 130): run the same command again');
  assert.is(interruptLine('loading', { bytes: 3 * 1024 * 1024, total: 2 * 1024 * 1024 }, false), 'loading: stopped at 100% (3.0 MiB of 2.0 MiB)', 'never more than 100%');
  assert.is(interruptLine('bundling', { bytes: 0, total: 0 }, false), 'bundling: stopped after 0 B', 'no total yet');
});

test('a command that stops on SIGINT itself keeps it: the display stops, the process does not exit, finish() resolves once', async () => {
  let commandSaw = 0;
  const command = (): void => void commandSaw++;
  process.on('SIGINT', command);
  const before = process.listenerCount('SIGINT');
  try {
    const r = await captured(async () => {
      const p = await createProgress('quiet', 'loading', { interrupt: 'command' });
      assert.is(process.listenerCount('SIGINT'), before + 1, 'the display listens while it is live');
      p.update({ bytes: 5, total: 10 });
      process.emit('SIGINT', 'SIGINT');
      await p.finish();
      await p.finish();
    });
    assert.is(commandSaw, 1);
    assert.is(r.exited, undefined, 'the command decides how to stop');
    assert.is(r.err, '', 'a silent display adds nothing: the command says it was interrupted');
    assert.is(process.listenerCount('SIGINT'), before, 'and stops listening');
    const q = await createProgress('ci', 'checking');
    await q.finish();
    assert.is(process.listenerCount('SIGINT'), before, 'finish() removes the listener');
  } finally {
    process.off('SIGINT', command);
  }
});

test('otherwise the display says where it stopped and exits 130', async () => {
  const r = await captured(async () => {
    const p = await createProgress('ci', 'checking');
    p.update({ bytes: 1024, total: 4096 });
    process.emit('SIGTERM', 'SIGTERM');
    await p.finish();
    await new Promise((res) => setImmediate(res));
  });
  assert.is(r.err, 'checking: interrupted at 25% (1.0 KiB of 4.0 KiB); nothing more is done (exit 130): run the same command again\n');
  assert.is(r.exited, 130);
});

test.run();
