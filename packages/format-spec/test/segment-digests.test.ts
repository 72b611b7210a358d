import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdir } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { isFerryError, type ErrorCode } from '../src/errors.js';
import type { BundleBlob, PlannedBlob } from '../src/manifest-types.js';
import { planVolumes } from '../src/volume-plan.js';
import { readVolume } from '../src/volume-reader.js';
import { hashSegments } from '../src/segment-digests.js';
import { writeVolumes, type WriteVolumesOptions } from '../src/volume-writer.js';
import { OCI_LAYOUT, bytes, chunked, minimalManifest, sha, tempDir, withSegmentDigests } from './helpers/volumes.js';
import { layoutIndexBytes } from '../src/layout-index.js';

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, re: RegExp): Promise<FerryErrorLike> {
  try {
    await p;
  } catch (e) {
    assert.ok(isFerryError(e, code), `expected ${code}, got ${String(e)}`);
    assert.match((e as Error).message, re);
    return e as FerryErrorLike;
  }
  assert.unreachable(`expected ${code}`);
  throw new Error('unreachable');
}
type FerryErrorLike = Error & { details: Record<string, unknown> };

const BIG = bytes(700_000, 7);
const SMALL = bytes(20_000, 8);
const contents = new Map([BIG, SMALL].map((b) => [sha(b), b]));
const plan = planVolumes([SMALL, BIG].map((b) => ({ digest: sha(b), size: b.length, mediaType: 'application/octet-stream', kind: 'layer' as const })), { volumeSize: 200 * 1024, headerReserve: 4096 });

test('hashSegments: each segment of a split blob gets the sha256 of its bytes, in one read of the blob', async () => {
  const split = plan.blobs.find((b) => b.digest === sha(BIG))!;
  assert.ok(split.segments && split.segments.length >= 3, 'the big blob spans at least three volumes');
  const opened: string[] = [];
  const progress: number[] = [];
  const out = await hashSegments(plan.blobs, async (b) => {
    opened.push(b.digest);
    return chunked(contents.get(b.digest)!, 7777); // chunks straddle segment boundaries
  }, { onProgress: (n, total) => { progress.push(n); assert.is(total, BIG.length); } });
  assert.equal(opened, [sha(BIG)], 'only the split blob is read, once');
  assert.equal(out, withSegmentDigests(plan.blobs, contents));
  const segs = out.find((b) => b.digest === sha(BIG))!.segments!;
  for (const s of segs) assert.is(s.digest, sha(BIG.subarray(s.offset, s.offset + s.size)));
  assert.is(progress[progress.length - 1], BIG.length);
  assert.equal(out.find((b) => b.digest === sha(SMALL)), plan.blobs.find((b) => b.digest === sha(SMALL)), 'whole blobs are unchanged');
});

test('hashSegments: a source that is not the blob fails with BLOB_MISMATCH (whole-blob digest checked in the same pass)', async () => {
  const lies: Array<[string, Buffer, RegExp]> = [
    ['different bytes', Buffer.concat([BIG.subarray(0, 1000), Buffer.from([BIG[1000]! ^ 1]), BIG.subarray(1001)]), /content hashes to/],
    ['short', BIG.subarray(0, BIG.length - 1), /699999 bytes, expected 700000/],
    ['long', Buffer.concat([BIG, Buffer.from('x')]), /more than the expected 700000 bytes/],
  ];
  for (const [, data, re] of lies) {
    const e = await rejectsWith(hashSegments(plan.blobs, async () => chunked(data, 65536)), 'BLOB_MISMATCH', re);
    assert.match(e.message, new RegExp(`${sha(BIG)} in the blob source`));
  }
  // A source error is passed through.
  try {
    await hashSegments(plan.blobs, async () => Readable.from((async function* () { yield BIG.subarray(0, 10); throw new Error('registry hung up'); })()));
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /registry hung up/);
  }
  const ac = new AbortController();
  ac.abort(new Error('stop'));
  try {
    await hashSegments(plan.blobs, async () => chunked(BIG, 1000), { signal: ac.signal });
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /stop/);
  }
});

function writeOptions(dir: string, blobs: BundleBlob[], open?: (b: BundleBlob) => Readable): WriteVolumesOptions {
  return {
    dir,
    name: 'seg',
    volumeCount: plan.volumeCount,
    header: [{ name: 'seg.manifest.json', bytes: Buffer.from('{}') }, { name: 'oci-layout', bytes: OCI_LAYOUT }, { name: 'index.json', bytes: Buffer.from('{}') }],
    blobs,
    openBlob: async (b) => (open ? open(b) : chunked(contents.get(b.digest)!, 8192)),
    volumeSize: 200 * 1024,
    workers: 0,
  };
}

test('writeVolumes checks every segment against its digest as it writes; a mismatch leaves no volume behind', async () => {
  const t = await tempDir();
  try {
    const good = withSegmentDigests(plan.blobs, contents);
    // The source changed between the pre-pass and the write: segment 2 differs, the rest does not.
    const changed = Buffer.from(BIG);
    const seg2 = good.find((b) => b.digest === sha(BIG))!.segments![1]!;
    changed[seg2.offset + 10]! ^= 1;
    const e = await rejectsWith(
      writeVolumes(writeOptions(t.dir, good, (b) => chunked(b.digest === sha(BIG) ? changed : contents.get(b.digest)!, 8192))),
      'BLOB_MISMATCH',
      new RegExp(`segment 2 of ${good.find((b) => b.digest === sha(BIG))!.segments!.length} of ${sha(BIG)} \\(bytes ${seg2.offset}\\.\\.${seg2.offset + seg2.size}\\) from the blob source: content hashes to sha256:[a-f0-9]{64}, but the manifest records ${seg2.digest}`),
    );
    assert.is(e.details.segment, 2);
    assert.equal(await readdir(t.dir), [], 'no files left');
    // A segment digest that is simply wrong (the source is right) is refused the same way.
    const wrong: BundleBlob[] = good.map((b) => (b.segments ? { ...b, segments: b.segments.map((s, i) => (i === 0 ? { ...s, digest: sha(Buffer.from('nope')) } : s)) } : b));
    await rejectsWith(writeVolumes(writeOptions(t.dir, wrong)), 'BLOB_MISMATCH', /segment 1 of \d+ of .* but the manifest records/);
    assert.equal(await readdir(t.dir), []);
    // A plan without segment digests is a caller bug, refused before anything is written.
    await rejectsWith(writeVolumes(writeOptions(t.dir, plan.blobs as BundleBlob[])), 'USAGE', /segment 1 of \d+ of sha256:[a-f0-9]+ \(bytes 0\.\.\d+\) has no digest \(run hashSegments on the plan first\)/);
    assert.equal(await readdir(t.dir), []);
    // And the good plan writes, and reads back through per-segment verification.
    const written = await writeVolumes(writeOptions(t.dir, good));
    assert.is(written.length, plan.volumeCount);
  } finally {
    await t.cleanup();
  }
});

test('the reader verifies each segment in its own volume, so a manifest with a wrong segment digest names that volume', async () => {
  const t = await tempDir();
  try {
    const good = withSegmentDigests(plan.blobs, contents);
    const index = layoutIndexBytes([]);
    const writeWith = async (blobs: BundleBlob[]) => {
      const m = minimalManifest({ name: 'seg', blobs, volumeCount: plan.volumeCount, indexBytes: index });
      const mb = Buffer.from(JSON.stringify(m));
      const w = await writeVolumes({ ...writeOptions(t.dir, good), header: [{ name: 'seg.manifest.json', bytes: mb }, { name: 'oci-layout', bytes: OCI_LAYOUT }, { name: 'index.json', bytes: index }] });
      return { m, mb, w };
    };
    const { m, mb, w } = await writeWith(good);
    const results: string[] = [];
    for (const v of w) {
      try {
        await readVolume({ path: v.path, volume: v.index, manifest: m, manifestBytes: mb, onEntry: async (_i, s) => void (await s.toArray()) });
        results.push('ok');
      } catch (e) {
        results.push(String(e));
      }
    }
    assert.ok(results.every((r) => r === 'ok'), results.join('\n'));
    // The same volumes read against a manifest whose segment 2 digest lies: only volume 2 is bad.
    const seg2 = good.find((b) => b.segments)!.segments![1]!;
    const lying: PlannedBlob[] = good.map((b) => (b.segments ? { ...b, segments: b.segments.map((s) => (s.index === 2 ? { ...s, digest: sha(Buffer.from('x')) } : s)) } : b));
    const lm = { ...m, blobs: lying as BundleBlob[] };
    const out: string[] = [];
    for (const v of w) {
      try {
        await readVolume({ path: v.path, volume: v.index, manifest: lm, manifestBytes: mb, onEntry: async (_i, s) => void (await s.toArray()) });
        out.push(`${v.file} ok`);
      } catch (e) {
        out.push(`${v.file} ${isFerryError(e) ? e.code : ''} ${(e as Error).message}`);
      }
    }
    const bad = out.filter((o) => !o.endsWith(' ok'));
    assert.is(bad.length, 1, out.join('\n'));
    assert.ok(bad[0]!.startsWith(`seg-00${seg2.volume}.tar.zst BLOB_MISMATCH segment 2 of`), bad[0]);
    assert.match(bad[0]!, new RegExp(`in seg-00${seg2.volume}\\.tar\\.zst: content hashes to ${seg2.digest}`));
  } finally {
    await t.cleanup();
  }
});

test.run();
