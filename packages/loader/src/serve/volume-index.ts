// Where every entry of a volume sits, without reading the volume: the signed manifest fixes each
// entry's tar offsets (plan.ts tarLayout), and the seek table (the volume's last frame) gives each
// zstd frame's compressed size. Checking the two against each other is the serve command's
// structural check at start: a truncated or damaged seek table, frames that do not start at
// entry boundaries, or a tar stream of another length refuse the volume before a request is
// answered. The header entries (manifest copy, signature copy, oci-layout, index.json) are decoded
// and compared here too; blob contents are verified as they are served (verify-stream.ts).

import { realpath, stat } from 'node:fs/promises';
import {
  FRAME_MAX_BYTES,
  FerryError,
  OCI_LAYOUT_CONTENT,
  checkLayoutIndex,
  plannedVolumeEntries,
  readSeekTable,
  statRegularFile,
  tarLayout,
  verifyBytes,
  type BundleManifest,
  type LaidOutEntry,
} from '@ferry/format-spec';
import { volumePath, type TrustedManifest } from '../bundle.js';
import { decodeTarRange, openVolumeFile } from './frames.js';

export interface FrameRef {
  /** Offset of the frame in the volume file. */
  cOff: number;
  cSize: number;
  /** Offset of the frame's first byte in the tar stream. */
  dOff: number;
  dSize: number;
}

export interface VolumeIndex {
  index: number;
  file: string;
  /** The volume's real path (links resolved once, at start); later opens never follow links. */
  path: string;
  /** Identity at start: a volume swapped or rewritten since is refused, not served. */
  dev: number;
  ino: number;
  size: number;
  frames: FrameRef[];
  /** Blob and segment entries by tar entry name. */
  entries: Map<string, LaidOutEntry>;
}

/**
 * Index volume `v` of a trusted bundle, or undefined when its file is not here. Throws
 * ARCHIVE_CORRUPT (seek table damaged or not this volume's), ARCHIVE_HOSTILE (frames Ferry never
 * writes, index.json that disagrees), SIGNATURE_INVALID (manifest or signature copy differs) or
 * INPUT_INVALID (not a regular file, larger than the signed volume size).
 */
export async function indexVolume(tm: TrustedManifest, v: number): Promise<VolumeIndex | undefined> {
  const m: BundleManifest = tm.manifest;
  const file = m.volumes[v - 1]?.file ?? '';
  const linked = volumePath(tm.loc, v);
  if (!(await statRegularFile(linked, 'volume'))) return undefined;
  // Bundles are assembled from several mounts with `ln -s` (safe-open.ts): resolve that once.
  const path = await realpath(linked);
  const corrupt = (msg: string): FerryError => new FerryError('ARCHIVE_CORRUPT', `${file}: ${msg}`, { file, volume: v });
  const hostile = (msg: string): FerryError => new FerryError('ARCHIVE_HOSTILE', `${file}: ${msg}`, { file, volume: v });
  const seek = await readSeekTable(path, { maxBytes: m.volumeSize, limitName: "the bundle's volume size in its signed manifest" });
  const planned = plannedVolumeEntries({ manifest: m, manifestBytes: tm.bytes, ...(tm.signature ? { signatureBytes: tm.signature } : {}), volume: v }, file);
  const layout = tarLayout(planned);
  if (seek.decompressedBytes !== layout.tarSize) {
    throw corrupt(`the zstd seek table describes ${seek.decompressedBytes} tar bytes, the signed manifest plans ${layout.tarSize} for this volume (damaged, or another bundle's volume)`);
  }
  const frames: FrameRef[] = [];
  const starts = new Set<number>();
  let cOff = 0;
  let dOff = 0;
  for (const f of seek.frames) {
    if (f.decompressedSize > FRAME_MAX_BYTES) throw hostile(`a zstd frame of ${f.decompressedSize} bytes; Ferry writes at most ${FRAME_MAX_BYTES}`);
    frames.push({ cOff, cSize: f.compressedSize, dOff, dSize: f.decompressedSize });
    starts.add(dOff);
    cOff += f.compressedSize;
    dOff += f.decompressedSize;
  }
  // Ferry starts a frame at every entry and at the end-of-archive blocks (plan.ts frameSizes).
  for (const e of layout.entries) if (!starts.has(e.headerStart)) throw corrupt(`the seek table has no frame starting at entry ${e.name} (tar offset ${e.headerStart})`);
  if (!starts.has(layout.entriesEnd)) throw corrupt('the seek table has no frame for the end-of-archive blocks');

  const st = await stat(path);
  const vi: VolumeIndex = { index: v, file, path, dev: st.dev, ino: st.ino, size: st.size, frames, entries: new Map() };
  const header = planned.filter((p) => p.bytes || p.kind === 'index');
  const fh = await openVolumeFile(vi);
  try {
    for (let k = 0; k < header.length; k++) {
      const want = header[k]!;
      const at = layout.entries[k]!;
      const parts: Buffer[] = [];
      for await (const c of decodeTarRange(fh, vi, at.dataStart, at.dataStart + at.size)) parts.push(c);
      const got = Buffer.concat(parts);
      if (want.kind === 'index') {
        verifyBytes(got, m.layoutIndex.digest, m.layoutIndex.size, { where: `index.json in ${file}` });
        checkLayoutIndex(got, m, file);
      } else if (!got.equals(want.bytes!)) {
        if (k < 2 && want.name.endsWith('.sig')) throw new FerryError('SIGNATURE_INVALID', `signature copy inside ${file} differs from the bundle's signature`, { file });
        if (k === 0) throw new FerryError('SIGNATURE_INVALID', `manifest copy inside ${file} differs from the signed manifest`, { file });
        throw hostile(`oci-layout is not exactly ${OCI_LAYOUT_CONTENT}`);
      }
    }
  } finally {
    await fh.close();
  }
  layout.entries.slice(header.length).forEach((e) => vi.entries.set(e.name, e));
  return vi;
}
