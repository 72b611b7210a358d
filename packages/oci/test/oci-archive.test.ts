import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm, readFile, writeFile, readdir, truncate, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import tar from 'tar-stream';
import { type Descriptor } from '@ferry/format-spec';
import { openOciArchive } from '../src/oci-archive.js';
import { makeOciLayout, type WrittenImage } from '../../../test/helpers/images.js';
import { rejectsCode as rejects, hashStream } from '../../../test/helpers/assert.js';

const run = promisify(execFile);
let root: string;
let layout: string;
let written: WrittenImage[];



/** Every blob of the image (all platforms) streamed from the source hashes to its digest. */
async function checkAllBlobs(src: Awaited<ReturnType<typeof openOciArchive>>): Promise<number> {
  const rootM = await src.resolve();
  const doc = JSON.parse(rootM.bytes.toString()) as { manifests?: Descriptor[] };
  const ms = doc.manifests ? await Promise.all(doc.manifests.map((d) => src.fetchManifest(d))) : [rootM];
  let n = 0;
  for (const m of ms) {
    const md = JSON.parse(m.bytes.toString()) as { config: Descriptor; layers: Descriptor[] };
    for (const d of [md.config, ...md.layers]) {
      assert.is(await hashStream(await src.openBlob(d)), d.digest);
      n++;
    }
  }
  return n;
}

/** Pack a layout directory into a tar with tar-stream, letting `edit` add or replace entries. */
async function packLayout(dir: string, out: string, extra: Array<{ name: string; type?: 'file' | 'symlink'; body?: Buffer; linkname?: string }>, skip: (name: string) => boolean = () => false): Promise<void> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  const names = ['oci-layout', 'index.json', ...(await readdir(join(dir, 'blobs/sha256'))).map((h) => `blobs/sha256/${h}`)];
  for (const n of names) {
    if (skip(n)) continue;
    const body = await readFile(join(dir, n));
    pack.entry({ name: n, size: body.length, mode: 0o644 }, body);
  }
  for (const e of extra) {
    if (e.type === 'symlink') pack.entry({ name: e.name, type: 'symlink', linkname: e.linkname! });
    else pack.entry({ name: e.name, size: e.body!.length }, e.body!);
  }
  pack.finalize();
  await done;
  await writeFile(out, Buffer.concat(chunks));
}

test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'ferry-oci-archive-'));
  layout = join(root, 'layout');
  written = await makeOciLayout(layout, [
    { tag: 'v1', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 200_000, seed: 'o1' }, { size: 3000, seed: 'o2' }] }] },
    {
      tag: 'multi',
      platforms: [
        { os: 'linux', architecture: 'amd64', layers: [{ size: 1000, seed: 'om1' }] },
        { os: 'linux', architecture: 'arm64', layers: [{ size: 1000, seed: 'om2' }] },
      ],
    },
  ]);
});

test.after(async () => {
  await rm(root, { recursive: true, force: true });
});

test('an archive written by skopeo: same manifest digest, every blob streams with the right bytes', async () => {
  const file = join(root, 'Skopeo-Image.tar');
  await run('skopeo', ['copy', `oci:${layout}:v1`, `oci-archive:${file}:release`]);
  const src = await openOciArchive(file, 'release');
  const m = await src.resolve();
  assert.is(m.descriptor.digest, written[0]!.root.digest);
  assert.is(src.repository, 'skopeo-image');
  assert.is(src.tag, 'release');
  assert.is(src.description, `oci-archive:${file}:release`);
  assert.is(await checkAllBlobs(src), 3);
  // one image in the archive: no REF needed
  const only = await openOciArchive(file);
  assert.is((await only.resolve()).descriptor.digest, written[0]!.root.digest);
  await rejects(openOciArchive(file, 'nope'), 'SOURCE_NOT_FOUND', /"release"/);
});

test('multi-image archive made with GNU tar (./ names): pick by REF, index children served', async () => {
  const file = join(root, 'gnu.tar');
  await run('tar', ['-C', layout, '-cf', file, '.']);
  assert.match((await run('tar', ['-tf', file])).stdout, /^\.\/oci-layout$/m);
  await rejects(openOciArchive(file), 'SOURCE_NOT_FOUND', /"v1", "multi"/);
  const src = await openOciArchive(file, 'multi');
  assert.is((await src.resolve()).descriptor.digest, written[1]!.root.digest);
  assert.is(await checkAllBlobs(src), 4);
});

test('a symlink where a blob should be is refused, and nothing outside is read', async () => {
  const secret = join(root, 'secret.txt');
  await writeFile(secret, 'top secret');
  const layer = written[0]!.layers[0]![0]!;
  const file = join(root, 'symlink.tar');
  await packLayout(layout, file, [{ name: `blobs/sha256/${layer.digest.slice(7)}`, type: 'symlink', linkname: secret }], (n) => n.endsWith(layer.digest.slice(7)));
  const src = await openOciArchive(file, 'v1');
  await src.resolve(); // the manifest is fine
  await rejects(src.openBlob(layer), 'SOURCE_INVALID', /symbolic link inside the archive/);
  // the same for a symlink standing in for index.json
  const f2 = join(root, 'symlink-index.tar');
  await packLayout(layout, f2, [{ name: 'index.json', type: 'symlink', linkname: '/etc/passwd' }], (n) => n === 'index.json');
  await rejects(openOciArchive(f2, 'v1'), 'SOURCE_INVALID', /index\.json.*link/);
});

test('an archive with a ../ entry is refused as hostile', async () => {
  const file = join(root, 'dotdot.tar');
  await packLayout(layout, file, [{ name: '../../outside', body: Buffer.from('x') }]);
  await rejects(openOciArchive(file, 'v1'), 'ARCHIVE_HOSTILE', /\.\." component/);
});

test('a truncated archive is refused, naming the file', async () => {
  const file = join(root, 'trunc.tar');
  await run('skopeo', ['copy', `oci:${layout}:v1`, `oci-archive:${file}:v1`]);
  const size = (await stat(file)).size;
  await truncate(file, Math.floor(size / 2));
  const e = await rejects(openOciArchive(file, 'v1'), 'SOURCE_INVALID', /truncated/);
  assert.ok(e.message.includes(file));
});

test('a manifest blob tampered inside the archive is refused', async () => {
  const file = join(root, 'tampered.tar');
  const m = written[0]!.root;
  const bytes = await readFile(join(layout, 'blobs/sha256', m.digest.slice(7)));
  const evil = Buffer.from(bytes.toString().replace('"schemaVersion":2', '"schemaVersion":3'));
  await packLayout(layout, file, [{ name: `blobs/sha256/${m.digest.slice(7)}`, body: evil }], (n) => n.endsWith(m.digest.slice(7)));
  await rejects((await openOciArchive(file, 'v1')).resolve(), 'BLOB_MISMATCH');
});

test('a directory or missing file is a clear error', async () => {
  await rejects(openOciArchive(layout), 'SOURCE_INVALID', /directory.*oci:DIR/);
  await rejects(openOciArchive(join(root, 'none.tar')), 'SOURCE_NOT_FOUND');
  const notLayout = join(root, 'notlayout.tar');
  await run('tar', ['-C', join(layout, 'blobs'), '-cf', notLayout, '.']);
  await rejects(openOciArchive(notLayout), 'SOURCE_INVALID', /no oci-layout file/);
});

test.run();
