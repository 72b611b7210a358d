// Volume planning and the exact byte layout it implies. Writer and reader both derive a
// volume's entries, tar offsets and zstd frames from here, so the three cannot drift apart.

import type { BundleBlob, PlannedBlob } from './manifest-types.js';
import { digestHex, isSha256Digest } from './digest.js';
import { FerryError } from './errors.js';

export const TAR_BLOCK = 512;
/** tar-stream's pack ends an archive with two zero blocks. */
export const TAR_END_BYTES = 1024;
/** At most this many uncompressed bytes per zstd frame (the seekable format allows up to
 *  1 GiB). Long entries are cut here so a reader can seek inside a large layer. Every frame end
 *  makes multi-threaded zstd wait for its last job, so frames are kept large: 256 MiB beat
 *  64 MiB with 2 workers on compressible data in (noisy) measurements on the 2-core machine. */
export const FRAME_MAX_BYTES = 256 * 1024 * 1024;
/** Header entries per volume: manifest, signature, oci-layout, index.json. */
export const MAX_HEADER_ENTRIES = 4;
/** Header entry names longer than this are refused, which keeps a pax record in one block. */
export const MAX_HEADER_NAME_BYTES = 255;
/** The planner does not cut a segment smaller than this off the end of a volume. */
export const MIN_SEGMENT_BYTES = 4096;
export const MAX_VOLUMES = 999;

// zstd bound, per frame: header ≤ 18 bytes (magic 4, descriptor 1, window 1, content size 8,
// no dictionary) + content checksum 4. libzstd stores a block raw whenever compressing does
// not shrink it, so each block costs at most its content + a 3-byte header. Blocks hold up to
// 128 KiB; we count one block per 32 KiB (room for the multi-threaded job cuts and the high-
// level block splitter) plus one possibly empty last block. Each frame also costs a 12-byte
// seek-table entry. The writer measures every volume and fails if this is ever exceeded.
const FRAME_FIXED_BYTES = 18 + 4;
const BLOCK_HEADER_BYTES = 3;
const BLOCK_ACCOUNTING_BYTES = 32 * 1024;
export const SEEK_ENTRY_BYTES = 12;
/** Skippable frame header (magic + size) and the 9-byte seek-table footer. */
export const SEEK_TABLE_FIXED_BYTES = 8 + 9;
/** Room for being wrong by a little in the reasoning above; the writer still asserts. */
const SLACK_BYTES = 4096;

const pad3 = (n: number): string => String(n).padStart(3, '0');
const roundUp = (n: number, to: number): number => Math.ceil(n / to) * to;

export function blobEntryName(digest: string): string {
  return `blobs/sha256/${digestHex(digest)}`;
}

export function segmentEntryName(digest: string, index: number): string {
  return `segments/sha256/${digestHex(digest)}.${pad3(index)}`;
}

export function volumeFileName(name: string, index: number): string {
  return `${name}-${pad3(index)}.tar.zst`;
}

/** The pax record tar-stream writes for a name that ustar cannot hold ("<len> path=<name>\n"). */
function paxRecordBytes(name: string): number {
  const len = Buffer.byteLength(` path=${name}\n`);
  let digits = Math.floor(Math.log10(len)) + 1;
  if (len + digits >= 10 ** digits) digits++;
  return len + digits;
}

/** Does tar-stream's ustar encoder take this name without a pax header? (Mirrors headers.encode.) */
function fitsUstar(name: string): boolean {
  if (Buffer.byteLength(name) !== name.length) return false; // non-ASCII goes to pax
  let rest = name;
  let prefix = '';
  while (rest.length > 100) {
    const i = rest.indexOf('/');
    if (i === -1) return false;
    prefix += prefix ? '/' + rest.slice(0, i) : rest.slice(0, i);
    rest = rest.slice(i + 1);
  }
  return rest.length <= 100 && prefix.length <= 155;
}

/** Bytes of tar header for an entry: one block, or pax header + pax record + header. */
export function tarHeaderBytes(name: string): number {
  return fitsUstar(name) ? TAR_BLOCK : TAR_BLOCK + roundUp(paxRecordBytes(name), TAR_BLOCK) + TAR_BLOCK;
}

/** Whether tar-stream writes a pax header (path only) for this name. */
export function needsPaxHeader(name: string): boolean {
  return !fitsUstar(name);
}

export interface VolumeEntry {
  name: string;
  size: number;
}

export interface LaidOutEntry extends VolumeEntry {
  /** Offset of the first header block (pax header included) in the tar stream. */
  headerStart: number;
  /** Offset of the entry's content. */
  dataStart: number;
  /** Offset just past the content's padding: where the next entry starts. */
  end: number;
}

export interface TarLayout {
  entries: LaidOutEntry[];
  /** Where the end-of-archive blocks start. */
  entriesEnd: number;
  /** Whole tar stream, end-of-archive blocks included. */
  tarSize: number;
}

/** Exact tar offsets of `entries` as tar-stream's pack writes them. */
export function tarLayout(entries: readonly VolumeEntry[]): TarLayout {
  let at = 0;
  const out: LaidOutEntry[] = [];
  for (const e of entries) {
    const dataStart = at + tarHeaderBytes(e.name);
    const end = dataStart + roundUp(e.size, TAR_BLOCK);
    out.push({ name: e.name, size: e.size, headerStart: at, dataStart, end });
    at = end;
  }
  return { entries: out, entriesEnd: at, tarSize: at + TAR_END_BYTES };
}

/** Uncompressed size of each zstd frame: a frame per entry (cut every FRAME_MAX_BYTES), then
 *  one for the end-of-archive blocks. */
export function frameSizes(layout: TarLayout, frameMax = FRAME_MAX_BYTES): number[] {
  const frames: number[] = [];
  for (const e of layout.entries) {
    for (let left = e.end - e.headerStart; left > 0; left -= frameMax) frames.push(Math.min(left, frameMax));
  }
  frames.push(TAR_END_BYTES);
  return frames;
}

/** Most bytes one frame of `n` uncompressed bytes can take on disk, its seek-table entry included. */
export function frameBound(n: number): number {
  return n + FRAME_FIXED_BYTES + SEEK_ENTRY_BYTES + BLOCK_HEADER_BYTES * (Math.ceil(n / BLOCK_ACCOUNTING_BYTES) + 1);
}

/** frameBound summed over the frames a run of `tarBytes` (one entry) is cut into. */
function runBound(tarBytes: number): number {
  const full = Math.floor(tarBytes / FRAME_MAX_BYTES);
  const rem = tarBytes % FRAME_MAX_BYTES;
  return full * frameBound(FRAME_MAX_BYTES) + (rem > 0 ? frameBound(rem) : 0);
}

/** Most bytes a compressed volume holding exactly these entries can take. The writer checks
 *  every volume against this before writing and against volumeSize after. */
export function volumeSizeBound(entries: readonly VolumeEntry[], frameMax = FRAME_MAX_BYTES): number {
  const frames = frameSizes(tarLayout(entries), frameMax);
  return frames.reduce((n, f) => n + frameBound(f), 0) + SEEK_TABLE_FIXED_BYTES + SLACK_BYTES;
}

/** Bound for one blob entry (names are blobs/… or segments/…: always one ustar block). */
export function blobEntryBound(size: number): number {
  return runBound(TAR_BLOCK + roundUp(size, TAR_BLOCK));
}

/** Bound for the header entries when only their total content size is known: each may need a
 *  pax header for a long name, and each starts its own frame. */
function headerBound(headerReserve: number): number {
  const perEntryTar = TAR_BLOCK + roundUp(paxRecordBytes('x'.repeat(MAX_HEADER_NAME_BYTES)), TAR_BLOCK) + TAR_BLOCK + (TAR_BLOCK - 1);
  const extraFrames = MAX_HEADER_ENTRIES - 1;
  return runBound(headerReserve + MAX_HEADER_ENTRIES * perEntryTar) + extraFrames * frameBound(0) + extraFrames * BLOCK_HEADER_BYTES;
}

/** Bytes every volume spends besides blob entries. */
export function fixedVolumeBound(headerReserve: number): number {
  return headerBound(headerReserve) + frameBound(TAR_END_BYTES) + SEEK_TABLE_FIXED_BYTES + SLACK_BYTES;
}

/** Largest blob or segment size whose entry fits in `room` bytes (-1 when not even an empty one). */
export function largestFit(room: number): number {
  if (blobEntryBound(0) > room) return -1;
  let lo = 0;
  let hi = room;
  while (lo < hi) {
    const mid = Math.floor((lo + hi + 1) / 2);
    if (blobEntryBound(mid) <= room) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

export interface VolumePiece<B extends PlannedBlob = BundleBlob> {
  /** Tar entry name: blobs/sha256/<hex> or segments/sha256/<hex>.<NNN>. */
  name: string;
  size: number;
  blob: B;
  segment?: NonNullable<B['segments']>[number];
}

/** The blob entries of one volume, in write order. */
export function volumePieces<B extends PlannedBlob>(blobs: readonly B[], volume: number): VolumePiece<B>[] {
  const out: VolumePiece<B>[] = [];
  for (const blob of blobs) {
    if (blob.segments) {
      for (const segment of blob.segments as NonNullable<B['segments']>) {
        if (segment.volume === volume) out.push({ name: segmentEntryName(blob.digest, segment.index), size: segment.size, blob, segment });
      }
    } else if (blob.volume === volume) {
      out.push({ name: blobEntryName(blob.digest), size: blob.size, blob });
    }
  }
  return out;
}

/**
 * Check that a plan (from planVolumes or a manifest) is one the writer and reader can follow:
 * every blob once, whole in one volume or split into contiguous segments in rising volumes.
 * A segment digest, where there is one, must be a sha256 digest; `requireSegmentDigests` (the
 * reader) says every segment must have one (a plan from planVolumes has none yet).
 * validateManifest uses this too.
 */
export function validatePlan(blobs: readonly PlannedBlob[], volumeCount: number, where: string, opts: { requireSegmentDigests?: boolean } = {}): void {
  const fail = (msg: string): never => {
    throw new FerryError('SCHEMA_INVALID', `${where}: ${msg}`);
  };
  if (!Number.isSafeInteger(volumeCount) || volumeCount < 1 || volumeCount > MAX_VOLUMES) fail(`volume count ${volumeCount} is not between 1 and ${MAX_VOLUMES}`);
  const seen = new Set<string>();
  const inRange = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 1 && (v as number) <= volumeCount;
  for (const b of blobs) {
    if (typeof b.digest !== 'string') fail('blob without digest');
    digestHex(b.digest);
    if (seen.has(b.digest)) fail(`${b.digest} is listed twice`);
    seen.add(b.digest);
    if (!Number.isSafeInteger(b.size) || b.size < 0) fail(`${b.digest} has bad size ${String(b.size)}`);
    if ((b.volume === undefined) === (b.segments === undefined)) fail(`${b.digest} must have either a volume or segments`);
    if (b.volume !== undefined) {
      if (!inRange(b.volume)) fail(`${b.digest} is assigned to volume ${String(b.volume)}, outside 1..${volumeCount} (there are ${volumeCount} volumes)`);
      continue;
    }
    const segs = b.segments!;
    if (!Array.isArray(segs) || segs.length < 2) fail(`${b.digest} has fewer than 2 segments`);
    let offset = 0;
    let lastVolume = 0;
    segs.forEach((s, i) => {
      if (s.index !== i + 1) fail(`${b.digest} segment ${i + 1} has index ${String(s.index)}`);
      if (s.offset !== offset) fail(`${b.digest} segment ${s.index} starts at ${String(s.offset)}, expected ${offset}`);
      if (!Number.isSafeInteger(s.size) || s.size <= 0) fail(`${b.digest} segment ${s.index} has bad size ${String(s.size)}`);
      if (!inRange(s.volume) || s.volume <= lastVolume) fail(`${b.digest} segment ${s.index} is in volume ${String(s.volume)}; segments must sit in rising volumes within 1..${volumeCount} (there are ${volumeCount} volumes)`);
      const sd = (s as { digest?: unknown }).digest;
      if (sd === undefined ? opts.requireSegmentDigests : typeof sd !== 'string' || !isSha256Digest(sd)) fail(`${b.digest} segment ${s.index} has ${sd === undefined ? 'no digest' : 'a digest that is not a sha256 digest'}`);
      lastVolume = s.volume;
      offset += s.size;
    });
    if (offset !== b.size) fail(`${b.digest} segments add up to ${offset} bytes, blob size is ${b.size}`);
  }
}
