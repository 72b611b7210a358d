// Opening files from media we do not control. A bundle file, a checksum list, a signature or a
// trusted key is read only when it is a regular file of bounded size: a symbolic link to
// /dev/zero would otherwise fill memory, a FIFO would block the open (and the transfer officer's
// shell) forever, and a directory would surface as an internal error deep in a reader.
//
// Symbolic links are followed (bundles are assembled from several mounts with `ln -s`), but only
// to a regular file. The kind is checked twice: stat() first, so a device node is never opened
// (opening some devices has side effects), then fstat() on the handle opened with O_NONBLOCK, so
// a path swapped for a FIFO in between cannot block the open and cannot be read.

import { constants, type Stats } from 'node:fs';
import { lstat, open, readlink, stat, type FileHandle } from 'node:fs/promises';
import { FerryError } from './errors.js';
import { formatSize } from './sizes.js';
import { printable } from './text.js';

// Side files of a bundle are read whole, so each has a cap: far above what Ferry writes, far
// below what hurts. (Volumes are capped by the signed manifest's volumeSize instead.)
/** NAME.manifest.json (the same cap as its copy inside a volume). */
export const MAX_BUNDLE_MANIFEST_BYTES = 64 * 1024 * 1024;
/** NAME.manifest.json.sig, NAME.sha256.sig: base64 of a signature is about 100 bytes. */
export const MAX_SIGNATURE_FILE_BYTES = 64 * 1024;
/** NAME.sha256: 999 volumes and the side files take under 100 KiB. */
export const MAX_CHECKSUM_LIST_BYTES = 1024 * 1024;
/** A PEM key is a few hundred bytes; a keyring of a few dozen keys still fits. */
export const MAX_KEY_FILE_BYTES = 64 * 1024;

export interface OpenRegularFileOptions {
  /** Refuse a file larger than this many bytes (INPUT_INVALID, naming the size and the limit). */
  maxBytes?: number;
  /** Where the limit comes from, for the message (default: "the N limit for a WHAT"). */
  limitName?: string;
}

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

/** What a file is, in words for a message ("a directory", "a FIFO (named pipe)"...); from lstat
 *  it also says "a symbolic link". */
export function describeFileKind(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** " (a symbolic link to TARGET)" when `path` is a link, for messages. */
async function viaLink(path: string): Promise<string> {
  try {
    if (!(await lstat(path)).isSymbolicLink()) return '';
    return ` (a symbolic link to ${printable(await readlink(path))})`;
  } catch {
    return '';
  }
}

async function notRegular(path: string, what: string, st: Stats): Promise<FerryError> {
  const kind = describeFileKind(st);
  return new FerryError(
    'INPUT_INVALID',
    `${what} ${printable(path)} is ${kind}${await viaLink(path)}, not a regular file; Ferry reads bundle files and keys only from regular files`,
    { file: path, kind: kind.replace(/^an? /, '') },
  );
}

function tooLarge(path: string, what: string, size: number, maxBytes: number, limitName?: string): FerryError {
  const limit = `${limitName ?? `any ${what} Ferry accepts`}, ${formatSize(maxBytes)}`;
  return new FerryError(
    'INPUT_INVALID',
    `${what} ${printable(path)} is ${formatSize(size)}, larger than ${limit}`,
    { file: path, size, limit: maxBytes },
  );
}

/** Map an errno from stat/open to the FerryError a user can act on. */
async function openFailure(path: string, what: string, e: unknown): Promise<FerryError> {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const shown = printable(path);
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    const link = await viaLink(path);
    return new FerryError('INPUT_NOT_FOUND', link ? `${what} ${shown}${link}: the link points at nothing` : `${what} ${shown}: not found`, { file: path }, { cause: e });
  }
  if (code === 'ELOOP') return new FerryError('INPUT_INVALID', `${what} ${shown}: too many levels of symbolic links (a link loop)`, { file: path }, { cause: e });
  if (code === 'ENXIO') return new FerryError('INPUT_INVALID', `${what} ${shown} is a socket or a device with nothing behind it, not a regular file`, { file: path }, { cause: e });
  if (code === 'EACCES' || code === 'EPERM') return new FerryError('INPUT_INVALID', `${what} ${shown}: permission denied; Ferry needs to read it`, { file: path }, { cause: e });
  if (code === 'EISDIR') return new FerryError('INPUT_INVALID', `${what} ${shown} is a directory, not a regular file`, { file: path, kind: 'directory' }, { cause: e });
  return new FerryError('INPUT_INVALID', `cannot open ${what} ${shown}: ${code ?? (e instanceof Error ? e.message : String(e))}`, { file: path }, { cause: e });
}

/**
 * Open `path` for reading if it is a regular file (after following symbolic links) no larger
 * than `maxBytes`. `what` names it in messages ("checksum list", "volume"...).
 * ENOENT -> INPUT_NOT_FOUND; anything else unreadable, not regular or too large -> INPUT_INVALID.
 * The caller closes the handle.
 */
export async function openRegularFile(path: string, what: string, opts: OpenRegularFileOptions = {}): Promise<FileHandle> {
  let before: Stats;
  try {
    before = await stat(path);
  } catch (e) {
    throw await openFailure(path, what, e);
  }
  if (!before.isFile()) throw await notRegular(path, what, before);
  if (opts.maxBytes !== undefined && before.size > opts.maxBytes) throw tooLarge(path, what, before.size, opts.maxBytes, opts.limitName);
  let fh: FileHandle;
  try {
    fh = await open(path, OPEN_FLAGS);
  } catch (e) {
    throw await openFailure(path, what, e);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw await notRegular(path, what, st);
    if (opts.maxBytes !== undefined && st.size > opts.maxBytes) throw tooLarge(path, what, st.size, opts.maxBytes, opts.limitName);
    return fh;
  } catch (e) {
    await fh.close().catch(() => undefined);
    throw e;
  }
}

/** Read a whole regular file of at most `maxBytes` (a file that grows while read is refused too). */
export async function readRegularFile(path: string, what: string, maxBytes: number): Promise<Buffer> {
  const fh = await openRegularFile(path, what, { maxBytes });
  try {
    const { size } = await fh.stat();
    // Room for one byte more than fstat said: filling it means the file grew, so read on (to the cap).
    const parts: Buffer[] = [];
    let total = 0;
    let buf = Buffer.allocUnsafe(size + 1);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, total);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxBytes) throw tooLarge(path, what, total, maxBytes);
      parts.push(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
      if (bytesRead === buf.length) buf = Buffer.allocUnsafe(64 * 1024);
      else buf = buf.subarray(bytesRead);
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
  } finally {
    await fh.close();
  }
}

/**
 * `{ size }` of a regular file (links followed), `undefined` when nothing is there (also a link
 * to nothing: a volume on a disc not yet mounted), INPUT_INVALID when it is something else.
 * Nothing is opened.
 */
export async function statRegularFile(path: string, what: string): Promise<{ size: number } | undefined> {
  let st: Stats;
  try {
    st = await stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw await openFailure(path, what, e);
  }
  if (!st.isFile()) throw await notRegular(path, what, st);
  return { size: st.size };
}
