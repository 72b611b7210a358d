// --file PATH|GLOB and spec `files:`: plain files carried as content-addressed blobs, each with
// a sha256 digest (the blob name) and an ssri sha512 integrity string (a second, independent hash).

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep, posix, basename } from 'node:path';
import { createHash } from 'node:crypto';
import fg from 'fast-glob';
import ssri from 'ssri';
import { FerryError } from '@ferry/format-spec';

export interface FileRequest {
  /** Path or glob, relative to `cwd`. */
  source: string;
  /** Directory prefix inside the bundle (POSIX, relative). */
  dest?: string;
  /** Base for relative paths and for the path kept in the bundle (default: the caller's cwd). */
  cwd?: string;
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

const SAFE_SEGMENT = /^[^\u0000\\/]+$/;

/** Normalise a bundle path; refuses anything that could escape the loader's directory. */
export function bundlePath(p: string, what: string): string {
  const norm = posix.normalize(p.split(sep).join('/'));
  const parts = norm.split('/');
  if (norm.startsWith('/') || parts.some((s) => s === '..' || s === '.' || s === '' || !SAFE_SEGMENT.test(s))) {
    throw new FerryError('SPEC_INVALID', `${what}: bundle path ${JSON.stringify(p)} must be relative and stay inside the bundle`);
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

/** Expand paths and globs (fast-glob) into files with their hashes. */
export async function collectFiles(requests: readonly FileRequest[], cwd: string): Promise<CollectedFile[]> {
  const out: CollectedFile[] = [];
  const byPath = new Map<string, string>();
  for (const req of requests) {
    const base = req.cwd ?? cwd;
    const isGlob = fg.isDynamicPattern(req.source);
    let matches: string[];
    if (isGlob) {
      matches = (await fg(req.source, { cwd: base, onlyFiles: true, dot: false, followSymbolicLinks: false, absolute: true })).sort();
      if (matches.length === 0) throw new FerryError('SOURCE_NOT_FOUND', `--file ${req.source}: the pattern matches no file (in ${base})`);
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
      // Inside cwd keep the relative path; outside it only the name (never "../").
      const inside = rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
      const name = isGlob || inside ? rel : basename(abs);
      const path = bundlePath(req.dest ? posix.join(req.dest, name.split(sep).join('/')) : name, `--file ${req.source}`);
      const prev = byPath.get(path);
      if (prev && prev !== abs) throw new FerryError('SPEC_INVALID', `two files would be carried as ${path}: ${prev} and ${abs}; use dest: to separate them`);
      if (prev) continue;
      byPath.set(path, abs);
      const { digest, integrity } = await hashFile(abs);
      out.push({ absPath: abs, path, size: st.size, digest, integrity, mode: st.mode & 0o777 });
    }
  }
  return out;
}
