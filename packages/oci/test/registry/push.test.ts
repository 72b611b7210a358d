// Pushing with RegistrySink into a real registry, read back by skopeo: monolithic and chunked
// (PATCH) blob uploads, manifests as exact bytes under tags, an index after its children,
// cross-repo mounts, and refusals (bad bytes never become visible).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm, readFile, readdir } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { FerryError, type Descriptor } from '@ferry/format-spec';
import { makeOciLayout, type WrittenImage } from '../../../../test/helpers/images.js';
import { startRegistry, type StartedRegistry } from '../../../../test/harness/registry.js';
import { startProxy, type Proxy } from '../../../../test/harness/proxy.js';
import { skopeo, skopeoInspectRaw } from '../../../../test/harness/seed.js';
import { RegistrySink, RegistryClients, RegistryClient, putManifest } from '../../src/index.js';

let reg: StartedRegistry;
let proxy: Proxy;
let dir: string;
let layout: string;
let single: WrittenImage;
let multi: WrittenImage;
const BIG = 2_500_000;
const opts = () => ({ insecure: ['127.0.0.1'], monolithicUploadMax: 256 << 10, uploadChunkSize: 1 << 20 });

const blobPath = (d: string) => join(layout, 'blobs', 'sha256', d.slice(7));
const blobStream = (d: string) => createReadStream(blobPath(d));

async function caught(p: Promise<unknown>): Promise<FerryError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, FerryError);
    return e as FerryError;
  }
  throw new Error('expected a FerryError');
}

async function pushImage(sink: RegistrySink, img: WrittenImage, tag: string) {
  const results: string[] = [];
  for (const [i, m] of img.manifests.entries()) {
    for (const d of [img.configs[i]!, ...img.layers[i]!]) {
      if (!(await sink.hasBlob(d.digest))) results.push(await sink.pushBlob(d as Descriptor, blobStream(d.digest)));
      else results.push('exists');
    }
    const bytes = await readFile(blobPath(m.digest));
    await sink.writeManifest({ mediaType: m.mediaType, digest: m.digest, size: m.size }, bytes, img.manifests.length === 1 ? tag : undefined);
  }
  if (img.manifests.length > 1) await sink.writeManifest(img.root as Descriptor, await readFile(blobPath(img.root.digest)), tag);
  return results;
}

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-push-'));
  layout = join(dir, 'layout');
  [single, multi] = await makeOciLayout(layout, [
    { tag: 'single', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: BIG, seed: 'push-big', gzipLevel: 0 }, { size: 3000, seed: 'push-small' }] }] },
    { tag: 'multi', platforms: [
      { os: 'linux', architecture: 'amd64', layers: [{ size: 3000, seed: 'm-a' }] },
      { os: 'linux', architecture: 'arm64', layers: [{ size: 3000, seed: 'm-b' }] },
    ] },
  ]) as [WrittenImage, WrittenImage];
  reg = await startRegistry();
  proxy = await startProxy(reg.host);
});

test.after(async () => {
  await proxy?.stop();
  await reg?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('push an image (chunked PATCH for the big layer) + tag; skopeo reads back the same bytes', async () => {
  const sink = new RegistrySink(proxy.host, 'ferry/app', opts());
  const before = proxy.heads.length;
  const results = await pushImage(sink, single, '1.0');
  assert.equal(results, ['uploaded', 'uploaded', 'uploaded']);
  const heads = proxy.heads.slice(before);
  const patches = heads.filter((h) => h.startsWith('PATCH '));
  assert.is(patches.length, 3, 'a 2.5 MB layer in 1 MiB chunks');
  assert.equal(patches.map((h) => /\r\ncontent-range: (\S+)/i.exec(h)?.[1]), ['0-1048575', '1048576-2097151', `2097152-${single.layers[0]![0]!.size - 1}`]);
  assert.ok(heads.filter((h) => h.startsWith('PUT ') && h.includes('/blobs/uploads/')).every((h) => /[?&]digest=sha256%3A|[?&]digest=sha256:/.test(h)));
  assert.ok(heads.some((h) => h.startsWith('PUT /v2/ferry/app/manifests/1.0') && /\r\ncontent-type: application\/vnd\.oci\.image\.manifest\.v1\+json/i.test(h)));

  const raw = await skopeoInspectRaw(reg, 'ferry/app:1.0');
  assert.ok(raw.equals(await readFile(blobPath(single.root.digest))), 'manifest bytes identical');
  // skopeo pulls every blob and checks its digest
  const out = join(dir, 'pulled');
  await skopeo(['copy', '-q', '--preserve-digests', '--src-tls-verify=false', `docker://${reg.host}/ferry/app:1.0`, `oci:${out}:1.0`]);
  const got = (await readdir(join(out, 'blobs', 'sha256'))).sort();
  const want = [single.root, single.configs[0]!, ...single.layers[0]!].map((d) => d.digest.slice(7)).sort();
  assert.equal(got, want);
  await sink.close();
});

test('push a two-platform index after its children; tag resolves to the same index bytes', async () => {
  const sink = new RegistrySink(reg.host, 'ferry/multi', opts());
  await pushImage(sink, multi, 'v2');
  const raw = await skopeoInspectRaw(reg, 'ferry/multi:v2');
  assert.ok(raw.equals(await readFile(blobPath(multi.root.digest))));
  const tags = JSON.parse((await skopeo(['list-tags', '--tls-verify=false', `docker://${reg.host}/ferry/multi`])).toString()) as { Tags: string[] };
  assert.equal(tags.Tags, ['v2']);
  await sink.close();
});

test('cross-repo mount when another repo of the same registry got the blob this session', async () => {
  const clients = new RegistryClients(opts());
  const a = new RegistrySink(reg.host, 'mount/a', clients);
  const b = new RegistrySink(reg.host, 'mount/b', clients);
  const layer = single.layers[0]![1]! as Descriptor;
  assert.is(await a.pushBlob(layer, blobStream(layer.digest)), 'uploaded');
  assert.is(await b.pushBlob(layer, blobStream(layer.digest)), 'mounted');
  assert.ok(await b.hasBlob(layer.digest));
  clients.close();
});

test('bytes that do not match the descriptor never become visible (small and chunked)', async () => {
  const sink = new RegistrySink(reg.host, 'ferry/bad', opts());
  const small = single.layers[0]![1]! as Descriptor;
  const e1 = await caught(sink.writeBlob(small, Readable.from([Buffer.alloc(small.size, 7)])));
  assert.is(e1.code, 'BLOB_MISMATCH');
  assert.match(e1.message, /hashes to/);
  assert.not.ok(await sink.hasBlob(small.digest));

  const big = single.layers[0]![0]! as Descriptor;
  // right size, one byte flipped in the middle: only the digest can tell, after all PATCHes
  const data = await readFile(blobPath(big.digest));
  data[1_500_000] ^= 0xff;
  const e2 = await caught(sink.writeBlob(big, Readable.from([data.subarray(0, 1 << 20), data.subarray(1 << 20)])));
  assert.is(e2.code, 'BLOB_MISMATCH');
  assert.not.ok(await sink.hasBlob(big.digest));

  const e3 = await caught(sink.writeBlob(big, Readable.from([data.subarray(0, 1_000_000)])));
  assert.is(e3.code, 'BLOB_MISMATCH');
  assert.match(e3.message, /source ended after 1000000 bytes/);
  const e4 = await caught(sink.writeBlob(big, Readable.from([data, Buffer.from('x')])));
  assert.is(e4.code, 'BLOB_MISMATCH');
  assert.match(e4.message, /more than the expected/);
  assert.not.ok(await sink.hasBlob(big.digest));
  await sink.close();
});

test('manifest refusals: bytes not matching the descriptor; a missing child (MANIFEST_BLOB_UNKNOWN)', async () => {
  const sink = new RegistrySink(reg.host, 'ferry/refuse', opts());
  const bytes = await readFile(blobPath(single.root.digest));
  const e1 = await caught(sink.writeManifest({ ...(single.root as Descriptor), digest: multi.root.digest }, bytes, 'x'));
  assert.is(e1.code, 'BLOB_MISMATCH');
  // blobs not pushed into this repo: the registry refuses the manifest
  const e2 = await caught(sink.writeManifest(single.root as Descriptor, bytes, 'x'));
  assert.is(e2.code, 'REGISTRY_ERROR');
  assert.match(e2.message, /HTTP 400/);
  assert.match(e2.message, /MANIFEST_BLOB_UNKNOWN/);
  assert.ok(e2.message.includes(`${reg.host}/ferry/refuse:x`));
  // pushing by a digest that is not the bytes' digest is refused before sending
  const c = new RegistryClient(reg.host, opts());
  const e3 = await caught(putManifest(c, 'ferry/refuse', multi.root.digest, bytes, single.root.mediaType));
  assert.is(e3.code, 'BLOB_MISMATCH');
  c.close();
  await sink.close();
});

test.run();
