// Small in-process fixtures for the network tests: a packed chart made with tar-stream + gzip
// (the bytes only need to be a plausible .tgz; archive.ts's checks are tested elsewhere), an
// HTTP(S) server whose handler a test sets, and a way to catch a FerryError and prove no
// secret is in it.

import http from 'node:http';
import https from 'node:https';
import { gzipSync } from 'node:zlib';
import { inspect } from 'node:util';
import type { AddressInfo } from 'node:net';
import tar from 'tar-stream';
import * as assert from 'uvu/assert';
import { FerryError } from '@ferry/format-spec';

/** `<name>/Chart.yaml` + `values.yaml`, packed, deterministic for a given input. */
export async function packChart(name: string, version: string, extra = ''): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  const mtime = new Date('2024-01-02T03:04:05Z');
  pack.entry({ name: `${name}/Chart.yaml`, mtime }, `apiVersion: v2\nname: ${name}\nversion: ${version}\ndescription: test chart${extra}\n`);
  pack.entry({ name: `${name}/values.yaml`, mtime }, `image: registry.example.com/app:${version}\n`);
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks), { level: 9 });
}

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export type Handler = (req: SeenRequest, res: http.ServerResponse) => void;

export interface TestServer {
  url: string;
  host: string;
  seen: SeenRequest[];
  handle: Handler;
  close(): Promise<void>;
}

/** A loopback HTTP (or HTTPS with cert/key) server; `handle` may be replaced per test. */
export async function startServer(tlsOpts?: { cert: Buffer; key: Buffer }): Promise<TestServer> {
  const seen: SeenRequest[] = [];
  const srv: TestServer = {
    url: '', host: '', seen,
    handle: (_req, res) => { res.writeHead(404); res.end(); },
    close: async () => undefined,
  };
  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: SeenRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      seen.push(r);
      srv.handle(r, res);
    });
  };
  const s = tlsOpts ? https.createServer(tlsOpts, listener) : http.createServer(listener);
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const port = (s.address() as AddressInfo).port;
  srv.host = `127.0.0.1:${port}`;
  srv.url = `${tlsOpts ? 'https' : 'http'}://${srv.host}`;
  srv.close = () => new Promise<void>((resolve) => { s.closeAllConnections(); s.close(() => resolve()); });
  return srv;
}

/** Await a rejection that must be a FerryError with `code`, none of `secrets` in any part of it. */
export async function ferryError(p: Promise<unknown>, code: string, secrets: string[] = []): Promise<FerryError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  if (err === undefined) throw new Error(`expected a FerryError ${code}, got success`);
  if (!(err instanceof FerryError)) throw new Error(`expected a FerryError ${code}, got ${inspect(err)}`);
  assert.is(err.code, code, `wrong code: ${err.message}`);
  const text = inspect(err, { depth: 8 }) + JSON.stringify(err.details) + String(err.stack);
  for (const s of secrets) assert.not.ok(text.includes(s), `secret leaked into the error: ${text.slice(0, 400)}`);
  return err;
}
