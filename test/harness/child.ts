// What every harness server started as a child process shares: whether it still runs, and a
// stop that asks (SIGTERM), insists after 2 s (SIGKILL), waits for the exit and removes its dir.
import { rm } from 'node:fs/promises';
import type { ChildProcess } from 'node:child_process';

export const alive = (c: ChildProcess): boolean => c.exitCode === null && c.signalCode === null;

/** A stop() for `child` (idempotent): `exited` resolves when it has exited, `dir` is removed after. */
export function stopper(child: ChildProcess, exited: Promise<unknown>, dir: string): () => Promise<void> {
  let stopped = false;
  return async () => {
    if (stopped) return;
    stopped = true;
    if (alive(child)) {
      child.kill('SIGTERM');
      const t = setTimeout(() => { if (alive(child)) child.kill('SIGKILL'); }, 2000);
      await exited;
      clearTimeout(t);
    }
    await rm(dir, { recursive: true, force: true });
  };
}
