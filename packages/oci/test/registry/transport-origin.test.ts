// The Transport serving a plain HTTP(S) origin (a chart repository): the URL's scheme is used
// as given, no `/v2/` probe is ever sent (not even for an insecure host), TLS trust comes from
// the CA file, and messages name the peer by its noun, not "registry".

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import https from 'node:https';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { FerryError } from '@ferry/format-spec';
import { makeCerts, type TestCerts } from '../../../../test/harness/certs.js';
import { Transport, readBody, type TransportOptions } from '../../src/registry/transport.js';

const seen: string[] = [];
let plain: http.Server;
let secure: https.Server;
let certs: TestCerts;
let dir: string;

const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
  seen.push(`${req.method} ${req.url}`);
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end(`hello ${req.url}`);
};

function listen(s: http.Server | https.Server): Promise<number> {
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));
}

function opts(extra: Partial<TransportOptions>): TransportOptions {
  return { caFiles: [], insecure: false, concurrency: 2, attempts: 1, backoffMs: 1, maxRetryAfterMs: 1, timeoutMs: 5000, userAgent: 'test', noun: 'chart repository', ...extra };
}

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-origin-'));
  certs = await makeCerts(join(dir, 'certs'));
  plain = http.createServer(handler);
  secure = https.createServer({ cert: await readFile(certs.certFile), key: await readFile(certs.keyFile) }, handler);
  await Promise.all([listen(plain), listen(secure)]);
});

test.after(async () => {
  await new Promise((r) => plain.close(r));
  await new Promise((r) => secure.close(r));
  await rm(dir, { recursive: true, force: true });
});

test('fixed http:// base with insecure: no /v2/ probe, the URL as given', async () => {
  seen.length = 0;
  const port = (plain.address() as AddressInfo).port;
  const t = new Transport(`127.0.0.1:${port}`, `127.0.0.1:${port}`, opts({ insecure: true, fixedBase: new URL(`http://127.0.0.1:${port}/charts/stable/`) }));
  const base = await t.baseUrl();
  assert.is(base.href, `http://127.0.0.1:${port}/`);
  const res = await t.send({ method: 'GET', url: new URL(`http://127.0.0.1:${port}/charts/stable/index.yaml?x=1`) }, { registry: 'r' });
  assert.is(res.status, 200);
  assert.is((await readBody(res, 1000)).toString(), 'hello /charts/stable/index.yaml?x=1');
  assert.equal(seen, ['GET /charts/stable/index.yaml?x=1']);
  t.close();
});

test('fixed https:// base: trusted through the CA file, refused without it (noun in the message)', async () => {
  seen.length = 0;
  const port = (secure.address() as AddressInfo).port;
  const host = `127.0.0.1:${port}`;
  const ok = new Transport(host, host, opts({ caFiles: [certs.caFile], fixedBase: new URL(`https://${host}/repo`) }));
  const res = await ok.send({ method: 'GET', url: '/repo/index.yaml' }, { registry: host });
  assert.is(res.status, 200);
  res.body.resume();
  assert.equal(seen, ['GET /repo/index.yaml']);
  ok.close();

  const bad = new Transport(host, host, opts({ fixedBase: new URL(`https://${host}/repo`) }));
  const e = await bad.send({ method: 'GET', url: '/repo/index.yaml' }, { registry: host }).then(() => undefined, (x: unknown) => x);
  assert.instance(e, FerryError);
  assert.is((e as FerryError).code, 'REGISTRY_TLS');
  assert.match((e as FerryError).message, `TLS connection to chart repository ${host} failed`);
  assert.not.match((e as FerryError).message, 'registry');
  bad.close();
});

test('insecure fixed https:// base: unverified TLS, still no probe and no plain-HTTP fallback', async () => {
  seen.length = 0;
  const port = (secure.address() as AddressInfo).port;
  const host = `127.0.0.1:${port}`;
  const t = new Transport(host, host, opts({ insecure: true, fixedBase: new URL(`https://${host}/`) }));
  const res = await t.send({ method: 'GET', url: '/index.yaml' }, { registry: host });
  assert.is(res.status, 200);
  res.body.resume();
  assert.equal(seen, ['GET /index.yaml']);
  t.close();
});

test('plain HTTP server named with https://: the hint says to give its http:// URL', async () => {
  const port = (plain.address() as AddressInfo).port;
  const host = `127.0.0.1:${port}`;
  const t = new Transport(host, host, opts({ fixedBase: new URL(`https://${host}/`) }));
  const e = await t.send({ method: 'GET', url: '/index.yaml' }, { registry: host }).then(() => undefined, (x: unknown) => x);
  assert.instance(e, FerryError);
  assert.is((e as FerryError).code, 'REGISTRY_TLS');
  assert.match((e as FerryError).message, 'chart repository');
  assert.match((e as FerryError).message, 'http:// URL');
  t.close();
});

test('unreachable origin: the message names the chart repository', async () => {
  const srv = http.createServer();
  const port = await listen(srv);
  await new Promise((r) => srv.close(r));
  const host = `127.0.0.1:${port}`;
  const t = new Transport(host, host, opts({ fixedBase: new URL(`http://${host}/`) }));
  const e = await t.send({ method: 'GET', url: '/index.yaml' }, { registry: host }).then(() => undefined, (x: unknown) => x);
  assert.instance(e, FerryError);
  assert.is((e as FerryError).code, 'REGISTRY_ERROR');
  assert.match((e as FerryError).message, `cannot reach chart repository ${host}`);
  t.close();
});

test.run();
