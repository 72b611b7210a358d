// ferry-bundle plan-media: which files go on which disc. Every disc carries the same small files
// (NAME.sha256, NAME.sha256.sig, NAME.manifest.json, NAME.manifest.json.sig) beside its share of
// the volumes, so each disc checks on its own: `sha256sum -c --ignore-missing NAME.sha256` and
// `ferry-load checksum --ignore-missing` both work there, and the list's signature covers the
// same bytes on every disc. Volumes are placed in order (disc 1 holds the first ones), as many
// per disc as fit. The engineer's public key is not among them: it reaches the high side once,
// by a trusted path, never beside a bundle.

import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { FerryError, MAX_CHECKSUM_LIST_BYTES, formatSize, parseChecksums, parseVolumeSize, printable, readRegularFile } from '@ferry/format-spec';
import { formatBytes } from '@ferry/cli-kit';

/** Recordable capacity of the discs --media-size names (sectors × 2048 bytes). */
export const MEDIA_CAPACITY: Readonly<Record<string, { bytes: number; description: string }>> = {
  dvd: { bytes: 4_700_372_992, description: 'single-layer DVD±R, 4.7 GB' },
  'dvd-dl': { bytes: 8_543_666_176, description: 'dual-layer DVD±R, 8.5 GB' },
  bd25: { bytes: 25_025_314_816, description: 'single-layer BD-R, 25 GB' },
  bd50: { bytes: 50_050_629_632, description: 'dual-layer BD-R, 50 GB' },
};

/** Files are stored in whole 2 KiB sectors on UDF and ISO 9660. */
export const SECTOR_BYTES = 2048;
/** Kept free on every disc for the filesystem's own structures (UDF/ISO 9660 stay within a few
 *  MiB): 8 MiB, or 1% of a medium smaller than 800 MiB. */
export function filesystemReserve(mediaSize: number): number {
  return Math.min(8 * 1024 * 1024, Math.ceil(mediaSize / 100 / SECTOR_BYTES) * SECTOR_BYTES);
}

const onDisc = (size: number): number => Math.ceil(size / SECTOR_BYTES) * SECTOR_BYTES;

/** `--media-size`: a disc name (dvd, dvd-dl, bd25, bd50) or a size (4.7G, 25GB, 32GiB for a stick). */
export function parseMediaSize(text: string): number {
  const t = String(text).trim().toLowerCase();
  const named = Object.hasOwn(MEDIA_CAPACITY, t) ? MEDIA_CAPACITY[t] : undefined;
  if (named) return named.bytes;
  if (t === 'usb-fat32') throw new FerryError('USAGE', '--media-size usb-fat32: that is a file size limit, not a medium; give the stick\'s size (32G)');
  try {
    return parseVolumeSize(t);
  } catch (e) {
    throw new FerryError('USAGE', `--media-size "${printable(text.slice(0, 60))}": give a size (4.7G, 25G, 32GiB) or a disc: ${Object.keys(MEDIA_CAPACITY).join(', ')}`, {}, { cause: e });
  }
}

export interface PlannedFile {
  file: string;
  size: number;
}

export interface PlannedDisc {
  disc: number;
  /** The files to burn, the ones every disc carries first. */
  files: PlannedFile[];
  /** Volume numbers on this disc. */
  volumes: number[];
  /** Space the files take, in whole sectors. */
  bytes: number;
  /** Left free (after the filesystem reserve). */
  free: number;
}

export interface MediaPlan {
  bundle: string;
  dir: string;
  mediaSize: number;
  /** What a disc holds for files: the media size less the filesystem reserve (filesystemReserve). */
  usable: number;
  /** The files every disc carries. */
  everyDisc: PlannedFile[];
  discs: PlannedDisc[];
}

/** The bundle a PATH names: its directory, or NAME.sha256 / NAME.manifest.json in it. */
async function locate(path: string): Promise<{ dir: string; name: string }> {
  const abs = resolve(path);
  const st = await stat(abs).catch(() => undefined);
  if (!st) throw new FerryError('INPUT_NOT_FOUND', `${printable(path)}: no such file or directory`);
  if (!st.isDirectory()) {
    const m = /^(.+?)(\.sha256|\.manifest\.json)$/.exec(basename(abs));
    if (!m) throw new FerryError('USAGE', `${printable(path)}: give the bundle directory, its NAME.sha256 or NAME.manifest.json`);
    return { dir: dirname(abs), name: m[1]! };
  }
  const names = [...new Set((await readdir(abs)).map((f) => /^(.+)\.sha256$/.exec(f)?.[1]).filter((n): n is string => Boolean(n)))];
  if (names.length === 0) throw new FerryError('INPUT_NOT_FOUND', `${printable(path)}: no NAME.sha256 here (ferry-bundle create writes it last; a bundle without it did not finish)`);
  if (names.length > 1) throw new FerryError('USAGE', `${printable(path)} holds several bundles (${names.map(printable).join(', ')}); give the NAME.sha256 of the one you mean`);
  return { dir: abs, name: names[0]! };
}

async function sizeOf(dir: string, file: string): Promise<number | undefined> {
  const st = await stat(join(dir, file)).catch(() => undefined);
  return st?.isFile() ? st.size : undefined;
}

/** Which files go on which disc of `mediaSize` bytes, for the complete bundle at PATH as create wrote it. */
export async function planMedia(path: string, mediaSize: number): Promise<MediaPlan> {
  const loc = await locate(path);
  const listName = `${loc.name}.sha256`;
  const list = await readRegularFile(join(loc.dir, listName), 'checksum list', MAX_CHECKSUM_LIST_BYTES);
  const entries = parseChecksums(list.toString('utf8'), join(loc.dir, listName));
  const volRe = /^(.+)-(\d{3})\.tar\.zst$/;
  const everyDisc: PlannedFile[] = [{ file: listName, size: list.length }];
  const sig = await sizeOf(loc.dir, `${listName}.sig`);
  if (sig !== undefined) everyDisc.push({ file: `${listName}.sig`, size: sig });
  const volumes: Array<PlannedFile & { index: number }> = [];
  for (const e of entries) {
    const size = await sizeOf(loc.dir, e.file);
    if (size === undefined) throw new FerryError('INPUT_NOT_FOUND', `${printable(join(loc.dir, e.file))}: listed in ${printable(listName)} but not here; plan the media from the complete bundle as ferry-bundle create wrote it`, { file: e.file });
    const m = volRe.exec(e.file);
    if (m && m[1] === loc.name) volumes.push({ file: e.file, size, index: Number(m[2]) });
    else everyDisc.push({ file: e.file, size });
  }
  const reserve = filesystemReserve(mediaSize);
  const usable = mediaSize - reserve;
  const common = everyDisc.reduce((n, f) => n + onDisc(f.size), 0);
  const discs: PlannedDisc[] = [];
  let current: PlannedDisc | undefined;
  for (const v of volumes) {
    const need = onDisc(v.size);
    if (common + need > usable) {
      throw new FerryError('USAGE',
        `${printable(v.file)}, ${formatSize(v.size)}, with the ${everyDisc.length} files every disc carries, ${formatBytes(common)}, does not fit on a medium of ${formatSize(mediaSize)} less ${formatBytes(reserve)} for the filesystem; create the bundle again with --volume-size ${usable > common ? `at most ${usable - common}` : 'smaller'}, or the preset for the disc (dvd, bd25…)`);
    }
    if (!current || current.bytes + need > usable) {
      current = { disc: discs.length + 1, files: [...everyDisc], volumes: [], bytes: common, free: 0 };
      discs.push(current);
    }
    current.files.push({ file: v.file, size: v.size });
    current.volumes.push(v.index);
    current.bytes += need;
  }
  for (const d of discs) d.free = usable - d.bytes;
  return { bundle: loc.name, dir: loc.dir, mediaSize, usable, everyDisc, discs };
}

/** The plan as the engineer reads it: one block per disc, then what the officer runs on each. */
export function formatMediaPlan(p: MediaPlan): string {
  const vols = (d: PlannedDisc) => (d.volumes.length === 1 ? `volume ${d.volumes[0]}` : `volumes ${d.volumes.join(',')}`);
  const lines = [`Burn plan for ${printable(p.bundle)}: ${p.discs.length} disc(s) of ${formatBytes(p.mediaSize)}; every disc carries ${p.everyDisc.map((f) => printable(f.file)).join(', ')}`];
  for (const d of p.discs) {
    lines.push(`Disc ${d.disc} of ${p.discs.length} (${vols(d)}; ${formatBytes(d.bytes)} used, ${formatBytes(d.free)} free):`);
    for (const f of d.files) lines.push(`  ${printable(f.file)}  ${formatBytes(f.size)}`);
  }
  lines.push(`On each disc: ferry-load checksum --ignore-missing ${printable(p.bundle)}.sha256 (or: sha256sum -c --ignore-missing ${printable(p.bundle)}.sha256); the verdict names the volumes that disc holds.`);
  return lines.join('\n') + '\n';
}
