// Split blobs collected over several runs: progress survives, a layout change never shares
// state, and a damaged partial copy is found segment by segment.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { sha256Digest, type BundleBlob } from '@ferry/format-spec';
import { ensureFerryArea, type FerryArea } from '@ferry/oci';
import { SegmentStore } from '../../src/push/segments.js';

let area: FerryArea;
const data = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');
function split(cuts: number[]): BundleBlob {
  const bounds = [0, ...cuts, data.length];
  return {
    digest: sha256Digest(data),
    size: data.length,
    mediaType: 'application/octet-stream',
    kind: 'layer',
    segments: bounds.slice(0, -1).map((o, i) => ({ volume: i + 1, index: i + 1, offset: o, size: bounds[i + 1]! - o, digest: sha256Digest(data.subarray(o, bounds[i + 1])) })),
  };
}
const piece = (b: BundleBlob, i: number) => Readable.from([data.subarray(b.segments![i]!.offset, b.segments![i]!.offset + b.segments![i]!.size)]);

test.before(async () => {
  area = await ensureFerryArea(await mkdtemp(join(tmpdir(), 'ferry-segments-')));
});
test.after(async () => {
  await rm(area.root, { recursive: true, force: true });
});

test('segments written in any order over several runs join into the blob', async () => {
  const b = split([10, 20]);
  const s1 = new SegmentStore(area, b);
  await s1.load();
  await s1.write(b.segments![2]!, piece(b, 2));
  const s2 = new SegmentStore(area, b);
  await s2.load();
  assert.ok(s2.isDone(3));
  assert.not.ok(s2.complete);
  assert.equal(s2.missing().map((g) => g.index), [1, 2]);
  await s2.write(b.segments![0]!, piece(b, 0));
  await s2.write(b.segments![1]!, piece(b, 1));
  assert.ok(s2.complete);
  const fh = await open(s2.part, 'r');
  assert.equal(await fh.readFile(), data);
  await fh.close();
  await s2.discard();
});

test('two bundles that split the same blob at other boundaries never share partial state', async () => {
  const a = split([10]);
  const b = split([25]);
  const sa = new SegmentStore(area, a);
  const sb = new SegmentStore(area, b);
  assert.is.not(sa.part, sb.part);
  await sa.load();
  await sa.write(a.segments![0]!, piece(a, 0));
  await sb.load();
  assert.not.ok(sb.isDone(1), 'b knows nothing of a\'s first segment');
  await sa.discard();
});

test('a partial copy damaged after its segments were recorded: only the bad segments are dropped', async () => {
  const b = split([12, 24]);
  const s = new SegmentStore(area, b);
  await s.load();
  for (let i = 0; i < 3; i++) await s.write(b.segments![i]!, piece(b, i));
  const fh = await open(s.part, 'r+');
  await fh.write(Buffer.from('X'), 0, 1, 15); // inside segment 2
  await fh.close();
  const bad = await s.recheck();
  assert.equal(bad.map((g) => g.index), [2]);
  assert.equal(s.missing().map((g) => g.index), [2]);
  const again = new SegmentStore(area, b);
  await again.load();
  assert.equal(again.missing().map((g) => g.index), [2], 'the drop is recorded for the next run');
  await again.write(b.segments![1]!, piece(b, 1));
  assert.ok(again.complete);
  await again.discard();
});

test.run();
