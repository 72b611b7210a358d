// The manifests the low side keeps of what it sent: `<state-dir>/manifests/NAME.manifest.json`,
// the exact bytes of every finished bundle made with --state-dir (create) or by sync. They are
// what `--baseline last`, `--since` and the next sync run build against, so a file there that is
// not a Ferry manifest is an error, never skipped: it would change what a delta leaves out.

import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError, MAX_BUNDLE_MANIFEST_BYTES, isFerryError, parseManifest, printable, readRegularFile, writeWhole, type BundleManifest } from '@ferry/format-spec';

export const STATE_MANIFESTS_DIR = 'manifests';
const SUFFIX = '.manifest.json';

export interface KeptManifest {
  /** The bundle name (the file name without `.manifest.json`). */
  name: string;
  path: string;
  bytes: Buffer;
  manifest: BundleManifest;
}

/** Every kept manifest, oldest first (by `created`, then name: a second run in the same second sorts after). */
export async function keptManifests(stateDir: string): Promise<KeptManifest[]> {
  const dir = join(stateDir, STATE_MANIFESTS_DIR);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: KeptManifest[] = [];
  for (const file of names.filter((n) => n.endsWith(SUFFIX)).sort()) {
    const path = join(dir, file);
    let bytes: Buffer;
    let manifest: BundleManifest;
    try {
      bytes = await readRegularFile(path, 'kept manifest', MAX_BUNDLE_MANIFEST_BYTES);
      manifest = parseManifest(bytes, path);
    } catch (e) {
      if (!isFerryError(e)) throw e;
      throw new FerryError('BASELINE_INVALID', `state directory: ${printable(path)} is not a Ferry bundle manifest (${e.message}); remove it or restore it from the bundle it came from`, { file: path }, { cause: e });
    }
    out.push({ name: file.slice(0, -SUFFIX.length), path, bytes, manifest });
  }
  return out.sort((a, b) => a.manifest.created.localeCompare(b.manifest.created) || a.name.localeCompare(b.name));
}

/** Keep a finished bundle's manifest bytes, written whole or not at all. */
export async function keepManifest(stateDir: string, name: string, bytes: Buffer): Promise<string> {
  const dir = join(stateDir, STATE_MANIFESTS_DIR);
  await mkdir(dir, { recursive: true });
  const dest = join(dir, `${name}${SUFFIX}`);
  await writeWhole(dest, bytes);
  return dest;
}
