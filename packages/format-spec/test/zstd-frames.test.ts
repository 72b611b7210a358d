import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import binding from 'zstd-napi/binding.js';
import { DecompressStream, compress } from 'zstd-napi';
import { isFerryError } from '../src/errors.js';
import {
  FrameEncoder,
  SEEKABLE_FOOTER_MAGIC,
  SEEKABLE_SKIPPABLE_MAGIC,
  ZSTD_FRAME_MAGIC,
  decodeZstd,
  encodeSeekTable,
  isSkippableMagic,
  readSeekTable,
  type FrameSink,
} from '../src/zstd-frames.js';
import { bytes, tempDir } from './helpers/volumes.js';

/** A FrameSink collecting output in small buffers (exercises output split across space() calls). */
function collector(spaceBytes = 64 * 1024): FrameSink & { out: Buffer[]; all(): Buffer } {
  let cur = Buffer.alloc(spaceBytes);
  const out: Buffer[] = [];
  return {
    out,
    space: () => (cur = Buffer.alloc(spaceBytes)),
    commit: (n: number) => {
      out.push(cur.subarray(0, n));
    },
    all: () => Buffer.concat(out),
  };
}

function encode(pieces: Buffer[], workers = 0, jobSize?: number): { file: Buffer; frames: FrameEncoder['frames'] } {
  const sink = collector();
  const enc = new FrameEncoder(sink, { level: 3, workers, ...(jobSize ? { jobSize } : {}) });
  for (const [i, p] of pieces.entries()) {
    // With workers, alternate threaded and single-threaded frames on the same context.
    enc.beginFrame(p.length, i % 2 === 0);
    // Feed in uneven chunks.
    for (let i = 0; i < p.length; i += 7777) enc.write(p.subarray(i, i + 7777));
    enc.endFrame();
  }
  enc.finish();
  return { file: sink.all(), frames: enc.frames };
}

/** Independent XXH64 (seed 0) for small inputs, to check the seek-table checksums. */
function xxh64(data: Buffer): bigint {
  const M = (1n << 64n) - 1n;
  const P1 = 11400714785074694791n, P2 = 14029467366897019727n, P3 = 1609587929392839161n, P4 = 9650029242287828579n, P5 = 2870177450012600261n;
  const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & M;
  const round = (acc: bigint, v: bigint): bigint => (rotl((acc + v * P2) & M, 31n) * P1) & M;
  const merge = (acc: bigint, v: bigint): bigint => (((acc ^ round(0n, v)) * P1) & M) + P4 & M;
  let p = 0;
  let h: bigint;
  const len = data.length;
  if (len >= 32) {
    let v1 = (P1 + P2) & M, v2 = P2, v3 = 0n, v4 = (M + 1n - P1) & M;
    for (; p + 32 <= len; p += 32) {
      v1 = round(v1, data.readBigUInt64LE(p));
      v2 = round(v2, data.readBigUInt64LE(p + 8));
      v3 = round(v3, data.readBigUInt64LE(p + 16));
      v4 = round(v4, data.readBigUInt64LE(p + 24));
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & M;
    h = merge(merge(merge(merge(h, v1), v2), v3), v4);
  } else {
    h = P5;
  }
  h = (h + BigInt(len)) & M;
  for (; p + 8 <= len; p += 8) h = ((rotl(h ^ round(0n, data.readBigUInt64LE(p)), 27n) * P1) & M) + P4 & M;
  if (p + 4 <= len) {
    h = ((rotl(h ^ ((BigInt(data.readUInt32LE(p)) * P1) & M), 23n) * P2) & M) + P3 & M;
    p += 4;
  }
  for (; p < len; p++) h = (rotl(h ^ ((BigInt(data[p]!) * P5) & M), 11n) * P1) & M;
  h = ((h ^ (h >> 33n)) * P2) & M;
  h = ((h ^ (h >> 29n)) * P3) & M;
  return h ^ (h >> 32n);
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

const errs = {
  onTooLarge: (limit: number) => new Error(`too large ${limit}`),
  onCorrupt: (msg: string) => new Error(`corrupt: ${msg}`),
};

test('xxh64 helper matches the reference vectors', () => {
  assert.is(xxh64(Buffer.alloc(0)), 0xef46db3751d8e999n);
  assert.is(xxh64(Buffer.from('a')), 0xd24ec4f1a98c6e5bn);
  assert.is(xxh64(Buffer.from('abc')), 0x44bc2cf5ad770999n);
});

test('frames: one per piece, exact sizes, checksums = XXH64 low 32 bits, seek table at the end', () => {
  const pieces = [Buffer.from('hello'), bytes(200_000, 3), Buffer.alloc(300_000, 7), bytes(1, 4)];
  const { file, frames } = encode(pieces);
  assert.is(frames.length, 4);
  let at = 0;
  frames.forEach((f, i) => {
    const frame = file.subarray(at, at + f.compressedSize);
    assert.is(binding.findFrameCompressedSize(file.subarray(at)), f.compressedSize, `frame ${i} compressed size`);
    assert.is(binding.getFrameContentSize(frame), pieces[i]!.length, 'content size pledged in the frame header');
    assert.is(f.decompressedSize, pieces[i]!.length);
    assert.ok(binding.decompress(Buffer.alloc(pieces[i]!.length), frame) === pieces[i]!.length);
    assert.is(f.checksum, Number(xxh64(pieces[i]!) & 0xffffffffn), `frame ${i} checksum`);
    at += f.compressedSize;
  });
  const table = file.subarray(at);
  assert.is(table.readUInt32LE(0), SEEKABLE_SKIPPABLE_MAGIC);
  assert.is(table.readUInt32LE(4), table.length - 8);
  assert.is(table.length, 8 + 4 * 12 + 9);
  assert.is(table.readUInt32LE(table.length - 9), 4, 'Number_Of_Frames');
  assert.is(table[table.length - 5], 0x80, 'descriptor: checksums present');
  assert.is(table.readUInt32LE(table.length - 4), SEEKABLE_FOOTER_MAGIC);
  // Incompressible data never grows by more than the block headers and frame overhead.
  assert.ok(frames[1]!.compressedSize <= 200_000 + 3 * 3 + 22, `raw fallback: ${frames[1]!.compressedSize}`);
});

test('readSeekTable returns the frames actually in the file; zstd CLI and zstd-napi DecompressStream read it', async () => {
  const t = await tempDir();
  try {
    const pieces = [bytes(5000, 1), Buffer.alloc(3 * 1024 * 1024, 1), bytes(70_000, 2), Buffer.alloc(2 * 1024 * 1024, 3)];
    const { file, frames } = encode(pieces, 2, 1024 * 1024);
    const path = join(t.dir, 'x.zst');
    await writeFile(path, file);
    const st = await readSeekTable(path);
    assert.equal(st.frames, frames);
    assert.is(st.checksums, true);
    assert.is(st.dataBytes + st.tableBytes, file.length);
    assert.is(st.decompressedBytes, 75_000 + 5 * 1024 * 1024);
    // Walk the real frames independently.
    let at = 0;
    for (const f of st.frames) {
      const size = binding.findFrameCompressedSize(file.subarray(at));
      assert.is(size, f.compressedSize);
      at += size;
    }
    const expected = Buffer.concat(pieces);
    assert.ok(execFileSync('zstd', ['-dc', path], { maxBuffer: 1 << 24 }).equals(expected), 'zstd -dc skips the seek table');
    execFileSync('zstd', ['-tq', path]);
    const viaStream = await collect(Readable.from([file.subarray(0, 1000), file.subarray(1000)]).pipe(new DecompressStream()));
    assert.ok(viaStream.equals(expected), 'DecompressStream handles multiple frames and the skippable frame');
  } finally {
    await t.cleanup();
  }
});

test('readSeekTable refuses a missing, damaged or inconsistent table', async () => {
  const t = await tempDir();
  try {
    const { file } = encode([bytes(3000, 1), bytes(3000, 2)]);
    const cases: Array<[string, Buffer, RegExp]> = [
      ['truncated', file.subarray(0, file.length - 3), /no zstd seek table/],
      ['tiny', file.subarray(0, 5), /too short/],
      ['reserved', Buffer.concat([file.subarray(0, file.length - 5), Buffer.from([0x84]), file.subarray(file.length - 4)]), /reserved bits/],
      ['extra-front', Buffer.concat([Buffer.from('junk'), file]), /accounts for/],
      ['count', (() => { const b = Buffer.from(file); b.writeUInt32LE(9999, b.length - 9); return b; })(), /larger than the file|damaged/],
    ];
    for (const [name, data, re] of cases) {
      const p = join(t.dir, `${name}.zst`);
      await writeFile(p, data);
      try {
        await readSeekTable(p);
        assert.unreachable(name);
      } catch (e) {
        assert.ok(isFerryError(e, 'ARCHIVE_CORRUPT'), `${name}: ${String(e)}`);
        assert.match((e as Error).message, re);
        assert.match((e as Error).message, new RegExp(`${name}\\.zst`));
      }
    }
  } finally {
    await t.cleanup();
  }
});

test('decodeZstd: multi-frame with seek table round-trips, in bounded chunks', async () => {
  const pieces = [bytes(10, 1), Buffer.alloc(3 * 1024 * 1024, 9), bytes(50_000, 2)];
  const { file } = encode(pieces);
  const chunks: Buffer[] = [];
  for await (const c of decodeZstd(Readable.from([file.subarray(0, 17), file.subarray(17, 5000), file.subarray(5000)]), { ...errs, maxOutput: 1 << 30, chunkBytes: 256 * 1024 })) chunks.push(c);
  assert.ok(Buffer.concat(chunks).equals(Buffer.concat(pieces)));
  assert.ok(Math.max(...chunks.map((c) => c.length)) <= 256 * 1024, 'no chunk larger than chunkBytes');
});

test('decodeZstd: bombs stop at maxOutput without inflating everything', async () => {
  const bomb = compress(Buffer.alloc(512 * 1024 * 1024)); // 512 MiB of zeros in a few KiB
  assert.ok(bomb.length < 100_000);
  const started = Date.now();
  let out = 0;
  try {
    for await (const c of decodeZstd(Readable.from([bomb]), { ...errs, maxOutput: 4 * 1024 * 1024 })) out += c.length;
    assert.unreachable('bomb accepted');
  } catch (e) {
    assert.match((e as Error).message, /too large 4194304/);
  }
  assert.ok(out <= 4 * 1024 * 1024);
  assert.ok(Date.now() - started < 2000, 'stopped early');
});

test('decodeZstd: truncation, corruption, garbage and empty input are errors', async () => {
  const { file } = encode([bytes(100_000, 1), bytes(100_000, 2)]);
  const run = async (data: Buffer): Promise<string> => {
    try {
      await collect(decodeZstd(Readable.from(data.length ? [data] : []), { ...errs, maxOutput: 1 << 30 }));
      return 'ok';
    } catch (e) {
      return (e as Error).message;
    }
  };
  assert.match(await run(file.subarray(0, 50_000)), /corrupt: .*middle of a frame/);
  // Cut inside the seek table (a skippable frame) is truncation too.
  assert.match(await run(file.subarray(0, file.length - 10)), /corrupt: .*middle of a frame/);
  const flipped = Buffer.from(file);
  flipped[60_000]! ^= 0x40;
  assert.match(await run(flipped), /corrupt: zstd: /);
  assert.match(await run(Buffer.concat([file, Buffer.from('trailing garbage!')])), /corrupt: zstd: /);
  assert.match(await run(Buffer.alloc(0)), /corrupt: empty/);
  assert.is(await run(file), 'ok');
});

test('FrameEncoder refuses bad levels and overruns', () => {
  const sink = collector();
  for (const level of [0, 20, 2.5]) {
    try {
      new FrameEncoder(sink, { level });
      assert.unreachable(String(level));
    } catch (e) {
      assert.ok(isFerryError(e, 'USAGE'));
    }
  }
  const enc = new FrameEncoder(sink, {});
  enc.beginFrame(4);
  try {
    enc.write(Buffer.from('12345'));
    assert.unreachable();
  } catch (e) {
    assert.ok(isFerryError(e, 'INTERNAL'));
  }
  assert.is(encodeSeekTable([]).length, 17);
});

test('stored frames: raw blocks any zstd decodes, 3 bytes per 128 KiB, next to compressed frames', async () => {
  const sink = collector(5000);
  const enc = new FrameEncoder(sink, { level: 3 });
  const random = bytes(300_000 + 17, 42);
  const text = Buffer.from('compress me '.repeat(5000));
  enc.beginFrame(random.length, 'stored');
  // Small, uneven chunks must still give full 128 KiB blocks.
  for (let i = 0; i < random.length; i += 3001) enc.write(random.subarray(i, i + 3001));
  const stored = enc.endFrame();
  assert.is(stored.checksum, undefined);
  assert.is(stored.compressedSize, random.length + 14 + 3 * Math.ceil(random.length / (128 * 1024)));
  enc.beginFrame(text.length, false);
  enc.write(text);
  const packed = enc.endFrame();
  assert.ok(packed.compressedSize < text.length / 10);
  enc.finish();
  const file = sink.all();
  const { dir, cleanup } = await tempDir();
  const path = join(dir, 'mixed.zst');
  await writeFile(path, file);
  try {
  const cli = execFileSync('zstd', ['-dc', path], { maxBuffer: 1 << 24 });
  assert.ok(cli.equals(Buffer.concat([random, text])), 'zstd CLI decodes stored + compressed frames');
  const chunks: Buffer[] = [];
  for await (const c of decodeZstd(Readable.from([file]), { maxOutput: random.length + text.length, onTooLarge: () => new Error('too large'), onCorrupt: (m) => new Error(m) })) chunks.push(c);
  assert.ok(Buffer.concat(chunks).equals(Buffer.concat([random, text])), 'our decoder too');
  const table = await readSeekTable(path);
  assert.equal(table.frames.map((f) => f.compressedSize), [stored.compressedSize, packed.compressedSize]);
  assert.is(table.checksums, false, 'a volume with a stored frame has a table without checksums');
  } finally {
    await cleanup();
  }
});

/** A skippable frame with this magic and payload. */
function skippableFrame(magic: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32LE(magic, 0);
  h.writeUInt32LE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

/** Decode `data` fed in `chunk`-byte pieces; the skippable-frame refusal, if any, with its offset. */
async function decodeWithPolicy(data: Buffer, chunk = data.length): Promise<{ out?: Buffer; skippable?: { offset: number; message: string }; error?: string }> {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunk) parts.push(data.subarray(i, i + chunk));
  let hit: { offset: number; message: string } | undefined;
  try {
    const out = await collect(decodeZstd(Readable.from(parts), {
      ...errs,
      maxOutput: 1 << 30,
      onSkippable: (offset, message) => {
        hit = { offset, message };
        return new Error(`skippable: ${message}`);
      },
    }));
    return { out };
  } catch (e) {
    return hit ? { skippable: hit } : { error: (e as Error).message };
  }
}

test('decodeZstd: the seek table as the last frame is the only skippable frame accepted', async () => {
  assert.ok(isSkippableMagic(0x184d2a50) && isSkippableMagic(0x184d2a5f) && isSkippableMagic(SEEKABLE_SKIPPABLE_MAGIC));
  assert.not.ok(isSkippableMagic(0x184d2a4f) || isSkippableMagic(0x184d2a60) || isSkippableMagic(ZSTD_FRAME_MAGIC));
  const pieces = [bytes(3000, 1), bytes(70_000, 2), Buffer.alloc(200_000, 3)];
  const { file, frames } = encode(pieces);
  const ends: number[] = [];
  frames.reduce((at, f) => (ends.push(at + f.compressedSize), at + f.compressedSize), 0);
  const dataEnd = ends[ends.length - 1]!;
  const table = file.subarray(dataEnd);
  const other = skippableFrame(0x184d2a50, Buffer.from('not ours'));
  const otherTable = skippableFrame(SEEKABLE_SKIPPABLE_MAGIC, Buffer.from('second'));
  const expected = Buffer.concat(pieces);
  const cases: Array<[string, Buffer, number | null, RegExp | null]> = [
    ['normal: frames, then the seek table', file, null, null],
    ['no seek table at all', file.subarray(0, dataEnd), null, null],
    ['a skippable frame at the start', Buffer.concat([other, file]), 0, /skippable frame with magic 0x184D2A50 at offset 0/],
    ['a seek-table magic at the start', Buffer.concat([otherTable, file]), otherTable.length, /zstd frame at offset \d+ follows the seek table at offset 0/],
    ['a skippable frame between entries', Buffer.concat([file.subarray(0, ends[0]), other, file.subarray(ends[0])]), ends[0]!, new RegExp(`magic 0x184D2A50 at offset ${ends[0]}`)],
    ['a seek-table magic between entries', Buffer.concat([file.subarray(0, ends[1]), otherTable, file.subarray(ends[1])]), ends[1]! + otherTable.length, new RegExp(`zstd frame at offset ${ends[1]! + otherTable.length} follows the seek table at offset ${ends[1]}`)],
    ['a skippable frame after the seek table', Buffer.concat([file, other]), file.length, new RegExp(`skippable frame \\(magic 0x184D2A50\\) at offset ${file.length} follows the seek table at offset ${dataEnd}`)],
    ['two seek tables', Buffer.concat([file, table]), file.length, new RegExp(`skippable frame \\(magic 0x184D2A5E\\) at offset ${file.length} follows`)],
    ['a zstd frame after the seek table', Buffer.concat([file, compress(Buffer.from('more'))]), file.length, new RegExp(`zstd frame at offset ${file.length} follows the seek table`)],
    ['a non-seek-table skippable frame as the last frame', Buffer.concat([file.subarray(0, dataEnd), other]), dataEnd, /only skippable frame Ferry writes is the seek table/],
  ];
  for (const [what, data, offset, re] of cases) {
    // Whole, in odd chunks, and a byte at a time (frame magics straddle chunks).
    for (const chunk of [data.length, 4093, 3, 1]) {
      if (chunk === 1 && data.length > 300_000) continue;
      const r = await decodeWithPolicy(data, chunk);
      if (offset === null) {
        assert.is(r.error, undefined, `${what} (${chunk}): ${r.error}`);
        assert.is(r.skippable, undefined, `${what} (${chunk}): ${r.skippable?.message}`);
        assert.ok(r.out!.equals(expected), `${what} (${chunk}): output`);
      } else {
        assert.ok(r.skippable, `${what} (${chunk}): accepted (${r.error ?? 'no error'})`);
        assert.is(r.skippable!.offset, offset, `${what} (${chunk}): offset`);
        assert.match(r.skippable!.message, re!, what);
      }
    }
  }
  // Without onSkippable the refusal comes through onCorrupt.
  try {
    await collect(decodeZstd(Readable.from([Buffer.concat([other, file])]), { ...errs, maxOutput: 1 << 30 }));
    assert.unreachable('accepted');
  } catch (e) {
    assert.match((e as Error).message, /^corrupt: a skippable frame with magic 0x184D2A50/);
  }
});

test('decodeZstd: a frame magic cut short at the end of the input is truncation', async () => {
  const { file } = encode([bytes(3000, 1)]);
  const r = await decodeWithPolicy(Buffer.concat([file, Buffer.from([0x28, 0xb5])]), 1);
  assert.match(r.error ?? '', /corrupt: .*middle of a frame/);
});

test.run();
