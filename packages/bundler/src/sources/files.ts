// --file PATH|GLOB and spec `files:`: plain files carried as content-addressed blobs, each with
// a sha256 digest (the blob name) and an ssri sha512 integrity string (a second, independent hash).
//
// Bundle paths: a file inside the base directory keeps its path relative to it; a file outside
// it (an absolute path elsewhere, `../x`) keeps only its name; a glob's matches outside the base
// keep their path below the glob's static part (`/data/docs/**/*.pdf` -> `a.pdf`, `sub/b.pdf`).
// `--file SRC=DEST` names the bundle path: for one file DEST is its path (`DEST/` a directory),
// for a glob DEST is the directory its matches go under, relative to the glob's static part.

import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep, posix, basename } from 'node:path';
import { createHash } from 'node:crypto';
import fg from 'fast-glob';
import ssri from 'ssri';
import { FerryError, bundlePathProblem, hasControlCharacters, printable } from '@ferry/format-spec';

export interface FileRequest {
  /** Path or glob, relative to `cwd`. */
  source: string;
  /** Directory prefix inside the bundle (POSIX, relative). */
  dest?: string;
  /** Base for relative paths and for the path kept in the bundle (default: the caller's cwd). */
  cwd?: string;
  /** The exact bundle path of the one file `source` names (`--file SRC=DEST`). */
  as?: string;
  /** Paths below the source's static part, not below `cwd` (`--file GLOB=DEST/`): a glob's matches
   *  keep their path below the glob's static part, a single file its name. */
  belowGlob?: boolean;
}

/**
 * `--file` as given: `PATH`, `GLOB`, or `SRC=DEST` (the last `=`; a path that exists as written,
 * `=` and all, is taken as a path).
 */
export function parseFileArg(arg: string, cwd: string): FileRequest {
  const eq = arg.lastIndexOf('=');
  if (eq <= 0 || existsSync(resolve(cwd, arg))) return { source: arg };
  const source = arg.slice(0, eq);
  const dest = arg.slice(eq + 1);
  if (dest === '') throw new FerryError('USAGE', `--file ${printable(arg)}: nothing after "="; give --file SRC=DEST (DEST is the path in the bundle)`);
  if (fg.isDynamicPattern(source) || dest.endsWith('/')) {
    const dir = dest.replace(/\/+$/, '');
    return { source, belowGlob: true, ...(dir ? { dest: dir } : {}) };
  }
  return { source, as: dest };
}

/** A file to carry, found but not read yet. */
export interface ListedFile {
  /** Absolute path on this machine. */
  absPath: string;
  /** Path inside the bundle / under the loader's files directory. */
  path: string;
  size: number;
  mode: number;
}

export interface CollectedFile {
  /** Absolute path on this machine. */
  absPath: string;
  /** Path inside the bundle / under the loader's files directory. */
  path: string;
  size: number;
  digest: string;
  integrity: string;
  mode: number;
}

/** Normalise a bundle path (`./a//b` -> `a/b`) and apply the format's one rule for carried
 *  paths (bundlePathProblem), so ferry-bundle never writes a path ferry-load refuses. */
export function bundlePath(p: string, what: string): string {
  const norm = posix.normalize(p.split(sep).join('/'));
  // Control characters are refused as given, before normalising could fold them away.
  const problem = hasControlCharacters(p) ? 'holds a control character or line separator' : bundlePathProblem(norm);
  if (problem) {
    throw new FerryError('SPEC_INVALID', `${printable(what)}: bundle path "${printable(p)}" must be relative and stay inside the bundle: it ${problem}`);
  }
  return norm;
}

async function hashFile(absPath: string): Promise<{ digest: string; integrity: string }> {
  const sha256 = createHash('sha256');
  const sha512 = ssri.integrityStream({ algorithms: ['sha512'] });
  let integrity = '';
  sha512.on('integrity', (i: ssri.Integrity) => (integrity = i.toString()));
  const src = createReadStream(absPath, { highWaterMark: 1 << 20 });
  for await (const chunk of src) {
    sha256.update(chunk as Buffer);
    sha512.write(chunk);
  }
  sha512.end();
  // ssri's stream reports integrity on end; drain it so it finishes.
  for await (const _ of sha512) { /* discard */ }
  return { digest: 'sha256:' + sha256.digest('hex'), integrity };
}

/** Expand paths and globs (fast-glob) into files with their bundle paths, without reading them. */
export async function listFiles(requests: readonly FileRequest[], cwd: string): Promise<ListedFile[]> {
  const out: ListedFile[] = [];
  const byPath = new Map<string, string>();
  for (const req of requests) {
    const base = req.cwd ?? cwd;
    const isGlob = fg.isDynamicPattern(req.source);
    let matches: string[];
    /** The glob's static part (`/data/docs` of `/data/docs/**`), absolute. */
    let globBase = base;
    if (isGlob) {
      if (req.as !== undefined) throw new FerryError('USAGE', `--file ${printable(req.source)}=${printable(req.as)}: a pattern needs a directory as DEST (end it with /)`);
      globBase = resolve(base, fg.generateTasks([req.source])[0]?.base ?? '.');
      matches = (await fg(req.source, { cwd: base, onlyFiles: true, dot: false, followSymbolicLinks: false, absolute: true })).sort();
      if (matches.length === 0) throw new FerryError('SOURCE_NOT_FOUND', `--file ${printable(req.source)}: the pattern matches no file (in ${printable(base)})`);
    } else {
      const abs = resolve(base, req.source);
      const st = await stat(abs).catch(() => undefined);
      if (!st) throw new FerryError('SOURCE_NOT_FOUND', `--file ${req.source}: no such file`);
      if (!st.isFile()) throw new FerryError('SOURCE_INVALID', `--file ${req.source}: not a regular file (give a glob like '${req.source}/**' for a directory)`);
      matches = [abs];
    }
    for (const abs of matches) {
      const st = await stat(abs);
      const rel = relative(base, abs);
      // Inside cwd keep the relative path; outside it only the name, or for a glob the path
      // below its static part (never "../").
      const inside = rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
      const name = isGlob ? (req.belowGlob || !inside ? relative(globBase, abs) : rel) : inside && !req.belowGlob ? rel : basename(abs);
      const path = req.as !== undefined
        ? bundlePath(req.as, `--file ${req.source}=${req.as}`)
        : bundlePath(req.dest ? posix.join(req.dest, name.split(sep).join('/')) : name, `--file ${req.source}`);
      const prev = byPath.get(path);
      if (prev && prev !== abs) throw new FerryError('SPEC_INVALID', `two files would be carried as ${path}: ${prev} and ${abs}; use dest: to separate them`);
      if (prev) continue;
      byPath.set(path, abs);
      out.push({ absPath: abs, path, size: st.size, mode: st.mode & 0o777 });
    }
  }
  return out;
}

/** Read and hash listed files (sha256 for the blob name, sha512 for integrity). */
export async function hashFiles(files: readonly ListedFile[]): Promise<CollectedFile[]> {
  const out: CollectedFile[] = [];
  for (const f of files) {
    const { digest, integrity } = await hashFile(f.absPath);
    out.push({ ...f, digest, integrity });
  }
  return out;
}

/** Expand paths and globs (fast-glob) into files with their hashes. */
export async function collectFiles(requests: readonly FileRequest[], cwd: string): Promise<CollectedFile[]> {
  return hashFiles(await listFiles(requests, cwd));
}
