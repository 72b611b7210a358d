// --volume-size: bytes, bytes with a unit, or a media preset.

import { FerryError } from './errors.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export interface VolumeSizePreset {
  bytes: number;
  description: string;
}

/**
 * Media presets for --volume-size (and its --help). Optical sizes start from the recordable
 * capacity of the disc (sectors × 2048) and subtract a margin for the filesystem (UDF or
 * ISO9660 level 3 metadata stays within a few MiB) and for the small files that travel with the
 * volumes (NAME.manifest.json, NAME.sha256 and their signatures). A volume over 4 GiB − 1 needs
 * UDF or ISO9660 level 3 on the disc. BD sizes assume a disc burnt without a defect-management
 * spare area.
 */
export const VOLUME_PRESETS: Readonly<Record<string, VolumeSizePreset>> = {
  'usb-fat32': { bytes: 4 * GiB - 1, description: 'FAT32 maximum file size (4 GiB - 1 byte)' },
  // DVD+R: 2,295,104 sectors = 4,700,372,992 bytes (DVD-R is slightly larger).
  dvd: { bytes: 4_700_372_992 - 32 * MiB, description: 'single-layer DVD±R (4.7 GB) less 32 MiB for the filesystem' },
  // DVD-R DL: 4,171,712 sectors = 8,543,666,176 bytes (DVD+R DL is slightly larger).
  'dvd-dl': { bytes: 8_543_666_176 - 64 * MiB, description: 'dual-layer DVD±R (8.5 GB) less 64 MiB for the filesystem' },
  // BD-R SL: 12,219,392 sectors = 25,025,314,816 bytes.
  bd25: { bytes: 25_025_314_816 - 128 * MiB, description: 'single-layer BD-R (25 GB) less 128 MiB for the filesystem' },
  // BD-R DL: 24,438,784 sectors = 50,050,629,632 bytes.
  bd50: { bytes: 50_050_629_632 - 256 * MiB, description: 'dual-layer BD-R (50 GB) less 256 MiB for the filesystem' },
};

// Unit letters alone and with "B" are decimal (K = KB = 1000, as disc and USB vendors count);
// the "iB" forms are binary (KiB = 1024). Matching is case-insensitive.
const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1e3, kb: 1e3, kib: KiB,
  m: 1e6, mb: 1e6, mib: MiB,
  g: 1e9, gb: 1e9, gib: GiB,
  t: 1e12, tb: 1e12, tib: 1024 * GiB,
};

/** Parse `--volume-size`: "4294967295", "700M", "1.5GiB", "4.7 GB", or a preset name. */
export function parseVolumeSize(s: string): number {
  const text = String(s).trim();
  const preset = Object.hasOwn(VOLUME_PRESETS, text.toLowerCase()) ? VOLUME_PRESETS[text.toLowerCase()] : undefined;
  if (preset) return preset.bytes;
  const bad = (why: string): FerryError =>
    new FerryError('USAGE', `--volume-size "${text.slice(0, 60)}": ${why}; give bytes (4000000000), a size with a unit (700MB, 4GiB, 1.5G) or a preset (${Object.keys(VOLUME_PRESETS).join(', ')})`);
  if (text.startsWith('-')) throw bad('must be positive');
  const m = /^(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)$/i.exec(text);
  if (!m) throw bad('not a size');
  const unit = UNITS[m[2]!.toLowerCase()];
  if (unit === undefined) throw bad(`unknown unit "${m[2]}"`);
  const value = Number(m[1]) * unit;
  if (!Number.isFinite(value) || value > Number.MAX_SAFE_INTEGER) throw bad('too large');
  // A fraction of a byte cannot be stored: round down so the result never exceeds the request.
  const bytes = Math.floor(value);
  if (bytes <= 0) throw bad('must be at least 1 byte');
  if (unit === 1 && !Number.isInteger(value)) throw bad('a byte count must be a whole number');
  return bytes;
}

/** Human-readable size for messages: "4.00 GiB (4294967295 bytes)". */
export function formatSize(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${bytes} bytes` : `${v.toFixed(2)} ${units[i]} (${bytes} bytes)`;
}
