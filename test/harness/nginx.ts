// Starts the real nginx (Debian's /usr/sbin/nginx) on a free loopback port, in its own temp dir,
// as a static site: a classic Helm chart repository is nothing more (tooling.md §6). Optionally
// with htpasswd Basic auth and/or TLS from a fresh test CA. Stopped by PID; a process 'exit' hook
// kills any left running.
//
// As root, nginx runs as `nobody` through setpriv (as tooling.md §6 does), so it can read only
// what is world-readable: the www dir is 0755 and files written into it with the usual umask 022
// (0644) are served. A test that writes with a stricter mode gets a 403, not a silent pass. As
// any other user nginx runs as that user and reads what it can.

import { alive, stopper } from './child.js';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import http from 'node:http';
import https from 'node:https';
import { makeCerts } from './certs.js';
import { freePort } from './registry.js';

export const NGINX_BIN = '/usr/sbin/nginx';

export interface NginxOptions {
  /**
   * Serve this existing directory instead of a fresh www dir. As root it is made world-readable
   * (chmod -R a+rX) and its ancestors under the temp dir get o+x, so `nobody` can reach it.
   */
  root?: string;
  /** Require HTTP Basic auth with this one user (htpasswd file, apr1 hash). */
  basicAuth?: { user: string; password: string };
  /** Serve HTTPS with a fresh test CA (its file is returned as caFile). */
  tls?: boolean;
}

export interface StartedNginx {
  /** http(s)://127.0.0.1:PORT (no trailing slash) */
  url: string;
  /** 127.0.0.1:PORT */
  host: string;
  /** The directory served at `url`/; write world-readable files into it. */
  root: string;
  /** nginx's own temp dir (config, logs, pid; the www dir unless `root` was given). */
  dir: string;
  caFile?: string;
  readonly pid: number;
  /** nginx's stderr so far (error_log goes there). */
  log(): string;
  /** SIGTERM nginx, SIGKILL after 2 s; delete the temp dir (not a given root). */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of running) if (c.pid && c.exitCode === null && c.signalCode === null) {
    try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
  }
});

const isRoot = () => process.getuid?.() === 0;

/** uid and gid of nobody:nogroup from the local databases (no NSS lookups needed here). */
async function nobodyIds(): Promise<{ uid: number; gid: number }> {
  const passwd = await readFile('/etc/passwd', 'utf8');
  const group = await readFile('/etc/group', 'utf8');
  const u = passwd.split('\n').map((l) => l.split(':')).find((f) => f[0] === 'nobody');
  const g = group.split('\n').map((l) => l.split(':')).find((f) => f[0] === 'nogroup');
  if (!u || !g) throw new Error('no nobody user or nogroup group in /etc/passwd, /etc/group');
  return { uid: Number(u[2]), gid: Number(g[2]) };
}

/** One apr1 htpasswd line; the password goes through stdin (-i), never argv. */
export function htpasswdApr1(user: string, password: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    // apr1 rather than bcrypt: nginx implements apr1 itself, bcrypt depends on libc's crypt(3).
    const child = execFile('htpasswd', ['-nim', user], { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`htpasswd failed: ${stderr || err.message}`));
      else resolvePromise(stdout.trim() + '\n');
    });
    child.stdin!.end(password);
  });
}

async function chmodTreeReadable(dir: string): Promise<void> {
  await new Promise<void>((ok, bad) => execFile('chmod', ['-R', 'a+rX', dir], (e) => (e ? bad(e) : ok())));
}

/** Give each ancestor of `dir` below the temp dir o+x; refuse paths outside it (never touch system dirs). */
async function openAncestors(dir: string): Promise<void> {
  const tmp = resolve(tmpdir());
  const abs = resolve(dir);
  if (!abs.startsWith(tmp + sep)) {
    throw new Error(`startNginx({ root }): as root, ${abs} must be under ${tmp} (nginx runs as nobody and needs o+x on each parent)`);
  }
  for (let d = dirname(abs); d.startsWith(tmp + sep); d = dirname(d)) {
    const s = await stat(d);
    if ((s.mode & 0o001) === 0) await chmod(d, (s.mode & 0o7777) | 0o001);
  }
}

function conf(o: { dir: string; root: string; listen: string; htpasswd?: string; tls?: { cert: string; key: string } }): string {
  const t = join(o.dir, 'tmp');
  return [
    // One process, no master/worker pair: stopping (or SIGKILLing) the PID we hold ends it all,
    // where a killed master would leave its worker holding the port.
    'master_process off;',
    `pid ${join(t, 'nginx.pid')};`,
    'error_log stderr warn;',
    'events { worker_connections 256; }',
    'http {',
    '  access_log off;',
    `  client_body_temp_path ${join(t, 'client_body')};`,
    `  proxy_temp_path ${join(t, 'proxy')};`,
    `  fastcgi_temp_path ${join(t, 'fastcgi')};`,
    `  uwsgi_temp_path ${join(t, 'uwsgi')};`,
    `  scgi_temp_path ${join(t, 'scgi')};`,
    '  types {',
    '    application/yaml yaml yml;',
    '    application/gzip tgz gz;',
    '    application/json json;',
    '    text/plain txt prov;',
    '  }',
    '  default_type application/octet-stream;',
    '  sendfile on;',
    '  server {',
    `    listen ${o.listen}${o.tls ? ' ssl' : ''};`,
    '    server_name localhost;',
    ...(o.tls ? [`    ssl_certificate ${o.tls.cert};`, `    ssl_certificate_key ${o.tls.key};`] : []),
    `    root ${o.root};`,
    ...(o.htpasswd ? ['    auth_basic "ferry-test";', `    auth_basic_user_file ${o.htpasswd};`] : []),
    '    location / { autoindex on; }',
    '  }',
    '}',
    '',
  ].join('\n');
}

function probe(url: string): Promise<boolean> {
  return new Promise((ok) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { rejectUnauthorized: false, agent: false, timeout: 1000 }, (res) => { res.resume(); ok(true); });
    req.on('error', () => ok(false));
    req.on('timeout', () => { req.destroy(); ok(false); });
  });
}

export async function startNginx(opts: NginxOptions = {}): Promise<StartedNginx> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-nginx-'));
  const asNobody = isRoot();
  try {
    const root = opts.root ? resolve(opts.root) : join(dir, 'www');
    await mkdir(join(dir, 'tmp'));
    if (!opts.root) await mkdir(root);
    let ids: { uid: number; gid: number } | undefined;
    if (asNobody) {
      ids = await nobodyIds();
      // mkdtemp makes 0700; nobody must traverse it to reach www, the config and the TLS key.
      await chmod(dir, 0o755);
      await chown(join(dir, 'tmp'), ids.uid, ids.gid);
      if (opts.root) await openAncestors(root);
      await chmodTreeReadable(root);
    }
    let htpasswd: string | undefined;
    if (opts.basicAuth) {
      htpasswd = join(dir, 'htpasswd');
      await writeFile(htpasswd, await htpasswdApr1(opts.basicAuth.user, opts.basicAuth.password), { mode: 0o644 });
    }
    let tls: { cert: string; key: string } | undefined;
    let caFile: string | undefined;
    if (opts.tls) {
      const c = await makeCerts(join(dir, 'certs'));
      caFile = c.caFile;
      tls = { cert: c.certFile, key: c.keyFile };
      // A throwaway test key: nobody's worker must read it.
      if (asNobody) await chmodTreeReadable(c.dir);
    }
    const logFile = join(dir, 'nginx.log');
    const readLog = (): string => { try { return readFileSync(logFile, 'utf8'); } catch { return ''; } };
    const cfg = join(dir, 'nginx.conf');
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      const host = `127.0.0.1:${port}`;
      const url = `${tls ? 'https' : 'http'}://${host}`;
      await writeFile(cfg, conf({ dir, root, listen: host, ...(htpasswd ? { htpasswd } : {}), ...(tls ? { tls } : {}) }), { mode: 0o644 });
      // -e stderr: never open the compiled-in /var/log/nginx/error.log (tooling.md §6 pitfalls).
      const args = ['-e', 'stderr', '-p', dir, '-c', cfg, '-g', 'daemon off;'];
      const fd = openSync(logFile, 'a');
      let child: ChildProcess;
      try {
        // setpriv execs nginx, so the child's PID is nginx's own.
        child = asNobody
          ? spawn('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', NGINX_BIN, ...args], { stdio: ['ignore', fd, fd] })
          : spawn(NGINX_BIN, args, { stdio: ['ignore', fd, fd] });
      } finally {
        closeSync(fd);
      }
      running.add(child);
      const exited = new Promise<void>((ok) => child.once('exit', () => { running.delete(child); ok(); }));
      const deadline = Date.now() + 10_000;
      let up = false;
      while (Date.now() < deadline && alive(child)) {
        if (await probe(`${url}/`)) { up = true; break; }
        await new Promise((r) => setTimeout(r, 20));
      }
      if (!up) {
        if (alive(child)) child.kill('SIGKILL');
        await exited;
        continue; // the port raced away, or a config error: the log says which
      }
      return {
        url, host, root, dir, pid: child.pid!,
        ...(caFile ? { caFile } : {}),
        log: readLog,
        stop: stopper(child, exited, dir),
      };
    }
    throw new Error(`nginx did not start:\n${readLog()}`);
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
