// A blob's bytes straight from the volumes: whole in one volume's `blobs/sha256/<hex>` entry, or
// as segments in several (`segments/sha256/<hex>.NNN`), each located by volume-index.ts and
// decoded by frames.ts. Open handles are shared per volume and capped (idle ones are closed
// first); so are the streams decoding at once, each holding a zstd window and a read chunk.
// Nothing here checks digests: verify-stream.ts does, on everything it sends.

import type { FileHandle } from 'node:fs/promises';
import { FerryError, blobEntryName, segmentEntryName, type BundleBlob } from '@ferry/format-spec';
import { decodeTarRange, openVolumeFile } from './frames.js';
import type { VolumeIndex } from './volume-index.js';

interface Piece {
  volume: number;
  entry: string;
  /** Offset of this piece inside the blob. */
  offset: number;
  size: number;
}

function piecesOf(b: BundleBlob): Piece[] {
  if (b.segments) return b.segments.map((s) => ({ volume: s.volume, entry: segmentEntryName(b.digest, s.index), offset: s.offset, size: s.size }));
  return [{ volume: b.volume!, entry: blobEntryName(b.digest), offset: 0, size: b.size }];
}

/** A counting semaphore: at most `n` holders, the rest wait in order. */
class Slots {
  private used = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly n: number) {}
  async take(): Promise<void> {
    if (this.used < this.n) {
      this.used++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  give(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.used--;
  }
}

interface Held {
  fh: Promise<FileHandle>;
  refs: number;
  lastUsed: number;
}

/** One read-only handle per volume, shared by every request reading it; at most `max` open. */
class HandlePool {
  private readonly open = new Map<number, Held>();
  private readonly slots: Slots;
  constructor(private readonly max: number) {
    this.slots = new Slots(max);
  }

  async acquire(vi: VolumeIndex): Promise<{ fh: FileHandle; release: () => void }> {
    let h = this.open.get(vi.index);
    if (!h) {
      // Over the cap: close an idle handle, else wait for a slot.
      if (this.open.size >= this.max) this.closeIdle();
      await this.slots.take();
      h = this.open.get(vi.index);
      if (h) this.slots.give(); // another request opened it meanwhile
      else {
        const fh = openVolumeFile(vi);
        h = { fh, refs: 0, lastUsed: Date.now() };
        this.open.set(vi.index, h);
        fh.catch(() => {
          this.open.delete(vi.index);
          this.slots.give();
        });
      }
    }
    h.refs++;
    const held = h;
    let fh: FileHandle;
    try {
      fh = await held.fh;
    } catch (e) {
      held.refs--;
      throw e;
    }
    let released = false;
    return {
      fh,
      release: () => {
        if (released) return;
        released = true;
        held.refs--;
        held.lastUsed = Date.now();
        if (this.open.size > this.max / 2) this.closeIdle();
      },
    };
  }

  private closeIdle(): void {
    const idle = [...this.open].filter(([, h]) => h.refs === 0).sort(([, a], [, b]) => a.lastUsed - b.lastUsed)[0];
    if (!idle) return;
    this.open.delete(idle[0]);
    void idle[1].fh.then((fh) => fh.close()).catch(() => undefined).finally(() => this.slots.give());
  }

  async closeAll(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    await Promise.all(all.map((h) => h.fh.then((fh) => fh.close()).catch(() => undefined)));
  }
}

export interface BlobReaderOptions {
  /** Most volume files open at once (default 32). */
  maxOpenFiles?: number;
  /** Most blob streams decoding at once (default 16); more requests wait their turn. */
  maxStreams?: number;
}

export class BlobReader {
  private readonly handles: HandlePool;
  private readonly streams: Slots;

  constructor(
    private readonly volumes: ReadonlyMap<number, VolumeIndex>,
    private readonly fileOf: (volume: number) => string,
    opts: BlobReaderOptions = {},
  ) {
    this.handles = new HandlePool(Math.max(1, opts.maxOpenFiles ?? 32));
    this.streams = new Slots(Math.max(1, opts.maxStreams ?? 16));
  }

  /** Volume files this blob needs that are not here (empty: it can be read). */
  missingVolumes(b: BundleBlob): string[] {
    return [...new Set(piecesOf(b).filter((p) => !this.volumes.has(p.volume)).map((p) => this.fileOf(p.volume)))];
  }

  /** Bytes [start, end) of the blob, in order. Throws VOLUME_MISSING if a volume is not here. */
  async *read(b: BundleBlob, start = 0, end = b.size): AsyncGenerator<Buffer> {
    const missing = this.missingVolumes(b);
    if (missing.length) throw new FerryError('VOLUME_MISSING', `${b.digest} needs ${missing.join(', ')}, not here`, { digest: b.digest });
    if (end <= start) return;
    await this.streams.take();
    try {
      for (const p of piecesOf(b)) {
        const from = Math.max(start, p.offset);
        const to = Math.min(end, p.offset + p.size);
        if (from >= to) continue;
        const vi = this.volumes.get(p.volume)!;
        const e = vi.entries.get(p.entry);
        if (!e || e.size !== p.size) throw new FerryError('INTERNAL', `${p.entry} is not indexed in ${vi.file}`);
        const { fh, release } = await this.handles.acquire(vi);
        try {
          yield* decodeTarRange(fh, vi, e.dataStart + (from - p.offset), e.dataStart + (to - p.offset));
        } finally {
          release();
        }
      }
    } finally {
      this.streams.give();
    }
  }

  close(): Promise<void> {
    return this.handles.closeAll();
  }
}
