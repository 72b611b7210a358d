// Blobs requested ahead of the volume writer, so a registry round trip (and the first bytes)
// overlap the blob being written instead of following it.

import { Readable } from 'node:stream';
import type { BlobInput, BundleBlob } from '@ferry/format-spec';

/** Blobs requested ahead of the writer: a registry round trip (and the first bytes) overlap the
 *  blob being written instead of following it. Bounded: each holds a connection slot and at most
 *  one stream buffer. */
export const PREFETCH_BLOBS = 2;

/** T: a stream or a file (BlobInput); streams fetched early and not used are destroyed. */
export class Prefetcher<T extends BlobInput = BlobInput> {
  private readonly index = new Map<string, number>();
  private readonly early = new Map<string, Promise<T>>();
  private closed = false;

  constructor(private readonly order: readonly BundleBlob[], private readonly openOne: (b: BundleBlob) => Promise<T>, private readonly depth: number) {
    order.forEach((b, i) => this.index.set(b.digest, i));
  }

  open(b: BundleBlob): Promise<T> {
    const p = this.early.get(b.digest) ?? this.openOne(b);
    this.early.delete(b.digest);
    const i = this.index.get(b.digest) ?? -1;
    for (let k = 1; k <= this.depth && !this.closed; k++) {
      const next = this.order[i + k];
      if (!next || this.early.has(next.digest)) continue;
      const q = this.openOne(next);
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
}
