import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm, readFile, writeFile, readdir, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import tar from 'tar-stream';
import { sha256Digest, type Descriptor } from '@ferry/format-spec';
import { openDockerArchive } from '../src/docker-archive.js';
import { OciLayoutSink } from '../src/layout-sink.js';
import { indexTar, openTarEntry } from '../src/tar-index.js';
import type { ImageSource } from '../src/source.js';
import { makeOciLayout, type WrittenImage } from '../../../test/helpers/images.js';
import { rejectsCode as rejects, hashStream } from '../../../test/helpers/assert.js';

const run = promisify(execFile);
let root: string;
let layout: string;
let written: WrittenImage[];

type TarItem = { name: string; body?: Buffer; type?: 'file' | 'symlink'; linkname?: string };

async function writeTar(out: string, items: TarItem[]): Promise<void> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  for (const it of items) {
    if (it.type === 'symlink') pack.entry({ name: it.name, type: 'symlink', linkname: it.linkname! });
    else pack.entry({ name: it.name, size: it.body!.length, mode: 0o644 }, it.body!);
  }
  pack.finalize();
  await done;
  await writeFile(out, Buffer.concat(chunks));
}

/** Entries of a tar file, in order, with their bytes. */
async function readTar(file: string): Promise<TarItem[]> {
  const idx = await indexTar(file);
  const out: TarItem[] = [];
  for (const e of idx.entries.values()) {
    const chunks: Buffer[] = [];
    for await (const c of openTarEntry(idx, e)) chunks.push(c as Buffer);
    out.push({ name: e.name, body: Buffer.concat(chunks) });
  }
  for (const l of idx.links.values()) out.push({ name: l.name, type: 'symlink', linkname: l.target });
  return out;
}

async function layerTar(content: string): Promise<Buffer> {
  const f = join(root, `layer-${sha256Digest(content).slice(7, 19)}.tar`);
  await writeTar(f, [{ name: `data/${content.slice(0, 20)}.txt`, body: Buffer.from(content) }]);
  return readFile(f);
}

function configFor(diffIds: string[], extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: diffIds }, ...extra }));
}



/** Resolve, check layers = config diff_ids, stream-verify every blob; returns the manifest digest. */
async function checkSynthesised(src: ImageSource): Promise<{ digest: string; manifest: { config: Descriptor; layers: Descriptor[] } }> {
  const m = await src.resolve();
  assert.is(m.descriptor.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  assert.is(sha256Digest(m.bytes), m.descriptor.digest);
  const manifest = JSON.parse(m.bytes.toString()) as { mediaType: string; config: Descriptor; layers: Descriptor[] };
  assert.is(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  assert.is(manifest.config.mediaType, 'application/vnd.oci.image.config.v1+json');
  const configBytes: Buffer[] = [];
  for await (const c of await src.openBlob(manifest.config)) configBytes.push(c as Buffer);
  const config = JSON.parse(Buffer.concat(configBytes).toString()) as { rootfs: { diff_ids: string[] } };
  assert.equal(manifest.layers.map((l) => l.digest), config.rootfs.diff_ids);
  for (const l of manifest.layers) {
    assert.is(l.mediaType, 'application/vnd.oci.image.layer.v1.tar');
    assert.is(await hashStream(await src.openBlob(l)), l.digest);
  }
  return { digest: m.descriptor.digest, manifest };
}

test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'ferry-docker-archive-'));
  layout = join(root, 'layout');
  written = await makeOciLayout(layout, [
    { tag: 'v1', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 150_000, seed: 'd1' }, { size: 2000, seed: 'd2' }] }] },
    { tag: 'v2', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 1000, seed: 'd3' }] }] },
    {
      tag: 'multi',
      platforms: [
        { os: 'linux', architecture: 'amd64', layers: [{ size: 1000, seed: 'dm1' }] },
        { os: 'linux', architecture: 'arm64', layers: [{ size: 1000, seed: 'dm2' }] },
      ],
    },
  ]);
});

test.after(async () => {
  await rm(root, { recursive: true, force: true });
});

test('skopeo docker-archive with two tags: a source per tag, same deterministic manifest, layers = diff_ids', async () => {
  const file = join(root, 'one.tar');
  await run('skopeo', ['copy', '--additional-tag', 'team/app:latest', `oci:${layout}:v1`, `docker-archive:${file}:example.com/team/app:1.0`]);
  const sources = await openDockerArchive(file);
  assert.equal(sources.map((s) => [s.repository, s.tag]), [['team/app', '1.0'], ['team/app', 'latest']]);
  const a = await checkSynthesised(sources[0]!);
  const b = await checkSynthesised(sources[1]!);
  assert.is(a.digest, b.digest);
  assert.is(a.manifest.layers.length, 2);
  // The config keeps its exact bytes, so its digest is the one in the original layout.
  assert.is(a.manifest.config.digest, written[0]!.configs[0]!.digest);
  // Same archive, fresh open: byte-identical manifest.
  const again = await openDockerArchive(file, 'example.com/team/app:1.0');
  assert.is((await again[0]!.resolve()).descriptor.digest, a.digest);
  assert.is(again[0]!.description, `docker-archive:${file}:example.com/team/app:1.0`);
});

test('a synthesised image copied through the layout sink is a valid image to skopeo', async () => {
  const file = join(root, 'forsink.tar');
  await run('skopeo', ['copy', `oci:${layout}:v2`, `docker-archive:${file}:tools/v2:7`]);
  const [src] = await openDockerArchive(file);
  const m = await src!.resolve();
  const doc = JSON.parse(m.bytes.toString()) as { config: Descriptor; layers: Descriptor[] };
  const out = join(root, 'sink-out');
  const sink = await OciLayoutSink.open(out);
  for (const d of [doc.config, ...doc.layers]) await sink.writeBlob(d, await src!.openBlob(d));
  await sink.writeManifest(m.descriptor, m.bytes, '7');
  const { stdout } = await run('skopeo', ['inspect', `oci:${out}:7`]);
  const info = JSON.parse(stdout) as { Digest: string; Layers: string[] };
  assert.is(info.Digest, m.descriptor.digest);
  assert.equal(info.Layers, doc.layers.map((l) => l.digest));
  await run('skopeo', ['copy', `oci:${out}:7`, `oci:${join(root, 'sink-roundtrip')}:x`]);
});

test('picking by name:tag (docker-normalised) and @N; unknown names list what is there', async () => {
  const file = join(root, 'pick.tar');
  await run('skopeo', ['copy', `oci:${layout}:v1`, `docker-archive:${file}:alpine:3.19`]);
  const [byName] = await openDockerArchive(file, 'docker.io/library/alpine:3.19');
  assert.equal([byName!.repository, byName!.tag], ['library/alpine', '3.19']);
  const [byIndex] = await openDockerArchive(file, '@0');
  assert.equal([byIndex!.repository, byIndex!.tag], ['library/alpine', '3.19']);
  const e = await rejects(openDockerArchive(file, 'alpine:3.20'), 'SOURCE_NOT_FOUND', /alpine:3\.19/);
  assert.match(e.message, /@0/);
  await rejects(openDockerArchive(file, '@1'), 'SOURCE_NOT_FOUND', /1 image/);
  await rejects(openDockerArchive(file, `alpine@sha256:${'a'.repeat(64)}`), 'SOURCE_INVALID', /digest/);
});

test('a multi-image archive: all images without REF, one with REF', async () => {
  const f1 = join(root, 'm1.tar');
  const f2 = join(root, 'm2.tar');
  await run('skopeo', ['copy', `oci:${layout}:v1`, `docker-archive:${f1}:web/front:1`]);
  await run('skopeo', ['copy', `oci:${layout}:v2`, `docker-archive:${f2}:web/back:2`]);
  const e1 = await readTar(f1);
  const e2 = await readTar(f2);
  const m1 = JSON.parse(e1.find((e) => e.name === 'manifest.json')!.body!.toString()) as unknown[];
  const m2 = JSON.parse(e2.find((e) => e.name === 'manifest.json')!.body!.toString()) as unknown[];
  const seen = new Set<string>();
  const merged: TarItem[] = [];
  for (const e of [...e1, ...e2]) {
    if (e.name === 'manifest.json' || e.name === 'repositories' || seen.has(e.name)) continue;
    seen.add(e.name);
    merged.push(e);
  }
  merged.push({ name: 'manifest.json', body: Buffer.from(JSON.stringify([...m1, ...m2])) });
  const file = join(root, 'multi.tar');
  await writeTar(file, merged);

  const all = await openDockerArchive(file);
  assert.equal(all.map((s) => `${s.repository}:${s.tag}`), ['web/front:1', 'web/back:2']);
  const d = await Promise.all(all.map((s) => checkSynthesised(s)));
  assert.is(d[1]!.manifest.config.digest, written[1]!.configs[0]!.digest);
  assert.is.not(d[0]!.digest, d[1]!.digest);
  const [back] = await openDockerArchive(file, 'web/back:2');
  assert.is((await back!.resolve()).descriptor.digest, d[1]!.digest);
  const [second] = await openDockerArchive(file, '@1');
  assert.is(second!.repository, 'web/back');
});

test('docker save layout (<id>/layer.tar, duplicate layer linked, untagged): layers hashed, named after the file', async () => {
  const l1 = await layerTar('first layer content');
  const l2 = await layerTar('second layer content');
  const d1 = sha256Digest(l1);
  const d2 = sha256Digest(l2);
  const config = configFor([d1, d2, d1]);
  const cfgHex = sha256Digest(config).slice(7);
  const file = join(root, 'My Saved.Image.tar');
  await writeTar(file, [
    { name: 'aaa/layer.tar', body: l1 },
    { name: 'bbb/layer.tar', body: l2 },
    { name: 'ccc/layer.tar', type: 'symlink', linkname: '../aaa/layer.tar' },
    { name: `${cfgHex}.json`, body: config },
    { name: 'manifest.json', body: Buffer.from(JSON.stringify([{ Config: `${cfgHex}.json`, RepoTags: null, Layers: ['aaa/layer.tar', 'bbb/layer.tar', 'ccc/layer.tar'] }])) },
  ]);
  const [src, ...rest] = await openDockerArchive(file);
  assert.is(rest.length, 0);
  assert.equal([src!.repository, src!.tag], ['my-saved.image', 'latest']);
  const { manifest } = await checkSynthesised(src!);
  assert.equal(manifest.layers.map((l) => l.digest), [d1, d2, d1]);
  assert.is(manifest.config.digest, `sha256:${cfgHex}`);
  assert.is(manifest.config.size, config.length);
  // The exact bytes: compact, fixed key order.
  const expected = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${cfgHex}`, size: config.length },
    layers: [d1, d2, d1].map((d, i) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: d, size: [l1, l2, l1][i]!.length })),
  });
  assert.is((await src!.resolve()).bytes.toString(), expected);
  // A lone untagged image can be named by REF.
  const [named] = await openDockerArchive(file, 'ops/tool:5');
  assert.equal([named!.repository, named!.tag], ['ops/tool', '5']);
});

test('a layer that does not match rootfs.diff_ids is refused', async () => {
  const l1 = await layerTar('genuine layer');
  const evil = Buffer.from(l1);
  evil[600] ^= 0x01; // inside the file data
  const config = configFor([sha256Digest(l1)]);
  const cfgHex = sha256Digest(config).slice(7);
  const file = join(root, 'mismatch.tar');
  await writeTar(file, [
    { name: 'x/layer.tar', body: evil },
    { name: `${cfgHex}.json`, body: config },
    { name: 'manifest.json', body: Buffer.from(JSON.stringify([{ Config: `${cfgHex}.json`, RepoTags: ['a/b:1'], Layers: ['x/layer.tar'] }])) },
  ]);
  const [src] = await openDockerArchive(file);
  const e = await rejects(src!.resolve(), 'BLOB_MISMATCH', /rootfs\.diff_ids\[0\]/);
  assert.match(e.message, /x\/layer\.tar/);

  // skopeo names layers by digest; a changed body is caught when the blob is streamed.
  const sk = join(root, 'sk-tamper.tar');
  await run('skopeo', ['copy', `oci:${layout}:v2`, `docker-archive:${sk}:t/t:1`]);
  const items = await readTar(sk);
  const layerItem = items.find((i) => /^[a-f0-9]{64}\.tar$/.test(i.name))!;
  layerItem.body![700] ^= 0x01;
  const tampered = join(root, 'sk-tampered.tar');
  await writeTar(tampered, items);
  const [t] = await openDockerArchive(tampered);
  const m = JSON.parse((await t!.resolve()).bytes.toString()) as { layers: Descriptor[] };
  await rejects(hashStream(await t!.openBlob(m.layers[0]!)), 'BLOB_MISMATCH', /hashes to/);

  // and a name that disagrees with diff_ids is refused up front
  const wrongName = join(root, 'wrong-name.tar');
  const renamed = items.map((i) => (i === layerItem ? { ...i, name: `${'e'.repeat(64)}.tar` } : i));
  const mj = renamed.find((i) => i.name === 'manifest.json')!;
  mj.body = Buffer.from(mj.body!.toString().replace(layerItem.name, `${'e'.repeat(64)}.tar`));
  await writeTar(wrongName, renamed);
  await rejects((await openDockerArchive(wrongName))[0]!.resolve(), 'BLOB_MISMATCH', /is named sha256:e+/);
});

test('broken archives: layer count, config name, hostile paths, truncation, no manifest.json', async () => {
  const l1 = await layerTar('some layer');
  const config = configFor([sha256Digest(l1), sha256Digest(l1)]);
  const cfgHex = sha256Digest(config).slice(7);
  const mk = async (name: string, manifest: unknown, extra: TarItem[] = []): Promise<string> => {
    const f = join(root, name);
    await writeTar(f, [{ name: 'x/layer.tar', body: l1 }, { name: `${cfgHex}.json`, body: config }, ...extra, { name: 'manifest.json', body: Buffer.from(JSON.stringify(manifest)) }]);
    return f;
  };
  const count = await mk('count.tar', [{ Config: `${cfgHex}.json`, RepoTags: ['a/b:1'], Layers: ['x/layer.tar'] }]);
  await rejects((await openDockerArchive(count))[0]!.resolve(), 'SOURCE_INVALID', /1 layers in manifest\.json but its config has 2/);

  const wrongCfg = await mk('cfgname.tar', [{ Config: `${'f'.repeat(64)}.json`, RepoTags: ['a/b:1'], Layers: ['x/layer.tar', 'x/layer.tar'] }], [{ name: `${'f'.repeat(64)}.json`, body: config }]);
  await rejects((await openDockerArchive(wrongCfg))[0]!.resolve(), 'BLOB_MISMATCH', /config .* hashes to/);

  const traversal = await mk('trav.tar', [{ Config: `${cfgHex}.json`, RepoTags: ['a/b:1'], Layers: ['../../etc/passwd', 'x/layer.tar'] }]);
  await rejects((await openDockerArchive(traversal))[0]!.resolve(), 'ARCHIVE_HOSTILE', /\.\."/);

  const escLink = await mk('esclink.tar', [{ Config: `${cfgHex}.json`, RepoTags: ['a/b:1'], Layers: ['y/layer.tar', 'x/layer.tar'] }], [{ name: 'y/layer.tar', type: 'symlink', linkname: '../../../../etc/passwd' }]);
  await rejects((await openDockerArchive(escLink))[0]!.resolve(), 'ARCHIVE_HOSTILE', /outside the archive/);

  const missing = await mk('missing.tar', [{ Config: `${cfgHex}.json`, RepoTags: ['a/b:1'], Layers: ['gone/layer.tar', 'x/layer.tar'] }]);
  await rejects((await openDockerArchive(missing))[0]!.resolve(), 'SOURCE_INVALID', /"gone\/layer\.tar", which is not a file in the archive/);

  await rejects(openDockerArchive(await mk('notarray.tar', { Config: 'x' })), 'SOURCE_INVALID', /not a JSON array/);
  await rejects(openDockerArchive(await mk('badtags.tar', [{ Config: 'c', RepoTags: 'a:b', Layers: [] }])), 'SOURCE_INVALID', /RepoTags/);
  await rejects(openDockerArchive(await mk('badname.tar', [{ Config: 'c', RepoTags: ['UPPER/Case:1'], Layers: [] }])), 'SOURCE_INVALID', /UPPER\/Case:1/);
  await rejects(openDockerArchive(await mk('none.tar', [])), 'SOURCE_NOT_FOUND', /no images/);

  const good = await mk('good.tar', [{ Config: `${cfgHex}.json`, RepoTags: ['a/b:1'], Layers: ['x/layer.tar', 'x/layer.tar'] }]);
  await checkSynthesised((await openDockerArchive(good))[0]!);
  const size = (await stat(good)).size;
  await truncate(good, size - 1536); // loses the end of manifest.json's block and the end marker
  await rejects(openDockerArchive(good), 'SOURCE_INVALID', /truncated/);

  const noManifest = join(root, 'nomanifest.tar');
  await writeTar(noManifest, [{ name: 'repositories', body: Buffer.from('{}') }]);
  await rejects(openDockerArchive(noManifest), 'SOURCE_INVALID', /older than 1\.10/);
  const ociOnly = join(root, 'ocionly.tar');
  await run('skopeo', ['copy', `oci:${layout}:v2`, `oci-archive:${ociOnly}:v2`]);
  await rejects(openDockerArchive(ociOnly), 'SOURCE_INVALID', /use oci-archive:/);
});

test('Docker >= 25 archives: the embedded OCI layout is used, so the original digests are kept', async () => {
  const blobs = async (skip: (hex: string) => boolean = () => false): Promise<TarItem[]> => {
    const out: TarItem[] = [];
    for (const hex of await readdir(join(layout, 'blobs/sha256'))) {
      if (!skip(hex)) out.push({ name: `blobs/sha256/${hex}`, body: await readFile(join(layout, 'blobs/sha256', hex)) });
    }
    return out;
  };
  const index = await readFile(join(layout, 'index.json'));
  const ociLayout = await readFile(join(layout, 'oci-layout'));
  const item = (cfg: Descriptor, layers: Descriptor[], tags: string[]) => ({ Config: `blobs/sha256/${cfg.digest.slice(7)}`, RepoTags: tags, Layers: layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`) });
  const manifest = Buffer.from(JSON.stringify([
    item(written[0]!.configs[0]!, written[0]!.layers[0]!, ['app:v1']),
    item(written[2]!.configs[0]!, written[2]!.layers[0]!, ['app:multi']),
  ]));
  const file = join(root, 'docker25.tar');
  await writeTar(file, [{ name: 'oci-layout', body: ociLayout }, { name: 'index.json', body: index }, ...(await blobs()), { name: 'manifest.json', body: manifest }]);
  const [v1, multi] = await openDockerArchive(file);
  assert.is((await v1!.resolve()).descriptor.digest, written[0]!.root.digest);
  // all children present: the index itself is the root
  const idx = await multi!.resolve();
  assert.is(idx.descriptor.digest, written[2]!.root.digest);
  const child = await multi!.fetchManifest(written[2]!.manifests[1]!);
  assert.is(child.descriptor.digest, written[2]!.manifests[1]!.digest);
  for (const l of written[0]!.layers[0]!) assert.is(await hashStream(await v1!.openBlob(l)), l.digest);

  // The arm64 child missing from the archive: the amd64 manifest becomes the root.
  const arm = written[2]!.manifests[1]!.digest.slice(7);
  const partial = join(root, 'docker25-partial.tar');
  await writeTar(partial, [{ name: 'oci-layout', body: ociLayout }, { name: 'index.json', body: index }, ...(await blobs((h) => h === arm)), { name: 'manifest.json', body: manifest }]);
  const [, m2] = await openDockerArchive(partial);
  assert.is((await m2!.resolve()).descriptor.digest, written[2]!.manifests[0]!.digest);

  // A tampered manifest in the embedded layout is an error, not a silent fallback.
  const v1hex = written[0]!.root.digest.slice(7);
  const bad = (await blobs()).map((b) => (b.name.endsWith(v1hex) ? { ...b, body: Buffer.from(b.body!.toString().replace('"schemaVersion":2', '"schemaVersion":9')) } : b));
  const tamperedFile = join(root, 'docker25-tampered.tar');
  await writeTar(tamperedFile, [{ name: 'oci-layout', body: ociLayout }, { name: 'index.json', body: index }, ...bad, { name: 'manifest.json', body: manifest }]);
  await rejects((await openDockerArchive(tamperedFile))[0]!.resolve(), 'BLOB_MISMATCH');
});

test.run();
