// Volume planning: which blob (or which segment of a blob) goes into which volume. The bound
// arithmetic (what an entry costs on disk) is plan.ts's; this module only packs.
//
// Packing fills the media. The format (docs/format.md §4.1, §4.2) fixes what this may change
// and what it may not:
// - a volume's entries are written in the manifest's `blobs` order (children before parents);
//   the plan keeps that order and only chooses volume numbers, so every volume's write order is
//   still children first, whatever volume each blob lands in;
// - segments of a split blob sit in strictly rising volumes, contiguous from offset 0;
// - volumes are read in any order (the loader stages a manifest until its children are there),
//   so a manifest may sit in an earlier volume than its layers.
//
// Two passes:
// 1. Pieces that are not worth splitting — manifests, indexes, configs, keys, and any blob under
//    SPLIT_MIN_BYTES — are packed first-fit decreasing, whole.
// 2. Every other blob, largest first, goes whole into the first volume with room for it. When no
//    volume has room, it is split — it fills the rest of existing volumes (in rising order, none
//    smaller than MIN_SEGMENT_BYTES) and continues into new ones — if it is larger than a volume,
//    or if the gaps can take all that is still to place (then the split saves a volume);
//    otherwise it starts a new volume whole.
// So a bundle takes as many volumes as its bytes need, unless its unsplittable pieces alone
// cannot be packed tighter. A split blob is read twice while bundling (hashSegments), which is
// why a blob that fits a gap whole is never split.

import type { BlobKind, PlannedBlob, PlannedSegment } from './manifest-types.js';
import { digestHex } from './digest.js';
import { FerryError } from './errors.js';
import { formatSize } from './sizes.js';
import { MAX_VOLUMES, MIN_SEGMENT_BYTES, blobEntryBound, fixedVolumeBound, largestFit } from './plan.js';

/** Blobs smaller than this are never split (unless larger than a volume): the room they would
 *  fill is small, and a split blob costs a second read. */
export const SPLIT_MIN_BYTES = 64 * 1024;

/** Kinds kept whole (when they fit a volume): small, and what a reader parses. */
const WHOLE_KINDS: ReadonlySet<BlobKind> = new Set<BlobKind>(['index', 'manifest', 'config', 'key']);

export interface PlanInput {
  digest: string;
  size: number;
  mediaType: string;
  kind: BlobKind;
}

export interface PlanOptions {
  /** Largest compressed volume file, in bytes. */
  volumeSize: number;
  /** Total content bytes of the header entries every volume carries (manifest, signature,
   *  oci-layout, index.json); tar and zstd overhead for them is added here. */
  headerReserve: number;
}

export interface VolumePlan {
  /** In input (write) order. Segments carry no digest yet: hashSegments() adds them before the
   *  manifest is written. */
  blobs: PlannedBlob[];
  volumeCount: number;
}

/** Largest blob a single volume can hold whole, for these options. */
export function volumeCapacity(opts: PlanOptions): number {
  return largestFit(opts.volumeSize - fixedVolumeBound(opts.headerReserve));
}

/** Whether a blob of this kind and size is packed whole (pass 1). */
export function keptWhole(b: Pick<PlanInput, 'kind' | 'size'>, capacity: number): boolean {
  return b.size <= capacity && (WHOLE_KINDS.has(b.kind) || b.size < SPLIT_MIN_BYTES);
}

/**
 * Assign blobs to volumes (see the file comment). The returned `blobs` keep the input order,
 * which is the write order inside each volume.
 */
export function planVolumes(input: readonly PlanInput[], opts: PlanOptions): VolumePlan {
  const { volumeSize, headerReserve } = opts;
  if (!Number.isSafeInteger(volumeSize) || volumeSize <= 0) throw new FerryError('USAGE', `volume size must be a positive whole number of bytes, got ${volumeSize}`);
  if (!Number.isSafeInteger(headerReserve) || headerReserve < 0) throw new FerryError('INTERNAL', `planVolumes: headerReserve must be a whole number ≥ 0, got ${headerReserve}`);
  const emptyRoom = volumeSize - fixedVolumeBound(headerReserve);
  const capacity = largestFit(emptyRoom);
  if (capacity < MIN_SEGMENT_BYTES) {
    const needed = fixedVolumeBound(headerReserve) + blobEntryBound(MIN_SEGMENT_BYTES);
    throw new FerryError(
      'USAGE',
      `volume size ${formatSize(volumeSize)} is too small: every volume repeats the manifest, signature, oci-layout and index.json (${formatSize(headerReserve)} here) and would have no room left for blob data; use at least ${formatSize(needed)}`,
      { volumeSize, minimum: needed },
    );
  }

  const seen = new Set<string>();
  for (const b of input) {
    digestHex(b.digest);
    if (!Number.isSafeInteger(b.size) || b.size < 0) throw new FerryError('INTERNAL', `planVolumes: bad size ${b.size} for ${b.digest}`);
    if (seen.has(b.digest)) throw new FerryError('INTERNAL', `planVolumes: ${b.digest} listed twice; every blob is carried once`);
    seen.add(b.digest);
  }

  /** Room left in each volume; rooms[i] is volume i + 1. */
  const rooms: number[] = [];
  const openVolume = (): number => {
    if (rooms.length >= MAX_VOLUMES) throw new FerryError('USAGE', `the bundle needs more than ${MAX_VOLUMES} volumes of ${formatSize(volumeSize)}; use a larger --volume-size`, { volumeSize });
    rooms.push(emptyRoom);
    return rooms.length - 1;
  };
  /** First volume (from `from`) with room for a whole entry of this bound, opened if none. */
  const firstFit = (bound: number, from = 0): number => {
    for (let i = from; i < rooms.length; i++) if (rooms[i]! >= bound) return i;
    return openVolume();
  };

  const placed = new Map<string, { volume: number } | { segments: PlannedSegment[] }>();
  // Largest first; ties keep the input order, so the plan is deterministic.
  const order = input.map((b, i) => ({ b, i, bound: blobEntryBound(b.size) })).sort((x, y) => y.bound - x.bound || x.i - y.i);
  const whole = order.filter((x) => keptWhole(x.b, capacity));
  const rest = order.filter((x) => !keptWhole(x.b, capacity));

  for (const { b, bound } of whole) {
    const v = firstFit(bound);
    rooms[v]! -= bound;
    placed.set(b.digest, { volume: v + 1 });
  }

  /** Bytes the gaps of the existing volumes could still take as segments. */
  const usableGaps = (): number => rooms.reduce((n, r) => {
    const fit = largestFit(r);
    return fit >= MIN_SEGMENT_BYTES ? n + fit : n;
  }, 0);
  let restBytes = rest.reduce((n, x) => n + x.b.size, 0);
  for (const { b, bound } of rest) {
    const left = restBytes;
    restBytes -= b.size;
    if (b.size <= capacity) {
      const v = rooms.findIndex((r) => r >= bound);
      if (v !== -1) {
        rooms[v]! -= bound;
        placed.set(b.digest, { volume: v + 1 });
        continue;
      }
      // No gap takes it whole. Splitting it into the gaps saves a volume only if the gaps can
      // take everything still to place; otherwise a new volume is needed anyway, and the blob
      // goes there whole (a split blob is read twice).
      if (left > usableGaps()) {
        const nv = openVolume();
        rooms[nv]! -= bound;
        placed.set(b.digest, { volume: nv + 1 });
        continue;
      }
    }
    // Split: fill what is left of the existing volumes in rising order, then new volumes.
    const segments: PlannedSegment[] = [];
    let offset = 0;
    let v = 0;
    while (offset < b.size) {
      if (v >= rooms.length) openVolume();
      const left = b.size - offset;
      const fit = largestFit(rooms[v]!);
      const size = Math.min(left, fit);
      // Not worth a segment here (or no room at all): try the next volume.
      if (size < Math.min(left, MIN_SEGMENT_BYTES) || size <= 0) {
        if (rooms[v] === emptyRoom) throw new FerryError('INTERNAL', `planVolumes: no progress splitting ${b.digest}`);
        v++;
        continue;
      }
      segments.push({ volume: v + 1, index: segments.length + 1, offset, size });
      rooms[v]! -= blobEntryBound(size);
      offset += size;
      v++;
    }
    // A blob that fits no gap whole but whose split came out as one piece (it went into a new
    // volume) is whole there.
    placed.set(b.digest, segments.length === 1 ? { volume: segments[0]!.volume } : { segments });
  }

  const blobs: PlannedBlob[] = input.map((b) => ({ digest: b.digest, size: b.size, mediaType: b.mediaType, kind: b.kind, ...placed.get(b.digest)! }));
  return { blobs, volumeCount: Math.max(1, rooms.length) };
}
