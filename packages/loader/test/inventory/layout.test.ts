// Inventory of an OCI layout as ferry-load push writes it (ref names REPOSITORY:TAG): every blob
// file with its size, tags -> digests, media types and repositories from the manifests the tags
// reach; a symbolic link in blobs/ refused (never followed), junk beside the blobs not listed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readFile, readdir, rm, symlink, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isFerryError, inventoryBytes, parseInventory } from '@ferry/format-spec';
import { layoutInventory } from '../../src/inventory/layout.js';
import { makeOciLayout, type WrittenImage } from '../../../../test/helpers/images.js';

let tmp = '';
let layout = '';
let images: WrittenImage[] = [];

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-inv-layout-'));
  layout = join(tmp, 'oci');
  images = await makeOciLayout(layout, [
    { tag: 'team/app:1', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 3000, seed: 'a' }, { size: 500, seed: 'b' }] }] },
    { tag: 'team/multi:2', platforms: [
      { os: 'linux', architecture: 'amd64', layers: [{ size: 2000, seed: 'a' }] },
      { os: 'linux', architecture: 'arm64', layers: [{ size: 1000, seed: 'c' }] },
    ] },
    { tag: 'plain-tag', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 10, seed: 'z' }] }] },
  ]);
});

test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('every blob file is listed with its size; tags and repositories as push writes them', async () => {
  const warnings: string[] = [];
  const inv = await layoutInventory(layout, (m) => warnings.push(m));
  assert.is(inv.complete, true);
  assert.is(inv.target, `oci:${layout}`);
  const files = await readdir(join(layout, 'blobs', 'sha256'));
  assert.equal(inv.blobs.map((b) => b.digest).sort(), files.map((f) => `sha256:${f}`).sort(), 'exactly the files');
  const byDigest = new Map(inv.blobs.map((b) => [b.digest, b]));
  const [app, multi] = images;
  const tags = Object.fromEntries(inv.repositories.map((r) => [r.name, r.tags]));
  assert.equal(tags, { 'team/app': { '1': app!.root.digest }, 'team/multi': { '2': multi!.root.digest } });
  for (const l of app!.layers.flat()) {
    assert.is(byDigest.get(l.digest)?.size, l.size);
    assert.is(byDigest.get(l.digest)?.mediaType, l.mediaType);
    assert.ok(byDigest.get(l.digest)!.repositories.includes('team/app'));
  }
  // Below the index: both platform manifests, their configs and layers, in team/multi.
  for (const d of [multi!.root, ...multi!.manifests, ...multi!.configs, ...multi!.layers.flat()]) {
    assert.ok(byDigest.get(d.digest)?.repositories.includes('team/multi'), d.digest);
  }
  assert.is(byDigest.get(multi!.root.digest)?.mediaType, 'application/vnd.oci.image.index.v1+json');
  // The tag that is not REPOSITORY:TAG is named, its blobs still listed (by file), in no repository.
  assert.ok(warnings.some((w) => w.includes('"plain-tag"')), warnings.join('\n'));
  const plain = images[2]!;
  assert.equal(byDigest.get(plain.layers[0]![0]!.digest)?.repositories, []);
  // What the walk found is a valid inventory.
  assert.is(parseInventory(inventoryBytes(inv), 'x').blobs.length, files.length);
});

test('a symbolic link in blobs/ is refused, naming it; nothing is followed', async () => {
  const blobs = join(layout, 'blobs', 'sha256');
  const outside = join(tmp, 'outside');
  await writeFile(outside, 'secret bytes outside the layout');
  const link = join(blobs, 'f'.repeat(64));
  await symlink(outside, link);
  try {
    await layoutInventory(layout, () => undefined);
    assert.unreachable('a link was accepted');
  } catch (e) {
    assert.ok(isFerryError(e, 'TARGET_ERROR'), String(e));
    assert.match((e as Error).message, /symbolic link/);
    assert.ok((e as Error).message.includes(link));
  } finally {
    await rm(link);
  }
});

test('a linked index.json is refused; files that are not blobs are skipped with a warning', async () => {
  const blobs = join(layout, 'blobs', 'sha256');
  await writeFile(join(blobs, 'not-a-digest.tmp'), 'x');
  await mkdir(join(blobs, 'a'.repeat(64)));
  const warnings: string[] = [];
  const inv = await layoutInventory(layout, (m) => warnings.push(m));
  assert.ok(!inv.blobs.some((b) => b.digest === `sha256:${'a'.repeat(64)}`));
  assert.is(warnings.filter((w) => /not a blob file/.test(w)).length, 2, warnings.join('\n'));
  await rm(join(blobs, 'not-a-digest.tmp'));
  await rm(join(blobs, 'a'.repeat(64)), { recursive: true });

  const other = join(tmp, 'other');
  await mkdir(other);
  await writeFile(join(other, 'oci-layout'), await readFile(join(layout, 'oci-layout')));
  await writeFile(join(tmp, 'index-elsewhere.json'), await readFile(join(layout, 'index.json')));
  await symlink(join(tmp, 'index-elsewhere.json'), join(other, 'index.json'));
  try {
    await layoutInventory(other, () => undefined);
    assert.unreachable('a linked index.json was read');
  } catch (e) {
    assert.ok(isFerryError(e, 'TARGET_ERROR'), String(e));
  }
});

test('a manifest whose file does not hash to its name is not walked (its children get no repository)', async () => {
  const [app] = images;
  const path = join(layout, 'blobs', 'sha256', app!.root.digest.slice(7));
  const good = await readFile(path);
  await writeFile(path, Buffer.from(good.toString().replace('"schemaVersion":2', '"schemaVersion":3')));
  try {
    const warnings: string[] = [];
    const inv = await layoutInventory(layout, (m) => warnings.push(m));
    assert.ok(warnings.some((w) => /does not hash/.test(w)));
    const layer = inv.blobs.find((b) => b.digest === app!.layers[0]![1]!.digest);
    assert.equal(layer?.repositories, []);
  } finally {
    await writeFile(path, good);
  }
});

test('not a layout: missing oci-layout or index.json, or not a directory', async () => {
  const empty = join(tmp, 'empty');
  await mkdir(empty);
  for (const dir of [empty, join(tmp, 'outside'), join(tmp, 'nowhere')]) {
    try {
      await layoutInventory(dir, () => undefined);
      assert.unreachable(dir);
    } catch (e) {
      assert.ok(isFerryError(e), String(e));
    }
  }
});

test.run();
