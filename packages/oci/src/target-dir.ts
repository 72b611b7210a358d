// A directory Ferry writes into (an OCI layout, the loader's files directory): the rules that
// keep every write inside it. Ferry keeps its own state in `<root>/.ferry/` (temp files, split
// blobs being reassembled, locks), a name no carried path may start with, so a temp name can
// never be a carried name. Inside the root nothing is followed that Ferry did not make: every
// directory on the way is lstat'ed and refused if it is a link, files are created with O_EXCL
// (which never follows a link) and opened with O_NOFOLLOW.
//
// Limits, stated plainly: Node has no openat(), so a local user racing us by swapping a checked
// directory for a link between the check and the open is not defended against; the threat here
// is a hostile bundle and a target prepared by someone else, not a hostile local process.

import { randomBytes } from 'node:crypto';
import { constants, createReadStream, createWriteStream, type ReadStream, type WriteStream } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rm, unlink, type FileHandle } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Stats } from 'node:fs';
import { FerryError, describeFileKind, printable } from '@ferry/format-spec';

export const FERRY_AREA = '.ferry';
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;

/** `<root>/.ferry/{tmp,partial}`: Ferry's state inside a target directory. */
export interface FerryArea {
  root: string;
  dir: string;
  tmp: string;
  partial: string;
}

export function ferryArea(root: string): FerryArea {
  const dir = join(root, FERRY_AREA);
  return { root, dir, tmp: join(dir, 'tmp'), partial: join(dir, 'partial') };
}

/** `size:mtime:inode` of a stat: a file with the same signature has not been rewritten since. */
export function statSignature(st: Stats): string {
  return `${st.size}:${st.mtimeMs}:${st.ino}`;
}

/**
 * A filesystem error while writing into a target, as what it is (with the path and what to do),
 * never as a problem with the bundle: `verify` may well have said the bundle is fine.
 */
export function targetFsError(e: unknown, path: string, doing: string): FerryError {
  if (e instanceof FerryError) return e;
  const code = (e as NodeJS.ErrnoException)?.code;
  const p = printable(path);
  const why: Record<string, string> = {
    ENAMETOOLONG: `the name is too long for the target file system (${p}); choose a target directory with a shorter path, or on a file system that allows longer names`,
    ENOSPC: `no space left on the target file system (${p}); free space or choose another target, then run the same command again (what was loaded is kept)`,
    EDQUOT: `disk quota exceeded on the target (${p}); free space, then run the same command again`,
    EACCES: `permission denied (${p}); run as a user who may write there, or choose another target`,
    EPERM: `operation not permitted (${p}); check the permissions and attributes of the target`,
    EROFS: `the target file system is read-only (${p})`,
    EEXIST: `${p} already exists and is in the way`,
    ENOTDIR: `a part of ${p} is a file where a directory is needed`,
    EISDIR: `${p} is a directory where a file is needed`,
    ELOOP: `${p} is a symbolic link; Ferry does not follow links it did not make in a target`,
    EMFILE: `too many open files while writing ${p}; lower --concurrency or raise the open-file limit`,
    EIO: `input/output error on the target (${p}); check the disk`,
  };
  const message = code && why[code] ? `${doing}: ${why[code]}` : `${doing}: ${p}: ${(e as Error)?.message ?? String(e)}`;
  return new FerryError('TARGET_ERROR', message, { path, ...(code ? { errno: code } : {}) }, { cause: e });
}

function linkError(path: string, st: Stats, what: string): FerryError {
  return new FerryError(
    'TARGET_ERROR',
    `${printable(path)} is ${describeFileKind(st)}, where ${what} belongs; Ferry does not follow or replace links and special files it did not make in a target — remove it or choose another target`,
    { path },
  );
}

export async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw targetFsError(e, path, 'cannot check the target');
  }
}

/** `path` is absent or a real directory (not a link to one). Returns whether it exists. */
export async function checkRealDir(path: string, what = 'a directory'): Promise<boolean> {
  const st = await lstatOrUndefined(path);
  if (!st) return false;
  if (!st.isDirectory()) throw linkError(path, st, what);
  return true;
}

/** `path` is absent or a regular file (not a link). Returns its size, or undefined. */
export async function checkRegularFile(path: string, what = 'a file'): Promise<number | undefined> {
  const st = await lstatOrUndefined(path);
  if (!st) return undefined;
  if (!st.isFile()) throw linkError(path, st, what);
  return st.size;
}

/** Create `path` as a real directory if needed (its parent must already be checked). */
export async function ensureRealDir(path: string, what = 'a directory'): Promise<void> {
  try {
    await mkdir(path);
    return;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw targetFsError(e, path, 'cannot create a directory in the target');
  }
  await checkRealDir(path, what);
}

/**
 * Make every directory of `rel` (a relative POSIX directory path) under `root`, one component
 * at a time, refusing links and files on the way; returns the absolute directory.
 */
export async function ensureDirChain(root: string, rel: string): Promise<string> {
  let at = root;
  for (const part of rel.split('/').filter(Boolean)) {
    at = join(at, part);
    await ensureRealDir(at, 'a directory the bundle needs');
  }
  return at;
}

/** Check (without creating) that no component of `rel` under `root` is a link or a file. */
export async function checkDirChain(root: string, rel: string): Promise<boolean> {
  let at = root;
  for (const part of rel.split('/').filter(Boolean)) {
    at = join(at, part);
    if (!(await checkRealDir(at, 'a directory the bundle needs'))) return false;
  }
  return true;
}

/** Is `inner` the same as or inside `outer` (both absolute)? */
export function isInside(inner: string, outer: string): boolean {
  const rel = relative(resolve(outer), resolve(inner));
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** Create a new file for writing: never follows a link, never reuses a name. */
export async function createExclusive(path: string, mode = 0o644): Promise<FileHandle> {
  try {
    return await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW, mode);
  } catch (e) {
    throw targetFsError(e, path, 'cannot create a file in the target');
  }
}

/** fs streams pass `flags` to fs.open, which takes numbers (the only way to say O_NOFOLLOW);
 *  @types/node declares them as strings only. */
const numericFlags = (n: number): string => n as unknown as string;

/** A write stream on a new file (O_EXCL, O_NOFOLLOW); open errors arrive as stream errors.
 *  `flush` fsyncs before the stream closes. */
export function exclusiveWriteStream(path: string, opts: { mode?: number; flush?: boolean } = {}): WriteStream {
  return createWriteStream(path, { flags: numericFlags(constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW), mode: opts.mode ?? 0o644, flush: opts.flush ?? false });
}

/** A write stream into an existing file of ours at `start` (no truncation, no link followed). */
export function overwriteStream(path: string, start: number, opts: { flush?: boolean } = {}): WriteStream {
  return createWriteStream(path, { flags: numericFlags(constants.O_WRONLY | O_NOFOLLOW), start, flush: opts.flush ?? false });
}

/** A read stream that refuses a link at `path` (ELOOP). */
export function noFollowReadStream(path: string, opts: { start?: number; end?: number } = {}): ReadStream {
  return createReadStream(path, { flags: numericFlags(constants.O_RDONLY | O_NOFOLLOW), highWaterMark: 1 << 20, ...opts });
}

/** Open an existing regular file of ours read-write (or create it), refusing links. */
export async function openNoFollow(path: string, flags: number, mode = 0o644): Promise<FileHandle> {
  try {
    return await open(path, flags | O_NOFOLLOW, mode);
  } catch (e) {
    throw targetFsError(e, path, 'cannot open a file in the target');
  }
}

/** Read-only check of `<root>/.ferry` and its parts. */
export async function checkFerryArea(root: string): Promise<FerryArea> {
  const a = ferryArea(root);
  if (await checkRealDir(a.dir, "Ferry's state directory")) {
    await checkRealDir(a.tmp, "Ferry's temp directory");
    await checkRealDir(a.partial, "Ferry's directory for split blobs");
  }
  return a;
}

/** Create `<root>/.ferry/{tmp,partial}` (root must exist and be checked). */
export async function ensureFerryArea(root: string): Promise<FerryArea> {
  const a = ferryArea(root);
  await ensureRealDir(a.dir, "Ferry's state directory");
  await ensureRealDir(a.tmp, "Ferry's temp directory");
  await ensureRealDir(a.partial, "Ferry's directory for split blobs");
  return a;
}

/** A fresh temp name in the area (random: never predictable, never a carried name). */
export function tempName(a: FerryArea, hint = 'f'): string {
  return join(a.tmp, `${process.pid}-${hint.replace(/[^a-z0-9]/gi, '').slice(0, 12)}-${randomBytes(8).toString('hex')}`);
}

/** Replace `dest` with `bytes` atomically (a temp file in the area, then rename): readers see the
 *  old content or the new, never half. `flush` fsyncs the temp file first. */
export async function replaceFile(a: FerryArea, dest: string, bytes: Buffer, opts: { doing: string; flush?: boolean }): Promise<void> {
  const tmp = tempName(a, basename(dest));
  try {
    await pipeline([bytes], exclusiveWriteStream(tmp, { flush: opts.flush ?? false }));
    await rename(tmp, dest);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw targetFsError(e, dest, opts.doing);
  }
}

/** Remove what interrupted runs left in the temp directory (call with the target's run lock held). */
export async function cleanTemp(a: FerryArea): Promise<number> {
  let names: string[];
  try {
    names = await readdir(a.tmp);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw targetFsError(e, a.tmp, "cannot read Ferry's temp directory");
  }
  // rm on a link removes the link, never what it points at.
  await Promise.all(names.map((n) => rm(join(a.tmp, n), { force: true, recursive: true }).catch((e: unknown) => {
    throw targetFsError(e, join(a.tmp, n), 'cannot remove a temp file left by an interrupted run');
  })));
  return names.length;
}
