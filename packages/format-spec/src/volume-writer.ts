// Writes a bundle's volumes: per volume a tar stream cut into zstd frames at entry boundaries,
// ending with a seek table. The writer emits the tar headers itself (tar-header.ts, the bytes
// tar-stream wrote) around each entry's content, which goes from its source straight into the
// output buffers: a stored frame's content is read from a file at its final place between the
// raw-block headers, or copied once from a stream; compressed content passes through shared
// input buffers. Blob, segment and volume hashes are computed on helper threads
// (volume-output.ts); nothing is staged and memory stays bounded.

import { createReadStream } from 'node:fs';
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { digestHex, isSha256Digest } from './digest.js';
import { FerryError } from './errors.js';
import type { BundleBlob } from './manifest-types.js';
import {
  FRAME_MAX_BYTES,
  MAX_HEADER_ENTRIES,
  MAX_HEADER_NAME_BYTES,
  TAR_BLOCK,
  TAR_END_BYTES,
  frameSizes,
  tarLayout,
  validatePlan,
  volumeFileName,
  volumePieces,
  volumeSizeBound,
  type TarLayout,
  type VolumeEntry,
} from './plan.js';
import { segmentLabel } from './segment-digests.js';
import { tarEntryHeader } from './tar-header.js';
import { VolumeOutput } from './volume-output.js';
import { FrameEncoder } from './zstd-frames.js';

export interface WriteProgress {
  volume: number;
  /** Blob bytes written so far, all volumes together. */
  bytes: number;
  /** Set when an entry of this blob (whole or a segment) has just been completed. */
  digest?: string;
}

export interface WriteVolumesOptions {
  dir: string;
  /** Bundle name: volumes are NAME-001.tar.zst ... */
  name: string;
  volumeCount: number;
  /** Entries every volume starts with, in order: manifest, signature (if signed), oci-layout, index.json. */
  header: ReadonlyArray<{ name: string; bytes: Buffer }>;
  /** The plan, in write order, with segment digests (hashSegments(planVolumes().blobs)). Each
   *  segment is checked against its digest as it is written. */
  blobs: readonly BundleBlob[];
  /** The whole blob's bytes; opened once even when the blob is split across volumes. */
  openBlob: (blob: BundleBlob) => Promise<BlobInput>;
  /** The bound every volume file must stay within. */
  volumeSize: number;
  /** zstd level 1..19, default 3. */
  level?: number;
  /** libzstd worker threads (0 = compress on the main thread). Default 2. */
  workers?: number;
  /** mtime of every tar entry; default now. */
  mtime?: Date;
  onProgress?: (e: WriteProgress) => void;
  signal?: AbortSignal;
  /** Cut long entries into frames of this many bytes instead of FRAME_MAX_BYTES (tests). */
  frameBytes?: number;
}

export interface WrittenVolume {
  index: number;
  /** File name, NAME-00N.tar.zst. */
  file: string;
  path: string;
  /** Compressed file size in bytes. */
  size: number;
  /** sha256 (hex) of the file, computed as it was written. */
  sha256: string;
}

/** A blob to be read at positions from a regular file holding exactly its bytes (a layout's
 *  blob file): the writer reads it straight into the output buffers. */
export interface BlobFile {
  file: string;
}

/** What openBlob gives: a stream of the blob's bytes, or a file to read them from. */
export type BlobInput = Readable | BlobFile;

/** A stream of a BlobInput's bytes, for readers that want one (hashSegments). */
export function blobInputStream(input: BlobInput): Readable {
  return input instanceof Readable ? input : createReadStream(input.file, { highWaterMark: 1 << 20 });
}

const BUNDLE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
/** libzstd's default job at level 3 is 8 MiB; 4 MiB measured as fast and keeps ~40 MiB less
 *  in flight with 2 workers. */
const MT_JOB_BYTES = 4 * 1024 * 1024;
const ZEROS = Buffer.alloc(TAR_END_BYTES);
const WHERE = 'the blob source';

/** Where an entry's content goes: the current frame of one volume. */
interface ContentSink {
  /** The current frame is a stored one (reserve), else compressed (input + compress). */
  readonly stored: boolean;
  /** Stored: regions of the output buffers, in order, for up to `max` content bytes; the
   *  caller fills them before anything else is written. */
  reserve(max: number): Buffer[];
  /** Compressed: a free shared input buffer. */
  input(): Promise<{ index: number; buf: Buffer }>;
  /** Compressed: the first n bytes of input buffer `index` are content. */
  compress(index: number, buf: Buffer, n: number): void;
  /** After each fill: progress and backpressure. */
  wrote(n: number): Promise<void>;
}

/** A blob's source, read piece by piece (a segmented blob spans several volumes). */
interface PieceSource {
  /** Put exactly n more bytes of the blob into `sink`. */
  copy(n: number, sink: ContentSink): Promise<void>;
  /** The blob is complete: the source must end here. */
  finish(): Promise<void>;
  destroy(err?: Error): void;
}

const mismatch = (digest: string, msg: string, extra: Record<string, unknown> = {}): FerryError =>
  new FerryError('BLOB_MISMATCH', `${digest} in ${WHERE}: ${msg}`, { digest, where: WHERE, ...extra });

class StreamSource implements PieceSource {
  private readonly it: AsyncIterator<Buffer>;
  private rest: Buffer | null = null;
  private seen = 0;

  constructor(private readonly stream: Readable, private readonly blob: BundleBlob) {
    this.it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  async copy(n: number, sink: ContentSink): Promise<void> {
    let left = n;
    while (left > 0) {
      let c = this.rest;
      this.rest = null;
      if (!c) {
        const r = await this.it.next();
        if (r.done) throw mismatch(this.blob.digest, `${this.seen} bytes, expected ${this.blob.size}`);
        c = r.value;
        this.seen += c.length;
      }
      let k: number;
      if (sink.stored) {
        k = 0;
        for (const region of sink.reserve(Math.min(c.length, left))) k += c.copy(region, 0, k, k + region.length);
      } else {
        const { index, buf } = await sink.input();
        k = c.copy(buf, 0, 0, Math.min(c.length, left, buf.length));
        sink.compress(index, buf, k);
      }
      if (k < c.length) this.rest = c.subarray(k);
      left -= k;
      await sink.wrote(k);
    }
  }

  async finish(): Promise<void> {
    const extra = (this.rest?.length ?? 0) > 0 || !(await this.it.next()).done;
    if (extra) {
      this.stream.destroy();
      throw mismatch(this.blob.digest, `more than the expected ${this.blob.size} bytes`);
    }
  }

  destroy(err?: Error): void {
    this.stream.destroy(err);
  }
}

/** A blob file read at positions: stored content lands in the output buffers directly. */
class FileSource implements PieceSource {
  private pos = 0;
  private closed = false;

  private constructor(private readonly fh: FileHandle, private readonly blob: BundleBlob, private readonly path: string) {}

  static async open(input: BlobFile, blob: BundleBlob): Promise<FileSource> {
    let fh: FileHandle;
    try {
      fh = await open(input.file, 'r');
    } catch (e) {
      throw new FerryError('SOURCE_NOT_FOUND', `${blob.digest}: cannot open ${input.file}: ${(e as Error).message}`, { digest: blob.digest, file: input.file }, { cause: e });
    }
    const st = await fh.stat();
    if (!st.isFile() || st.size !== blob.size) {
      await fh.close();
      throw mismatch(blob.digest, st.isFile() ? `${st.size} bytes, expected ${blob.size} (${input.file})` : `${input.file} is not a regular file`);
    }
    return new FileSource(fh, blob, input.file);
  }

  async copy(n: number, sink: ContentSink): Promise<void> {
    let left = n;
    while (left > 0) {
      let k: number;
      if (sink.stored) {
        const regions = sink.reserve(left);
        k = regions.reduce((a, r) => a + r.length, 0);
        await this.readv(regions, k);
      } else {
        const { index, buf } = await sink.input();
        k = Math.min(left, buf.length);
        await this.readv([buf.subarray(0, k)], k);
        sink.compress(index, buf, k);
      }
      left -= k;
      await sink.wrote(k);
    }
  }

  /** Fill `regions` (k bytes in all) from the current position. */
  private async readv(regions: Buffer[], k: number): Promise<void> {
    let got = 0;
    let rs = regions;
    for (;;) {
      const { bytesRead } = await this.fh.readv(rs, this.pos + got);
      got += bytesRead;
      if (got === k) break;
      if (bytesRead === 0) throw mismatch(this.blob.digest, `${this.path} ends before byte ${this.pos + got}, shorter than the ${this.blob.size} bytes expected (the file changed while it was read)`);
      // A short read: go on from where it stopped.
      let skip = bytesRead;
      const restOf: Buffer[] = [];
      for (const r of rs) {
        if (skip >= r.length) skip -= r.length;
        else {
          restOf.push(skip ? r.subarray(skip) : r);
          skip = 0;
        }
      }
      rs = restOf;
    }
    this.pos += k;
  }

  async finish(): Promise<void> {
    await this.close();
  }

  destroy(): void {
    void this.close();
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close().catch(() => undefined);
  }
}

/** Media types whose content is already compressed: zstd cannot shrink them and would store
 *  them raw after spending the CPU to find that out, so their frames are written as stored
 *  (raw-block) frames straight away. */
export function isPrecompressed(mediaType: string): boolean {
  return /[+.](?:gzip|gz|zstd|zst|xz|bzip2|bz2|lz4)$/i.test(mediaType);
}

/** Per frame (as frameSizes cuts them): worker threads, the calling thread, or stored. */
function frameThreading(layout: TarLayout, frameBytes: number, entryThreaded: (k: number) => boolean | 'stored'): Array<boolean | 'stored'> {
  const out: Array<boolean | 'stored'> = [];
  layout.entries.forEach((e, k) => {
    const n = Math.ceil((e.end - e.headerStart) / frameBytes);
    const t = entryThreaded(k);
    for (let j = 0; j < n; j++) out.push(t);
  });
  out.push(false); // end-of-archive blocks
  return out;
}

function checkOptions(opts: WriteVolumesOptions): void {
  const usage = (msg: string): never => {
    throw new FerryError('USAGE', `writeVolumes: ${msg}`);
  };
  if (!BUNDLE_NAME_RE.test(opts.name)) usage(`bad bundle name ${JSON.stringify(opts.name)}`);
  if (!Number.isSafeInteger(opts.volumeSize) || opts.volumeSize <= 0) usage(`bad volume size ${opts.volumeSize}`);
  if (opts.header.length < 1 || opts.header.length > MAX_HEADER_ENTRIES) usage(`${opts.header.length} header entries; expected 1..${MAX_HEADER_ENTRIES}`);
  const names = new Set<string>();
  for (const h of opts.header) {
    if (!h.name || Buffer.byteLength(h.name) > MAX_HEADER_NAME_BYTES || /[\\/\0]/.test(h.name) || h.name.startsWith('.')) usage(`bad header entry name ${JSON.stringify(h.name).slice(0, 80)}`);
    if (names.has(h.name)) usage(`header entry ${h.name} given twice`);
    names.add(h.name);
  }
  validatePlan(opts.blobs, opts.volumeCount, 'plan given to writeVolumes');
  for (const b of opts.blobs) {
    for (const s of b.segments ?? []) {
      if (typeof s.digest !== 'string' || !isSha256Digest(s.digest)) usage(`${segmentLabel(b, s)} has no digest (run hashSegments on the plan first)`);
    }
  }
}

/**
 * Write all volumes as NAME-00N.tar.zst.partial, then rename them into place once every one is
 * complete. On any failure (source error, digest mismatch, abort, bound exceeded) the partial
 * files are removed and the promise rejects.
 */
export async function writeVolumes(opts: WriteVolumesOptions): Promise<WrittenVolume[]> {
  checkOptions(opts);
  const { dir, name, volumeCount, header, blobs, volumeSize, signal } = opts;
  const mtime = opts.mtime ?? new Date();
  const level = opts.level ?? 3;
  const workers = opts.workers ?? 2;
  const frameBytes = opts.frameBytes ?? FRAME_MAX_BYTES;
  if (!Number.isSafeInteger(frameBytes) || frameBytes < 4096 || frameBytes > FRAME_MAX_BYTES) throw new FerryError('USAGE', `writeVolumes: frameBytes must be 4096..${FRAME_MAX_BYTES}`);

  // Check every volume's worst case before writing a byte: a wrong plan fails fast.
  const volumes = Array.from({ length: volumeCount }, (_, i) => {
    const index = i + 1;
    const pieces = volumePieces(blobs, index);
    const entries: VolumeEntry[] = [...header.map((h) => ({ name: h.name, size: h.bytes.length })), ...pieces.map((p) => ({ name: p.name, size: p.size }))];
    const bound = volumeSizeBound(entries, frameBytes);
    const file = volumeFileName(name, index);
    if (bound > volumeSize) {
      throw new FerryError('INTERNAL', `${file} could take up to ${bound} bytes, more than the volume size ${volumeSize}: the plan was made for a different volume size or smaller header entries`, { file, bound, volumeSize });
    }
    return { index, file, pieces, entries };
  });

  /** Sources of blobs still being written (a split blob stays open across volumes), with the
   *  id of the blob's hash on the hashing thread. */
  const open = new Map<string, { src: PieceSource; hash: number }>();
  const output = new VolumeOutput();
  let encoder: FrameEncoder | undefined;
  const partials: string[] = [];
  const renamed: string[] = [];
  let blobBytes = 0;
  let firstError: unknown = null;
  const fail = (e: unknown): void => {
    firstError ??= e;
    // Wake a source stalled on its stream.
    const err = e instanceof Error ? e : new Error(String(e));
    for (const o of open.values()) o.src.destroy(err);
  };
  const onAbort = (): void => fail(signal?.reason ?? new FerryError('INTERNAL', 'aborted'));
  signal?.addEventListener('abort', onAbort);

  const writeOne = async (vol: (typeof volumes)[number]): Promise<WrittenVolume> => {
    const { index, file, pieces, entries } = vol;
    const finalPath = join(dir, file);
    const partial = `${finalPath}.partial`;
    partials.push(partial);
    const layout = tarLayout(entries);
    const frames = frameSizes(layout, frameBytes);
    const threaded = frameThreading(layout, frameBytes, (k) => (k < header.length ? false : isPrecompressed(pieces[k - header.length]!.blob.mediaType) ? 'stored' : true));
    output.open(partial, file, volumeSize);
    if (encoder) encoder.restart(output);
    else encoder = new FrameEncoder(output, { level, workers, jobSize: MT_JOB_BYTES });
    const enc = encoder;

    // The tar stream, cut into the planned frames.
    let fi = 0;
    let inFrame = 0;
    enc.beginFrame(frames[0]!, threaded[0]);
    const advance = (k: number): void => {
      inFrame += k;
      if (inFrame < frames[fi]!) return;
      enc.endFrame();
      inFrame = 0;
      if (++fi < frames.length) enc.beginFrame(frames[fi]!, threaded[fi]);
    };
    const frameRoom = (): number => {
      if (fi >= frames.length) throw new FerryError('INTERNAL', `${file}: tar stream longer than planned`);
      return frames[fi]! - inFrame;
    };
    const write = (b: Buffer): void => {
      while (b.length) {
        const k = Math.min(frameRoom(), b.length);
        enc.write(k === b.length ? b : b.subarray(0, k));
        advance(k);
        b = b.subarray(k);
      }
    };
    const pad = (size: number): void => write(ZEROS.subarray(0, (TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK));
    const checkFailed = (): void => {
      if (firstError !== null) throw firstError;
    };

    let hashIds: number[] = [];
    const sink: ContentSink = {
      get stored() {
        return threaded[fi] === 'stored';
      },
      reserve(max) {
        const regions = enc.reserveStored(Math.min(max, frameRoom()));
        let k = 0;
        for (const r of regions) {
          output.hashStored(hashIds, r);
          k += r.length;
        }
        advance(k);
        return regions;
      },
      input: () => output.input(),
      compress(i, buf, n) {
        write(buf.subarray(0, n));
        output.hashInput(i, n, hashIds);
      },
      async wrote(n) {
        blobBytes += n;
        opts.onProgress?.({ volume: index, bytes: blobBytes });
        checkFailed();
        await output.room();
        checkFailed();
      },
    };

    try {
      checkFailed();
      for (const h of header) {
        write(tarEntryHeader(h.name, h.bytes.length, mtime));
        write(h.bytes);
        pad(h.bytes.length);
        await output.room();
      }
      for (const p of pieces) {
        const { blob, segment } = p;
        const stored = isPrecompressed(blob.mediaType);
        let o = open.get(blob.digest);
        if (!o) {
          const input = await opts.openBlob(blob);
          checkFailed();
          const src = input instanceof Readable ? new StreamSource(input, blob) : await FileSource.open(input, blob);
          o = { src, hash: output.beginHash(stored) };
          open.set(blob.digest, o);
        }
        const segHash = segment ? output.beginHash(stored) : null;
        hashIds = segHash === null ? [o.hash] : [o.hash, segHash];
        write(tarEntryHeader(p.name, p.size, mtime));
        await o.src.copy(p.size, sink);
        pad(p.size);
        // Checked before the volume is closed: a source that changed since hashSegments read it
        // fails the write here (and no volume is left behind), not on the high side.
        if (segment && segHash !== null) {
          output.endHash(stored, segHash, (hex) =>
            `sha256:${hex}` === segment.digest
              ? null
              : new FerryError('BLOB_MISMATCH', `${segmentLabel(blob, segment)} from the blob source: content hashes to sha256:${hex}, but the manifest records ${segment.digest} (the source changed after its segments were hashed)`, { digest: blob.digest, segment: segment.index, actual: `sha256:${hex}`, where: WHERE }));
        }
        const last = !segment || segment.index === blob.segments!.length;
        if (last) {
          open.delete(blob.digest);
          await o.src.finish();
          const want = digestHex(blob.digest);
          output.endHash(stored, o.hash, (hex) => (hex === want ? null : mismatch(blob.digest, `content hashes to sha256:${hex}`, { actual: `sha256:${hex}` })));
        }
        opts.onProgress?.({ volume: index, bytes: blobBytes, digest: blob.digest });
        checkFailed();
        await output.room();
      }
      write(ZEROS);
      if (fi !== frames.length) throw new FerryError('INTERNAL', `${file}: tar stream shorter than planned`);
      enc.finish();
      const closed = await output.close();
      checkFailed();
      const size = (await stat(partial)).size;
      if (size !== output.bytes || closed.size !== size) throw new FerryError('INTERNAL', `${file}: wrote ${output.bytes} bytes but the file has ${size}`);
      return { index, file, path: finalPath, size, sha256: closed.sha256 };
    } catch (e) {
      fail(e);
      await output.abort();
      throw firstError;
    }
  };

  try {
    const written: WrittenVolume[] = [];
    for (const vol of volumes) written.push(await writeOne(vol));
    for (const w of written) {
      await rename(`${w.path}.partial`, w.path);
      renamed.push(w.path);
    }
    return written;
  } catch (e) {
    for (const o of open.values()) o.src.destroy();
    await Promise.all([...partials, ...renamed].map((p) => rm(p, { force: true })));
    throw e;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await output.stop();
  }
}
