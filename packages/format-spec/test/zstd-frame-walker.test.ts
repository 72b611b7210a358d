import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Readable } from 'node:stream';
import { FrameEncoder, encodeSeekTable, type FrameSink } from '../src/zstd-frames.js';
import { ZstdFrameWalker, type FramePiece } from '../src/zstd-frame-walker.js';
import { decodeZstd, zstdDecoderName, type ZstdDecoderName } from '../src/zstd-decode.js';
import { bytes } from './helpers/volumes.js';

function encode(pieces: { data: Buffer; stored?: boolean }[]): { file: Buffer; ends: number[] } {
  const out: Buffer[] = [];
  let cur = Buffer.alloc(64 * 1024);
  const sink: FrameSink = { space: () => (cur = Buffer.alloc(64 * 1024)), commit: (n) => out.push(Buffer.from(cur.subarray(0, n))) };
  const enc = new FrameEncoder(sink, { level: 3 });
  for (const p of pieces) {
    enc.beginFrame(p.data.length, p.stored ? 'stored' : false);
    enc.write(p.data);
    enc.endFrame();
  }
  enc.finish();
  const ends: number[] = [];
  let at = 0;
  for (const f of enc.frames) ends.push((at += f.compressedSize));
  ends.push(Buffer.concat(out).length); // the seek table
  return { file: Buffer.concat(out), ends };
}

const sample = (): { data: Buffer; stored?: boolean }[] => [
  { data: bytes(10, 1) },
  { data: Buffer.alloc(300 * 1024, 7) }, // RLE blocks
  { data: bytes(200 * 1024, 3), stored: true }, // raw blocks, no checksum
  { data: bytes(70_000, 2) },
  { data: Buffer.alloc(1, 0) },
];

function walk(file: Buffer, cuts: number[]): { pieces: FramePiece[]; problem?: string; endProblem?: string } {
  const w = new ZstdFrameWalker();
  const pieces: FramePiece[] = [];
  let prev = 0;
  for (const c of [...cuts, file.length]) {
    const step = w.push(file.subarray(prev, c));
    pieces.push(...step.pieces.map((p) => ({ ...p, bytes: Buffer.from(p.bytes) })));
    if (step.problem) return { pieces, problem: step.problem.message };
    prev = c;
  }
  const end = w.end();
  return { pieces, ...(end ? { endProblem: end.message } : {}) };
}

test('the walker cuts a Ferry volume exactly at its frame ends, however the input is chunked', () => {
  const { file, ends } = encode(sample());
  const splits: number[][] = [[]];
  for (let s = 1; s < file.length; s += 97) splits.push([s]);
  for (let s = 1; s < 40; s++) splits.push([s, s + 1, s + 3]);
  splits.push(Array.from({ length: file.length - 1 }, (_, i) => i + 1)); // one byte at a time
  for (const cuts of splits) {
    const { pieces, problem, endProblem } = walk(file, cuts);
    assert.is(problem, undefined);
    assert.is(endProblem, undefined);
    assert.ok(Buffer.concat(pieces.map((p) => p.bytes)).equals(file), `all bytes, in order (cuts ${cuts.slice(0, 3).join(',')})`);
    const frameEnds: number[] = [];
    let at = 0;
    for (const p of pieces) {
      at += p.bytes.length;
      if (p.endsFrame) frameEnds.push(at);
    }
    assert.equal(frameEnds, ends, `frame ends (cuts ${cuts.slice(0, 3).join(',')})`);
    assert.is(pieces.at(-1)!.kind, 'skippable');
    assert.ok(pieces.slice(0, -1).every((p) => p.kind === 'zstd' || p.endsFrame === false || p === pieces.at(-1)));
  }
});

test('the walker refuses what the reader refuses: truncation, stray skippable frames, garbage, empty input', () => {
  const { file } = encode(sample());
  assert.match(walk(file.subarray(0, 5000), []).endProblem ?? '', /middle of a frame/);
  assert.match(walk(file.subarray(0, file.length - 3), [10]).endProblem ?? '', /middle of a frame/);
  assert.match(walk(Buffer.concat([file, Buffer.from('gar')]), []).endProblem ?? '', /middle of a frame/);
  assert.match(walk(Buffer.concat([file, encodeSeekTable([])]), []).problem ?? '', /follows the seek table/);
  const other = Buffer.alloc(12);
  other.writeUInt32LE(0x184d2a50, 0);
  other.writeUInt32LE(4, 4);
  assert.match(walk(Buffer.concat([other, file]), [2]).problem ?? '', /magic 0x184D2A50/);
  assert.match(walk(Buffer.from('not zstd at all'), []).problem ?? '', /Unknown frame descriptor/);
  assert.match(walk(Buffer.alloc(0), []).endProblem ?? '', /empty/);
});

const decoders: ZstdDecoderName[] = zstdDecoderName() === 'node:zlib' ? ['zstd-napi', 'node:zlib'] : ['zstd-napi'];
for (const name of decoders) {
  test(`decodeZstd (${name}): round trip over odd chunking, same bytes`, async () => {
    const pieces = sample();
    const { file } = encode(pieces);
    const parts = [file.subarray(0, 3), file.subarray(3, 1001), file.subarray(1001, 1002), file.subarray(1002)];
    const out: Buffer[] = [];
    const errs = { onTooLarge: () => new Error('too large'), onCorrupt: (m: string) => new Error(`corrupt: ${m}`) };
    for await (const c of decodeZstd(Readable.from(parts), { ...errs, maxOutput: 1 << 30 }, name)) out.push(c);
    assert.ok(Buffer.concat(out).equals(Buffer.concat(pieces.map((p) => p.data))));
  });

  test(`decodeZstd (${name}): damage deep in a large frame is onCorrupt (the decoder fails while input waits to be taken)`, async () => {
    // Compressible data, damaged in its first block: libzstd fails at once, with megabytes to go.
    const data = Buffer.concat(Array.from({ length: 6 * 1024 }, (_, i) => bytes(1024, i % 7)));
    const { file } = encode([{ data }, { data: bytes(1000, 6) }]);
    for (let i = 40; i < 60; i++) file[i]! ^= 0x5a;
    const parts: Buffer[] = [];
    for (let i = 0; i < file.length; i += 64 * 1024) parts.push(file.subarray(i, i + 64 * 1024));
    const errs = { onTooLarge: () => new Error('too large'), onCorrupt: (m: string) => new Error(`corrupt: ${m}`) };
    let message = 'ok';
    try {
      for await (const c of decodeZstd(Readable.from(parts), { ...errs, maxOutput: 1 << 30, chunkBytes: 64 * 1024 }, name)) void c;
    } catch (e) {
      message = (e as Error).message;
    }
    assert.match(message, /^corrupt: zstd: /);
  });
}

test.run();
