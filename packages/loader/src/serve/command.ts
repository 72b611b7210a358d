// ferry-load serve: flags -> open and check the bundle (open.ts) -> an HTTP(S) server on
// --listen (server.ts) until SIGINT/SIGTERM. A startup line (JSON with --json) says where it
// listens, so scripts can use port 0; a log line per request goes to stderr.

import { createServer as createHttp, type Server } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import { FerryError, loadTrustedKeys, printable, readRegularFile, signerOf, signerText } from '@ferry/format-spec';
import { asArray, formatBytes, jsonLine, reportDocument, safeLine, writeText } from '@ferry/cli-kit';
import { openForServing } from './open.js';
import { createHandler, type RequestRecord } from './server.js';
import { VerifiedBlobs } from './verify-stream.js';

export interface ServeArgs {
  path: string;
  trustedKey?: string[];
  allowUnsigned: boolean;
  listen: string;
  tlsCert?: string;
  tlsKey?: string;
  quiet: boolean;
  json: boolean;
}

const MAX_PEM_BYTES = 1 << 20;

/** HOST:PORT, [IPv6]:PORT, or a bare PORT (on 127.0.0.1). */
export function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s) ?? (/^(\d{1,5})$/.test(s) ? [s, undefined, '127.0.0.1', s] : null);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new FerryError('USAGE', `--listen ${s}: expected HOST:PORT (127.0.0.1:5000, 0.0.0.0:5000, [::1]:5000; port 0 picks a free one)`);
  return { host: (m[1] ?? m[2])!, port };
}

function listen(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      reject(
        e.code === 'EADDRINUSE' ? new FerryError('USAGE', `${host}:${port} is already in use; choose another --listen (port 0 picks a free one)`)
        : e.code === 'EADDRNOTAVAIL' ? new FerryError('USAGE', `--listen ${host}: not an address of this machine`)
        : e.code === 'EACCES' ? new FerryError('USAGE', `--listen ${host}:${port}: permission denied (ports below 1024 need privileges)`)
        : e,
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

function logLine(r: RequestRecord, json: boolean): string {
  if (json) return jsonLine({ event: 'request', ...r }) + '\n';
  return safeLine(`${r.method} ${r.path} ${r.aborted ? `${r.status} ABORTED` : r.status} ${r.bytes} ${r.ms}ms${r.note ? `  ${r.note}` : ''}`) + '\n';
}

export async function serveCmd(a: ServeArgs): Promise<number> {
  const { host, port } = parseListen(a.listen);
  if (Boolean(a.tlsCert) !== Boolean(a.tlsKey)) throw new FerryError('USAGE', 'give both --tls-cert and --tls-key, or neither');
  const tls = a.tlsCert && a.tlsKey ? { cert: await readRegularFile(a.tlsCert, 'TLS certificate', MAX_PEM_BYTES), key: await readRegularFile(a.tlsKey, 'TLS key', MAX_PEM_BYTES) } : undefined;
  const trustedKeys = await loadTrustedKeys(asArray(a.trustedKey));
  const opened = await openForServing(a.path, { trustedKeys, allowUnsigned: a.allowUnsigned });
  const { tm, catalog, reader } = opened;

  const log = (r: RequestRecord): void => {
    const problem = r.status >= 500 || r.aborted === true || (r.note !== undefined && /not here|damaged|hashes to|ARCHIVE|changed since/.test(r.note));
    if (a.quiet && !problem) return;
    process.stderr.write(logLine(r, a.json));
  };
  const handler = createHandler({ catalog, reader, verified: new VerifiedBlobs(), onRequest: log });
  let server: Server;
  try {
    server = tls ? createHttps({ cert: tls.cert, key: tls.key }, handler) : createHttp(handler);
  } catch (e) {
    throw new FerryError('USAGE', `--tls-cert/--tls-key: ${e instanceof Error ? e.message : String(e)}`);
  }
  const addr = await listen(server, host, port);
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `${tls ? 'https' : 'http'}://${shownHost}:${addr.port}`;
  const signer = tm.verifiedBy ? signerOf(tm.verifiedBy) : undefined;
  const signedBy = signer ? signerText(signer) : undefined;
  const repos = [...catalog.repositories.keys()].sort();
  if (a.json) {
    // The startup line is the run's report (schemas/serve-report.schema.json): it carries reportVersion; request lines are a log.
    process.stdout.write(jsonLine(reportDocument({ ok: true, event: 'listening', url, host: addr.address, port: addr.port, tls: Boolean(tls), bundle: tm.manifest.name, ...(signer ? { signer } : {}), repositories: repos, volumes: { here: opened.volumes.size, missing: opened.missing } })) + '\n');
  } else {
    const bytes = tm.manifest.blobs.reduce((n, b) => n + b.size, 0);
    writeText(
      `Serving bundle ${printable(tm.manifest.name)} (${signedBy ? `signature verified by ${printable(signedBy)}` : 'UNSIGNED, allowed by --allow-unsigned'}) read-only at ${url}\n` +
        `  ${repos.length} repositories, ${tm.manifest.blobs.length} blobs (${formatBytes(bytes)}), ${opened.volumes.size} of ${tm.manifest.volumes.length} volumes here. Stop with Ctrl-C.\n` +
        opened.missing.map((f) => `  volume ${printable(f)} is not here: its blobs answer 404 BLOB_UNKNOWN\n`).join(''),
    );
  }

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      server.close(() => resolve());
      server.closeAllConnections();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await reader.close();
  if (!a.json && !a.quiet) writeText('ferry-load serve stopped.\n', process.stderr);
  return 0;
}
