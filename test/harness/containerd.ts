// A real containerd (Debian's) for the tests, in its own temp dirs: root, state and socket under
// one directory, the CRI plugin off (no kubelet here), started by PID and stopped by the harness.
// `ctr` talks to it through the socket; `--hosts-dir` makes it read a certs.d tree the way a
// node's /etc/containerd/certs.d is read, which is how the k8s mirror files are tested.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, type RunResult } from '../helpers/cli.js';
import { alive, stopper } from './child.js';

export const CONTAINERD_BIN = '/usr/bin/containerd';
export const CTR_BIN = '/usr/bin/ctr';

export interface StartedContainerd {
  socket: string;
  dir: string;
  readonly pid: number;
  log(): string;
  /** `ctr --address SOCKET ARGS…` */
  ctr(args: string[]): Promise<RunResult>;
  stop(): Promise<void>;
}

export async function startContainerd(): Promise<StartedContainerd> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-containerd-'));
  const socket = join(dir, 'containerd.sock');
  const config = join(dir, 'config.toml');
  await writeFile(config, ['version = 2', `root = "${join(dir, 'root')}"`, `state = "${join(dir, 'state')}"`, 'disabled_plugins = ["io.containerd.grpc.v1.cri"]', '[grpc]', `  address = "${socket}"`, ''].join('\n'));
  const child = spawn(CONTAINERD_BIN, ['--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise((r) => child.once('exit', r));
  process.once('exit', () => { if (alive(child)) child.kill('SIGKILL'); });
  const ctr = (args: string[]) => run(CTR_BIN, ['--address', socket, ...args]);
  for (let i = 0; ; i++) {
    if (!alive(child)) throw new Error(`containerd exited before serving:\n${log}`);
    if (existsSync(socket) && (await ctr(['version'])).code === 0) break;
    if (i > 100) {
      child.kill('SIGKILL');
      throw new Error(`containerd did not answer on ${socket} within 10 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { socket, dir, pid: child.pid!, log: () => log, ctr, stop: stopper(child, exited, dir) };
}
