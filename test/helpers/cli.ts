// Run the built CLIs (packages/*/dist via bin/) as a user would, capturing output.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { env?: Record<string, string | undefined>; cwd?: string; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd ?? root,
      env: { ...process.env, CI: 'true', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    // A child that exits before reading its stdin (a quick failure) must not crash the test with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

export const bundleCli = (args: string[], opts?: Parameters<typeof run>[2]) => run(process.execPath, [`${root}packages/bundler/bin/ferry-bundle.js`, ...args], opts);
export const loadCli = (args: string[], opts?: Parameters<typeof run>[2]) => run(process.execPath, [`${root}packages/loader/bin/ferry-load.js`, ...args], opts);

/** Shell pipeline for interop checks (sha256sum, openssl, zstd | tar). */
export const sh = (script: string, cwd?: string) => run('bash', ['-o', 'pipefail', '-c', script], cwd ? { cwd } : {});
