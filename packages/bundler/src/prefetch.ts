// Blobs requested ahead of the volume writer, so a registry round trip (and the first bytes)
// overlap the blob being written instead of following it; streams requested early can also read
// ahead into a bounded buffer, so the downloads of the next blobs (other images' layers) run in
// parallel with the writing, while the writer still takes every blob in plan order.

import { PassThrough, Readable, pipeline } from 'node:stream';
import type { BlobInput, BundleBlob } from '@ferry/format-spec';

/** Blobs requested ahead of the writer. Bounded: each holds a connection slot of its registry
 *  (the registry client's own per-registry limit applies too). */
export const PREFETCH_BLOBS = 2;
/** How far a blob requested early is downloaded before the writer takes it, in chunks as the
 *  source delivers them (socket reads: at most 64 KiB each). Off by default: from a loopback
 *  registry on 2 cores, 32 and 128 chunks of read-ahead with 3 blobs ahead made create 5–15%
 *  slower and 20–40 MiB larger than none (the registry and Ferry compete for the same CPUs; the
 *  extra stream hop costs CPU per chunk). It pays where each connection is slow (a WAN). */
export const READ_AHEAD_CHUNKS = 0;

/** T: a stream or a file (BlobInput); streams fetched early and not used are destroyed. */
export class Prefetcher<T extends BlobInput = BlobInput> {
  private readonly index = new Map<string, number>();
  private readonly early = new Map<string, Promise<T>>();
  private closed = false;

  constructor(
    private readonly order: readonly BundleBlob[],
    private readonly openOne: (b: BundleBlob) => Promise<T>,
    private readonly depth: number,
    /** Chunks an early stream reads ahead (0: only what the stream itself buffers). */
    private readonly readAhead = 0,
  ) {
    order.forEach((b, i) => this.index.set(b.digest, i));
  }

  open(b: BundleBlob): Promise<T> {
    const p = this.early.get(b.digest) ?? this.openOne(b);
    this.early.delete(b.digest);
    const i = this.index.get(b.digest) ?? -1;
    for (let k = 1; k <= this.depth && !this.closed; k++) {
      const next = this.order[i + k];
      if (!next || this.early.has(next.digest)) continue;
      const q = this.openOne(next).then((s) => this.ahead(s));
      // Until the writer takes it, an early failure must not surface as an unhandled error;
      // it is reported when the writer awaits and reads this stream.
      q.then((s) => (s instanceof Readable ? s.on('error', () => {}) : undefined), () => {});
      this.early.set(next.digest, q);
    }
    return p;
  }

  /** Drop what was fetched early and not used (the write failed or finished). */
  close(): void {
    this.closed = true;
    for (const q of this.early.values()) q.then((s) => (s instanceof Readable ? s.destroy() : undefined), () => {});
    this.early.clear();
  }

  /** An early stream, read into a buffer of readAhead chunks now; its errors pass through. The
   *  buffer hands the chunks on one by one as they came (a byte-mode buffer would concatenate
   *  everything buffered into one new Buffer on every read: megabytes copied per read). */
  private ahead(s: T): T {
    if (this.readAhead <= 0 || !(s instanceof Readable)) return s;
    const buffer = new PassThrough({ readableObjectMode: true, readableHighWaterMark: this.readAhead, writableHighWaterMark: 1 << 20 });
    pipeline(s, buffer, () => {
      /* an error reaches the reader of `buffer`, which pipeline destroys with it */
    });
    return buffer as unknown as T;
  }
}
