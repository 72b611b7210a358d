// zstd with explicit frames: a frame per tar entry, a seek table (the zstd seekable format,
// contrib/seekable_format v0.1.0) as the final skippable frame, and (re-exported from
// zstd-decode.ts) a bounded decoder. The encoder uses zstd-napi's low-level binding because the
// high-level streams cannot report compressed bytes per frame; decoding picks node:zlib where
// the runtime has zstd and zstd-napi elsewhere (zstd-decode.ts).

import { basename } from 'node:path';
// binding.js is CommonJS (module.exports = the native addon): import it whole.
import binding from 'zstd-napi/binding.js';
import type { EndDirective } from 'zstd-napi/binding.js';
import { FerryError } from './errors.js';
import { openRegularFile, type OpenRegularFileOptions } from './safe-open.js';
import { SEEKABLE_FOOTER_MAGIC, SEEKABLE_SKIPPABLE_MAGIC } from './zstd-magic.js';

export { SEEKABLE_FOOTER_MAGIC, SEEKABLE_SKIPPABLE_MAGIC, ZSTD_FRAME_MAGIC, isSkippableMagic } from './zstd-magic.js';
export { DECODER_WINDOW_LOG_MAX, type DecodeOptions } from './zstd-decode-options.js';
export { decodeZstd, decoderReleasesInput, zstdDecoderName } from './zstd-decode.js';

export const SEEK_TABLE_FOOTER_BYTES = 9;
/** Seek_Table_Descriptor bit 7: entries carry a checksum. */
const CHECKSUM_FLAG = 0x80;
/** The reference implementation's limits (ZSTD_SEEKABLE_MAXFRAMES, ..._MAX_FRAME_DECOMPRESSED_SIZE). */
const MAX_SEEK_FRAMES = 0x8000000;
const MAX_FRAME_DECOMPRESSED = 0x40000000;
export const MIN_LEVEL = 1;
export const MAX_LEVEL = 19;

export interface FrameInfo {
  compressedSize: number;
  decompressedSize: number;
  /** Low 32 bits of XXH64 of the frame's content (equal to the frame's own content checksum). */
  checksum?: number;
}

export interface FrameEncoderOptions {
  /** 1..19; default 3. */
  level?: number;
  /** libzstd worker threads; 0 compresses on the calling thread. */
  workers?: number;
  /** Multi-threaded job size in bytes (libzstd default when absent). */
  jobSize?: number;
}

/** Where FrameEncoder puts compressed bytes: it compresses straight into `space()` (no copy). */
export interface FrameSink {
  /** Free space for output; at least 64 KiB. */
  space(): Buffer;
  /** The first n bytes of the last space() now hold output. */
  commit(n: number): void;
}

/**
 * Synchronous frame-by-frame compressor writing into a FrameSink; the caller owns backpressure
 * (it feeds more only when its sink has room). Frames carry their content size (pledged) and a
 * content checksum. Seek-table checksums are copied from each frame's own checksum (both are the
 * low 32 bits of XXH64 of the content), so they cost nothing extra.
 */
export class FrameEncoder {
  frames: FrameInfo[] = [];
  private readonly cctx = new binding.CCtx();
  private frameOpen = false;
  private pledged = 0;
  private fed = 0;
  private produced = 0;
  private readonly tail = Buffer.alloc(4);
  private readonly blockHead = Buffer.alloc(3);
  private readonly workers: number;
  private activeWorkers: number;
  /** Stored frame in progress: raw blocks written by hand, no compression attempted. */
  private stored = false;
  /** Bytes still to come in the current raw block, and bytes of the frame not yet in a block. */
  private blockLeft = 0;
  private unblocked = 0;

  constructor(private sink: FrameSink, opts: FrameEncoderOptions = {}) {
    const level = opts.level ?? 3;
    if (!Number.isInteger(level) || level < MIN_LEVEL || level > MAX_LEVEL) throw new FerryError('USAGE', `compression level must be ${MIN_LEVEL}..${MAX_LEVEL}, got ${level}`);
    const workers = opts.workers ?? 0;
    if (!Number.isInteger(workers) || workers < 0 || workers > 64) throw new FerryError('USAGE', `compression workers must be 0..64, got ${workers}`);
    this.cctx.setParameter(binding.CParameter.compressionLevel, level);
    this.cctx.setParameter(binding.CParameter.checksumFlag, 1);
    this.cctx.setParameter(binding.CParameter.contentSizeFlag, 1);
    if (workers > 0) {
      this.cctx.setParameter(binding.CParameter.nbWorkers, workers);
      if (opts.jobSize) this.cctx.setParameter(binding.CParameter.jobSize, opts.jobSize);
    }
    this.workers = workers;
    this.activeWorkers = workers;
  }

  /** Start a new file on another sink, keeping the compression context (and, with workers,
   *  its buffers: a context per volume would hold them until garbage collection). */
  restart(sink: FrameSink): void {
    if (this.frameOpen) throw new FerryError('INTERNAL', 'zstd restart inside a frame');
    this.sink = sink;
    this.frames = [];
  }

  /** Start a frame that will hold exactly `size` bytes. `threaded: false` compresses it on the
   *  calling thread even when workers are configured (libzstd keeps its thread pool);
   *  `'stored'` writes raw blocks without trying to compress (already-compressed layers: zstd
   *  would spend the CPU and store them raw anyway). */
  beginFrame(size: number, threaded: boolean | 'stored' = true): void {
    if (this.frameOpen) throw new FerryError('INTERNAL', 'zstd frame already open');
    if (!Number.isSafeInteger(size) || size <= 0 || size > MAX_FRAME_DECOMPRESSED) throw new FerryError('INTERNAL', `bad zstd frame size ${size}`);
    if (threaded === 'stored') {
      this.frameOpen = true;
      this.stored = true;
      this.pledged = size;
      this.fed = 0;
      this.produced = 0;
      this.blockLeft = 0;
      this.unblocked = size;
      this.emit(storedFrameHeader(size));
      return;
    }
    const want = threaded ? this.workers : 0;
    if (want !== this.activeWorkers) {
      this.cctx.setParameter(binding.CParameter.nbWorkers, want);
      this.activeWorkers = want;
    }
    this.cctx.setPledgedSrcSize(size);
    this.frameOpen = true;
    this.pledged = size;
    this.fed = 0;
    this.produced = 0;
  }

  write(chunk: Buffer): void {
    if (!this.frameOpen) throw new FerryError('INTERNAL', 'zstd write outside a frame');
    this.fed += chunk.length;
    if (this.fed > this.pledged) throw new FerryError('INTERNAL', `zstd frame overrun: ${this.fed} > ${this.pledged} bytes`);
    if (this.stored) this.storeBytes(chunk);
    else this.run(chunk, binding.EndDirective.continue);
  }

  endFrame(): FrameInfo {
    if (!this.frameOpen) throw new FerryError('INTERNAL', 'zstd endFrame without a frame');
    if (this.fed !== this.pledged) throw new FerryError('INTERNAL', `zstd frame got ${this.fed} bytes, planned ${this.pledged}`);
    if (this.stored) {
      this.frameOpen = false;
      this.stored = false;
      const info: FrameInfo = { compressedSize: this.produced, decompressedSize: this.fed };
      this.frames.push(info);
      return info;
    }
    this.run(EMPTY, binding.EndDirective.end);
    this.frameOpen = false;
    const info: FrameInfo = { compressedSize: this.produced, decompressedSize: this.fed, checksum: this.tail.readUInt32LE(0) };
    this.frames.push(info);
    return info;
  }

  /** Emit the seek table (with checksums) as the final skippable frame. */
  finish(): void {
    if (this.frameOpen) throw new FerryError('INTERNAL', 'zstd finish inside a frame');
    let table = encodeSeekTable(this.frames);
    while (table.length) {
      const dst = this.sink.space();
      const n = table.copy(dst);
      this.sink.commit(n);
      table = table.subarray(n);
    }
  }

  private run(src: Buffer, op: EndDirective): void {
    for (;;) {
      const dst = this.sink.space();
      const [remaining, produced, consumed] = this.cctx.compressStream2(dst, src, op);
      if (produced > 0) {
        this.keepTail(dst, produced);
        this.produced += produced;
        this.sink.commit(produced);
      }
      src = src.subarray(consumed);
      if (src.length === 0 && (op === binding.EndDirective.continue || remaining === 0)) return;
    }
  }

  /** The frame size is known, so every raw block's size is too (128 KiB, the last one less):
   *  each block header is written when its block starts and the data goes straight to the
   *  sink, whatever the size of the chunks the source delivers (3 bytes per 128 KiB). */
  private storeBytes(chunk: Buffer): void {
    while (chunk.length) {
      if (this.blockLeft === 0) this.emitBlockHeader();
      const n = Math.min(this.blockLeft, chunk.length);
      this.emit(n === chunk.length ? chunk : chunk.subarray(0, n));
      this.blockLeft -= n;
      chunk = chunk.subarray(n);
    }
  }

  private emitBlockHeader(): void {
    const size = Math.min(RAW_BLOCK_MAX, this.unblocked);
    this.unblocked -= size;
    this.blockHead.writeUIntLE((size << 3) | (this.unblocked === 0 ? 1 : 0), 0, 3); // Block_Type 0 = Raw; bit 0 = last
    this.emit(this.blockHead);
    this.blockLeft = size;
  }

  /**
   * In a stored frame: lay out up to `max` more content bytes in the sink's current space,
   * writing the block headers between them, and return the regions (in order) the caller
   * must fill with that content before anything else is written to the sink. This is how a
   * source reads straight into the output buffers: nothing is copied.
   */
  reserveStored(max: number): Buffer[] {
    if (!this.frameOpen || !this.stored) throw new FerryError('INTERNAL', 'zstd reserveStored outside a stored frame');
    if (this.fed + max > this.pledged) throw new FerryError('INTERNAL', `zstd frame overrun: ${this.fed + max} > ${this.pledged} bytes`);
    const regions: Buffer[] = [];
    const dst = this.sink.space();
    let at = 0;
    while (max > 0) {
      if (this.blockLeft === 0) {
        if (dst.length - at < 4) break;
        const size = Math.min(RAW_BLOCK_MAX, this.unblocked);
        this.unblocked -= size;
        dst.writeUIntLE((size << 3) | (this.unblocked === 0 ? 1 : 0), at, 3);
        at += 3;
        this.blockLeft = size;
      }
      const n = Math.min(this.blockLeft, max, dst.length - at);
      if (n === 0) break;
      regions.push(dst.subarray(at, at + n));
      at += n;
      this.blockLeft -= n;
      this.fed += n;
      max -= n;
    }
    this.produced += at;
    this.sink.commit(at);
    return regions;
  }

  private emit(buf: Buffer): void {
    this.produced += buf.length;
    while (buf.length) {
      const dst = this.sink.space();
      const n = buf.copy(dst);
      this.sink.commit(n);
      buf = buf.subarray(n);
    }
  }

  private keepTail(dst: Buffer, n: number): void {
    if (n >= 4) {
      dst.copy(this.tail, 0, n - 4, n);
    } else {
      this.tail.copy(this.tail, 0, n);
      dst.copy(this.tail, 4 - n, 0, n);
    }
  }
}

const EMPTY = Buffer.alloc(0);

/** Largest raw block: Block_Maximum_Size = min(Window_Size, 128 KiB). */
const RAW_BLOCK_MAX = 128 * 1024;

/** Frame header for a stored frame: no single-segment (so a decoder needs only a 128 KiB
 *  window, not the whole frame), 8-byte content size, no checksum (the blob digest covers it). */
function storedFrameHeader(size: number): Buffer {
  const h = Buffer.alloc(14);
  h.writeUInt32LE(0xfd2fb528, 0);
  h.writeUInt8(0xc0, 4); // FCS_Field_Size 8 bytes, Single_Segment 0, no checksum, no dictionary
  h.writeUInt8(7 << 3, 5); // Window_Descriptor: 2^(10+7) = 128 KiB
  h.writeBigUInt64LE(BigInt(size), 6);
  return h;
}

export function encodeSeekTable(frames: readonly FrameInfo[]): Buffer {
  const withChecksums = frames.every((f) => f.checksum !== undefined);
  const entry = withChecksums ? 12 : 8;
  const payload = frames.length * entry + SEEK_TABLE_FOOTER_BYTES;
  const b = Buffer.alloc(8 + payload);
  b.writeUInt32LE(SEEKABLE_SKIPPABLE_MAGIC, 0);
  b.writeUInt32LE(payload, 4);
  let at = 8;
  for (const f of frames) {
    b.writeUInt32LE(f.compressedSize, at);
    b.writeUInt32LE(f.decompressedSize, at + 4);
    if (withChecksums) b.writeUInt32LE(f.checksum!, at + 8);
    at += entry;
  }
  b.writeUInt32LE(frames.length, at);
  b.writeUInt8(withChecksums ? CHECKSUM_FLAG : 0, at + 4);
  b.writeUInt32LE(SEEKABLE_FOOTER_MAGIC, at + 5);
  return b;
}

export interface SeekTable {
  frames: FrameInfo[];
  checksums: boolean;
  /** Bytes of the skippable frame holding the table (header included). */
  tableBytes: number;
  /** Compressed bytes before the table: the sum of the frames' compressed sizes. */
  dataBytes: number;
  /** Sum of the frames' decompressed sizes: the tar stream's length. */
  decompressedBytes: number;
}

/** Read the seek table from the end of a volume, checking it against the file's size. */
export async function readSeekTable(path: string, limits: OpenRegularFileOptions = {}): Promise<SeekTable> {
  const file = basename(path);
  const corrupt = (msg: string): FerryError => new FerryError('ARCHIVE_CORRUPT', `${file}: ${msg}`, { file });
  // A regular file only (never blocks on a FIFO), within the caller's size limit.
  const fh = await openRegularFile(path, 'volume', limits);
  try {
    const { size } = await fh.stat();
    if (size < 8 + SEEK_TABLE_FOOTER_BYTES) throw corrupt(`only ${size} bytes, too short to hold a zstd seek table (truncated?)`);
    const footer = Buffer.alloc(SEEK_TABLE_FOOTER_BYTES);
    await fh.read(footer, 0, footer.length, size - footer.length);
    if (footer.readUInt32LE(5) !== SEEKABLE_FOOTER_MAGIC) throw corrupt('no zstd seek table at the end of the file (truncated, or not written by Ferry)');
    const count = footer.readUInt32LE(0);
    const descriptor = footer.readUInt8(4);
    if (descriptor & 0x7c) throw corrupt(`seek table descriptor has reserved bits set (0x${descriptor.toString(16)})`);
    if (count > MAX_SEEK_FRAMES) throw corrupt(`seek table claims ${count} frames`);
    const checksums = (descriptor & CHECKSUM_FLAG) !== 0;
    const entry = checksums ? 12 : 8;
    const tableBytes = 8 + count * entry + SEEK_TABLE_FOOTER_BYTES;
    if (tableBytes > size) throw corrupt(`seek table of ${count} frames is larger than the file`);
    const table = Buffer.alloc(tableBytes);
    await fh.read(table, 0, tableBytes, size - tableBytes);
    if (table.readUInt32LE(0) !== SEEKABLE_SKIPPABLE_MAGIC || table.readUInt32LE(4) !== tableBytes - 8) throw corrupt('seek table skippable frame header is damaged');
    const frames: FrameInfo[] = [];
    let dataBytes = 0;
    let decompressedBytes = 0;
    for (let i = 0, at = 8; i < count; i++, at += entry) {
      const f: FrameInfo = { compressedSize: table.readUInt32LE(at), decompressedSize: table.readUInt32LE(at + 4) };
      if (checksums) f.checksum = table.readUInt32LE(at + 8);
      frames.push(f);
      dataBytes += f.compressedSize;
      decompressedBytes += f.decompressedSize;
    }
    if (dataBytes + tableBytes !== size) throw corrupt(`seek table accounts for ${dataBytes + tableBytes} bytes but the file has ${size}`);
    return { frames, checksums, tableBytes, dataBytes, decompressedBytes };
  } finally {
    await fh.close();
  }
}
