// `ferry-load serve` as the e2e tests start it: port 0, --json, resolved once its startup line
// names the port; stop() sends SIGTERM and resolves with the exit code.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

export interface Served {
  url: string;
  host: string;
  proc: ChildProcess;
  /** stderr so far (the request log). */
  log: () => string;
  stop: () => Promise<number>;
}

export function startServe(dir: string, trustedKey: string, extra: string[] = []): Promise<Served> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [`${root}packages/loader/bin/ferry-load.js`, 'serve', dir, '--trusted-key', trustedKey, '--listen', '127.0.0.1:0', '--json', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const exited = new Promise<number>((r) => proc.once('exit', (code) => r(code ?? -1)));
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl === -1) return;
      const start = JSON.parse(out.slice(0, nl)) as { url: string; port: number };
      resolve({
        url: start.url,
        host: `127.0.0.1:${start.port}`,
        proc,
        log: () => err,
        stop: async () => {
          proc.kill('SIGTERM');
          return exited;
        },
      });
    });
    void exited.then((code) => reject(new Error(`serve exited ${code} before listening: ${err}`)));
  });
}
