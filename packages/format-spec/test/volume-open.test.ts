// How a volume file is opened (safe-open.ts in readVolume, readSeekTable and
// readEmbeddedManifest): a FIFO, a link to /dev/zero, a directory or a file larger than the
// signed volume size is refused with INPUT_INVALID at once, never read, never a hang.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, mkdtemp, rename, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { FerryError } from '../src/errors.js';
import { quickly } from '../../../test/helpers/fifo-guard.js';
import { readEmbeddedManifest, readVolume } from '../src/volume-reader.js';
import { readSeekTable } from '../src/zstd-frames.js';
import { writeTestBundle, type TestBundle } from './helpers/volumes.js';

let dir = '';
let b: TestBundle;
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-volume-open-'));
  b = await writeTestBundle({ dir, blobs: [randomBytes(30_000), randomBytes(20_000)], volumeSize: 128 * 1024 });
});
test.after(async () => {
  await rm(dir, { recursive: true, force: true });
});


async function expectInvalid(p: Promise<unknown>, re: RegExp): Promise<void> {
  try {
    await quickly(p, [b.written[0]!.path]);
  } catch (e) {
    assert.instance(e, FerryError, String(e));
    assert.is((e as FerryError).code, 'INPUT_INVALID', (e as Error).message);
    assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable('read succeeded');
}

const read = (path: string) => readVolume({ path, volume: 1, manifest: b.manifest, manifestBytes: b.manifestBytes, onEntry: async () => undefined });

test('the real volume reads (the baseline for the cases below)', async () => {
  const path = b.written[0]!.path;
  assert.ok((await read(path)).entries > 0);
  assert.ok((await readSeekTable(path)).frames.length > 0);
  assert.is((await readEmbeddedManifest(path)).manifestName, `${b.name}.manifest.json`);
});

test('a volume replaced by a FIFO, a link to /dev/zero or a directory is refused by every reader', async () => {
  const path = b.written[0]!.path;
  const saved = `${path}.saved`;
  await rename(path, saved);
  try {
    const makers: Array<[string, () => Promise<void>, RegExp]> = [
      ['fifo', async () => void execFileSync('mkfifo', [path]), /volume .* is a FIFO \(named pipe\), not a regular file/],
      ['/dev/zero', () => symlink('/dev/zero', path), /volume .* is a character device \(a symbolic link to \/dev\/zero\)/],
      ['directory', () => mkdir(path), /volume .* is a directory/],
    ];
    for (const [, make, re] of makers) {
      await make();
      await expectInvalid(read(path), re);
      await expectInvalid(readSeekTable(path), re);
      await expectInvalid(readEmbeddedManifest(path), re);
      await rm(path, { recursive: true, force: true });
    }
    // A link to the real file is followed (bundles are assembled from several mounts).
    await symlink(saved, path);
    assert.ok((await read(path)).entries > 0);
    await rm(path);
  } finally {
    await rename(saved, path);
  }
});

test('a volume larger than the signed volumeSize is refused before it is read', async () => {
  const big = join(dir, 'big');
  await mkdir(big);
  const path = join(big, `${b.name}-001.tar.zst`);
  await writeFile(path, '');
  await truncate(path, 3 * 1024 ** 3); // sparse: no disk used
  await expectInvalid(read(path), /volume .* is 3\.00 GiB \(3221225472 bytes\), larger than the bundle's volume size in its signed manifest, 128\.00 KiB/);
  await truncate(path, 128 * 1024 + 1);
  await expectInvalid(read(path), /larger than the bundle's volume size/);
});

test.run();
