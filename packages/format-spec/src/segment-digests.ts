// Segment digests for blobs larger than a volume. The manifest, which records every segment's
// sha256, is written into each volume before any blob streams, so a split blob is read once
// beforehand: its segment ranges hashed in one streaming pass, its whole digest checked at the
// same time. Only blobs larger than a volume pay for this second read.

import { createHash, type Hash } from 'node:crypto';
import { pipeline, type Readable } from 'node:stream';
import { VerifyingStream } from './digest.js';
import { FerryError } from './errors.js';
import type { BlobSegment, BundleBlob, PlannedBlob, PlannedSegment } from './manifest-types.js';

export interface HashSegmentsOptions {
  signal?: AbortSignal;
  /** Bytes hashed so far, out of the total size of the split blobs. */
  onProgress?: (bytes: number, total: number) => void;
}

/** Where a segment of a split blob is, for messages: "segment 2 of 4 of sha256:… (bytes a..b)". */
export function segmentLabel(blob: { digest: string; segments?: readonly PlannedSegment[] }, s: PlannedSegment): string {
  return `segment ${s.index} of ${blob.segments?.length ?? '?'} of ${blob.digest} (bytes ${s.offset}..${s.offset + s.size})`;
}

/**
 * The plan with a sha256 on every segment, computed from each split blob's source (opened once
 * per split blob, read in order). The source must hash to the blob digest, else BLOB_MISMATCH.
 */
export async function hashSegments(blobs: readonly PlannedBlob[], openBlob: (blob: PlannedBlob) => Promise<Readable>, opts: HashSegmentsOptions = {}): Promise<BundleBlob[]> {
  const total = blobs.reduce((n, b) => n + (b.segments ? b.size : 0), 0);
  let done = 0;
  const out: BundleBlob[] = [];
  for (const b of blobs) {
    const { segments, ...whole } = b;
    if (!segments) {
      out.push(whole);
      continue;
    }
    opts.signal?.throwIfAborted();
    const source = await openBlob(b);
    const verifier = new VerifyingStream(b.digest, b.size, { where: 'the blob source' });
    pipeline(source, verifier, () => {
      /* errors reach the reader of `verifier` */
    });
    const onAbort = (): void => {
      verifier.destroy(opts.signal?.reason instanceof Error ? opts.signal.reason : new FerryError('INTERNAL', 'aborted'));
    };
    opts.signal?.addEventListener('abort', onAbort);
    const hashed: BlobSegment[] = [];
    try {
      let k = 0;
      let left = segments[0]!.size;
      let hash: Hash = createHash('sha256');
      const close = (): void => {
        hashed.push({ ...segments[k]!, digest: 'sha256:' + hash.digest('hex') });
        k++;
        if (k < segments.length) {
          left = segments[k]!.size;
          hash = createHash('sha256');
        }
      };
      for await (const chunk of verifier) {
        let c = chunk as Buffer;
        done += c.length;
        while (c.length) {
          // VerifyingStream refuses bytes past the blob size, and the segments add up to it.
          if (k >= segments.length) throw new FerryError('INTERNAL', `hashSegments: ${b.digest} has more bytes than its segments`);
          const n = Math.min(left, c.length);
          hash.update(n === c.length ? c : c.subarray(0, n));
          c = c.subarray(n);
          left -= n;
          if (left === 0) close();
        }
        opts.onProgress?.(done, total);
      }
      // The loop ends only after VerifyingStream checked the size and digest of the whole blob.
      if (hashed.length !== segments.length) throw new FerryError('INTERNAL', `hashSegments: ${b.digest} ended inside segment ${k + 1}`);
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      source.destroy();
    }
    out.push({ ...whole, segments: hashed });
  }
  return out;
}
