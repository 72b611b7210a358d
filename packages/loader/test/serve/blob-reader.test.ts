// Random access through the seek table on real volumes written by writeVolumes: any range of a
// whole or split blob equals the original bytes; a volume with a damaged seek table, or another
// volume's file in its place, is refused by the structural check; a missing volume is named.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isFerryError } from '@ferry/format-spec';
import { bytes, sha, tempDir, writeTestBundle, type TestBundle } from '../../../format-spec/test/helpers/volumes.js';
import type { TrustedManifest } from '../../src/bundle.js';
import { BlobReader } from '../../src/serve/blob-reader.js';
import { indexVolume, type VolumeIndex } from '../../src/serve/volume-index.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
let tb: TestBundle;
const trusted = (t: TestBundle, dir = t.dir): TrustedManifest => ({ loc: { dir, name: t.name }, bytes: t.manifestBytes, ...(t.signatureBytes ? { signature: t.signatureBytes } : {}), from: 'test', manifest: t.manifest });
const blobs = [bytes(70_000, 1), Buffer.from('{"json":"' + 'compressible '.repeat(20_000) + '"}'), bytes(300_000, 3), Buffer.from('{"manifest":true}')];

async function indexAll(tm: TrustedManifest): Promise<Map<number, VolumeIndex>> {
  const m = new Map<number, VolumeIndex>();
  for (const v of tm.manifest.volumes) {
    const vi = await indexVolume(tm, v.index);
    if (vi) m.set(v.index, vi);
  }
  return m;
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

test.before(async () => {
  tmp = await tempDir('ferry-serve-reader-');
  tb = await writeTestBundle({ dir: tmp.dir, blobs, volumeSize: 160 * 1024, signed: true });
});
test.after(() => tmp.cleanup());

test('every range of every blob, whole or split across volumes, equals the original bytes', async () => {
  const tm = trusted(tb);
  const vols = await indexAll(tm);
  assert.is(vols.size, tm.manifest.volumes.length);
  const split = tm.manifest.blobs.find((b) => b.segments);
  assert.ok(split, 'the plan splits the largest blob');
  const reader = new BlobReader(vols, (v) => `v${v}`, { maxOpenFiles: 1, maxStreams: 2 });
  try {
    for (const b of tm.manifest.blobs) {
      const want = tb.contents.get(b.digest)!;
      assert.equal(await collect(reader.read(b)), want, `${b.digest} whole`);
      for (const [s, e] of [[0, 1], [b.size - 1, b.size], [Math.floor(b.size / 3), Math.floor((2 * b.size) / 3)], [5, b.size]] as const) {
        assert.equal(await collect(reader.read(b, s, e)), want.subarray(s, e), `${b.digest} [${s}, ${e})`);
      }
    }
    // Across the segment boundary, with several reads at once through one capped handle pool.
    const cut = split!.segments![1]!.offset;
    const reads = await Promise.all([0, 1, 2, 3].map((k) => collect(reader.read(split!, cut - 1000 - k, cut + 1000 + k))));
    reads.forEach((r, k) => assert.equal(r, tb.contents.get(split!.digest)!.subarray(cut - 1000 - k, cut + 1000 + k)));
  } finally {
    await reader.close();
  }
});

test('a missing volume: the blobs in it name it, the others are read', async () => {
  const copy = join(tmp.dir, 'missing');
  const { mkdir, cp } = await import('node:fs/promises');
  await mkdir(copy);
  for (const v of tb.manifest.volumes) await cp(join(tmp.dir, v.file), join(copy, v.file));
  const last = tb.manifest.volumes.at(-1)!;
  await rm(join(copy, last.file));
  const tm = trusted(tb, copy);
  const vols = await indexAll(tm);
  const reader = new BlobReader(vols, (v) => tm.manifest.volumes[v - 1]!.file);
  for (const b of tm.manifest.blobs) {
    const inLast = (b.volume ?? b.segments!.at(-1)!.volume) === last.index || b.segments?.some((s) => s.volume === last.index);
    if (inLast) {
      assert.equal(reader.missingVolumes(b), [last.file]);
      try {
        await collect(reader.read(b));
        assert.unreachable('read a blob whose volume is missing');
      } catch (e) {
        assert.ok(isFerryError(e, 'VOLUME_MISSING'));
      }
    } else {
      assert.is(sha(await collect(reader.read(b))), b.digest);
    }
  }
  await reader.close();
});

test('structural check: a damaged seek table, a truncated volume, another volume in its place, a changed manifest copy', async () => {
  const { mkdir, cp } = await import('node:fs/promises');
  const bad = async (what: string, damage: (file: string) => Promise<void>, code: string): Promise<void> => {
    const dir = join(tmp.dir, what);
    await mkdir(dir);
    for (const v of tb.manifest.volumes) await cp(join(tmp.dir, v.file), join(dir, v.file));
    await damage(join(dir, tb.manifest.volumes[0]!.file));
    try {
      await indexVolume(trusted(tb, dir), 1);
      assert.unreachable(`${what} accepted`);
    } catch (e) {
      assert.ok(isFerryError(e), `${what}: ${String(e)}`);
      assert.is((e as { code: string }).code, code, `${what}: ${(e as Error).message}`);
    }
  };
  const flip = async (f: string, at: (size: number) => number): Promise<void> => {
    const fh = await open(f, 'r+');
    const pos = at((await fh.stat()).size);
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, pos);
    b[0] = b[0]! ^ 0x55;
    await fh.write(b, 0, 1, pos);
    await fh.close();
  };
  await bad('seek-table', (f) => flip(f, (size) => size - 15), 'ARCHIVE_CORRUPT');
  await bad('truncated', async (f) => writeFile(f, (await readFile(f)).subarray(0, (await stat(f)).size - 100)), 'ARCHIVE_CORRUPT');
  await bad('swapped', async (f) => cp(join(tmp.dir, tb.manifest.volumes[1]!.file), f), 'ARCHIVE_CORRUPT');
  // Another bundle's first volume with the same layout (same sizes) but another manifest copy.
  await bad('manifest-copy', async (f) => {
    const t2dir = join(tmp.dir, 'other-bundle');
    await mkdir(t2dir);
    const t2 = await writeTestBundle({ dir: t2dir, blobs: blobs.map((b, i) => (i === 0 ? Buffer.from(b).fill(7, 0, 1) : b)), volumeSize: 160 * 1024, signed: true });
    await cp(join(t2dir, t2.manifest.volumes[0]!.file), f);
  }, 'SIGNATURE_INVALID');
});

test.run();
