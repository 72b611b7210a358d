// A strict, read-only tar header scanner. Source archives (oci-archive, docker-archive) are
// never extracted: we walk the headers once, seeking over the data, and remember where each
// regular file's bytes sit so blobs can be streamed straight out of the archive later.
//
// Understood: ustar (name + prefix), GNU magic, pax extended headers (path, linkpath, size),
// GNU long names/link names (L/K), base-256 sizes. Only regular files are indexable; links are
// recorded (never followed on disk; a reader may resolve them inside the archive), devices,
// FIFOs and sparse files are ignored with a note. Absolute names and `..` are refused.

import { open, type FileHandle } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { FerryError } from '@ferry/format-spec';

export interface TarEntry {
  /** Normalised name: no leading `./` or `/`, no empty or `.` components. */
  name: string;
  /** Byte offset of the entry's data in the archive file. */
  offset: number;
  size: number;
}

export interface TarLink {
  name: string;
  kind: 'symlink' | 'hardlink';
  /** As written in the archive (symlink: relative to the link's directory; hardlink: archive path). */
  target: string;
}

export interface TarIndex {
  file: string;
  /** Archive file size in bytes. */
  size: number;
  /** Regular files by normalised name. */
  entries: Map<string, TarEntry>;
  links: Map<string, TarLink>;
  /** Human-readable notes about entries that were skipped (links, devices, sparse files...). */
  notes: string[];
}

export interface IndexTarOptions {
  /** Refuse archives with more entries than this (a hostile archive could exhaust memory). */
  maxEntries?: number;
}

const BLOCK = 512;
const MAX_PAX_BYTES = 1 << 20;
const MAX_LONGNAME_BYTES = 64 << 10;
const MAX_NOTES = 50;

function corrupt(file: string, msg: string): FerryError {
  return new FerryError('SOURCE_INVALID', `${file}: ${msg}`, { file });
}

function hostile(file: string, msg: string): FerryError {
  return new FerryError('ARCHIVE_HOSTILE', `${file}: ${msg}; refusing the archive`, { file });
}

/** NUL-terminated string field. */
function cstr(buf: Buffer, start: number, len: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString('utf8', start, end >= start && end < start + len ? end : start + len);
}

/** Numeric header field: octal text (space/NUL padded) or GNU base-256 (high bit of first byte). */
function num(buf: Buffer, start: number, len: number): number | undefined {
  if (buf[start]! & 0x80) {
    // base-256, big-endian, two's complement; negative values are never valid here.
    if (buf[start]! & 0x40) return undefined;
    let v = buf[start]! & 0x3f;
    for (let i = start + 1; i < start + len; i++) {
      v = v * 256 + buf[i]!;
      if (!Number.isSafeInteger(v)) return undefined;
    }
    return v;
  }
  const text = buf.toString('latin1', start, start + len).replace(/[\0 ]+$/, '').replace(/^ +/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) return undefined;
  const v = parseInt(text, 8);
  return Number.isSafeInteger(v) ? v : undefined;
}

function checksumOk(h: Buffer): boolean {
  const want = num(h, 148, 8);
  if (want === undefined) return false;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : h[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  // Some old writers summed signed bytes; accept either, as GNU tar does.
  return want === unsigned || want === signed;
}

function isZeroBlock(h: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (h[i] !== 0) return false;
  return true;
}

/**
 * Normalise an archive path the way extraction would see it, refusing what could land outside
 * the target if someone did extract it: absolute names, `..` components, NUL bytes.
 */
export function normaliseTarName(raw: string, file: string): string {
  if (raw.includes('\0')) throw hostile(file, `entry name ${JSON.stringify(raw.slice(0, 200))} contains a NUL byte`);
  if (raw.startsWith('/')) throw hostile(file, `entry "${raw.slice(0, 200)}" has an absolute name`);
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw hostile(file, `entry "${raw.slice(0, 200)}" has a ".." component (path traversal)`);
  return parts.join('/');
}

interface Pending {
  path?: string;
  linkpath?: string;
  size?: number;
  sparse?: boolean;
}

function parsePax(data: Buffer, file: string, at: number, into: Pending): void {
  let pos = 0;
  while (pos < data.length) {
    // Trailing NUL padding after the last record is tolerated.
    if (data[pos] === 0) break;
    const sp = data.indexOf(0x20, pos);
    if (sp < 0 || sp - pos > 20) throw corrupt(file, `malformed pax header at offset ${at}`);
    const lenText = data.toString('latin1', pos, sp);
    if (!/^[1-9][0-9]*$/.test(lenText)) throw corrupt(file, `malformed pax record length at offset ${at}`);
    const len = Number(lenText);
    const end = pos + len;
    if (end > data.length || data[end - 1] !== 0x0a) throw corrupt(file, `malformed pax record at offset ${at}`);
    const rec = data.toString('utf8', sp + 1, end - 1);
    const eq = rec.indexOf('=');
    if (eq <= 0) throw corrupt(file, `malformed pax record at offset ${at}`);
    const key = rec.slice(0, eq);
    const value = rec.slice(eq + 1);
    if (key === 'path') into.path = value;
    else if (key === 'linkpath') into.linkpath = value;
    else if (key === 'size') {
      if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(Number(value))) throw corrupt(file, `bad pax size "${value.slice(0, 40)}" at offset ${at}`);
      into.size = Number(value);
    } else if (key.startsWith('GNU.sparse.')) into.sparse = true;
    pos = end;
  }
}

async function readAt(fh: FileHandle, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/** Scan `file` once and index its regular files. Throws SOURCE_INVALID (corrupt/truncated) or ARCHIVE_HOSTILE. */
export async function indexTar(file: string, opts: IndexTarOptions = {}): Promise<TarIndex> {
  const maxEntries = opts.maxEntries ?? 200_000;
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FerryError('SOURCE_NOT_FOUND', `${file}: no such file`, { file });
    if (code === 'EISDIR') throw new FerryError('SOURCE_INVALID', `${file} is a directory; an archive file was expected (use oci:DIR for a layout directory)`, { file });
    throw new FerryError('SOURCE_INVALID', `${file}: cannot open (${(e as Error).message})`, { file }, { cause: e });
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw new FerryError('SOURCE_INVALID', `${file} is a directory; an archive file was expected (use oci:DIR for a layout directory)`, { file });
    if (!st.isFile()) throw new FerryError('SOURCE_INVALID', `${file} is not a regular file`, { file });
    const fileSize = st.size;
    const index: TarIndex = { file, size: fileSize, entries: new Map(), links: new Map(), notes: [] };
    let skippedNotes = 0;
    const note = (s: string): void => {
      if (index.notes.length < MAX_NOTES) index.notes.push(s);
      else skippedNotes++;
    };
    if (fileSize === 0) throw corrupt(file, 'is empty, not a tar archive');
    const head = await readAt(fh, Math.min(4, fileSize), 0);
    if (head[0] === 0x1f && head[1] === 0x8b) throw corrupt(file, 'is gzip-compressed; decompress it first (gunzip) and give the .tar');
    if (head.length === 4 && head.readUInt32LE(0) === 0xfd2fb528) throw corrupt(file, 'is zstd-compressed; decompress it first (zstd -d) and give the .tar');
    let pending: Pending = {};
    let pos = 0;
    let count = 0;
    let ended = false;
    while (pos + BLOCK <= fileSize) {
      const h = await readAt(fh, BLOCK, pos);
      if (h.length < BLOCK) break;
      if (isZeroBlock(h)) {
        ended = true;
        break;
      }
      const magic = h.toString('latin1', 257, 263);
      const version = h.toString('latin1', 263, 265);
      const posix = magic === 'ustar\0' && version === '00';
      const gnu = magic === 'ustar ' && version === ' \0';
      if (!posix && !gnu) throw corrupt(file, `no tar header at offset ${pos} (not a ustar/pax/GNU tar archive, or corrupt)`);
      if (!checksumOk(h)) throw corrupt(file, `header checksum mismatch at offset ${pos} (corrupt archive)`);
      if (++count > maxEntries) throw hostile(file, `more than ${maxEntries} entries`);

      const type = String.fromCharCode(h[156]!);
      const sizeField = num(h, 124, 12);
      if (sizeField === undefined) throw corrupt(file, `bad size field at offset ${pos}`);
      const dataOffset = pos + BLOCK;
      const headerOnly = type === '1' || type === '2' || type === '3' || type === '4' || type === '5' || type === '6';
      const size = headerOnly ? 0 : type === 'x' || type === 'g' || type === 'L' || type === 'K' ? sizeField : (pending.size ?? sizeField);
      if (dataOffset + size > fileSize) {
        throw corrupt(file, `truncated: entry at offset ${pos} needs ${size} bytes of data but the file ends at ${fileSize}`);
      }
      const next = dataOffset + Math.ceil(size / BLOCK) * BLOCK;

      if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
        const cap = type === 'L' || type === 'K' ? MAX_LONGNAME_BYTES : MAX_PAX_BYTES;
        if (size > cap) throw hostile(file, `${type === 'L' || type === 'K' ? 'GNU long name' : 'pax header'} of ${size} bytes at offset ${pos}`);
        const data = await readAt(fh, size, dataOffset);
        if (type === 'x') parsePax(data, file, pos, pending);
        else if (type === 'g') note(`global pax header at offset ${pos} ignored`);
        else if (type === 'L') pending.path = cstr(data, 0, data.length);
        else pending.linkpath = cstr(data, 0, data.length);
        pos = next;
        continue;
      }

      let rawName = pending.path;
      if (rawName === undefined) {
        const base = cstr(h, 0, 100);
        const prefix = posix ? cstr(h, 345, 155) : '';
        rawName = prefix ? `${prefix}/${base}` : base;
      }
      const rawLink = pending.linkpath ?? cstr(h, 157, 100);
      const sparse = pending.sparse === true;
      pending = {};
      const name = normaliseTarName(rawName, file);

      const taken = (n: string): boolean => index.entries.has(n) || index.links.has(n);
      if (type === '0' || type === '\0' || type === '7') {
        if (name === '') throw hostile(file, `regular file with an empty name at offset ${pos}`);
        if (sparse) {
          note(`${name}: sparse file ignored`);
        } else {
          // A second entry with the same name would mean different readers see different
          // content (first-wins vs last-wins); refuse rather than guess.
          if (taken(name)) throw hostile(file, `"${name}" appears more than once`);
          index.entries.set(name, { name, offset: dataOffset, size });
        }
      } else if (type === '1' || type === '2') {
        if (name === '') throw hostile(file, `link with an empty name at offset ${pos}`);
        if (taken(name)) throw hostile(file, `"${name}" appears more than once`);
        index.links.set(name, { name, kind: type === '2' ? 'symlink' : 'hardlink', target: rawLink });
        note(`${name}: ${type === '2' ? 'symbolic' : 'hard'} link to "${rawLink.slice(0, 200)}" not indexed as a file`);
      } else if (type === '5') {
        // directories carry nothing we read
      } else if (type === '3' || type === '4' || type === '6') {
        note(`${name}: ${type === '6' ? 'FIFO' : 'device node'} ignored`);
      } else if (type === 'S') {
        note(`${name}: GNU sparse file ignored`);
      } else {
        note(`${name}: entry of unknown type '${type}' ignored`);
      }
      pos = next;
    }
    if (!ended) {
      throw corrupt(file, `truncated: the archive ends at byte ${fileSize} without the end-of-archive marker (re-copy or re-create it)`);
    }
    if (pending.path !== undefined || pending.size !== undefined) throw corrupt(file, 'pax or long-name header with no entry after it');
    if (skippedNotes) index.notes.push(`… and ${skippedNotes} more`);
    return index;
  } finally {
    await fh.close();
  }
}

/** Resolve a path relative to a directory inside the archive; undefined if it climbs above the root. */
function joinInside(dir: string, target: string): string | undefined {
  if (target.startsWith('/')) return undefined;
  const out = dir === '' ? [] : dir.split('/');
  for (const p of target.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (out.length === 0) return undefined;
      out.pop();
    } else out.push(p);
  }
  return out.join('/');
}

/**
 * Find the regular file for `name`. With followLinks, symbolic and hard links are resolved
 * inside the archive only (docker save links duplicate layers); a link leaving the archive
 * root, or a chain longer than 8, is refused. Returns undefined when there is no such name.
 */
export function lookupTarEntry(index: TarIndex, name: string, followLinks: boolean): TarEntry | undefined {
  let current = name;
  for (let depth = 0; depth <= 8; depth++) {
    const e = index.entries.get(current);
    if (e) return e;
    const link = index.links.get(current);
    if (!link) return undefined;
    if (!followLinks) {
      throw new FerryError('SOURCE_INVALID', `${index.file}: "${name}" is a ${link.kind === 'symlink' ? 'symbolic' : 'hard'} link inside the archive; links are not followed in this archive type`, { file: index.file });
    }
    const slash = current.lastIndexOf('/');
    const resolved = link.kind === 'symlink' ? joinInside(slash < 0 ? '' : current.slice(0, slash), link.target) : joinInside('', link.target);
    if (resolved === undefined) {
      throw new FerryError('ARCHIVE_HOSTILE', `${index.file}: "${current}" links to "${link.target.slice(0, 200)}", outside the archive; refusing it`, { file: index.file });
    }
    current = resolved;
  }
  throw new FerryError('SOURCE_INVALID', `${index.file}: "${name}" is a chain of more than 8 links (loop?)`, { file: index.file });
}

/** Read a small entry whole; refuses entries larger than `cap`. */
export async function readTarEntry(index: TarIndex, entry: TarEntry, cap: number): Promise<Buffer> {
  if (entry.size > cap) {
    throw new FerryError('SOURCE_INVALID', `${index.file}: "${entry.name}" is ${entry.size} bytes, more than the ${cap} allowed for this file`, { file: index.file });
  }
  const fh = await open(index.file, 'r');
  try {
    const buf = await readAt(fh, entry.size, entry.offset);
    if (buf.length !== entry.size) throw corrupt(index.file, `"${entry.name}" is cut short (the file changed or was truncated since it was scanned)`);
    return buf;
  } finally {
    await fh.close();
  }
}

/** Stream an entry's bytes straight from the archive file. */
export function openTarEntry(index: TarIndex, entry: TarEntry): Readable {
  if (entry.size === 0) return Readable.from([]);
  return createReadStream(index.file, { start: entry.offset, end: entry.offset + entry.size - 1, highWaterMark: 1 << 20 });
}
