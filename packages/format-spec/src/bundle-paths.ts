// The one rule for paths a bundle carries (files[].path, keys[].path): what ferry-bundle may
// write, what validateManifest accepts, and what the loader joins onto its target directory.
// The schema's relPath pattern says the same as far as a regex can (byte lengths are checked
// here only). A path that passes can be joined onto any directory and stays inside it on every
// POSIX file system; containedPath() checks that again at the point of use.

import { resolve, sep } from 'node:path';
import { FerryError } from './errors.js';
import { hasControlCharacters, printable } from './text.js';

/** Longest carried path, in UTF-8 bytes (well below PATH_MAX once joined onto a target). */
export const MAX_BUNDLE_PATH_BYTES = 1024;
/** Longest path segment, in UTF-8 bytes: NAME_MAX on Linux and the BSDs. */
export const MAX_BUNDLE_SEGMENT_BYTES = 255;
/** First segment reserved for Ferry's own temp and state files inside every target. */
export const RESERVED_TOP_SEGMENT = '.ferry';

/** Why `p` cannot be a carried path, or null when it can. */
export function bundlePathProblem(p: string): string | null {
  if (typeof p !== 'string' || p.length === 0) return 'is empty';
  const bytes = Buffer.byteLength(p, 'utf8');
  if (bytes > MAX_BUNDLE_PATH_BYTES) return `is ${bytes} bytes long, more than ${MAX_BUNDLE_PATH_BYTES}`;
  if (hasControlCharacters(p)) return 'holds a control character or line separator';
  // Lone surrogates cannot be written as UTF-8: the name on disk would differ from the manifest.
  if (/\p{Cs}/u.test(p)) return 'is not well-formed Unicode (a lone surrogate)';
  if (p.includes('\\')) return 'holds a backslash';
  if (p.startsWith('/')) return 'is absolute';
  const segments = p.split('/');
  for (const s of segments) {
    if (s === '') return p.endsWith('/') ? 'ends with a slash' : 'has an empty segment (a double slash)';
    if (s === '.' || s === '..') return `has a '${s}' segment`;
    const n = Buffer.byteLength(s, 'utf8');
    if (n > MAX_BUNDLE_SEGMENT_BYTES) return `has a segment of ${n} bytes, more than ${MAX_BUNDLE_SEGMENT_BYTES}`;
  }
  // Case-insensitively: the target may sit on a file system that folds case.
  if (segments[0]!.toLowerCase() === RESERVED_TOP_SEGMENT) return `starts with ${RESERVED_TOP_SEGMENT}/, which is reserved for Ferry's own files in the target`;
  return null;
}

/** An untrusted path in a message: quoted, every control or invisible character escaped. */
const quoted = (p: string): string => `"${printable(p)}"`;

export interface PathConflict {
  first: string;
  second: string;
  why: string;
}

/** Segment-wise order: a path sorts right before everything under it (`p` < `p/q` < `p-q`). */
function compareSegments(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  }
  return a.length - b.length;
}

/**
 * Two paths that cannot coexist in one directory tree: the same path twice, or one that would
 * have to be a file and also the directory holding the other (`keys` and `keys/cosign.pub`).
 * In segment-wise order everything under `p` directly follows `p`, so comparing neighbours
 * finds any conflict: O(n log n).
 */
export function findPathConflict(paths: readonly string[]): PathConflict | undefined {
  const sorted = paths.map((p) => ({ p, s: p.split('/') })).sort((x, y) => compareSegments(x.s, y.s));
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (a.p === b.p) return { first: a.p, second: b.p, why: `${quoted(a.p)} is carried twice` };
    if (b.s.length > a.s.length && a.s.every((seg, k) => seg === b.s[k])) {
      return { first: a.p, second: b.p, why: `${quoted(a.p)} would have to be both a file and the directory holding ${quoted(b.p)}` };
    }
  }
  return undefined;
}

/**
 * Defence in depth at the point of use: `rel` joined onto `root`, after checking it is a valid
 * carried path and that the result is strictly inside `root`. Throws ARCHIVE_HOSTILE otherwise.
 */
export function containedPath(root: string, rel: string): string {
  const shown = quoted(String(rel));
  const problem = bundlePathProblem(rel);
  if (problem) throw new FerryError('ARCHIVE_HOSTILE', `carried path ${shown} ${problem}; refusing to write it under ${printable(root)}`, { path: printable(String(rel)) });
  const base = resolve(root);
  const abs = resolve(base, rel);
  const prefix = base.endsWith(sep) ? base : base + sep;
  if (!abs.startsWith(prefix) || abs.length === prefix.length) {
    throw new FerryError('ARCHIVE_HOSTILE', `carried path ${shown} resolves to ${printable(abs)}, outside ${printable(base)}`, { path: printable(rel) });
  }
  return abs;
}
