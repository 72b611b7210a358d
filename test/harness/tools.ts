// The pinned Go clients (cosign v2 and v3, crane, helm), server (chartmuseum) and checker
// (k8s-strict: Kubernetes manifests decoded into the real API types) the tests use as
// independent checks. They are built by scripts/test-tools.sh into the repository's git-ignored
// .tools/ (or $FERRY_TOOLS_DIR); the script skips a build that is already there and prints the
// bin directory on its last stdout line. It runs at most once per test process.

import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
export const TEST_TOOLS_SCRIPT = join(root, 'scripts', 'test-tools.sh');

/** `cosign` is cosign v2.6.5, `cosign3` cosign v3.1.3 (both pinned in scripts/test-tools.sh). */
export type GoToolName = 'cosign' | 'cosign3' | 'crane' | 'helm' | 'chartmuseum' | 'k8s-strict';

let binDir: Promise<string> | undefined;

/** Run scripts/test-tools.sh (once per process) and resolve to its bin directory. */
export function toolsBinDir(): Promise<string> {
  binDir ??= new Promise<string>((resolve, reject) => {
    // A cold build of cosign (v2 or v3), helm or chartmuseum takes minutes; a warm run is instant.
    execFile('bash', [TEST_TOOLS_SCRIPT], { cwd: root, timeout: 20 * 60_000, maxBuffer: 16 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) {
        const how = err.killed ? `was killed (${err.signal ?? 'timeout'})` : `exited with ${String(err.code)}`;
        reject(new Error(`bash scripts/test-tools.sh ${how}; cannot build the test tools (cosign, cosign3, crane, helm, chartmuseum, k8s-strict).\n--- stderr ---\n${stderr.trim() || '(empty)'}`));
        return;
      }
      const last = stdout.trim().split('\n').pop()?.trim() ?? '';
      if (!last || !existsSync(last)) {
        reject(new Error(`scripts/test-tools.sh printed no bin directory (last stdout line: ${JSON.stringify(last)}).\n--- stderr ---\n${stderr.trim()}`));
        return;
      }
      resolve(last);
    });
  });
  // A failure is remembered too: every caller in this process gets the same clear error.
  return binDir;
}

/** Path of a pinned Go test tool, built on first use. */
export async function goTool(name: GoToolName): Promise<string> {
  const bin = join(await toolsBinDir(), name);
  if (!existsSync(bin)) throw new Error(`scripts/test-tools.sh succeeded but ${bin} does not exist`);
  return bin;
}

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ToolRunOptions {
  /** Extra environment on top of the isolated one (HOME, DOCKER_CONFIG in a temp dir). */
  env?: Record<string, string | undefined>;
  /** Kill the process (SIGKILL) after this long; default 120 s. It then resolves with code -1. */
  timeoutMs?: number;
  input?: string;
  /** Working directory (default: this process's). */
  cwd?: string;
}

/**
 * Run a test tool with the user's own configuration out of reach: HOME and DOCKER_CONFIG point
 * into `isolatedHome` (no docker/podman credentials, no sigstore TUF cache of the user's), and
 * registry-related variables of the caller are dropped. Never rejects for a non-zero exit.
 */
export function runTool(bin: string, args: string[], isolatedHome: string, o: ToolRunOptions = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = {
      ...process.env,
      HOME: isolatedHome,
      DOCKER_CONFIG: join(isolatedHome, '.docker'),
      TUF_ROOT: join(isolatedHome, '.sigstore', 'root'),
      XDG_CONFIG_HOME: join(isolatedHome, '.config'),
      XDG_RUNTIME_DIR: undefined,
      REGISTRY_AUTH_FILE: undefined,
      COSIGN_PASSWORD: undefined,
      COSIGN_REPOSITORY: undefined,
      COSIGN_DOCKER_MEDIA_TYPES: undefined,
      SIGSTORE_REKOR_PUBLIC_KEY: undefined,
      FERRY_REGISTRY_CREDS: undefined,
      ...o.env,
    };
    for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
    // No stdin unless there is input: a tool that exits without reading it would otherwise make
    // our write fail with EPIPE (an unhandled 'error' that kills the test process).
    const child = spawn(bin, args, { env: env as NodeJS.ProcessEnv, stdio: [o.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'], ...(o.cwd ? { cwd: o.cwd } : {}) });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timeoutMs = o.timeoutMs ?? 120_000;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) stderr += `\n(${bin} killed after ${timeoutMs} ms)`;
      resolve({ code: code ?? -1, stdout, stderr });
    });
    if (child.stdin) {
      child.stdin.on('error', () => { /* the tool exited without reading its input: its exit code says why */ });
      child.stdin.end(o.input);
    }
  });
}
