// A blob split across volumes, reassembled in Ferry's area of the target where it will land
// (`.ferry/partial/`), over as many runs as it takes. Each segment arrives verified against its
// own digest (the volume reader checks it), is written at its offset and flushed, and only then
// is recorded as done, so a bad segment never counts and a good copy of its volume later simply
// rewrites it. The partial file is keyed by the blob and by the exact segment layout: two
// bundles that split the same blob at other boundaries never share (or poison) partial state.
// If the whole blob still does not verify once every segment is in (a power cut lost data that
// was recorded), each recorded segment is re-checked and only the bad ones are dropped.

import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FerryError, VerifyingStream, digestHex, isFerryError, type BlobSegment, type BundleBlob } from '@ferry/format-spec';
import { checkRegularFile, noFollowReadStream, openNoFollow, overwriteStream, replaceFile, targetFsError, type FerryArea } from '@ferry/oci';

interface SegmentState {
  version: 1;
  digest: string;
  size: number;
  layout: string;
  done: number[];
}

const MAX_STATE_BYTES = 1 << 20;

/** Identifies the segment layout: offsets, sizes and digests. */
export function layoutKey(segments: readonly BlobSegment[]): string {
  const h = createHash('sha256');
  for (const s of segments) h.update(`${s.index}:${s.offset}:${s.size}:${s.digest};`);
  return h.digest('hex').slice(0, 16);
}

export class SegmentStore {
  readonly part: string;
  private readonly statePath: string;
  private readonly layout: string;
  private done = new Set<number>();

  constructor(private readonly area: FerryArea, readonly blob: BundleBlob) {
    if (!blob.segments) throw new FerryError('INTERNAL', `${blob.digest} is not split`);
    this.layout = layoutKey(blob.segments);
    this.part = join(area.partial, `${digestHex(blob.digest)}.${this.layout}`);
    this.statePath = `${this.part}.json`;
  }

  get segments(): readonly BlobSegment[] {
    return this.blob.segments!;
  }

  /** Read what earlier runs recorded (read-only). A record that does not fit is ignored. */
  async load(): Promise<void> {
    this.done = new Set();
    const partSize = await checkRegularFile(this.part, `partial blob ${this.blob.digest}`);
    const stateSize = await checkRegularFile(this.statePath, `partial blob state ${this.blob.digest}`);
    if (partSize === undefined || stateSize === undefined || stateSize > MAX_STATE_BYTES || partSize > this.blob.size) return;
    try {
      const s = JSON.parse(await readFile(this.statePath, 'utf8')) as SegmentState;
      if (s.version !== 1 || s.digest !== this.blob.digest || s.size !== this.blob.size || s.layout !== this.layout || !Array.isArray(s.done)) return;
      for (const i of s.done) if (this.segments.some((g) => g.index === i)) this.done.add(i);
    } catch {
      /* unreadable: start over */
    }
  }

  isDone(index: number): boolean {
    return this.done.has(index);
  }

  get complete(): boolean {
    return this.done.size === this.segments.length;
  }

  /** Segments still to bring. */
  missing(): BlobSegment[] {
    return this.segments.filter((s) => !this.done.has(s.index));
  }

  /** Write one (verified) segment's bytes at its offset; recorded only once all of it is on disk. */
  async write(seg: BlobSegment, data: Readable): Promise<void> {
    await this.ensurePart();
    try {
      await pipeline(data, overwriteStream(this.part, seg.offset, { flush: true }));
    } catch (e) {
      if (isFerryError(e)) throw e;
      throw targetFsError(e, this.part, `cannot write segment ${seg.index} of ${this.blob.digest}`);
    }
    this.done.add(seg.index);
    await this.saveState();
  }

  /**
   * The joined blob did not verify: check every recorded segment against its digest, forget the
   * bad ones (so the volumes holding them are asked for again), and return them.
   */
  async recheck(): Promise<BlobSegment[]> {
    const bad: BlobSegment[] = [];
    for (const seg of this.segments) {
      if (!this.done.has(seg.index)) continue;
      const ok = await pipeline(noFollowReadStream(this.part, { start: seg.offset, end: seg.offset + seg.size - 1 }), new VerifyingStream(seg.digest, seg.size, { where: this.part }), new Writable({ write: (_c, _e, cb) => cb() })).then(
        () => true,
        (e: unknown) => {
          if (isFerryError(e, 'BLOB_MISMATCH')) return false;
          throw targetFsError(e, this.part, `cannot re-read partial blob ${this.blob.digest}`);
        },
      );
      if (!ok) {
        this.done.delete(seg.index);
        bad.push(seg);
      }
    }
    await this.saveState();
    return bad;
  }

  /** Remove the partial file and its record (the blob is in place, or they are useless). */
  async discard(): Promise<void> {
    await rm(this.part, { force: true });
    await rm(this.statePath, { force: true });
    this.done.clear();
  }

  private async ensurePart(): Promise<void> {
    // Created once, never truncated after: earlier runs' segments are in it.
    const fh = await openNoFollow(this.part, constants.O_WRONLY | constants.O_CREAT);
    await fh.close();
    await checkRegularFile(this.part, `partial blob ${this.blob.digest}`);
  }

  private async saveState(): Promise<void> {
    const state: SegmentState = { version: 1, digest: this.blob.digest, size: this.blob.size, layout: this.layout, done: [...this.done].sort((a, b) => a - b) };
    await replaceFile(this.area, this.statePath, Buffer.from(JSON.stringify(state)), { doing: `cannot record the progress of ${this.blob.digest}`, flush: true });
  }
}
