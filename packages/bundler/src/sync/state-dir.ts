// The sync run's part of the state directory: beside the kept manifests (baseline/kept-manifests.ts,
// shared with create --state-dir), `reports/NAME.sync.json` for every run, and `sync.lock` so two
// runs (cron firing while a slow run still goes) never build against the same baseline at once.
// Only the newest `keep` of each are kept.

import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { acquireDirLock, type DirLock } from '@ferry/oci';
import { writeWhole } from '@ferry/format-spec';
import { keptManifests, STATE_MANIFESTS_DIR as MANIFESTS_DIR } from '../baseline/kept-manifests.js';

export const REPORTS_DIR = 'reports';
const MANIFEST_SUFFIX = '.manifest.json';
const REPORT_SUFFIX = '.sync.json';

/** Create the state directory's parts and take its lock (fails at once if another run holds it). */
export async function lockStateDir(stateDir: string): Promise<DirLock> {
  await mkdir(join(stateDir, MANIFESTS_DIR), { recursive: true });
  await mkdir(join(stateDir, REPORTS_DIR), { recursive: true });
  return acquireDirLock(join(stateDir, 'sync.lock'), { what: `ferry-bundle sync with state directory ${stateDir}` });
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

export async function recordReport(stateDir: string, name: string, text: string): Promise<string> {
  const dest = join(stateDir, REPORTS_DIR, `${name}${REPORT_SUFFIX}`);
  await writeWhole(dest, text);
  return dest;
}

/** Keep the newest `keep` manifests (and the reports of runs no older than the oldest kept one);
 *  returns the bundle names removed. */
export async function pruneState(stateDir: string, keep: number): Promise<string[]> {
  const all = await keptManifests(stateDir);
  const drop = all.slice(0, Math.max(0, all.length - keep));
  for (const m of drop) {
    await rm(m.path, { force: true });
    await rm(join(stateDir, REPORTS_DIR, `${m.name}${REPORT_SUFFIX}`), { force: true });
  }
  return drop.map((m) => m.name);
}
