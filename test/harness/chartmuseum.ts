// Starts the real ChartMuseum (v0.16.3, built by scripts/test-tools.sh from
// scripts/go-tools/chartmuseum) on a free loopback port, in its own temp dir, with local storage:
// a chart repository with an upload API (POST /api/charts, raw body or multipart chart+prov),
// optionally behind Basic auth and/or TLS from a fresh test CA. Stopped by PID; a process 'exit'
// hook kills any left running so a failed test never leaks one.
//
// It runs with an environment of PATH and HOME only: chartmuseum reads a variable for every flag
// ($PORT, $DEBUG, $CONFIG, $DISABLE_API, $AUTH_ANONYMOUS_GET, $STORAGE…), so nothing of the
// caller's may change how it behaves. The Basic auth password goes in through $BASIC_AUTH_PASS
// (the variable of --basic-auth-pass), not argv, so it never shows in a process listing.

import { alive, stopper } from './child.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { closeSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import https from 'node:https';
import { makeCerts } from './certs.js';
import { freePort } from './registry.js';
import { goTool } from './tools.js';

export interface ChartmuseumOptions {
  /** --basic-auth-user / --basic-auth-pass: every route but GET /health needs this one user. */
  basicAuth?: { user: string; password: string };
  /** --allow-overwrite: a version may be uploaded again without ?force. */
  allowOverwrite?: boolean;
  /** --disable-force-overwrite: ?force does not overwrite an existing version either (409). */
  disableForceOverwrite?: boolean;
  /** --depth: levels of repo path (multitenancy), e.g. 1 → /api/<repo>/charts, /<repo>/index.yaml. */
  depth?: number;
  /** --tls-cert/--tls-key with a fresh test CA (its file is returned as caFile). */
  tls?: boolean;
  /** --max-storage-objects: past this many files in a repo's storage dir a raw upload is 507. */
  maxStorageObjects?: number;
  /** --max-upload-size (bytes): a larger request body is 413 (default 20 MiB). */
  maxUploadSize?: number;
  /** --chart-post-form-field-name / --prov-post-form-field-name (the defaults `chart`, `prov` are read too). */
  formFields?: { chart: string; prov: string };
}

export interface StartedChartmuseum {
  /** http(s)://127.0.0.1:PORT (no trailing slash) */
  url: string;
  /** 127.0.0.1:PORT */
  host: string;
  /** --storage-local-rootdir: uploaded .tgz/.prov files land here (under repo dirs with depth). */
  storageDir: string;
  /** chartmuseum's own temp dir (storage, log, certs). */
  dir: string;
  caFile?: string;
  readonly pid: number;
  /** chartmuseum's stdout+stderr so far (one line per request, errors). */
  log(): Promise<string>;
  /** SIGTERM chartmuseum, SIGKILL after 2 s; delete the temp dir. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of running) if (c.pid && c.exitCode === null && c.signalCode === null) {
    try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
  }
});


/** GET url; true only for a 200 (anything else, or no answer, is not ready). */
function healthy(url: string): Promise<boolean> {
  return new Promise((ok) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { rejectUnauthorized: false, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      ok(res.statusCode === 200);
    });
    req.on('error', () => ok(false));
    req.on('timeout', () => { req.destroy(); ok(false); });
  });
}

export async function startChartmuseum(opts: ChartmuseumOptions = {}): Promise<StartedChartmuseum> {
  for (const [k, v, min] of [['depth', opts.depth, 0], ['maxStorageObjects', opts.maxStorageObjects, 1], ['maxUploadSize', opts.maxUploadSize, 1]] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < min)) {
      throw new Error(`startChartmuseum: ${k} must be an integer of at least ${min}, not ${v}`);
    }
  }
  // Before the temp dir: a cold build of the tools takes minutes and may fail on its own.
  const bin = await goTool('chartmuseum');
  const dir = await mkdtemp(join(tmpdir(), 'ferry-chartmuseum-'));
  try {
    const storageDir = join(dir, 'storage');
    await mkdir(storageDir);
    let caFile: string | undefined;
    let tls: { cert: string; key: string } | undefined;
    if (opts.tls) {
      const c = await makeCerts(join(dir, 'certs'));
      caFile = c.caFile;
      tls = { cert: c.certFile, key: c.keyFile };
    }
    const logFile = join(dir, 'chartmuseum.log');
    const readLog = async (): Promise<string> => { try { return await readFile(logFile, 'utf8'); } catch { return ''; } };
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir };
    if (opts.basicAuth) env.BASIC_AUTH_PASS = opts.basicAuth.password;

    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      const host = `127.0.0.1:${port}`;
      const url = `${tls ? 'https' : 'http'}://${host}`;
      const args = [
        '--storage=local', `--storage-local-rootdir=${storageDir}`,
        '--listen-host=127.0.0.1', `--port=${port}`,
      ];
      if (opts.basicAuth) args.push(`--basic-auth-user=${opts.basicAuth.user}`);
      if (opts.allowOverwrite) args.push('--allow-overwrite');
      if (opts.disableForceOverwrite) args.push('--disable-force-overwrite');
      if (opts.depth !== undefined) args.push(`--depth=${opts.depth}`);
      if (opts.maxStorageObjects !== undefined) args.push(`--max-storage-objects=${opts.maxStorageObjects}`);
      if (opts.maxUploadSize !== undefined) args.push(`--max-upload-size=${opts.maxUploadSize}`);
      if (opts.formFields) args.push(`--chart-post-form-field-name=${opts.formFields.chart}`, `--prov-post-form-field-name=${opts.formFields.prov}`);
      if (tls) args.push(`--tls-cert=${tls.cert}`, `--tls-key=${tls.key}`);
      // Output to a file, not a pipe: a test that blocks its event loop must never make
      // chartmuseum stall on a full pipe.
      const fd = openSync(logFile, 'a');
      let child: ChildProcess;
      try {
        child = spawn(bin, args, { env, cwd: dir, stdio: ['ignore', fd, fd] });
      } finally {
        closeSync(fd);
      }
      running.add(child);
      // A failed spawn emits 'error' and perhaps no 'exit': either one ends the process for us.
      let spawnError: Error | undefined;
      const exited = new Promise<void>((ok) => {
        child.once('exit', () => { running.delete(child); ok(); });
        child.once('error', (e) => { spawnError = e; running.delete(child); ok(); });
      });
      const deadline = Date.now() + 15_000;
      let up = false;
      while (Date.now() < deadline && alive(child) && !spawnError) {
        if (await healthy(`${url}/health`)) { up = true; break; }
        await new Promise((r) => setTimeout(r, 25));
      }
      if (spawnError) throw new Error(`cannot run ${bin}: ${spawnError.message}`);
      if (!up) {
        if (alive(child)) child.kill('SIGKILL');
        await exited;
        continue; // the port raced away, or a bad flag: the log says which
      }
      return {
        url, host, storageDir, dir, pid: child.pid!,
        ...(caFile ? { caFile } : {}),
        log: readLog,
        stop: stopper(child, exited, dir),
      };
    }
    throw new Error(`chartmuseum did not answer GET /health with 200 (3 attempts):\n${await readLog()}`);
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
