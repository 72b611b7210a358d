import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tar from 'tar-stream';
import { isFerryError, type ErrorCode } from '../src/errors.js';
import type { PlannedBlob } from '../src/manifest-types.js';
import {
  FRAME_MAX_BYTES,
  MAX_HEADER_NAME_BYTES,
  TAR_END_BYTES,
  blobEntryName,
  frameSizes,
  segmentEntryName,
  tarHeaderBytes,
  tarLayout,
  validatePlan,
  volumeFileName,
  volumePieces,
  volumeSizeBound,
} from '../src/plan.js';
import { planVolumes, volumeCapacity, type PlanInput, type PlanOptions, type VolumePlan } from '../src/volume-plan.js';
import { packTar } from './helpers/volumes.js';

const hex = (n: number): string => n.toString(16).padStart(64, '0');
const blob = (n: number, size: number): PlanInput => ({ digest: `sha256:${hex(n)}`, size, mediaType: 'application/octet-stream', kind: 'layer' });

function throwsCode(fn: () => unknown, code: ErrorCode, match?: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.ok(isFerryError(e, code), `expected ${code}, got ${String(e)}`);
    if (match) assert.match((e as Error).message, match);
    return;
  }
  assert.unreachable(`expected ${code}`);
}

/** Every volume of the plan, with the worst-case header the reserve allows, is within volumeSize. */
function assertFits(plan: VolumePlan, opts: PlanOptions): void {
  validatePlan(plan.blobs, plan.volumeCount, 'test');
  const per = Math.floor(opts.headerReserve / 4);
  const header = [0, 1, 2, 3].map((i) => ({ name: String(i).repeat(MAX_HEADER_NAME_BYTES), size: i === 3 ? opts.headerReserve - 3 * per : per }));
  for (let v = 1; v <= plan.volumeCount; v++) {
    const pieces = volumePieces(plan.blobs, v);
    assert.ok(pieces.length > 0, `volume ${v} is empty`);
    const bound = volumeSizeBound([...header, ...pieces]);
    assert.ok(bound <= opts.volumeSize, `volume ${v}: bound ${bound} > ${opts.volumeSize}`);
  }
}

const opts: PlanOptions = { volumeSize: 1024 * 1024, headerReserve: 20000 };

test('names', () => {
  assert.is(volumeFileName('demo', 1), 'demo-001.tar.zst');
  assert.is(volumeFileName('demo', 42), 'demo-042.tar.zst');
  assert.is(blobEntryName(`sha256:${hex(7)}`), `blobs/sha256/${hex(7)}`);
  assert.is(segmentEntryName(`sha256:${hex(7)}`, 3), `segments/sha256/${hex(7)}.003`);
});

test('exact fit: a blob of exactly the capacity is whole, one byte more is split', () => {
  const cap = volumeCapacity(opts);
  assert.ok(cap > 900 * 1024 && cap < opts.volumeSize - opts.headerReserve, `capacity ${cap}`);
  const whole = planVolumes([blob(1, cap)], opts);
  assert.is(whole.volumeCount, 1);
  assert.is(whole.blobs[0]!.volume, 1);
  assert.is(whole.blobs[0]!.segments, undefined);
  assertFits(whole, opts);

  const over = planVolumes([blob(1, cap + 1)], opts);
  assert.is(over.volumeCount, 2);
  assert.equal(over.blobs[0]!.segments, [
    { volume: 1, index: 1, offset: 0, size: cap },
    { volume: 2, index: 2, offset: cap, size: 1 },
  ]);
  assert.is(over.blobs[0]!.volume, undefined);
  assertFits(over, opts);
});

test('small blobs are packed first-fit decreasing: one that does not fit the rest fills an earlier gap', () => {
  const cap = volumeCapacity(opts);
  // In input order a sequential planner would need 3 volumes (1000 | cap | 10).
  const p = planVolumes([blob(1, 1000), blob(2, cap), blob(3, 10)], opts);
  assert.equal(p.blobs.map((b) => b.volume), [1, 2, 1]);
  assert.is(p.volumeCount, 2);
  assert.is(p.blobs[1]!.segments, undefined, 'not split: a new volume was needed anyway');
  assert.equal(p.blobs.map((b) => b.digest), [1, 2, 3].map((n) => `sha256:${hex(n)}`), 'write order is the input order');
  assertFits(p, opts);
  const q = planVolumes([blob(1, 1000), blob(2, 5000), blob(3, 10)], opts);
  assert.equal(q.blobs.map((b) => b.volume), [1, 1, 1]);
  assert.is(q.volumeCount, 1);
});

test('a blob larger than two volumes fills the gaps the small blobs leave, in rising volumes', () => {
  const cap = volumeCapacity(opts);
  const big = Math.floor(cap * 2.5);
  const p = planVolumes([blob(1, 100_000), blob(2, big), blob(3, 4096)], opts);
  const segs = p.blobs[1]!.segments!;
  assert.is(segs.length, 3);
  assert.equal(segs.map((s) => s.volume), [1, 2, 3]);
  assert.equal(segs.map((s) => s.index), [1, 2, 3]);
  assert.is(segs[0]!.offset, 0);
  assert.is(segs[1]!.offset, segs[0]!.size);
  assert.is(segs[2]!.offset, segs[0]!.size + segs[1]!.size);
  assert.is(segs[0]!.size + segs[1]!.size + segs[2]!.size, big);
  assert.is(segs[1]!.size, cap, 'a middle segment takes a whole volume');
  // The 4096-byte blob (never split) went first into volume 1; the big one fills the rest of it.
  assert.is(p.blobs[2]!.volume, 1);
  assert.ok(segs[0]!.size > cap - 6000 && segs[0]!.size < cap - 4096, `first segment fills the rest: ${segs[0]!.size}`);
  // The 100 KB layer fits whole in what the last segment leaves of volume 3.
  assert.is(p.blobs[0]!.volume, 3);
  assert.is(p.volumeCount, 3);
  assertFits(p, opts);
  assert.equal(volumePieces(p.blobs, 2).map((x) => x.name), [segmentEntryName(`sha256:${hex(2)}`, 2)]);
  // Inside a volume the entries keep the input (children-first) order.
  assert.equal(volumePieces(p.blobs, 3).map((x) => x.name), [blobEntryName(`sha256:${hex(1)}`), segmentEntryName(`sha256:${hex(2)}`, 3)]);
});

test('1.1 GiB of 200 MiB layers in 300M volumes: 4 volumes, not 6 (sizes only)', () => {
  const MiB = 1024 * 1024;
  const o: PlanOptions = { volumeSize: 300_000_000, headerReserve: 20_000 };
  const input: PlanInput[] = [];
  let n = 1;
  // Five 200 MiB layers and a 126.4 MiB one (1.1 GiB), each image with its config and manifest.
  for (const size of [200, 200, 200, 200, 200, 126.4]) {
    input.push({ ...blob(n++, Math.round(size * MiB)), mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' });
    input.push({ ...blob(n++, 1500), kind: 'config' });
    input.push({ ...blob(n++, 900), kind: 'manifest' });
  }
  const total = input.reduce((s, b) => s + b.size, 0);
  assert.ok(total > 1.09 * 1024 * MiB && total < 1.11 * 1024 * MiB);
  const p = planVolumes(input, o);
  assert.is(p.volumeCount, 4);
  assert.is(p.volumeCount, Math.ceil(total / volumeCapacity(o)), 'as few volumes as the bytes need');
  assertFits(p, o);
  // Manifests and configs are never split; some layers are, in rising volumes.
  for (const b of p.blobs) if (b.kind !== 'layer') assert.ok(b.volume !== undefined, `${b.kind} kept whole`);
  const split = p.blobs.filter((b) => b.segments);
  assert.ok(split.length >= 1 && split.length <= 2, `layers fill the gaps, as few split as needed: ${split.length}`);
  assert.equal(p.blobs.map((b) => b.digest), input.map((b) => b.digest));
});

test('no tiny segment is cut off the end of a nearly full volume', () => {
  const cap = volumeCapacity(opts);
  // A small (never split) blob leaves less than MIN_SEGMENT_BYTES of room in volume 1.
  const small = cap - 2048 - 512;
  const p = planVolumes([{ ...blob(1, small), kind: 'config' }, blob(2, cap * 2)], opts);
  assert.is(p.blobs[0]!.volume, 1);
  const segs = p.blobs[1]!.segments!;
  assert.is(segs[0]!.volume, 2);
  assert.is(segs[0]!.size, cap);
  assertFits(p, opts);
});

test('many tiny blobs: order kept, packed tight, every volume within its bound', () => {
  const input = Array.from({ length: 5000 }, (_, i) => blob(i + 1, (i * 37) % 700));
  const p = planVolumes(input, opts);
  assert.equal(p.blobs.map((b) => b.digest), input.map((b) => b.digest), 'children-first order is kept');
  assert.ok(p.volumeCount > 1);
  const need = input.reduce((s, b) => s + 512 + Math.ceil(b.size / 512) * 512, 0);
  assert.ok(p.volumeCount <= Math.ceil(need / volumeCapacity(opts)) + 1, `${p.volumeCount} volumes`);
  assertFits(p, opts);
});

test('zero-length blobs are planned whole, in order', () => {
  const p = planVolumes([blob(1, 0), blob(2, 10), blob(3, 0)], opts);
  assert.equal(p.blobs.map((b) => [b.size, b.volume]), [[0, 1], [10, 1], [0, 1]]);
  assert.is(p.blobs[0]!.kind, 'layer');
  assert.is(p.blobs[0]!.mediaType, 'application/octet-stream');
  assertFits(p, opts);
  const none = planVolumes([], opts);
  assert.equal(none, { blobs: [], volumeCount: 1 });
});

test('too-small volume size is a USAGE error naming the minimum', () => {
  throwsCode(() => planVolumes([blob(1, 10)], { volumeSize: 30_000, headerReserve: 20_000 }), 'USAGE', /too small.*use at least/);
  throwsCode(() => planVolumes([], { volumeSize: 1, headerReserve: 0 }), 'USAGE', /too small/);
  throwsCode(() => planVolumes([], { volumeSize: 0, headerReserve: 0 }), 'USAGE', /positive/);
  throwsCode(() => planVolumes([], { volumeSize: -5, headerReserve: 0 }), 'USAGE');
  throwsCode(() => planVolumes([], { volumeSize: 1.5, headerReserve: 0 }), 'USAGE');
  // Just big enough works.
  const p = planVolumes([blob(1, 10)], { volumeSize: 60_000, headerReserve: 20_000 });
  assert.is(p.volumeCount, 1);
});

test('more than 999 volumes is refused', () => {
  const small: PlanOptions = { volumeSize: 40_000, headerReserve: 1000 };
  const cap = volumeCapacity(small);
  throwsCode(() => planVolumes([blob(1, cap * 1000)], small), 'USAGE', /more than 999 volumes/);
});

test('bad input is refused', () => {
  throwsCode(() => planVolumes([blob(1, 5), blob(1, 6)], opts), 'INTERNAL', /listed twice/);
  throwsCode(() => planVolumes([{ ...blob(1, 5), digest: 'sha256:xyz' }], opts), 'SCHEMA_INVALID');
  throwsCode(() => planVolumes([blob(1, -1)], opts), 'INTERNAL', /bad size/);
});

test('validatePlan catches plans a reader or writer cannot follow', () => {
  const d = `sha256:${hex(9)}`;
  const base = { digest: d, size: 100, mediaType: 'x', kind: 'layer' as const };
  const bad: Array<[PlannedBlob[], RegExp]> = [
    [[{ ...base }], /either a volume or segments/],
    [[{ ...base, volume: 1, segments: [] }], /either a volume or segments/],
    [[{ ...base, volume: 3 }], /outside 1\.\.2/],
    [[{ ...base, volume: 1 }, { ...base, volume: 2 }], /listed twice/],
    [[{ ...base, segments: [{ volume: 1, index: 1, offset: 0, size: 100 }] }], /fewer than 2 segments/],
    [[{ ...base, segments: [{ volume: 1, index: 1, offset: 0, size: 50 }, { volume: 2, index: 2, offset: 60, size: 40 }] }], /starts at 60, expected 50/],
    [[{ ...base, segments: [{ volume: 2, index: 1, offset: 0, size: 50 }, { volume: 1, index: 2, offset: 50, size: 50 }] }], /rising volumes/],
    [[{ ...base, segments: [{ volume: 1, index: 1, offset: 0, size: 50 }, { volume: 1, index: 2, offset: 50, size: 50 }] }], /rising volumes/],
    [[{ ...base, segments: [{ volume: 1, index: 1, offset: 0, size: 50 }, { volume: 2, index: 3, offset: 50, size: 50 }] }], /has index 3/],
    [[{ ...base, segments: [{ volume: 1, index: 1, offset: 0, size: 50 }, { volume: 2, index: 2, offset: 50, size: 40 }] }], /add up to 90/],
  ];
  for (const [blobs, re] of bad) throwsCode(() => validatePlan(blobs, 2, 'm.json'), 'SCHEMA_INVALID', re);
  validatePlan([{ ...base, segments: [{ volume: 1, index: 1, offset: 0, size: 50 }, { volume: 2, index: 2, offset: 50, size: 50 }] }], 2, 'ok');
  // Segment digests: checked when present, required when asked (the reader asks).
  const seg = (digest?: string) => [{ ...base, segments: [{ volume: 1, index: 1, offset: 0, size: 50, ...(digest ? { digest } : {}) }, { volume: 2, index: 2, offset: 50, size: 50, digest: d }] }];
  validatePlan(seg(d), 2, 'ok', { requireSegmentDigests: true });
  throwsCode(() => validatePlan(seg('sha256:nope'), 2, 'm.json'), 'SCHEMA_INVALID', /segment 1 has a digest that is not a sha256 digest/);
  throwsCode(() => validatePlan(seg(), 2, 'm.json', { requireSegmentDigests: true }), 'SCHEMA_INVALID', /^m\.json: sha256:[a-f0-9]+ segment 1 has no digest$/);
});

test('tarLayout matches the bytes tar-stream pack writes, pax headers for long names included', async () => {
  const names = [
    'oci-layout',
    'x'.repeat(100),
    'x'.repeat(80) + '.manifest.json.sig', // 98
    'B'.repeat(100) + '.manifest.json.sig', // > 100, no slash: pax
    'd'.repeat(60) + '/' + 'y'.repeat(90), // > 100 but splits into ustar prefix + name
    'é-non-ascii.json', // pax
    'z'.repeat(MAX_HEADER_NAME_BYTES),
    `blobs/sha256/${hex(1)}`,
    `segments/sha256/${hex(2)}.001`,
  ];
  const sizes = [0, 1, 511, 512, 513, 30, 1000, 7, 2049];
  const entries = names.map((name, i) => ({ name, size: sizes[i]! }));
  assert.is(tarHeaderBytes(names[0]!), 512);
  assert.is(tarHeaderBytes(names[3]!), 1536);
  assert.is(tarHeaderBytes(names[4]!), 512);
  const bytes = await packTar(entries.map((e) => ({ name: e.name, body: Buffer.alloc(e.size, 1) })));
  const layout = tarLayout(entries);
  assert.is(bytes.length, layout.tarSize);
  assert.is(layout.tarSize, layout.entriesEnd + TAR_END_BYTES);
  // Each entry's content starts exactly where the layout says.
  const extract = tar.extract();
  const offsets: number[] = [];
  const done = (async () => {
    for await (const e of extract) {
      offsets.push((e.header as unknown as { byteOffset: number }).byteOffset);
      e.resume();
    }
  })();
  extract.end(bytes);
  await done;
  assert.equal(offsets, layout.entries.map((e) => e.dataStart));
});

test('frameSizes: a frame per entry, long entries cut every FRAME_MAX_BYTES, then the end blocks', () => {
  const layout = tarLayout([
    { name: 'a', size: 10 },
    { name: `blobs/sha256/${hex(1)}`, size: FRAME_MAX_BYTES * 2 + 5 },
    { name: 'b', size: 0 },
  ]);
  assert.equal(frameSizes(layout), [1024, FRAME_MAX_BYTES, FRAME_MAX_BYTES, 1024, 512, TAR_END_BYTES]);
  assert.is(frameSizes(layout).reduce((a, b) => a + b, 0), layout.tarSize);
});

test.run();
