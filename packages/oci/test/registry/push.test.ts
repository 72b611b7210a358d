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
import { FerryError, VerifyingStream, sha256Digest, type Descriptor } from '@ferry/format-spec';
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

/** Through the ImageSink interface, in the order the loader uses: blobs, manifests by digest, the tag last. */
async function pushImage(sink: RegistrySink, repo: string, img: WrittenImage, tag: string) {
  const results: string[] = [];
  for (const m of img.manifests) {
    const i = img.manifests.indexOf(m);
    for (const d of [img.configs[i]!, ...img.layers[i]!]) {
      if ((await sink.blobPresence(repo, d as Descriptor)) !== 'present') results.push(await sink.putBlob(repo, d as Descriptor, blobStream(d.digest)));
      else results.push('exists');
    }
    const desc = { mediaType: m.mediaType, digest: m.digest, size: m.size };
    await sink.putManifest(repo, desc, await readFile(blobPath(m.digest)));
  }
  const rootBytes = await readFile(blobPath(img.root.digest));
  if (img.manifests.length > 1) await sink.putManifest(repo, img.root as Descriptor, rootBytes);
  assert.is(await sink.tagged(repo, tag), undefined, 'nothing is tagged before putTags');
  await sink.putTags([{ repository: repo, tag, descriptor: img.root as Descriptor, bytes: rootBytes }]);
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
  const sink = new RegistrySink(proxy.host, opts());
  const before = proxy.heads.length;
  const results = await pushImage(sink, 'ferry/app', single, '1.0');
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
  const sink = new RegistrySink(reg.host, opts());
  await pushImage(sink, 'ferry/multi', multi, 'v2');
  assert.is((await sink.tagged('ferry/multi', 'v2'))?.digest, multi.root.digest);
  const raw = await skopeoInspectRaw(reg, 'ferry/multi:v2');
  assert.ok(raw.equals(await readFile(blobPath(multi.root.digest))));
  const tags = JSON.parse((await skopeo(['list-tags', '--tls-verify=false', `docker://${reg.host}/ferry/multi`])).toString()) as { Tags: string[] };
  assert.equal(tags.Tags, ['v2']);
  await sink.close();
});

test('cross-repo mount when another repo of the same registry got the blob this session', async () => {
  const clients = new RegistryClients(opts());
  const sink = new RegistrySink(reg.host, clients);
  const layer = single.layers[0]![1]! as Descriptor;
  assert.is(await sink.putBlob('mount/a', layer, blobStream(layer.digest)), 'uploaded');
  assert.is(await sink.putBlob('mount/b', layer, blobStream(layer.digest)), 'mounted');
  assert.is(await sink.blobPresence('mount/b', layer), 'present');
  // and without the bytes at all: a mount from a repository that holds it, refused from one that does not
  assert.ok(await sink.mountBlob('mount/c', layer, 'mount/a'));
  assert.is(await sink.blobPresence('mount/c', layer), 'present');
  const other = single.layers[0]![0]! as Descriptor;
  assert.not.ok(await sink.mountBlob('mount/d', other, 'mount/a'), 'mount/a does not hold it: 202, not mounted');
  assert.is(await sink.blobPresence('mount/d', other), 'absent');
  clients.close();
});

test('bytes that do not match the descriptor never become visible (small and chunked)', async () => {
  const sink = new RegistrySink(reg.host, opts());
  const repo = 'ferry/bad';
  const small = single.layers[0]![1]! as Descriptor;
  const e1 = await caught(sink.putBlob(repo, small, Readable.from([Buffer.alloc(small.size, 7)])));
  assert.is(e1.code, 'BLOB_MISMATCH');
  assert.match(e1.message, /hashes to/);
  assert.not.ok((await sink.blobPresence(repo, small)) === 'present');

  const big = single.layers[0]![0]! as Descriptor;
  // right size, one byte flipped in the middle: only the digest can tell, after all PATCHes
  const data = await readFile(blobPath(big.digest));
  data[1_500_000] ^= 0xff;
  const e2 = await caught(sink.putBlob(repo, big, Readable.from([data.subarray(0, 1 << 20), data.subarray(1 << 20)])));
  assert.is(e2.code, 'BLOB_MISMATCH');
  assert.not.ok((await sink.blobPresence(repo, big)) === 'present');

  const e3 = await caught(sink.putBlob(repo, big, Readable.from([data.subarray(0, 1_000_000)])));
  assert.is(e3.code, 'BLOB_MISMATCH');
  assert.match(e3.message, /1000000 bytes, expected/);
  const e4 = await caught(sink.putBlob(repo, big, Readable.from([data, Buffer.from('x')])));
  assert.is(e4.code, 'BLOB_MISMATCH');
  assert.match(e4.message, /more than the expected/);
  assert.not.ok((await sink.blobPresence(repo, big)) === 'present');
  await sink.close();
});

test('a stream verified upstream is not hashed again, and still never lands when its bytes are wrong', async () => {
  const proxied = new RegistrySink(proxy.host, opts());
  const repo = 'ferry/verified';
  const big = single.layers[0]![0]! as Descriptor;
  const small = single.layers[0]![1]! as Descriptor;
  for (const d of [small, big]) {
    const data = await readFile(blobPath(d.digest));
    data[data.length - 10] ^= 0xff; // the last chunk is wrong: only the end of the stream can tell
    const before = proxy.requests.length;
    const src = Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]).pipe(new VerifyingStream(d.digest, d.size, { where: 'test' }));
    const e = await caught(proxied.putBlob(repo, d, src));
    assert.is(e.code, 'BLOB_MISMATCH');
    assert.is(await proxied.blobPresence(repo, d), 'absent', `${d.size} bytes: nothing visible`);
    const sent = proxy.requests.slice(before);
    assert.not.ok(sent.some((l) => /^PUT \/v2\/ferry\/verified\/blobs\/uploads\/.*digest=/.test(l)), `no closing PUT after a failed verification: ${sent.join(' | ')}`);
    // the same bytes, right this time, through the verifier: uploaded
    const good = createReadStream(blobPath(d.digest)).pipe(new VerifyingStream(d.digest, d.size, { where: 'test' }));
    assert.is(await proxied.putBlob(repo, d, good), 'uploaded');
    assert.is(await proxied.blobPresence(repo, d), 'present');
  }
  await proxied.close();
});

test('a manifest over the registry limit (4 MiB) is refused with a clear error before any byte is sent', async () => {
  const sink = new RegistrySink(proxy.host, opts());
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [], annotations: { pad: 'x'.repeat(4 << 20) } }));
  const desc = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256Digest(body), size: body.length };
  const before = proxy.requests.length;
  const e = await caught(sink.putManifest('ferry/huge', desc, body));
  assert.is(e.code, 'TARGET_ERROR');
  assert.match(e.message, /accept at most 4194304/);
  assert.is(proxy.requests.length, before, 'nothing sent');
  await sink.close();
});

test('manifest refusals: bytes not matching the descriptor; a missing child (MANIFEST_BLOB_UNKNOWN)', async () => {
  const sink = new RegistrySink(reg.host, opts());
  const bytes = await readFile(blobPath(single.root.digest));
  const e1 = await caught(sink.putManifest('ferry/refuse', { ...(single.root as Descriptor), digest: multi.root.digest }, bytes));
  assert.is(e1.code, 'BLOB_MISMATCH');
  // blobs not pushed into this repo: the registry refuses the manifest
  const e2 = await caught(sink.putManifest('ferry/refuse', single.root as Descriptor, bytes));
  assert.is(e2.code, 'REGISTRY_ERROR');
  assert.match(e2.message, /HTTP 400/);
  assert.match(e2.message, /MANIFEST_BLOB_UNKNOWN/);
  assert.ok(e2.message.includes(`${reg.host}/ferry/refuse@${single.root.digest}`));
  // pushing by a digest that is not the bytes' digest is refused before sending
  const c = new RegistryClient(reg.host, opts());
  const e3 = await caught(putManifest(c, 'ferry/refuse', multi.root.digest, bytes, single.root.mediaType));
  assert.is(e3.code, 'BLOB_MISMATCH');
  c.close();
  await sink.close();
});

test.run();
