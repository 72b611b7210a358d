// Writes a bundle's volumes: per volume a tar stream (tar-stream pack) cut into zstd frames at
// entry boundaries, ending with a seek table. Blobs stream from their source through a
// VerifyingStream straight into the volume; nothing is staged and memory stays bounded.

import { createHash } from 'node:crypto';
import { rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline, type Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import * as tar from 'tar-stream';
import { VerifyingStream, isSha256Digest } from './digest.js';
import { FerryError, toFerryError } from './errors.js';
import type { BundleBlob } from './manifest-types.js';
import {
  FRAME_MAX_BYTES,
  MAX_HEADER_ENTRIES,
  MAX_HEADER_NAME_BYTES,
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
import { FrameEncoder, type FrameSink } from './zstd-frames.js';

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
  openBlob: (blob: BundleBlob) => Promise<Readable>;
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

type TarSink = ReturnType<tar.Pack['entry']>;

const BUNDLE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const OUTPUT_BUFFER_BYTES = 4 * 1024 * 1024;
const MIN_OUTPUT_SPACE = 64 * 1024;
/** libzstd's default job at level 3 is 8 MiB; 4 MiB measured as fast and keeps ~40 MiB less
 *  in flight with 2 workers. */
const MT_JOB_BYTES = 4 * 1024 * 1024;
const MAX_OUTPUT_BUFFERS_QUEUED = 3;

interface Emitterish {
  once(event: string, fn: (...args: unknown[]) => void): unknown;
  off(event: string, fn: (...args: unknown[]) => void): unknown;
  destroyed?: boolean;
}

/** Wait for 'drain', failing if the stream errors or closes first. */
function drained(s: Emitterish, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (s.destroyed) {
      reject(new FerryError('INTERNAL', `${what} was closed`));
      return;
    }
    const done = (err?: unknown): void => {
      s.off('drain', onDrain);
      s.off('error', onError);
      s.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = (): void => done();
    const onError = (e: unknown): void => done(e ?? new FerryError('INTERNAL', `${what} failed`));
    const onClose = (): void => done(new FerryError('INTERNAL', `${what} was closed`));
    s.once('drain', onDrain);
    s.once('error', onError);
    s.once('close', onClose);
  });
}

// Hashes and writes the compressed bytes off the main thread (which already hashes every blob
// through VerifyingStream and drives zstd): buffers are shared, so nothing is copied.
const OUTPUT_WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
let fd = null, hash = null, pos = 0;
parentPort.on('message', (m) => {
  try {
    if (m.op === 'open') { fd = fs.openSync(m.path, 'w'); hash = createHash('sha256'); pos = 0; parentPort.postMessage({ op: 'opened' }); }
    else if (m.op === 'write') {
      const b = Buffer.from(m.sab, 0, m.len);
      hash.update(b);
      for (let off = 0; off < m.len; ) off += fs.writeSync(fd, b, off, m.len - off, pos + off);
      pos += m.len;
      parentPort.postMessage({ op: 'written', slot: m.slot });
    } else if (m.op === 'close') {
      const f = fd; fd = null;
      if (f !== null) fs.closeSync(f);
      parentPort.postMessage({ op: 'closed', sha256: m.abort ? '' : hash.digest('hex'), size: pos });
    }
  } catch (e) {
    if (m.op === 'close') fd = null;
    parentPort.postMessage({ op: 'error', code: e && e.code, message: String(e && e.message), path: m.path });
  }
});
`;

type OutputReply =
  | { op: 'opened' }
  | { op: 'written'; slot: number }
  | { op: 'closed'; sha256: string; size: number }
  | { op: 'error'; code?: string; message: string; path?: string };

interface Slot {
  sab: SharedArrayBuffer;
  buf: Buffer;
}

/** The thread that hashes and writes volume files, and the shared buffers it reads from;
 *  one per writeVolumes call, reused for every volume. */
class OutputThread {
  readonly slots: Slot[] = [];
  readonly free: number[] = [];
  private readonly worker = new Worker(OUTPUT_WORKER_SOURCE, { eval: true });
  private handler: ((m: OutputReply) => void) | null = null;
  private failure: unknown = null;

  constructor() {
    this.worker.on('message', (m: OutputReply) => this.handler?.(m));
    this.worker.on('error', (e) => this.crash(e));
    this.worker.on('exit', (code) => this.crash(new FerryError('INTERNAL', `volume output thread exited (${code})`)));
  }

  listen(fn: (m: OutputReply) => void): void {
    this.handler = fn;
    if (this.failure !== null) fn({ op: 'error', message: String(this.failure) });
  }

  post(m: { op: 'open'; path: string } | { op: 'write'; slot: number; sab: SharedArrayBuffer; len: number } | { op: 'close'; abort: boolean }): void {
    this.worker.postMessage(m);
  }

  async stop(): Promise<void> {
    this.handler = null;
    this.failure ??= 'stopped';
    await this.worker.terminate();
  }

  private crash(e: unknown): void {
    if (this.failure !== null) return;
    this.failure = e;
    this.handler?.({ op: 'error', message: e instanceof Error ? e.message : String(e) });
  }
}

/**
 * The compressed side of one volume: zstd writes straight into shared 4 MiB buffers; each full
 * buffer goes to the output thread to be hashed and written while the next one fills.
 */
class VolumeOutput implements FrameSink {
  bytes = 0;
  private readonly slots: Slot[];
  private readonly free: number[];
  private current: number;
  private fill = 0;
  private pending = 0;
  private error: unknown = null;
  private result: { sha256: string; size: number } | null = null;
  private wake: (() => void) | null = null;

  constructor(
    private readonly thread: OutputThread,
    private readonly path: string,
    private readonly limit: number,
    private readonly file: string,
  ) {
    this.slots = thread.slots;
    this.free = thread.free;
    thread.listen((m) => this.onReply(m));
    thread.post({ op: 'open', path });
    this.current = this.takeSlot();
  }

  space(): Buffer {
    if (OUTPUT_BUFFER_BYTES - this.fill < MIN_OUTPUT_SPACE) this.rotate();
    return this.slots[this.current]!.buf.subarray(this.fill);
  }

  commit(n: number): void {
    this.fill += n;
    this.bytes += n;
    if (this.bytes > this.limit) {
      throw new FerryError('INTERNAL', `${this.file} grew past the volume size ${this.limit} bytes: the size bound is wrong (this is a bug)`, { file: this.file, volumeSize: this.limit });
    }
  }

  /** Backpressure: resolves once few enough buffers wait to be written. */
  async room(): Promise<void> {
    while (this.error === null && this.pending >= MAX_OUTPUT_BUFFERS_QUEUED) await this.next();
    if (this.error !== null) throw this.error;
  }

  /** Flush, close the file; returns its sha256 and size. */
  async close(): Promise<{ sha256: string; size: number }> {
    this.rotate();
    while (this.error === null && this.pending > 0) await this.next();
    if (this.error !== null) throw this.error;
    this.free.push(this.current);
    this.thread.post({ op: 'close', abort: false });
    while (this.error === null && this.result === null) await this.next();
    if (this.error !== null) throw this.error;
    return this.result!;
  }

  /** After a failure: wait for queued writes and close the file (the caller removes it). */
  async abort(): Promise<void> {
    while (this.error === null && this.pending > 0) await this.next();
    if (this.error === null) {
      this.thread.post({ op: 'close', abort: true });
      while (this.error === null && this.result === null) await this.next();
    }
  }

  private takeSlot(): number {
    const i = this.free.pop();
    if (i !== undefined) return i;
    // All buffers queued (an MT frame end can flush several jobs at once): add one.
    const sab = new SharedArrayBuffer(OUTPUT_BUFFER_BYTES);
    this.slots.push({ sab, buf: Buffer.from(sab) });
    return this.slots.length - 1;
  }

  private rotate(): void {
    if (this.fill === 0) return;
    const slot = this.slots[this.current]!;
    this.thread.post({ op: 'write', slot: this.current, sab: slot.sab, len: this.fill });
    this.pending++;
    this.fill = 0;
    this.current = this.takeSlot();
  }

  private onReply(m: OutputReply): void {
    if (m.op === 'written') {
      this.pending--;
      this.free.push(m.slot);
    } else if (m.op === 'opened') {
      // nothing to do: a failed open arrives as an error
    } else if (m.op === 'closed') {
      this.result = { sha256: m.sha256, size: m.size };
    } else {
      const e = Object.assign(new Error(m.message), { code: m.code, path: m.path });
      const fe = m.code ? toFerryError(e) : null;
      this.error ??= fe && fe.code !== 'INTERNAL' && fe.code !== 'INPUT_NOT_FOUND' ? fe : new FerryError('TARGET_ERROR', `cannot write ${this.path}: ${m.message}`, { file: this.file });
    }
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private next(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }
}

/** A blob's source stream, read piece by piece (a segmented blob spans several volumes). */
class BlobSource {
  private readonly it: AsyncIterator<Buffer>;
  private rest: Buffer | null = null;

  constructor(private readonly stream: VerifyingStream) {
    this.it = stream[Symbol.asyncIterator]();
  }

  /** Hand exactly n bytes to `each`, in order. */
  async take(n: number, each: (chunk: Buffer) => Promise<void>): Promise<void> {
    let left = n;
    while (left > 0) {
      let c = this.rest;
      this.rest = null;
      if (!c) {
        const r = await this.it.next();
        // VerifyingStream fails a short source itself; this is a plan that disagrees with it.
        if (r.done) throw new FerryError('INTERNAL', `blob source ended ${left} bytes early`);
        c = r.value;
      }
      if (c.length > left) {
        this.rest = c.subarray(left);
        c = c.subarray(0, left);
      }
      left -= c.length;
      if (c.length) await each(c);
    }
  }

  /** The blob is complete: the source must end here and its digest must verify. */
  async finish(): Promise<void> {
    if (this.rest && this.rest.length) {
      this.stream.destroy();
      throw new FerryError('INTERNAL', 'blob source has bytes beyond the planned size');
    }
    const r = await this.it.next(); // runs VerifyingStream's final size and digest check
    if (!r.done) throw new FerryError('INTERNAL', 'blob source has bytes beyond the planned size');
  }

  destroy(err?: Error): void {
    this.stream.destroy(err);
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

  const open = new Map<string, BlobSource>();
  const thread = new OutputThread();
  const shared: { encoder?: FrameEncoder } = {};
  const partials: string[] = [];
  const renamed: string[] = [];
  let blobBytes = 0;

  const writeOne = async (vol: (typeof volumes)[number]): Promise<WrittenVolume> => {
    const { index, file, pieces, entries } = vol;
    const finalPath = join(dir, file);
    const partial = `${finalPath}.partial`;
    partials.push(partial);
    const layout = tarLayout(entries);
    const frames = frameSizes(layout, frameBytes);
    const threaded = frameThreading(layout, frameBytes, (k) => (k < header.length ? false : isPrecompressed(pieces[k - header.length]!.blob.mediaType) ? 'stored' : true));
    const output = new VolumeOutput(thread, partial, volumeSize, file);
    shared.encoder?.restart(output);
    const encoder = (shared.encoder ??= new FrameEncoder(output, { level, workers, jobSize: MT_JOB_BYTES }));
    const closed: { value: { sha256: string; size: number } | null } = { value: null };
    const pack = tar.pack();
    let firstError: unknown = null;
    const fail = (e: unknown): void => {
      firstError ??= e;
      const err = e instanceof Error ? e : new Error(String(e));
      if (!pack.destroyed) pack.destroy(err);
      // Also wake a producer waiting on a stalled source.
      for (const src of open.values()) src.destroy(err);
    };
    const onAbort = (): void => fail(signal?.reason ?? new FerryError('INTERNAL', 'aborted'));
    signal?.addEventListener('abort', onAbort);

    // Tar bytes -> zstd frames of the planned sizes -> file (and hash).
    const consume = async (): Promise<void> => {
      let fi = 0;
      let inFrame = 0;
      encoder.beginFrame(frames[0]!, threaded[0]);
      for await (const data of pack) {
        // Record the cause before leaving the loop (which destroys pack and fails produce()).
        try {
          let c = data as Buffer;
          while (c.length) {
            if (fi >= frames.length) throw new FerryError('INTERNAL', `${file}: tar stream longer than planned`);
            const take = Math.min(c.length, frames[fi]! - inFrame);
            encoder.write(take === c.length ? c : c.subarray(0, take));
            c = c.subarray(take);
            inFrame += take;
            if (inFrame === frames[fi]) {
              encoder.endFrame();
              inFrame = 0;
              if (++fi < frames.length) encoder.beginFrame(frames[fi]!, threaded[fi]);
            }
          }
          await output.room();
        } catch (e) {
          fail(e);
          throw e;
        }
      }
      if (fi !== frames.length) throw new FerryError('INTERNAL', `${file}: tar stream shorter than planned`);
      encoder.finish();
      closed.value = await output.close();
    };

    const writeEntry = (entry: VolumeEntry, body: (sink: TarSink) => Promise<void>): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        const sink = pack.entry({ name: entry.name, size: entry.size, mode: 0o644, uid: 0, gid: 0, mtime, type: 'file' }, (err) => (err ? reject(err) : resolve()));
        sink.on('error', () => undefined); // reported through the entry callback
        body(sink).then(
          () => sink.end(undefined),
          (e: unknown) => {
            sink.destroy(e instanceof Error ? e : new Error(String(e)));
            reject(e);
          },
        );
      });
    const put = async (sink: TarSink, chunk: Buffer): Promise<void> => {
      if (sink.destroyed) throw new FerryError('INTERNAL', `${file}: tar entry closed`);
      if (!sink.write(chunk)) await drained(sink as unknown as Emitterish, `${file} tar entry`);
    };

    // Entries in order: header copies, then this volume's blobs and segments.
    const produce = async (): Promise<void> => {
      for (const h of header) await writeEntry({ name: h.name, size: h.bytes.length }, (sink) => put(sink, h.bytes));
      for (const p of pieces) {
        const digest = p.blob.digest;
        let src = open.get(digest);
        if (!src) {
          const source = await opts.openBlob(p.blob);
          const verifier = new VerifyingStream(digest, p.blob.size, { where: 'the blob source' });
          pipeline(source, verifier, () => {
            /* errors reach the reader of `verifier` */
          });
          src = new BlobSource(verifier);
          open.set(digest, src);
        }
        const s = src;
        const seg = p.segment;
        const segHash = seg ? createHash('sha256') : null;
        await writeEntry(p, async (sink) => {
          await s.take(p.size, async (chunk) => {
            segHash?.update(chunk);
            await put(sink, chunk);
            blobBytes += chunk.length;
            opts.onProgress?.({ volume: index, bytes: blobBytes });
          });
          // Checked before the entry is closed: a source that changed since hashSegments read it
          // fails the write here (and no volume is left behind), not on the high side.
          if (seg && segHash) {
            const got = 'sha256:' + segHash.digest('hex');
            if (got !== seg.digest) {
              throw new FerryError('BLOB_MISMATCH', `${segmentLabel(p.blob, seg)} from the blob source: content hashes to ${got}, but the manifest records ${seg.digest} (the source changed after its segments were hashed)`, { digest, segment: seg.index, actual: got, where: 'the blob source' });
            }
          }
        });
        const last = !p.segment || p.segment.index === p.blob.segments!.length;
        if (last) {
          open.delete(digest);
          await s.finish();
        }
        opts.onProgress?.({ volume: index, bytes: blobBytes, digest });
      }
      pack.finalize();
    };

    try {
      signal?.throwIfAborted();
      const results = await Promise.allSettled([consume().catch((e) => (fail(e), Promise.reject(e))), produce().catch((e) => (fail(e), Promise.reject(e)))]);
      if (firstError !== null) throw firstError;
      for (const r of results) if (r.status === 'rejected') throw r.reason;
    } catch (e) {
      await output.abort();
      throw e;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    const size = (await stat(partial)).size;
    if (!closed.value || size !== output.bytes || closed.value.size !== size) throw new FerryError('INTERNAL', `${file}: wrote ${output.bytes} bytes but the file has ${size}`);
    return { index, file, path: finalPath, size, sha256: closed.value.sha256 };
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
    for (const src of open.values()) src.destroy();
    await Promise.all([...partials, ...renamed].map((p) => rm(p, { force: true })));
    throw e;
  } finally {
    await thread.stop();
  }
}
