// Starts a real CNCF distribution 2.8 registry (Debian's /usr/bin/docker-registry) on a free
// loopback port, in its own temp dir, plain or with htpasswd / token auth and TLS. Stopped by
// PID; a process 'exit' hook kills any left running so a failed test never leaks one.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import http from 'node:http';
import https from 'node:https';
import { makeCerts } from './certs.js';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export interface RegistryOptions {
  /** htpasswd (bcrypt) Basic auth with this one user. */
  auth?: { user: string; password: string };
  /** Token auth (distribution's `auth: token`); see token-server.ts. */
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
  /** Serve HTTPS with a fresh test CA (its file is returned as caFile). */
  tls?: boolean;
}

export interface StartedRegistry {
  /** 127.0.0.1:PORT */
  host: string;
  /** http(s)://127.0.0.1:PORT */
  url: string;
  caFile?: string;
  dir: string;
  pid: number;
  /** Registry stdout+stderr so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of running) if (c.pid && c.exitCode === null && c.signalCode === null) {
    try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
  }
});

/** A free loopback port (never 5000, which a packaged registry may hold). */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const a = s.address();
        const p = typeof a === 'object' && a ? a.port : 0;
        s.close(() => resolve(p));
      });
    });
    if (port !== 5000) return port;
  }
}

function htpasswdLine(user: string, password: string): string {
  // -i reads the password from stdin, so it never shows in a process listing.
  const r = spawnSync('htpasswd', ['-Bin', user], { input: password, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`htpasswd failed: ${r.stderr}`);
  return r.stdout.trim() + '\n';
}

function configYaml(o: { data: string; addr: string; tls?: { cert: string; key: string }; htpasswd?: string; token?: RegistryOptions['token'] }): string {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${o.data}`,
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: ${o.addr}`,
    '  secret: ferry-test-secret',
  ];
  if (o.tls) lines.push('  tls:', `    certificate: ${o.tls.cert}`, `    key: ${o.tls.key}`);
  if (o.htpasswd) lines.push('auth:', '  htpasswd:', '    realm: ferry-test', `    path: ${o.htpasswd}`);
  if (o.token) {
    lines.push('auth:', '  token:', `    realm: ${o.token.realm}`, `    service: ${o.token.service}`,
      `    issuer: ${o.token.issuer}`, `    rootcertbundle: ${o.token.rootCertBundle}`);
  }
  return lines.join('\n') + '\n';
}

function probe(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { rejectUnauthorized: false, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => { req.destroy(); resolve(false); });
  });
}

export async function startRegistry(opts: RegistryOptions = {}): Promise<StartedRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-reg-'));
  const data = join(dir, 'data');
  await mkdir(data);
  let caFile: string | undefined;
  let tls: { cert: string; key: string } | undefined;
  if (opts.tls) {
    const c = await makeCerts(join(dir, 'certs'));
    caFile = c.caFile;
    tls = { cert: c.certFile, key: c.keyFile };
  }
  let htpasswd: string | undefined;
  if (opts.auth) {
    htpasswd = join(dir, 'htpasswd');
    // Create it first: a missing file makes the registry invent a user (protocols.md §4).
    await writeFile(htpasswd, htpasswdLine(opts.auth.user, opts.auth.password));
  }
  let lastErr = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    const url = `${tls ? 'https' : 'http'}://${host}`;
    const cfg = join(dir, 'config.yml');
    await writeFile(cfg, configYaml({ data, addr: host, ...(tls ? { tls } : {}), ...(htpasswd ? { htpasswd } : {}), ...(opts.token ? { token: opts.token } : {}) }));
    const child = spawn(REGISTRY_BIN, ['serve', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let log = '';
    child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => { running.delete(child); resolve(); }));
    const deadline = Date.now() + 10_000;
    let ready = false;
    while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
      if (await probe(`${url}/v2/`)) { ready = true; break; }
      await new Promise((r) => setTimeout(r, 20));
    }
    if (!ready) {
      lastErr = log;
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
      continue; // port raced away, or a config problem: the log says which
    }
    const pid = child.pid!;
    let stopped = false;
    return {
      host, url, dir, pid,
      ...(caFile ? { caFile } : {}),
      log: () => log,
      async stop() {
        if (stopped) return;
        stopped = true;
        if (child.exitCode === null && child.signalCode === null) {
          process.kill(pid, 'SIGTERM');
          const t = setTimeout(() => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }, 2000);
          await exited;
          clearTimeout(t);
        }
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  await rm(dir, { recursive: true, force: true });
  throw new Error(`docker-registry did not start:\n${lastErr}`);
}
