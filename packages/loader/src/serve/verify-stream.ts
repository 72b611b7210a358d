// No client receives a whole blob that does not match its digest. The policy (docs/operator.md):
// - a full GET is hashed as it streams, and its last chunk is held back until the digest and
//   size match; on a mismatch the connection is destroyed, so the client has fewer bytes than
//   Content-Length announced and fails (it never sees a complete wrong blob);
// - a Range GET is served only from a blob verified whole before: the first such request
//   streams the whole blob through the hash without sending it (once, shared by concurrent
//   requests), then serves the range;
// - verified and failed digests are remembered (bounded) for as long as the server runs; the
//   volumes' identity is checked on every open (frames.ts), so a result holds for the same file.

import { createHash } from 'node:crypto';
import { FerryError, type BundleBlob } from '@ferry/format-spec';

/** Insertion-ordered set with a cap: the oldest entry goes first. */
class BoundedMap<V> {
  private readonly m = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(k: string): V | undefined {
    return this.m.get(k);
  }
  set(k: string, v: V): void {
    this.m.delete(k);
    this.m.set(k, v);
    if (this.m.size > this.max) this.m.delete(this.m.keys().next().value!);
  }
  delete(k: string): void {
    this.m.delete(k);
  }
}

export class VerifiedBlobs {
  private readonly verified: BoundedMap<true>;
  private readonly failed: BoundedMap<string>;
  private readonly inflight = new Map<string, Promise<void>>();

  constructor(maxEntries = 100_000) {
    this.verified = new BoundedMap(maxEntries);
    this.failed = new BoundedMap(maxEntries);
  }

  isVerified(digest: string): boolean {
    return this.verified.get(digest) === true;
  }

  /** Why this blob failed verification before, if it did. */
  failure(digest: string): string | undefined {
    return this.failed.get(digest);
  }

  /** `src` (the blob's bytes, in order) passed on one chunk late, the last only once it verified. */
  async *stream(b: BundleBlob, src: AsyncIterable<Buffer>, where: string): AsyncGenerator<Buffer> {
    const hash = createHash('sha256');
    let seen = 0;
    let held: Buffer | undefined;
    try {
      for await (const c of src) {
        seen += c.length;
        if (seen > b.size) throw new FerryError('BLOB_MISMATCH', `${b.digest} in ${where}: more than its ${b.size} bytes`, { digest: b.digest });
        hash.update(c);
        if (held) yield held;
        held = c;
      }
      if (seen !== b.size) throw new FerryError('BLOB_MISMATCH', `${b.digest} in ${where}: ${seen} bytes, expected ${b.size}`, { digest: b.digest });
      const got = `sha256:${hash.digest('hex')}`;
      if (got !== b.digest) throw new FerryError('BLOB_MISMATCH', `${b.digest} in ${where}: content hashes to ${got}; damaged or tampered, not served`, { digest: b.digest, actual: got });
    } catch (e) {
      // Damage, not a client going away: remember it so later requests are refused up front.
      if (e instanceof FerryError && (e.code === 'BLOB_MISMATCH' || e.code === 'ARCHIVE_CORRUPT')) this.failed.set(b.digest, e.message);
      throw e;
    }
    this.verified.set(b.digest, true);
    this.failed.delete(b.digest);
    if (held) yield held;
  }

  /** Verify the whole blob without sending it (once, however many requests wait for it). */
  verifyWhole(b: BundleBlob, open: () => AsyncIterable<Buffer>, where: string): Promise<void> {
    if (this.isVerified(b.digest)) return Promise.resolve();
    let p = this.inflight.get(b.digest);
    if (!p) {
      p = (async () => {
        for await (const _ of this.stream(b, open(), where)) void _;
      })().finally(() => this.inflight.delete(b.digest));
      this.inflight.set(b.digest, p);
    }
    return p;
  }
}
