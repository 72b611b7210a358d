// The low side's memory of what it sent: `<state-dir>/manifests/NAME.manifest.json` for every
// bundle a sync run (or a create --state-dir) made (the baseline of the next run), `<state-dir>/reports/NAME.sync.json`
// for every run, and `sync.lock` so two runs (cron firing while a slow run still goes) never
// build against the same baseline at once. Only the newest `keep` of each are kept.

import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { acquireDirLock, type DirLock } from '@ferry/oci';
import { STATE_MANIFESTS_DIR as MANIFESTS_DIR } from '../baseline/resolve.js';
import { FerryError, parseManifest, printable, writeWhole, type BundleManifest } from '@ferry/format-spec';

export const REPORTS_DIR = 'reports';
const MANIFEST_SUFFIX = '.manifest.json';
const REPORT_SUFFIX = '.sync.json';

export interface StateManifest {
  name: string;
  path: string;
  bytes: Buffer;
  manifest: BundleManifest;
}

/** Create the state directory's parts and take its lock (fails at once if another run holds it). */
export async function lockStateDir(stateDir: string): Promise<DirLock> {
  await mkdir(join(stateDir, MANIFESTS_DIR), { recursive: true });
  await mkdir(join(stateDir, REPORTS_DIR), { recursive: true });
  return acquireDirLock(join(stateDir, 'sync.lock'), { what: `ferry-bundle sync with state directory ${stateDir}` });
}

/** Every manifest recorded, oldest first (by `created`, then name). A file that is not a Ferry
 *  manifest is an error, not skipped: it would silently change what the next delta leaves out. */
export async function stateManifests(stateDir: string): Promise<StateManifest[]> {
  const dir = join(stateDir, MANIFESTS_DIR);
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith(MANIFEST_SUFFIX));
  const out: StateManifest[] = [];
  for (const file of names) {
    const path = join(dir, file);
    const bytes = await readFile(path);
    let manifest: BundleManifest;
    try {
      manifest = parseManifest(bytes, path);
    } catch (e) {
      throw new FerryError('BASELINE_INVALID', `state directory: ${printable(path)} is not a Ferry bundle manifest (${(e as Error).message}); remove it or restore it from the bundle it came from`, { file: path });
    }
    out.push({ name: file.slice(0, -MANIFEST_SUFFIX.length), path, bytes, manifest });
  }
  return out.sort((a, b) => a.manifest.created.localeCompare(b.manifest.created) || a.name.localeCompare(b.name));
}

/** Whether a bundle of this name was already recorded (sync never reuses a name). */
export async function recordedNames(stateDir: string): Promise<Set<string>> {
  const names = new Set<string>();
  for (const sub of [MANIFESTS_DIR, REPORTS_DIR]) {
    for (const f of await readdir(join(stateDir, sub)).catch(() => [] as string[])) {
      if (f.endsWith(MANIFEST_SUFFIX)) names.add(f.slice(0, -MANIFEST_SUFFIX.length));
      else if (f.endsWith(REPORT_SUFFIX)) names.add(f.slice(0, -REPORT_SUFFIX.length));
    }
  }
  return names;
}

/** Copy a finished bundle's manifest in, atomically (a crash leaves the old state, never half a file). */
export async function recordManifest(stateDir: string, name: string, manifestPath: string): Promise<string> {
  const dest = join(stateDir, MANIFESTS_DIR, `${name}${MANIFEST_SUFFIX}`);
  await writeWhole(dest, await readFile(manifestPath));
  return dest;
}

export async function recordReport(stateDir: string, name: string, text: string): Promise<string> {
  const dest = join(stateDir, REPORTS_DIR, `${name}${REPORT_SUFFIX}`);
  await writeWhole(dest, text);
  return dest;
}

/** Keep the newest `keep` manifests (and the reports of runs no older than the oldest kept one);
 *  returns the bundle names removed. */
export async function pruneState(stateDir: string, keep: number): Promise<string[]> {
  const all = await stateManifests(stateDir);
  const drop = all.slice(0, Math.max(0, all.length - keep));
  for (const m of drop) {
    await rm(m.path, { force: true });
    await rm(join(stateDir, REPORTS_DIR, `${m.name}${REPORT_SUFFIX}`), { force: true });
  }
  return drop.map((m) => m.name);
}
