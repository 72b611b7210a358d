// Pulls from a real distribution 2.8 registry seeded by skopeo: exact bytes by tag and digest,
// a two-platform index, blob streams verified, not-found errors, and fault injection through a
// TCP proxy (dropped blob connection resumed with Range, a rewritten manifest byte refused, a
// 429 with Retry-After waited out).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { FerryError } from '@ferry/format-spec';
import { makeOciLayout, type WrittenImage } from '../../../../test/helpers/images.js';
import { startRegistry, type StartedRegistry } from '../../../../test/harness/registry.js';
import { startProxy, type Proxy } from '../../../../test/harness/proxy.js';
import { seedLayout } from '../../../../test/harness/seed.js';
import { RegistryClient, RegistrySource, parseReference } from '../../src/index.js';

let reg: StartedRegistry;
let proxy: Proxy;
let dir: string;
let single: WrittenImage;
let multi: WrittenImage;
let singleSeed: { digest: string; bytes: Buffer };
let multiSeed: { digest: string; bytes: Buffer };
const BIG = 3 << 20;

async function drain(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s as AsyncIterable<Buffer>) parts.push(c);
  return Buffer.concat(parts);
}

async function caught(p: Promise<unknown>): Promise<FerryError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, FerryError);
    return e as FerryError;
  }
  throw new Error('expected a FerryError');
}

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-pull-'));
  [single, multi] = await makeOciLayout(join(dir, 'layout'), [
    { tag: 'single', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: BIG, seed: 'big', gzipLevel: 0 }, { size: 1000, seed: 'small' }] }] },
    { tag: 'multi', platforms: [
      { os: 'linux', architecture: 'amd64', layers: [{ size: 2000, seed: 'a' }] },
      { os: 'linux', architecture: 'arm64', variant: 'v8', layers: [{ size: 2000, seed: 'b' }] },
    ] },
  ]) as [WrittenImage, WrittenImage];
  reg = await startRegistry();
  singleSeed = await seedLayout(reg, join(dir, 'layout'), 'single', 'ns/single:v1');
  multiSeed = await seedLayout(reg, join(dir, 'layout'), 'multi', 'ns/multi:v1');
  proxy = await startProxy(reg.host);
});

test.after(async () => {
  await proxy?.stop();
  await reg?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('manifest by tag: exact bytes skopeo pushed, digest verified', async () => {
  const c = new RegistryClient(reg.host, { insecure: [reg.host] });
  const m = await c.getManifest('ns/single', 'v1');
  assert.ok(m.bytes.equals(singleSeed.bytes));
  assert.is(m.descriptor.digest, single.root.digest);
  assert.is(m.descriptor.size, single.root.size);
  assert.is(m.descriptor.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  c.close();
});

test('index by tag is the index (not the amd64 child), and children by digest', async () => {
  const src = new RegistrySource(`${reg.host}/ns/multi:v1`, { insecure: [reg.host] });
  const root = await src.resolve();
  assert.is(root.descriptor.mediaType, 'application/vnd.oci.image.index.v1+json');
  assert.is(root.descriptor.digest, multi.root.digest);
  assert.ok(root.bytes.equals(multiSeed.bytes));
  const idx = JSON.parse(root.bytes.toString()) as { manifests: Array<{ digest: string; size: number; mediaType: string; platform: { os: string; architecture: string } }> };
  assert.equal(idx.manifests.map((d) => d.platform.architecture), ['amd64', 'arm64']);
  for (const [i, d] of idx.manifests.entries()) {
    const child = await src.fetchManifest(d);
    assert.is(child.descriptor.digest, multi.manifests[i]!.digest);
    assert.equal(child.descriptor.platform, d.platform, 'platform from the index kept');
    const onDisk = await readFile(join(dir, 'layout', 'blobs', 'sha256', d.digest.slice(7)));
    assert.ok(child.bytes.equals(onDisk));
  }
  assert.is(src.repository, 'ns/multi');
  assert.is(src.tag, 'v1');
  await src.close();
});

test('reference with digest resolves by digest; tag kept as metadata', async () => {
  const src = new RegistrySource(`docker://${reg.host}/ns/multi:ignored@${multi.root.digest}`, { insecure: [reg.host] });
  const root = await src.resolve();
  assert.is(root.descriptor.digest, multi.root.digest);
  assert.is(src.tag, 'ignored');
  await src.close();
});

test('headManifest gives the descriptor without the body; absent → undefined', async () => {
  const c = new RegistryClient(reg.host, { insecure: [reg.host] });
  const d = await c.headManifest('ns/multi', 'v1');
  assert.equal(d, { mediaType: 'application/vnd.oci.image.index.v1+json', digest: multi.root.digest, size: multi.root.size });
  assert.is(await c.headManifest('ns/multi', 'nope'), undefined);
  c.close();
});

test('blobs stream with the exact bytes; size or digest lies are caught', async () => {
  const c = new RegistryClient(reg.host, { insecure: [reg.host] });
  const layer = single.layers[0]![0]!;
  const bytes = await drain(await c.openBlob('ns/single', layer));
  assert.is(bytes.length, layer.size);
  assert.is('sha256:' + createHash('sha256').update(bytes).digest('hex'), layer.digest);
  // A descriptor claiming fewer bytes than the blob has: refused mid-stream.
  const short = await caught(drain(await c.openBlob('ns/single', { ...layer, size: layer.size - 1 })));
  assert.is(short.code, 'BLOB_MISMATCH');
  assert.match(short.message, /more than the expected/);
  assert.is(c.transport.slots.inUse, 0, 'slot released after a failed stream');
  c.close();
});

test('unknown tag → SOURCE_NOT_FOUND naming the reference, registry and status', async () => {
  const src = new RegistrySource(`${reg.host}/ns/single:does-not-exist`, { insecure: [reg.host] });
  const e = await caught(src.resolve());
  assert.is(e.code, 'SOURCE_NOT_FOUND');
  assert.ok(e.message.includes(`${reg.host}/ns/single:does-not-exist`), e.message);
  assert.match(e.message, /HTTP 404/);
  assert.is(e.details.status, 404);
  assert.is(e.details.registry, reg.host);
  const e2 = await caught(new RegistryClient(reg.host, { insecure: [reg.host] }).getManifest('ns/nothing-here', 'v1'));
  assert.is(e2.code, 'SOURCE_NOT_FOUND');
  assert.ok(e2.message.includes(`${reg.host}/ns/nothing-here:v1`)); // 2.8 says MANIFEST_UNKNOWN, not NAME_UNKNOWN
  const e3 = await caught(new RegistryClient(reg.host, { insecure: [reg.host] }).openBlob('ns/single', { mediaType: 'x', digest: 'sha256:' + '0'.repeat(64), size: 1 }));
  assert.is(e3.code, 'SOURCE_NOT_FOUND');
});

test('plain HTTP registry not named insecure → REGISTRY_TLS explaining why', async () => {
  const e = await caught(new RegistryClient(reg.host, { attempts: 1 }).getManifest('ns/single', 'v1'));
  assert.is(e.code, 'REGISTRY_TLS');
  assert.match(e.message, /did not answer with TLS/);
  assert.ok(e.message.includes(reg.host));
});

test('listTags lists what skopeo pushed', async () => {
  const c = new RegistryClient(reg.host, { insecure: [reg.host] });
  assert.equal(await c.listTags('ns/single'), ['v1']);
  const e = await caught(c.listTags('ns/none'));
  assert.is(e.code, 'SOURCE_NOT_FOUND');
  c.close();
});

test('connection dropped mid-blob → resumed with Range, bytes correct', async () => {
  const layer = single.layers[0]![0]!;
  // Two cuts: after ~1 MiB of the first response, then again during the first resume.
  proxy.arm({ match: new RegExp(`^GET /v2/ns/single/blobs/${layer.digest}`), cutAfterBytes: 1 << 20, times: 2 });
  const c = new RegistryClient(proxy.host, { insecure: [proxy.host], backoffMs: 10 });
  const before = proxy.heads.length;
  const bytes = await drain(await c.openBlob('ns/single', layer));
  assert.is(bytes.length, layer.size);
  assert.is('sha256:' + createHash('sha256').update(bytes).digest('hex'), layer.digest);
  const gets = proxy.heads.slice(before).filter((h) => h.includes(`/blobs/${layer.digest}`));
  assert.is(gets.length, 3, 'first GET + two resumes');
  assert.not.match(gets[0]!, /\r\nRange:/i);
  const offsets = gets.slice(1).map((h) => Number(/\r\nrange: bytes=(\d+)-/i.exec(h)?.[1]));
  assert.ok(offsets[0]! > 0 && offsets[1]! > offsets[0]!, `resumed from increasing offsets: ${offsets}`);
  c.close();
});

test('resume gives up after the bounded number of attempts', async () => {
  const layer = single.layers[0]![0]!;
  proxy.arm({ match: new RegExp(`^GET /v2/ns/single/blobs/${layer.digest}`), cutAfterBytes: 200_000, times: 3 });
  const c = new RegistryClient(proxy.host, { insecure: [proxy.host], backoffMs: 5, resumeAttempts: 2 });
  const e = await caught(drain(await c.openBlob('ns/single', layer)));
  assert.is(e.code, 'REGISTRY_ERROR');
  assert.match(e.message, /broke off at byte \d+ of \d+ after 2 resume/);
  assert.ok(e.message.includes(layer.digest));
  c.close();
});

test('a manifest byte changed in transit is refused (by tag: Docker-Content-Digest; by digest: the digest)', async () => {
  const c = new RegistryClient(proxy.host, { insecure: [proxy.host] });
  // Same length, so Content-Length still fits: only the hash can tell.
  proxy.arm({ match: /^GET \/v2\/ns\/single\/manifests\/v1 /, rewrite: { find: '"schemaVersion":2', replace: '"schemaVersion":3' } });
  const e = await caught(c.getManifest('ns/single', 'v1'));
  assert.is(e.code, 'BLOB_MISMATCH');
  assert.match(e.message, /Docker-Content-Digest/);
  proxy.arm({ match: new RegExp(`^GET /v2/ns/single/manifests/${single.root.digest}`), rewrite: { find: '"schemaVersion":2', replace: '"schemaVersion":3' } });
  const e2 = await caught(c.getManifest('ns/single', single.root.digest));
  assert.is(e2.code, 'BLOB_MISMATCH');
  assert.ok(e2.message.includes(single.root.digest));
  // and untouched, it passes
  assert.is((await c.getManifest('ns/single', single.root.digest)).descriptor.digest, single.root.digest);
  c.close();
});

test('429 with Retry-After is waited out, then the request succeeds', async () => {
  const retries: Array<{ reason: string; delayMs: number }> = [];
  const c = new RegistryClient(proxy.host, { insecure: [proxy.host], onRetry: (i) => retries.push(i) });
  await c.ping(); // settle scheme detection first so the fault hits the manifest request
  proxy.arm({ match: /^GET \/v2\/ns\/multi\/manifests\/v1 /, status: { code: 429, headers: { 'Retry-After': '1' }, body: '{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}' } });
  const t = Date.now();
  const m = await c.getManifest('ns/multi', 'v1');
  assert.ok(Date.now() - t >= 950, 'waited for Retry-After');
  assert.is(m.descriptor.digest, multi.root.digest);
  assert.equal(retries.map((r) => [r.reason, r.delayMs]), [['HTTP 429', 1000]]);
  c.close();
});

test('503s beyond the attempt budget → REGISTRY_ERROR naming status and reference', async () => {
  const c = new RegistryClient(proxy.host, { insecure: [proxy.host], attempts: 2, backoffMs: 5 });
  await c.ping();
  proxy.arm({ match: /^GET \/v2\/ns\/multi\/manifests\/v1 /, status: { code: 503, body: 'upstream down' }, times: 2 });
  const e = await caught(c.getManifest('ns/multi', 'v1'));
  assert.is(e.code, 'REGISTRY_ERROR');
  assert.match(e.message, /HTTP 503/);
  assert.ok(e.message.includes(`${proxy.host}/ns/multi:v1`));
  c.close();
});

test('a parsed reference works as well as a string', async () => {
  const ref = parseReference(`${reg.host}/ns/single:v1`);
  const src = new RegistrySource(ref, { insecure: ['127.0.0.1'] }); // HOST without port matches any port
  assert.is((await src.resolve()).descriptor.digest, single.root.digest);
  await src.close();
});

test.run();
