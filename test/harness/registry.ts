// Starts a real CNCF distribution 2.8 registry (Debian's /usr/bin/docker-registry) on a free
// loopback port, in its own temp dir, plain or with htpasswd / token auth and TLS, optionally
// read-only. It can be SIGKILLed and restarted on the same port with the same config and data
// (crash tests). Stopped by PID; a process 'exit' hook kills any left running so a failed test
// never leaks one.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { closeSync, openSync, readFileSync } from 'node:fs';
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
  /**
   * distribution's `storage.maintenance.readonly`: reads work, every write (blob upload,
   * manifest PUT, DELETE) is refused with 405 UNSUPPORTED — a registry the caller may not push to.
   */
  readOnly?: boolean;
  /** distribution's `catalog.maxentries`: at most this many repositories per /v2/_catalog page
   *  whatever n= asks (so pagination is exercised with a few repositories). */
  catalogMaxEntries?: number;
  /** Keep distribution's access log (one combined-format line per request) in log(), so a
   *  test can count the requests a client made. */
  accessLog?: boolean;
}

export interface StartedRegistry {
  /** 127.0.0.1:PORT */
  host: string;
  /** http(s)://127.0.0.1:PORT */
  url: string;
  caFile?: string;
  dir: string;
  /** PID of the current registry process (a new one after restart()). */
  readonly pid: number;
  /** Registry stdout+stderr so far, across restarts (for failure messages). */
  log(): string;
  /** SIGKILL the registry (no clean shutdown); data dir and config stay. Resolves once it exited. */
  kill(): Promise<void>;
  /** Start it again on the same port with the same config and data; resolves when /v2/ answers. */
  restart(): Promise<void>;
  /** Whether a registry process is running now (false between kill() and restart()). */
  running(): boolean;
  /** Kill it if running (SIGTERM, then SIGKILL) and delete its temp dir. Safe after kill(). */
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

function configYaml(o: { data: string; addr: string; tls?: { cert: string; key: string }; htpasswd?: string; token?: RegistryOptions['token']; readOnly?: boolean; catalogMaxEntries?: number; accessLog?: boolean }): string {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    `    disabled: ${o.accessLog ? 'false' : 'true'}`,
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${o.data}`,
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    ...(o.readOnly ? ['    readonly:', '      enabled: true'] : []),
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
  if (o.catalogMaxEntries !== undefined) lines.push('catalog:', `  maxentries: ${o.catalogMaxEntries}`);
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

interface Proc {
  child: ChildProcess;
  exited: Promise<void>;
}

/**
 * Spawn the registry on `cfg` and wait until `url`/v2/ answers; undefined if it never did. Its
 * output goes to a file, not a pipe: a test that blocks its event loop (spawnSync) must never
 * make the registry stall on a full pipe.
 */
async function launch(cfg: string, url: string, logFile: string): Promise<Proc | undefined> {
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(REGISTRY_BIN, ['serve', cfg], { stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  running.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => { running.delete(child); resolve(); }));
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
    if (await probe(`${url}/v2/`)) return { child, exited };
    await new Promise((r) => setTimeout(r, 20));
  }
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await exited;
  return undefined;
}

const alive = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;

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
  const logFile = join(dir, 'registry.log');
  const readLog = (): string => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  const cfg = join(dir, 'config.yml');
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    const url = `${tls ? 'https' : 'http'}://${host}`;
    await writeFile(cfg, configYaml({
      data, addr: host, ...(tls ? { tls } : {}), ...(htpasswd ? { htpasswd } : {}), ...(opts.token ? { token: opts.token } : {}),
      ...(opts.readOnly ? { readOnly: true } : {}), ...(opts.catalogMaxEntries !== undefined ? { catalogMaxEntries: opts.catalogMaxEntries } : {}),
      ...(opts.accessLog ? { accessLog: true } : {}),
    }));
    let proc = await launch(cfg, url, logFile);
    if (!proc) continue; // port raced away, or a config problem: the log says which
    let stopped = false;
    let restarting: Promise<void> | undefined;
    const killNow = async () => {
      const p = proc!;
      if (alive(p.child)) p.child.kill('SIGKILL');
      await p.exited;
    };
    return {
      host, url, dir,
      get pid() { return proc!.child.pid!; },
      ...(caFile ? { caFile } : {}),
      log: readLog,
      running: () => !stopped && alive(proc!.child),
      async kill() {
        if (stopped) throw new Error(`registry ${host} is stopped`);
        await restarting;
        await killNow();
      },
      async restart() {
        if (stopped) throw new Error(`registry ${host} is stopped`);
        if (restarting) return restarting;
        restarting = (async () => {
          await killNow();
          // The port was ours a moment ago; Go listens with SO_REUSEADDR, so only another
          // process grabbing it in between can make this fail. Try a few times, then say so.
          for (let i = 0; i < 5; i++) {
            const p = await launch(cfg, url, logFile);
            if (p) { proc = p; return; }
            await new Promise((r) => setTimeout(r, 200));
          }
          throw new Error(`docker-registry did not restart on ${host}:\n${readLog()}`);
        })().finally(() => { restarting = undefined; });
        return restarting;
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await restarting?.catch(() => undefined);
        const p = proc!;
        if (alive(p.child)) {
          p.child.kill('SIGTERM');
          const t = setTimeout(() => { if (alive(p.child)) p.child.kill('SIGKILL'); }, 2000);
          await p.exited;
          clearTimeout(t);
        }
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  const last = readLog();
  await rm(dir, { recursive: true, force: true });
  throw new Error(`docker-registry did not start:\n${last}`);
}
