// Bearer token flow against a real distribution 2.8 registry in `auth: token` mode, with a
// real token server (test/harness/token-server.ts: ES256 JWTs distribution verifies). skopeo
// seeds through the same token server, so the server itself is checked by an independent
// client.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { FerryError } from '@ferry/format-spec';
import { makeOciLayout, type WrittenImage } from '../../../../test/helpers/images.js';
import { startRegistry, type StartedRegistry } from '../../../../test/harness/registry.js';
import { startTokenServer, type TokenServer } from '../../../../test/harness/token-server.js';
import { seedLayout } from '../../../../test/harness/seed.js';
import { RegistryClient, RegistrySink, pushBlob } from '../../src/index.js';

const PASSWORD = 'b0b-T0ken-Secret';
const IDENTITY = 'refresh-T0ken-For-Bob-123';
let ts: TokenServer;
let tsAccessOnly: TokenServer;
let reg: StartedRegistry;
let reg2: StartedRegistry;
let dir: string;
let img: WrittenImage;

async function caught(p: Promise<unknown>): Promise<FerryError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, FerryError);
    const text = inspect(e, { depth: 8 }) + JSON.stringify((e as FerryError).details);
    for (const s of [PASSWORD, IDENTITY, 'wrong-pw-777']) assert.not.ok(text.includes(s), 'secret in error');
    assert.not.match(text, /Bearer ey/);
    return e as FerryError;
  }
  throw new Error('expected a FerryError');
}

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-token-'));
  [img] = await makeOciLayout(join(dir, 'layout'), [{ tag: 'v1', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 10_000, seed: 'tok' }, { size: 20_000, seed: 'tok2' }] }] }]) as [WrittenImage];
  ts = await startTokenServer({ dir: join(dir, 'ts'), service: 'ferry-registry', issuer: 'ferry-issuer', users: { bob: PASSWORD, reader: PASSWORD }, pullOnly: ['reader'], refreshTokens: { [IDENTITY]: 'bob' } });
  tsAccessOnly = await startTokenServer({ dir: join(dir, 'ts2'), service: 'svc2', issuer: 'iss2', users: { bob: PASSWORD }, accessTokenOnly: true });
  [reg, reg2] = await Promise.all([
    startRegistry({ token: { realm: ts.realm, service: ts.service, issuer: ts.issuer, rootCertBundle: ts.certFile } }),
    startRegistry({ token: { realm: tsAccessOnly.realm, service: tsAccessOnly.service, issuer: tsAccessOnly.issuer, rootCertBundle: tsAccessOnly.certFile } }),
  ]);
  await seedLayout(reg, join(dir, 'layout'), 'v1', 'proj/app:v1', `bob:${PASSWORD}`);
  await seedLayout(reg2, join(dir, 'layout'), 'v1', 'proj/app:v1', `bob:${PASSWORD}`);
});

test.after(async () => {
  await reg?.stop();
  await reg2?.stop();
  await ts?.stop();
  await tsAccessOnly?.stop();
  await rm(dir, { recursive: true, force: true });
});

const env = () => ({ HOME: join(dir, 'nohome') });

test('anonymous pull: challenge → anonymous token (service + scope) → retried request', async () => {
  ts.requests.length = 0;
  const c = new RegistryClient(reg.host, { insecure: [reg.host], env: env() });
  const m = await c.getManifest('proj/app', 'v1');
  assert.is(m.descriptor.digest, img.root.digest);
  assert.is(c.auth.scheme, 'bearer');
  assert.equal(ts.requests, [{ method: 'GET', service: 'ferry-registry', scopes: ['repository:proj/app:pull'], account: null, user: null, status: 200 }]);
  c.close();
});

test('with credentials: Basic to the token endpoint, one token reused for manifest and blobs', async () => {
  ts.requests.length = 0;
  const c = new RegistryClient(reg.host, { insecure: [reg.host], creds: `bob:${PASSWORD}`, env: env() });
  await c.getManifest('proj/app', 'v1');
  for (const l of img.layers[0]!) {
    const chunks: Buffer[] = [];
    for await (const x of (await c.openBlob('proj/app', l)) as AsyncIterable<Buffer>) chunks.push(x);
    assert.is('sha256:' + createHash('sha256').update(Buffer.concat(chunks)).digest('hex'), l.digest);
  }
  assert.is(ts.requests.length, 1, 'token cached and reused');
  assert.is(ts.requests[0]!.user, 'bob');
  assert.is(ts.requests[0]!.account, 'bob');
  c.close();
});

test('push needs pull,push: a new token for the push scope, then the pull token is covered by it', async () => {
  ts.requests.length = 0;
  const c = new RegistryClient(reg.host, { insecure: [reg.host], creds: `bob:${PASSWORD}`, env: env() });
  const data = Buffer.from('pushed through a bearer token');
  const desc = { mediaType: 'application/octet-stream', digest: 'sha256:' + createHash('sha256').update(data).digest('hex'), size: data.length };
  assert.is(await pushBlob(c, 'proj/pushed', desc, Readable.from([data])), 'uploaded');
  assert.ok(await c.blobExists('proj/pushed', desc.digest));
  assert.equal(ts.requests.map((r) => r.scopes), [['repository:proj/pushed:pull,push']], 'HEAD reused the pull,push token');
  // cross-repo mount asks for both scopes in one token
  ts.requests.length = 0;
  const sink = new RegistrySink(reg.host, { insecure: [reg.host], creds: `bob:${PASSWORD}`, env: env() });
  assert.ok(await sink.mountBlob('proj/other', desc, 'proj/pushed'), 'mounted without the bytes');
  assert.equal(ts.requests.map((r) => r.scopes), [['repository:proj/other:pull,push', 'repository:proj/pushed:pull']]);
  c.close();
  await sink.close();
});

test('anonymous push: token server grants pull only → insufficient_scope → REGISTRY_AUTH', async () => {
  const c = new RegistryClient(reg.host, { insecure: [reg.host], env: env() });
  const data = Buffer.from('nope');
  const e = await caught(pushBlob(c, 'proj/denied', { mediaType: 'x', digest: 'sha256:' + createHash('sha256').update(data).digest('hex'), size: 4 }, data));
  assert.is(e.code, 'REGISTRY_AUTH');
  assert.is(e.details.status, 401);
  assert.ok(e.message.includes(reg.host));
  c.close();
});

test('a user whose token lacks push → REGISTRY_AUTH saying which scope is missing', async () => {
  const c = new RegistryClient(reg.host, { insecure: [reg.host], creds: `reader:${PASSWORD}`, env: env() });
  assert.is((await c.getManifest('proj/app', 'v1')).descriptor.digest, img.root.digest, 'pull is fine');
  const data = Buffer.from('reader cannot push');
  const e = await caught(pushBlob(c, 'proj/app', { mediaType: 'x', digest: 'sha256:' + createHash('sha256').update(data).digest('hex'), size: data.length }, data));
  assert.is(e.code, 'REGISTRY_AUTH');
  assert.match(e.message, /the credentials from the --creds option do not grant repository:proj\/app:(push,pull|pull,push)/);
  assert.match(e.message, /HTTP 401 insufficient_scope/);
  c.close();
});

test('wrong password at the token server → REGISTRY_AUTH naming token server, registry and status', async () => {
  const c = new RegistryClient(reg.host, { insecure: [reg.host], creds: 'bob:wrong-pw-777', env: env() });
  const e = await caught(c.getManifest('proj/app', 'v1'));
  assert.is(e.code, 'REGISTRY_AUTH');
  assert.match(e.message, /token server 127\.0\.0\.1:\d+ for registry/);
  assert.match(e.message, /HTTP 401/);
  assert.ok(e.message.includes(`${reg.host}/proj/app:v1`));
  c.close();
});

test('identitytoken in the auth file → OAuth2 refresh-token POST', async () => {
  ts.requests.length = 0;
  const authFile = join(dir, 'id.json');
  await writeFile(authFile, JSON.stringify({ auths: { [reg.host]: { identitytoken: IDENTITY } } }));
  const c = new RegistryClient(reg.host, { insecure: [reg.host], authFile, env: env() });
  const data = Buffer.from('via refresh token');
  const desc = { mediaType: 'application/octet-stream', digest: 'sha256:' + createHash('sha256').update(data).digest('hex'), size: data.length };
  assert.is(await pushBlob(c, 'proj/oauth', desc, data), 'uploaded');
  assert.equal(ts.requests.map((r) => [r.method, r.grantType, r.user, r.scopes.join(' ')]), [['POST', 'refresh_token', 'bob', 'repository:proj/oauth:pull,push']]);
  c.close();
});

test('a server answering access_token only is accepted', async () => {
  const c = new RegistryClient(reg2.host, { insecure: [reg2.host], creds: `bob:${PASSWORD}`, env: env() });
  assert.is((await c.getManifest('proj/app', 'v1')).descriptor.digest, img.root.digest);
  assert.is(tsAccessOnly.requests.at(-1)!.status, 200);
  c.close();
});

test.run();
