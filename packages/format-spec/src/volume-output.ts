// The buffers between the volume writer and its helper threads (volume-threads.ts). zstd and
// stored-frame reads write straight into shared 4 MiB output buffers; a full one goes to the
// output thread (write), the volume hashing thread and, if blob bytes sit in it, the blob
// hashing thread, and is reused once all are done. Compressed content passes through shared 1 MiB input buffers,
// hashed by the hashing thread while zstd consumes them. Nothing is allocated per chunk.

import { FerryError, toFerryError } from './errors.js';
import type { FrameSink } from './zstd-frames.js';
import { HASH_BEGIN, HASH_END, HASH_UPDATE, HashThread, OutputThread, type HashReply, type OutputReply } from './volume-threads.js';

const OUTPUT_BUFFER_BYTES = 4 * 1024 * 1024;
const MIN_OUTPUT_SPACE = 64 * 1024;
/** Output buffers queued to the threads before the writer waits: enough to keep both busy. */
const MAX_OUTPUT_BUFFERS_QUEUED = 4;
export const INPUT_BUFFER_BYTES = 1024 * 1024;
const INPUT_BUFFERS = 4;

interface Slot {
  sab: SharedArrayBuffer;
  buf: Buffer;
  /** Threads still reading it. */
  refs: number;
}

function slot(bytes: number): Slot {
  const sab = new SharedArrayBuffer(bytes);
  return { sab, buf: Buffer.from(sab), refs: 0 };
}

/** A digest the hashing thread will report, and what to do with it. */
type DigestCheck = (hex: string) => FerryError | null;

/** One per writeVolumes call; writes one volume file at a time (open … close). */
export class VolumeOutput implements FrameSink {
  bytes = 0;
  private readonly output = new OutputThread();
  private readonly hasher = new HashThread();
  private readonly volumeHasher = new HashThread();
  private volumeHash = 0;
  private volumeDigest: string | null = null;
  private readonly slots: Slot[] = [];
  private readonly free: number[] = [];
  private readonly inputs: Slot[] = Array.from({ length: INPUT_BUFFERS }, () => slot(INPUT_BUFFER_BYTES));
  private readonly inputFree: number[] = [3, 2, 1, 0];
  private current = -1;
  private fill = 0;
  /** Hash ops on the bytes of the current output buffer, posted with it. */
  private slotOps: number[] = [];
  private inFlight = 0;
  private nextId = 1;
  private readonly checks = new Map<number, DigestCheck>();
  private error: unknown = null;
  private result: { size: number } | null = null;
  private wake: (() => void) | null = null;
  private path = '';
  private file = '';
  private limit = 0;

  constructor() {
    this.output.listen((m) => this.onOutput(m));
    this.hasher.listen((m) => this.onHash(m));
    this.volumeHasher.listen((m) => this.onHash(m));
  }

  /** Start a volume file. */
  open(path: string, file: string, limit: number): void {
    this.path = path;
    this.file = file;
    this.limit = limit;
    this.bytes = 0;
    this.result = null;
    this.volumeDigest = null;
    this.output.post({ op: 'open', path });
    this.volumeHash = this.nextId++;
    this.volumeHasher.post({ op: 'hash', sab: null, ops: [HASH_BEGIN, this.volumeHash, 0, 0], token: null });
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

  /** A new hash on the hashing thread; `stored`: its bytes are in the output buffers (ops
   *  travel with them), else in input buffers (ops go at once). */
  beginHash(stored: boolean): number {
    const id = this.nextId++;
    this.hashOp(stored, HASH_BEGIN, id, 0, 0);
    return id;
  }

  /** The hash is complete: `check` gets its hex digest and says whether that is a failure. */
  endHash(stored: boolean, id: number, check: DigestCheck): void {
    this.checks.set(id, check);
    this.hashOp(stored, HASH_END, id, 0, 0);
  }

  /** Hash `region`, a part of the current output buffer (from FrameEncoder.reserveStored or
   *  space()), into each of `ids`. */
  hashStored(ids: readonly number[], region: Buffer): void {
    for (const id of ids) this.slotOps.push(HASH_UPDATE, id, region.byteOffset, region.length);
  }

  /** A free input buffer (waits for the hashing thread to release one). */
  async input(): Promise<{ index: number; buf: Buffer }> {
    while (this.error === null && this.inputFree.length === 0) await this.next();
    if (this.error !== null) throw this.error;
    const index = this.inputFree.pop()!;
    this.inputs[index]!.refs = 1;
    return { index, buf: this.inputs[index]!.buf };
  }

  /** The first n bytes of input buffer `index` were handed to zstd: hash them into `ids`,
   *  then release the buffer. */
  hashInput(index: number, n: number, ids: readonly number[]): void {
    const ops: number[] = [];
    for (const id of ids) ops.push(HASH_UPDATE, id, 0, n);
    this.hasher.post({ op: 'hash', sab: this.inputs[index]!.sab, ops, token: -(index + 1) });
  }

  /** Backpressure: resolves once few enough buffers are queued; throws a thread's failure or a
   *  digest mismatch as soon as it is known. */
  async room(): Promise<void> {
    while (this.error === null && this.inFlight >= MAX_OUTPUT_BUFFERS_QUEUED) await this.next();
    if (this.error !== null) throw this.error;
  }

  /** Flush, wait for every digest asked for so far, close the file; returns its sha256 and size. */
  async close(): Promise<{ sha256: string; size: number }> {
    this.rotate();
    this.flushOps();
    this.checks.set(this.volumeHash, (hex) => {
      this.volumeDigest = hex;
      return null;
    });
    this.volumeHasher.post({ op: 'hash', sab: null, ops: [HASH_END, this.volumeHash, 0, 0], token: null });
    while (this.error === null && (this.inFlight > 0 || this.checks.size > 0)) await this.next();
    if (this.error !== null) throw this.error;
    this.free.push(this.current);
    this.current = -1;
    this.output.post({ op: 'close', abort: false });
    while (this.error === null && this.result === null) await this.next();
    if (this.error !== null) throw this.error;
    return { sha256: this.volumeDigest!, size: this.result!.size };
  }

  /** After a failure: wait for queued writes and close the file (the caller removes it). */
  async abort(): Promise<void> {
    while (this.error === null && this.inFlight > 0) await this.next();
    if (this.error === null) {
      this.output.post({ op: 'close', abort: true });
      while (this.error === null && this.result === null) await this.next();
    }
  }

  async stop(): Promise<void> {
    await Promise.all([this.output.stop(), this.hasher.stop(), this.volumeHasher.stop()]);
  }

  private hashOp(stored: boolean, kind: number, id: number, start: number, length: number): void {
    if (stored) this.slotOps.push(kind, id, start, length);
    else this.hasher.post({ op: 'hash', sab: null, ops: [kind, id, start, length], token: null });
  }

  private takeSlot(): number {
    const i = this.free.pop();
    if (i !== undefined) return i;
    // All buffers queued (an MT frame end can flush several jobs at once): add one.
    this.slots.push(slot(OUTPUT_BUFFER_BYTES));
    return this.slots.length - 1;
  }

  /** Ops without bytes of their own (a hash ended in a buffer already sent). */
  private flushOps(): void {
    if (this.slotOps.length === 0) return;
    this.hasher.post({ op: 'hash', sab: null, ops: this.slotOps, token: null });
    this.slotOps = [];
  }

  private rotate(): void {
    if (this.fill === 0) return;
    const s = this.slots[this.current]!;
    this.output.post({ op: 'write', slot: this.current, sab: s.sab, len: this.fill });
    this.volumeHasher.post({ op: 'hash', sab: s.sab, ops: [HASH_UPDATE, this.volumeHash, 0, this.fill], token: this.current });
    s.refs = 2;
    if (this.slotOps.length) {
      this.hasher.post({ op: 'hash', sab: s.sab, ops: this.slotOps, token: this.current });
      this.slotOps = [];
      s.refs++;
    }
    this.inFlight++;
    this.fill = 0;
    this.current = this.takeSlot();
  }

  private release(index: number): void {
    const s = this.slots[index]!;
    if (--s.refs === 0) {
      this.inFlight--;
      this.free.push(index);
    }
  }

  private onOutput(m: OutputReply): void {
    if (m.op === 'written') {
      this.release(m.slot);
    } else if (m.op === 'opened') {
      // nothing to do: a failed open arrives as an error
    } else if (m.op === 'closed') {
      this.result = { size: m.size };
    } else {
      const e = Object.assign(new Error(m.message), { code: m.code, path: m.path });
      const fe = m.code ? toFerryError(e) : null;
      this.error ??= fe && fe.code !== 'INTERNAL' && fe.code !== 'INPUT_NOT_FOUND' ? fe : new FerryError('TARGET_ERROR', `cannot write ${this.path}: ${m.message}`, { file: this.file });
    }
    this.poke();
  }

  private onHash(m: HashReply): void {
    if (m.op === 'hashed') {
      if (m.token >= 0) this.release(m.token);
      else this.inputFree.push(-m.token - 1);
    } else if (m.op === 'digest') {
      const check = this.checks.get(m.id);
      this.checks.delete(m.id);
      const failure = check?.(m.hex) ?? null;
      if (failure) this.error ??= failure;
    } else {
      this.error ??= new FerryError('INTERNAL', `blob hashing thread failed: ${m.message}`);
    }
    this.poke();
  }

  private poke(): void {
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
