// Finding a bundle on disk: PATH may be the bundle directory, NAME.manifest.json, NAME.sha256
// or a volume; the manifest is read from beside the volumes or from the copy at the head of
// one. Shared by ferry-load (every command taking PATH) and ferry-bundle diff. Nothing here
// decides trust: callers verify the signature (the loader's openTrusted) or only compare.

import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { FerryError, isFerryError } from './errors.js';
import { MAX_BUNDLE_MANIFEST_BYTES, MAX_SIGNATURE_FILE_BYTES, readRegularFile } from './safe-open.js';
import { printable } from './text.js';
import { readEmbeddedManifest } from './volume-reader.js';

export interface BundleLocation {
  dir: string;
  name: string;
}

/** The names of a bundle's files: NAME.manifest.json(.sig), NAME.sha256(.sig), NAME-NNN.tar.zst. */
const BUNDLE_FILE_RE = /^(.+?)(\.manifest\.json(\.sig)?|\.sha256(\.sig)?|-\d{3}\.tar\.zst)$/;

/** Resolve PATH to the bundle directory and NAME. */
export async function locateBundle(path: string): Promise<BundleLocation> {
  const abs = resolve(path);
  const st = await stat(abs).catch(() => undefined);
  if (!st) throw new FerryError('INPUT_NOT_FOUND', `${printable(path)}: no such file or directory`);
  if (!st.isDirectory()) {
    // A bundle file by its name locates the bundle even when it is a FIFO or a device: the
    // reader of that file then refuses it, naming what it is (safe-open.ts).
    const m = BUNDLE_FILE_RE.exec(basename(abs));
    if (m) return { dir: dirname(abs), name: m[1]! };
    if (!st.isFile()) throw new FerryError('INPUT_INVALID', `${printable(path)} is neither a directory nor a regular file (a FIFO, device or socket); give the bundle directory or its NAME.manifest.json`, { file: abs });
    throw new FerryError('USAGE', `${printable(path)}: expected a bundle directory, NAME.manifest.json, NAME.sha256 or NAME-NNN.tar.zst`);
  }
  const entries = await readdir(abs);
  const names = new Set<string>();
  for (const e of entries) {
    const m = /^(.+?)(\.manifest\.json|\.sha256|-\d{3}\.tar\.zst)$/.exec(e);
    if (m) names.add(m[1]!);
  }
  if (names.size === 0) {
    // `weekly.sha256` given as PATH but it is a directory: that is a replaced file, not an empty bundle directory.
    if (BUNDLE_FILE_RE.test(basename(abs))) throw new FerryError('INPUT_INVALID', `${printable(path)} is a directory, not a regular file (a bundle file by its name)`, { file: abs, kind: 'directory' });
    throw new FerryError('INPUT_NOT_FOUND', `${printable(path)}: no bundle here (no NAME.manifest.json, NAME.sha256 or NAME-NNN.tar.zst)`);
  }
  if (names.size > 1) {
    throw new FerryError('USAGE', `${path} holds several bundles (${[...names].sort().join(', ')}); give the NAME.manifest.json of the one you mean`);
  }
  return { dir: abs, name: [...names][0]! };
}

export function volumePath(loc: BundleLocation, index: number): string {
  return join(loc.dir, `${loc.name}-${String(index).padStart(3, '0')}.tar.zst`);
}

export interface LoadedManifest {
  loc: BundleLocation;
  bytes: Buffer;
  /** The .sig text, when there is one. */
  signature?: Buffer;
  /** Where the manifest bytes came from: the file beside the volumes or a copy inside a volume. */
  from: string;
}

/** A side file of the bundle, or undefined when it is not there; never a FIFO, device or huge file. */
async function readOptional(path: string, what: string, maxBytes: number): Promise<Buffer | undefined> {
  try {
    return await readRegularFile(path, what, maxBytes);
  } catch (e) {
    if (isFerryError(e, 'INPUT_NOT_FOUND')) return undefined;
    throw e;
  }
}

/**
 * Read the manifest bytes and signature. Prefer the files beside the volumes; when they are
 * missing (only the volumes were carried), use the copy at the head of the first volume found.
 */
export async function readBundleManifest(loc: BundleLocation): Promise<LoadedManifest> {
  const mPath = join(loc.dir, `${loc.name}.manifest.json`);
  const bytes = await readOptional(mPath, 'manifest', MAX_BUNDLE_MANIFEST_BYTES);
  if (bytes) {
    const signature = await readOptional(`${mPath}.sig`, 'manifest signature', MAX_SIGNATURE_FILE_BYTES);
    return { loc, bytes, ...(signature ? { signature } : {}), from: mPath };
  }
  const vols = (await readdir(loc.dir)).filter((e) => new RegExp(`^${escapeRe(loc.name)}-\\d{3}\\.tar\\.zst$`).test(e)).sort();
  if (vols.length === 0) throw new FerryError('INPUT_NOT_FOUND', `${mPath}: not found, and no volume to read its copy from`);
  const first = join(loc.dir, vols[0]!);
  const emb = await readEmbeddedManifest(first);
  if (emb.manifestName !== `${loc.name}.manifest.json`) {
    throw new FerryError('ARCHIVE_HOSTILE', `${first} starts with ${emb.manifestName}, not ${loc.name}.manifest.json`);
  }
  return { loc, bytes: emb.manifestBytes, ...(emb.signatureBytes ? { signature: emb.signatureBytes } : {}), from: `${first} (embedded copy)` };
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
