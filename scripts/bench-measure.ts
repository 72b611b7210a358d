// How the bench measures one command: GNU time around bash -o pipefail -c SCRIPT, giving wall
// time, peak RSS, bytes written to block devices and CPU time, printed as one line.

import { spawn, spawnSync } from 'node:child_process';

const MiB = 1 << 20;
const root = new URL('..', import.meta.url).pathname;

/** Wall time, peak RSS, and bytes the command wrote to block-backed file systems (GNU time %O, 512-byte units). */
export interface Measure { seconds: number; rssMiB: number; writtenMiB: number; cpuSeconds: number }

export const timeArgs = (script: string) => ['-f', '%e %M %O %U %S', 'bash', '-o', 'pipefail', '-c', script];

/** Dirty pages of earlier steps (GiBs of bundles and extracted layouts) are flushed before each
 *  measured command, outside its time: otherwise whichever side runs next is throttled by the
 *  kernel's writeback of the other side's output (seen: a 1 GiB dd took 6.7 s instead of 0.6). */
function settle(): void {
  spawnSync('sync');
}

export function timed(label: string, script: string, cwd = root): Measure {
  settle();
  return measured(label, spawnSync('/usr/bin/time', timeArgs(script), { cwd, encoding: 'utf8', env: { ...process.env, CI: 'true' }, maxBuffer: 64 * MiB }));
}

/**
 * timed() without blocking this process: needed while a harness registry runs, because this
 * process reads the registry's log pipe. Blocked in spawnSync, the pipe fills (64 KiB, about 130
 * "blob unknown" lines at level error) and the registry stops answering mid-run.
 */
export async function timedAsync(label: string, script: string, cwd = root): Promise<Measure> {
  settle();
  const child = spawn('/usr/bin/time', timeArgs(script), { cwd, env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const status = await new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return measured(label, { status, stdout, stderr });
}

export function measured(label: string, r: { status: number | null; stdout: string; stderr: string }): Measure {
  if (r.status !== 0) {
    process.stderr.write(`${label} failed (${r.status}):\n${r.stdout}\n${r.stderr}\n`);
    process.exit(1);
  }
  const last = r.stderr.trim().split('\n').pop()!.split(' ');
  const m = { seconds: Number(last[0]), rssMiB: Number(last[1]) / 1024, writtenMiB: (Number(last[2]) * 512) / MiB, cpuSeconds: Number(last[3]) + Number(last[4]) };
  process.stdout.write(`  ${label.padEnd(44)} ${m.seconds.toFixed(2).padStart(7)} s  ${m.rssMiB.toFixed(0).padStart(5)} MiB RSS\n`);
  return m;
}

