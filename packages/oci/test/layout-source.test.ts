import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm, readFile, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Descriptor } from '@ferry/format-spec';
import { LayoutReaders, openOciLayout, targetName, sanitiseRepositoryName } from '../src/layout-source.js';
import { makeOciLayout, type WrittenImage } from '../../../test/helpers/images.js';
import { rejectsCode as rejects, hashStream } from '../../../test/helpers/assert.js';

let root: string;
let layout: string;
let written: WrittenImage[];



/** A fresh copy of the two-image layout, to tamper with. */
async function copyLayout(name: string): Promise<string> {
  const dir = join(root, name);
  await makeOciLayout(dir, [{ tag: 'v1', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 1000, seed: 'a' }] }] }]);
  return dir;
}

test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'ferry-layout-src-'));
  layout = join(root, 'My Layout_Dir');
  written = await makeOciLayout(layout, [
    { tag: 'v1', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 4000, seed: 'l1' }, { size: 2000, seed: 'l2' }] }] },
    {
      tag: 'multi',
      platforms: [
        { os: 'linux', architecture: 'amd64', layers: [{ size: 1000, seed: 'm1' }] },
        { os: 'linux', architecture: 'arm64', variant: 'v8', layers: [{ size: 1000, seed: 'm2' }] },
      ],
    },
  ]);
});

test.after(async () => {
  await rm(root, { recursive: true, force: true });
});

test('resolves REF to the exact manifest bytes and names the image after the directory', async () => {
  const src = await openOciLayout(layout, 'v1');
  const m = await src.resolve();
  const onDisk = await readFile(join(layout, 'blobs/sha256', written[0]!.root.digest.slice(7)));
  assert.ok(m.bytes.equals(onDisk));
  assert.is(m.descriptor.digest, written[0]!.root.digest);
  assert.is(m.descriptor.size, onDisk.length);
  assert.is(m.descriptor.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  assert.is(src.repository, 'my-layout_dir');
  assert.is(src.tag, 'v1');
  assert.is(src.description, `oci:${layout}:v1`);
});

test('openBlob streams every layer and the config with the right bytes', async () => {
  const src = await openOciLayout(layout, 'v1');
  const doc = JSON.parse((await src.resolve()).bytes.toString()) as { config: Descriptor; layers: Descriptor[] };
  assert.is(doc.layers.length, 2);
  for (const d of [doc.config, ...doc.layers]) assert.is(await hashStream(await src.openBlob(d)), d.digest);
});

test('an index root and its children are served; children are verified', async () => {
  const src = await openOciLayout(layout, 'multi');
  const idx = await src.resolve();
  assert.is(idx.descriptor.mediaType, 'application/vnd.oci.image.index.v1+json');
  const children = (JSON.parse(idx.bytes.toString()) as { manifests: Descriptor[] }).manifests;
  assert.is(children.length, 2);
  const child = await src.fetchManifest(children[1]!);
  assert.is(child.descriptor.digest, written[1]!.manifests[1]!.digest);
  // A child descriptor that lies about the size is refused, not trusted.
  await rejects(src.fetchManifest({ ...children[1]!, size: children[1]!.size + 1 }), 'BLOB_MISMATCH');
});

test('no REF with several images: SOURCE_NOT_FOUND listing what is there', async () => {
  const e = await rejects(openOciLayout(layout), 'SOURCE_NOT_FOUND');
  assert.match(e.message, /"v1"/);
  assert.match(e.message, /"multi"/);
  assert.match(e.message, /2 images/);
});

test('an unknown REF: SOURCE_NOT_FOUND listing the refs available', async () => {
  const e = await rejects(openOciLayout(layout, 'v2'), 'SOURCE_NOT_FOUND');
  assert.match(e.message, /no image named "v2"/);
  assert.match(e.message, /"v1", "multi"/);
});

test('@N picks index.json entry N; out of range is SOURCE_NOT_FOUND', async () => {
  const src = await openOciLayout(layout, '@1');
  assert.is((await src.resolve()).descriptor.digest, written[1]!.root.digest);
  assert.is(src.tag, 'multi'); // named by the entry's ref.name
  await rejects(openOciLayout(layout, '@2'), 'SOURCE_NOT_FOUND', /no entry @2/);
});

test('no REF with exactly one image picks it and takes its ref.name as tag', async () => {
  const dir = join(root, 'single');
  const w = await makeOciLayout(dir, [{ tag: 'example.com/team/app:1.0', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 100, seed: 's' }] }] }]);
  const src = await openOciLayout(dir);
  assert.is((await src.resolve()).descriptor.digest, w[0]!.root.digest);
  assert.is(src.repository, 'team/app');
  assert.is(src.tag, '1.0');
});

test('a REF with a path names repository (no registry host) and tag', async () => {
  const dir = join(root, 'named');
  await makeOciLayout(dir, [
    { tag: 'team/app:2.1', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 10, seed: 'n1' }] }] },
    { tag: 'localhost:5000/x/y', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 10, seed: 'n2' }] }] },
  ]);
  const a = await openOciLayout(dir, 'team/app:2.1');
  assert.equal([a.repository, a.tag], ['team/app', '2.1']);
  const b = await openOciLayout(dir, 'localhost:5000/x/y');
  assert.equal([b.repository, b.tag], ['x/y', 'latest']);
});

test('LayoutReaders: images of one layout share one parsed index.json, by resolved path; a new LayoutReaders reads it afresh', async () => {
  const dir = join(root, 'shared');
  await makeOciLayout(dir, [
    { tag: 'a', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 100, seed: 'sa' }] }] },
    { tag: 'b', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 100, seed: 'sb' }] }] },
  ]);
  const readers = new LayoutReaders();
  const a = await openOciLayout(dir, 'a', readers);
  assert.is(a.tag, 'a');
  // index.json changes after the first image was opened: the run keeps the index it read.
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: unknown[] };
  await writeFile(join(dir, 'index.json'), JSON.stringify({ ...index, manifests: index.manifests.slice(0, 1) }));
  const b = await openOciLayout(`${dir}/./`, 'b', readers);
  assert.is(b.tag, 'b', 'the same directory by another spelling shares the parsed index');
  const blob = (await b.resolve()).bytes;
  assert.ok(blob.length > 0);
  // A later run (a new LayoutReaders) and a lone open see the layout as it is now.
  await rejects(openOciLayout(dir, 'b', new LayoutReaders()), 'SOURCE_NOT_FOUND', /no image named "b"/);
  await rejects(openOciLayout(dir, 'b'), 'SOURCE_NOT_FOUND', /no image named "b"/);
});

test('blobFile gives the blob file of a layout directory after the same size check as openBlob', async () => {
  const src = await openOciLayout(layout, 'v1');
  const layer = written[0]!.layers[0]![0]!;
  const file = await src.blobFile!(layer);
  assert.is(file, join(layout, 'blobs/sha256', layer.digest.slice(7)));
  assert.is(await hashStream((await import('node:fs')).createReadStream(file!)), layer.digest);
  await rejects(src.blobFile!({ ...layer, size: layer.size + 1 }), 'BLOB_MISMATCH', /is \d+ bytes but its descriptor says/);
  await rejects(src.blobFile!({ ...layer, digest: `sha256:${'e'.repeat(64)}` }), 'SOURCE_NOT_FOUND', /is not in the layout/);
  await rejects(src.blobFile!({ ...layer, digest: 'sha256:../../etc/passwd' }), 'SOURCE_INVALID', /only sha256/);
});

test('targetName and sanitiseRepositoryName', () => {
  assert.equal(targetName('1.0', 'Demo'), { repository: 'demo', tag: '1.0' });
  assert.equal(targetName(undefined, 'Demo'), { repository: 'demo', tag: 'latest' });
  assert.equal(targetName('app:1.0', 'x'), { repository: 'library/app', tag: '1.0' });
  assert.equal(targetName('ghcr.io/org/tool:v2', 'x'), { repository: 'org/tool', tag: 'v2' });
  // valid ref.name but not a docker name/tag: directory name plus a sanitised tag
  assert.equal(targetName('Foo+Bar', 'x'), { repository: 'x', tag: 'Foo-Bar' });
  assert.is(sanitiseRepositoryName('My  App!!v2'), 'my-app-v2');
  assert.is(sanitiseRepositoryName('..a._b--c__d..'), 'a-b--c__d');
  assert.is(sanitiseRepositoryName('???'), 'image');
  assert.match(sanitiseRepositoryName('UPPER.case'), /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/);
});

test('a manifest whose bytes do not match its digest is refused', async () => {
  const dir = await copyLayout('tampered');
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  const path = join(dir, 'blobs/sha256', index.manifests[0]!.digest.slice(7));
  const bytes = await readFile(path);
  // Same length, one byte changed: only the digest check can catch it.
  const evil = Buffer.from(bytes);
  evil[evil.length - 2] = evil[evil.length - 2] === 0x5d ? 0x7d : 0x5d;
  await writeFile(path, evil);
  const src = await openOciLayout(dir, 'v1');
  const e = await rejects(src.resolve(), 'BLOB_MISMATCH', /hashes to/);
  assert.is(e.details.digest, index.manifests[0]!.digest);
});

test('a descriptor whose size does not match the manifest is refused', async () => {
  const dir = await copyLayout('badsize');
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  index.manifests[0]!.size += 10;
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
  const src = await openOciLayout(dir, 'v1');
  await rejects(src.resolve(), 'BLOB_MISMATCH', /bytes, expected/);
});

test('digests with path tricks or other algorithms are refused, never opened', async () => {
  const dir = await copyLayout('traversal');
  await writeFile(join(root, 'secret'), 'do not read');
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  index.manifests[0]!.digest = 'sha256:../../../secret';
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
  await rejects(openOciLayout(dir, 'v1'), 'SOURCE_INVALID', /refusing digest/);

  const good = await openOciLayout(await copyLayout('traversal2'), 'v1');
  const bad: Descriptor[] = [
    { mediaType: 'x', digest: 'sha256:../../../../secret', size: 11 },
    { mediaType: 'x', digest: `sha512:${'a'.repeat(128)}`, size: 1 },
    { mediaType: 'x', digest: `sha256:${'A'.repeat(64)}`, size: 1 },
    { mediaType: 'x', digest: `sha256:${'a'.repeat(63)}/`, size: 1 },
  ];
  for (const d of bad) {
    await rejects(good.openBlob(d), 'SOURCE_INVALID', /refusing digest/);
    await rejects(good.fetchManifest(d), 'SOURCE_INVALID');
  }
});

test('a missing blob is SOURCE_NOT_FOUND; a blob of the wrong size is BLOB_MISMATCH before reading', async () => {
  const src = await openOciLayout(layout, 'v1');
  await rejects(src.openBlob({ mediaType: 'x', digest: `sha256:${'0'.repeat(64)}`, size: 5 }), 'SOURCE_NOT_FOUND', /not in the layout/);
  const doc = JSON.parse((await src.resolve()).bytes.toString()) as { layers: Descriptor[] };
  await rejects(src.openBlob({ ...doc.layers[0]!, size: doc.layers[0]!.size - 1 }), 'BLOB_MISMATCH');
});

test('not a layout, not a directory, or missing: clear errors', async () => {
  const plain = join(root, 'plain');
  await mkdir(plain);
  await rejects(openOciLayout(plain, 'v1'), 'SOURCE_INVALID', /no oci-layout file/);
  await rejects(openOciLayout(join(root, 'nope')), 'SOURCE_NOT_FOUND', /does not exist/);
  await writeFile(join(root, 'afile'), 'x');
  await rejects(openOciLayout(join(root, 'afile')), 'SOURCE_INVALID', /not a directory/);
  const noIndex = join(root, 'noindex');
  await mkdir(noIndex);
  await writeFile(join(noIndex, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await rejects(openOciLayout(noIndex), 'SOURCE_INVALID', /index\.json is missing/);
  await writeFile(join(noIndex, 'index.json'), '{"manifests": 3}');
  await rejects(openOciLayout(noIndex), 'SOURCE_INVALID', /no "manifests" array/);
  await writeFile(join(noIndex, 'index.json'), '{not json');
  await rejects(openOciLayout(noIndex), 'SOURCE_INVALID', /not valid JSON/);
  await writeFile(join(noIndex, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}');
  await rejects(openOciLayout(noIndex), 'SOURCE_INVALID', /imageLayoutVersion/);
});

test('unknown entries in index.json do not break picking another; duplicates of a ref are refused', async () => {
  const dir = await copyLayout('unknown');
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: unknown[] };
  const good = index.manifests[0] as Descriptor;
  index.manifests.unshift({ mediaType: 'application/vnd.example.thing', digest: 'md5:xyz', size: -1, annotations: { 'org.opencontainers.image.ref.name': 'weird' } });
  index.manifests.push('not even an object');
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
  const src = await openOciLayout(dir, 'v1');
  assert.is((await src.resolve()).descriptor.digest, good.digest);
  // ...but choosing the broken one says why
  await rejects(openOciLayout(dir, 'weird'), 'SOURCE_INVALID');

  index.manifests.push({ ...good });
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
  await rejects(openOciLayout(dir, 'v1'), 'SOURCE_INVALID', /2 entries named "v1"/);
});

test('a manifest whose mediaType contradicts its descriptor is refused', async () => {
  const dir = await copyLayout('mt');
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  index.manifests[0]!.mediaType = 'application/vnd.oci.image.index.v1+json';
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
  await rejects((await openOciLayout(dir, 'v1')).resolve(), 'SOURCE_INVALID', /says mediaType/);
});

test.run();
