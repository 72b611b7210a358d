// NAME.sha256: GNU coreutils checksum list ("<hex>  <file>"), so `sha256sum -c` checks a bundle
// with nothing but coreutils. Names are plain file names in the bundle directory.

import { createHash } from 'node:crypto';
import { FerryError } from './errors.js';
import { openRegularFile, type OpenRegularFileOptions } from './safe-open.js';

export interface ChecksumEntry {
  sha256: string; // lowercase hex
  file: string;
}

const LINE_RE = /^([a-f0-9]{64}) [ *](.+)$/;
const SAFE_NAME_RE = /^[A-Za-z0-9._+-][A-Za-z0-9._+@-]*$/;

export function formatChecksums(entries: readonly ChecksumEntry[]): string {
  return entries.map((e) => {
    if (!SAFE_NAME_RE.test(e.file)) throw new FerryError('INTERNAL', `unsafe file name for a checksum list: ${e.file}`);
    return `${e.sha256}  ${e.file}\n`;
  }).join('');
}

/** Parse strictly: one entry per line, plain names only (no directories, no escapes), no duplicates. */
export function parseChecksums(text: string, where: string): ChecksumEntry[] {
  const out: ChecksumEntry[] = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (const [i, raw] of lines.entries()) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const m = LINE_RE.exec(line);
    if (!m) throw new FerryError('SCHEMA_INVALID', `${where}:${i + 1}: not a "<sha256>  <file>" line`);
    const file = m[2]!;
    if (!SAFE_NAME_RE.test(file) || file === '.' || file === '..') {
      throw new FerryError('ARCHIVE_HOSTILE', `${where}:${i + 1}: refusing file name ${JSON.stringify(file)} (only plain names in the bundle directory are allowed)`);
    }
    if (seen.has(file)) throw new FerryError('ARCHIVE_HOSTILE', `${where}:${i + 1}: ${file} is listed twice`);
    seen.add(file);
    out.push({ sha256: m[1]!, file });
  }
  if (out.length === 0) throw new FerryError('SCHEMA_INVALID', `${where}: the checksum list is empty`);
  return out;
}

export interface Sha256FileOptions extends OpenRegularFileOptions {
  /** What the file is, for messages (default "file"). */
  what?: string;
}

/**
 * sha256 of a regular file (links followed), read in 1 MiB chunks (Node hashes ~1.7 GiB/s
 * that way here). A FIFO, device or directory is refused with INPUT_INVALID, never read.
 */
export async function sha256File(path: string, onBytes?: (n: number) => void, opts: Sha256FileOptions = {}): Promise<{ sha256: string; size: number }> {
  const fh = await openRegularFile(path, opts.what ?? 'file', opts.maxBytes !== undefined ? { maxBytes: opts.maxBytes } : {});
  try {
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(1 << 20);
    let size = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h.update(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
      size += bytesRead;
      if (opts.maxBytes !== undefined && size > opts.maxBytes) {
        throw new FerryError('INPUT_INVALID', `${opts.what ?? 'file'} ${path} grew past ${opts.maxBytes} bytes while it was read`, { file: path, limit: opts.maxBytes });
      }
      onBytes?.(bytesRead);
    }
    return { sha256: h.digest('hex'), size };
  } finally {
    await fh.close();
  }
}
