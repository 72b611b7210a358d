// Basic auth (htpasswd, bcrypt) over TLS on a real registry: CA file, auth file, credential
// helpers, wrong passwords, untrusted certificates, the insecure list, and Authorization
// never following a redirect to another host. Secrets must never show in any error.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm, writeFile, chmod, readFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import http from 'node:http';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { FerryError } from '@ferry/format-spec';
import { makeOciLayout, type WrittenImage } from '../../../../test/helpers/images.js';
import { startRegistry, type StartedRegistry } from '../../../../test/harness/registry.js';
import { startProxy, type Proxy } from '../../../../test/harness/proxy.js';
import { seedLayout } from '../../../../test/harness/seed.js';
import { RegistryClient, RegistrySource } from '../../src/index.js';

const USER = 'alice';
const PASSWORD = 'Sup3r-s3cret-PW!';
const WRONG = 'Wr0ng-pa55word-XYZ';
const SECRETS = [PASSWORD, WRONG, Buffer.from(`${USER}:${PASSWORD}`).toString('base64'), Buffer.from(`${USER}:${WRONG}`).toString('base64')];

let tlsReg: StartedRegistry;
let plainAuthReg: StartedRegistry;
let dir: string;
let img: WrittenImage;
let bin: string;
let helperLog: string;

function assertNoSecret(e: unknown) {
  const text = inspect(e, { depth: 8 }) + JSON.stringify((e as FerryError).details ?? {}) + String((e as Error).stack);
  for (const s of SECRETS) assert.not.ok(text.includes(s), `secret leaked into the error: ${text.slice(0, 300)}`);
}

async function caught(p: Promise<unknown>): Promise<FerryError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, FerryError);
    assertNoSecret(e);
    return e as FerryError;
  }
  throw new Error('expected a FerryError');
}

async function drain(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s as AsyncIterable<Buffer>) parts.push(c);
  return Buffer.concat(parts);
}

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-auth-'));
  [img] = await makeOciLayout(join(dir, 'layout'), [{ tag: 'v1', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 50_000, seed: 'auth' }] }] }]) as [WrittenImage];
  [tlsReg, plainAuthReg] = await Promise.all([
    startRegistry({ tls: true, auth: { user: USER, password: PASSWORD } }),
    startRegistry({ auth: { user: USER, password: PASSWORD } }),
  ]);
  await seedLayout(tlsReg, join(dir, 'layout'), 'v1', 'team/app:v1', `${USER}:${PASSWORD}`);
  await seedLayout(plainAuthReg, join(dir, 'layout'), 'v1', 'team/app:v1', `${USER}:${PASSWORD}`);
  // A credential helper on a private PATH: answers for the TLS registry only, logs its stdin.
  bin = join(dir, 'bin');
  await mkdir(bin);
  helperLog = join(dir, 'helper-stdin.log');
  await writeFile(join(bin, 'docker-credential-ferrytest'), [
    '#!/bin/sh',
    '[ "$1" = get ] || exit 2',
    'read -r url',
    `printf '%s\\n' "$url" >> '${helperLog}'`,
    `if [ "$url" = "${tlsReg.host}" ]; then printf '{"ServerURL":"%s","Username":"${USER}","Secret":"${PASSWORD}"}' "$url"; exit 0; fi`,
    'echo "credentials not found in native keychain"; exit 1',
    '',
  ].join('\n'));
  await writeFile(join(bin, 'docker-credential-broken'), `#!/bin/sh\necho "fatal: leaked ${PASSWORD}"\nexit 3\n`);
  await chmod(join(bin, 'docker-credential-ferrytest'), 0o755);
  await chmod(join(bin, 'docker-credential-broken'), 0o755);
});

test.after(async () => {
  await tlsReg?.stop();
  await plainAuthReg?.stop();
  await rm(dir, { recursive: true, force: true });
});

const isolatedEnv = () => ({ HOME: join(dir, 'nohome'), PATH: `${bin}:${process.env.PATH}` });

test('Basic auth over TLS with the CA file and --creds: exact bytes', async () => {
  const src = new RegistrySource(`${tlsReg.host}/team/app:v1`, { caFile: tlsReg.caFile!, creds: `${USER}:${PASSWORD}`, env: isolatedEnv() });
  const m = await src.resolve();
  assert.is(m.descriptor.digest, img.root.digest);
  const layer = img.layers[0]![0]!;
  const bytes = await drain(await src.openBlob(layer));
  assert.is('sha256:' + createHash('sha256').update(bytes).digest('hex'), layer.digest);
  assert.is(src.client.auth.scheme, 'basic');
  await src.close();
});

test('credentials from an auth file (base64 auth) and per-registry CA', async () => {
  const authFile = join(dir, 'auth.json');
  await writeFile(authFile, JSON.stringify({ auths: { [tlsReg.host]: { auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64') } } }));
  const c = new RegistryClient(tlsReg.host, { caFiles: { [tlsReg.host]: tlsReg.caFile! }, authFile, env: isolatedEnv() });
  assert.is((await c.getManifest('team/app', 'v1')).descriptor.digest, img.root.digest);
  c.close();
});

test('credential helper: credHelpers entry, server URL on stdin', async () => {
  const authFile = join(dir, 'helpers.json');
  await writeFile(authFile, JSON.stringify({ auths: { [tlsReg.host]: {} }, credHelpers: { [tlsReg.host]: 'ferrytest' } }));
  const c = new RegistryClient(tlsReg.host, { caFile: tlsReg.caFile!, authFile, env: isolatedEnv() });
  assert.is((await c.getManifest('team/app', 'v1')).descriptor.digest, img.root.digest);
  const log = (await readFile(helperLog, 'utf8')).trim().split('\n');
  assert.is(log.at(-1), tlsReg.host);
  c.close();
});

test('credsStore helper that has nothing → anonymous → REGISTRY_AUTH "no credentials"', async () => {
  const authFile = join(dir, 'store.json');
  await writeFile(authFile, JSON.stringify({ credsStore: 'ferrytest' }));
  // the helper only knows the TLS registry, so for the plain one it answers "not found"
  const c = new RegistryClient(plainAuthReg.host, { insecure: [plainAuthReg.host], authFile, env: isolatedEnv() });
  const e = await caught(c.getManifest('team/app', 'v1'));
  assert.is(e.code, 'REGISTRY_AUTH');
  assert.match(e.message, /requires authentication/);
  assert.match(e.message, /no credentials were found/);
  assert.is(e.details.status, 401);
  assert.ok(e.message.includes(`${plainAuthReg.host}/team/app:v1`));
  c.close();
});

test('a failing credential helper → REGISTRY_AUTH naming it, without its output', async () => {
  const authFile = join(dir, 'broken.json');
  await writeFile(authFile, JSON.stringify({ credHelpers: { [tlsReg.host]: 'broken' } }));
  const c = new RegistryClient(tlsReg.host, { caFile: tlsReg.caFile!, authFile, env: isolatedEnv() });
  const e = await caught(c.getManifest('team/app', 'v1'));
  assert.is(e.code, 'REGISTRY_AUTH');
  assert.match(e.message, /docker-credential-broken get failed .*exit code 3/);
  c.close();
});

test('wrong password → REGISTRY_AUTH naming registry and status, never the password', async () => {
  const c = new RegistryClient(tlsReg.host, { caFile: tlsReg.caFile!, creds: `${USER}:${WRONG}`, env: isolatedEnv() });
  const e = await caught(c.getManifest('team/app', 'v1'));
  assert.is(e.code, 'REGISTRY_AUTH');
  assert.match(e.message, /rejected the credentials from the --creds option/);
  assert.match(e.message, /HTTP 401/);
  assert.ok(e.message.includes(tlsReg.host));
  assert.is(e.details.registry, tlsReg.host);
  assert.is(e.details.status, 401);
  c.close();
});

test('untrusted certificate without a CA file → REGISTRY_TLS', async () => {
  const c = new RegistryClient(tlsReg.host, { creds: `${USER}:${PASSWORD}`, env: isolatedEnv(), attempts: 1 });
  const e = await caught(c.getManifest('team/app', 'v1'));
  assert.is(e.code, 'REGISTRY_TLS');
  assert.ok(e.message.includes(tlsReg.host));
  assert.match(e.message, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|certificate/);
  // a CA that did not sign it does not help either
  const c2 = new RegistryClient(tlsReg.host, { caFile: plainAuthReg.caFile ?? join(dir, 'none.pem'), creds: `${USER}:${PASSWORD}`, env: isolatedEnv(), attempts: 1 });
  const e2 = await caught(c2.getManifest('team/app', 'v1'));
  assert.is(e2.code, 'REGISTRY_TLS');
});

test('insecure list: TLS without verification for the named host only', async () => {
  const c = new RegistryClient(tlsReg.host, { insecure: [tlsReg.host], creds: `${USER}:${PASSWORD}`, env: isolatedEnv() });
  assert.is((await c.getManifest('team/app', 'v1')).descriptor.digest, img.root.digest);
  assert.is((await c.transport.baseUrl()).protocol, 'https:', 'HTTPS tried first and kept');
  const other = new RegistryClient(tlsReg.host, { insecure: ['127.0.0.2', 'example.com:443'], creds: `${USER}:${PASSWORD}`, env: isolatedEnv(), attempts: 1 });
  assert.is((await caught(other.getManifest('team/app', 'v1'))).code, 'REGISTRY_TLS');
  c.close();
});

test('insecure plain-HTTP registry with Basic auth falls back to http://', async () => {
  const c = new RegistryClient(plainAuthReg.host, { insecure: [plainAuthReg.host], creds: `${USER}:${PASSWORD}`, env: isolatedEnv() });
  assert.is((await c.getManifest('team/app', 'v1')).descriptor.digest, img.root.digest);
  assert.is((await c.transport.baseUrl()).protocol, 'http:');
  c.close();
});

test('redirect to another host: blob fetched there without Authorization', async () => {
  const layer = img.layers[0]![0]!;
  const blob = await readFile(join(dir, 'layout', 'blobs', 'sha256', layer.digest.slice(7)));
  const seen: http.IncomingHttpHeaders[] = [];
  const storage = http.createServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(200, { 'Content-Length': blob.length }).end(blob);
  });
  await new Promise<void>((r) => storage.listen(0, '127.0.0.1', r));
  const port = (storage.address() as { port: number }).port;
  const proxy: Proxy = await startProxy(plainAuthReg.host);
  try {
    const c = new RegistryClient(proxy.host, { insecure: [proxy.host], creds: `${USER}:${PASSWORD}`, env: isolatedEnv() });
    await c.ping();
    // "localhost" is another origin than 127.0.0.1:PROXY, as S3 would be.
    proxy.arm({ match: /^GET \/v2\/team\/app\/blobs\//, status: { code: 307, headers: { Location: `http://localhost:${port}/bucket/blob?sig=abc` } } });
    const bytes = await drain(await c.openBlob('team/app', layer));
    assert.ok(bytes.equals(blob));
    assert.is(seen.length, 1);
    assert.is(seen[0]!.authorization, undefined, 'Authorization not sent to the storage host');
    const toRegistry = proxy.heads.filter((h) => h.startsWith('GET /v2/team/app/blobs/'));
    assert.match(toRegistry.at(-1)!, /\r\nAuthorization: Basic /i, 'but sent to the registry');
    c.close();
  } finally {
    await proxy.stop();
    storage.closeAllConnections();
    await new Promise<void>((r) => storage.close(() => r()));
  }
});

test.run();
