// ferry-bundle sync: the weekly cron run. One spec, one state directory; each run resolves every
// image and chart, builds a delta against the last bundle it made (the baseline the high side
// already loaded), names it by date, records it, keeps the newest N and reports per image the
// way the seed's sync script did (✅ Synced / ❌ Failed). Two runs never overlap (lock).

import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError, parseManifest, printable, toFerryError, type BundleManifest } from '@ferry/format-spec';
import { redactCredentials } from '@ferry/oci';
import { formatBytes, jsonText, reportDocument } from '@ferry/cli-kit';
import type { Baseline } from '../baseline/types.js';
import { readManifestBaseline } from '../baseline/manifest.js';
import type { CreateResult } from '../create.js';
import { ImageFailures } from '../image-failures.js';
import { datedBundleName } from './bundle-name.js';
import { droppedImages, imageChange, sameContent, type ImageChange } from './content-change.js';
import { keepManifest, keptManifests } from '../baseline/kept-manifests.js';
import { lockStateDir, pruneState, recordReport, recordedNames } from './state-dir.js';

export interface SyncBuild {
  name: string;
  /** Directory the bundle is written into (`OUT/NAME/`). */
  dir: string;
  baselines: readonly Baseline[];
}

export interface SyncOptions {
  stateDir: string;
  /** Bundles are written to `outDir/NAME/`, one directory per run, ready to burn. */
  outDir: string;
  /** Bundle name prefix (the spec's name); the run adds `-YYYY-MM-DD`. */
  prefix: string;
  /** Manifests (and reports) kept in the state directory. */
  keep: number;
  /** Upstream unchanged since the last bundle: write nothing (else an empty delta is written). */
  skipIfUnchanged: boolean;
  /** false: the first image that fails stops the run and nothing is written. */
  keepGoing: boolean;
  /** `full`: ignore the state directory's history and carry everything (a re-seed). */
  full?: boolean;
  now?: () => Date;
  /** Builds the bundle (the CLI passes create with the spec's images, charts, files and key). */
  build: (b: SyncBuild) => Promise<CreateResult>;
  /** One human line per event (✅/❌ per image), already timestamped. */
  onLine?: (line: string) => void;
}

export interface SyncImage {
  source: string;
  status: 'synced' | 'failed';
  repository?: string;
  tag?: string;
  digest?: string;
  change?: ImageChange;
  was?: string;
  code?: string;
  message?: string;
}

export interface SyncReport {
  ok: boolean;
  started: string;
  finished: string;
  stateDir: string;
  /** The bundle written, absent when the run wrote none (skipped, or failed). */
  bundle?: { name: string; dir: string; manifestDigest: string; signed: boolean; volumes: number; bytes: number };
  skipped: boolean;
  /** The earlier bundle this one is a delta against; absent for a full bundle. */
  baseline?: { name: string; digest: string; created?: string };
  delta?: { carriedBytes: number; referencedBytes: number; requiredBytes: number; requiredBlobs: number };
  images: SyncImage[];
  /** repository:tag in the previous bundle that this one no longer has. */
  dropped: string[];
  /** Old bundles whose manifests were removed from the state directory (--keep). */
  pruned: string[];
  error?: { code: string; message: string; exitCode: number };
  exitCode: number;
}

const stamp = (d: Date): string => d.toISOString().replace('T', ' ').slice(0, 19);

export async function runSync(o: SyncOptions): Promise<SyncReport> {
  const now = o.now ?? (() => new Date());
  const started = now();
  const line = (text: string): void => o.onLine?.(`[${stamp(now())}] ${text}`);
  const lock = await lockStateDir(o.stateDir);
  const report: SyncReport = { ok: false, started: started.toISOString(), finished: '', stateDir: o.stateDir, skipped: false, images: [], dropped: [], pruned: [], exitCode: 0 };
  let name: string | undefined;
  try {
    const history = o.full ? [] : await keptManifests(o.stateDir);
    const last = history.at(-1);
    const baselines = last ? [readManifestBaseline(last.bytes, last.path)] : [];
    const taken = await recordedNames(o.stateDir);
    name = datedBundleName(o.prefix, started, (n) => taken.has(n) || existsSync(join(o.outDir, n)));
    const dir = join(o.outDir, name);
    line(`Starting sync ${name}${last ? ` (delta against ${last.name})` : ' (full bundle: no earlier bundle in the state directory)'}`);
    if (baselines[0]) report.baseline = { name: baselines[0].name, digest: baselines[0].digest, ...(baselines[0].created ? { created: baselines[0].created } : {}) };

    let result: CreateResult;
    try {
      result = await o.build({ name, dir, baselines });
    } catch (e) {
      if (e instanceof ImageFailures) {
        for (const f of e.failures) {
          report.images.push({ source: redactCredentials(f.source), status: 'failed', code: f.code, message: redactCredentials(f.message) });
          line(`❌ Failed: ${printable(redactCredentials(f.source))}: ${printable(redactCredentials(f.message))}`);
        }
      }
      throw e;
    }
    const manifestPath = join(result.dir, `${result.name}.manifest.json`);
    const manifestBytes = await readFile(manifestPath);
    const manifest: BundleManifest = parseManifest(manifestBytes, manifestPath);
    for (const img of result.images) {
      const m = manifest.images.find((i) => i.digest === img.digest && i.repository === img.repository && i.tag === img.tag);
      const c = m ? imageChange(m, last?.manifest) : { change: 'new' as const };
      report.images.push({ source: redactCredentials(img.source), status: 'synced', repository: img.repository, ...(img.tag ? { tag: img.tag } : {}), digest: img.digest, change: c.change, ...(c.was ? { was: c.was } : {}) });
      line(`✅ Synced: ${printable(redactCredentials(img.source))} -> ${printable(img.repository)}${img.tag ? `:${printable(img.tag)}` : ''} ${img.digest} (${c.change}${c.was ? `, was ${c.was}` : ''})`);
    }
    for (const f of result.failures) {
      report.images.push({ source: redactCredentials(f.source), status: 'failed', code: f.code, message: redactCredentials(f.message) });
      line(`❌ Failed: ${printable(redactCredentials(f.source))}: ${printable(redactCredentials(f.message))}`);
    }
    report.dropped = droppedImages(manifest, last?.manifest);
    for (const d of report.dropped) line(`  no longer carried: ${printable(d)}`);
    const delta = manifestDelta(manifest);
    if (delta) report.delta = delta;

    if (last && sameContent(manifest, last.manifest) && o.skipIfUnchanged) {
      // Nothing upstream changed: remove what was just built; the state stays as it was.
      await rm(dir, { recursive: true, force: true });
      report.skipped = true;
      line(`Nothing changed since ${last.name}: no bundle written (--skip-if-unchanged)`);
    } else {
      await keepManifest(o.stateDir, result.name, manifestBytes);
      const bytes = result.volumes.reduce((s, v) => s + v.size, 0);
      report.bundle = { name: result.name, dir: result.dir, manifestDigest: result.manifestDigest, signed: result.signed, volumes: result.volumes.length, bytes };
      report.pruned = await pruneState(o.stateDir, o.keep);
      line(`Sync complete: ${result.name} in ${result.dir}, ${result.volumes.length} volume(s)${delta ? `, carried ${formatBytes(delta.carriedBytes)} of ${formatBytes(delta.referencedBytes)}` : ''}`);
    }
    const failed = result.failures.length > 0;
    report.ok = !failed;
    report.exitCode = failed ? new FerryError('PARTIAL_FAILURE', '').exitCode : 0;
  } catch (e) {
    const fe = toFerryError(e);
    report.ok = false;
    report.exitCode = fe.exitCode;
    report.error = { code: fe.code, message: redactCredentials(fe.message), exitCode: fe.exitCode };
    line(`❌ Sync failed: [${fe.code}] ${printable(redactCredentials(fe.message))}`);
  } finally {
    report.finished = now().toISOString();
    try {
      if (name) await recordReport(o.stateDir, name, jsonText(reportDocument(report)) + '\n');
    } finally {
      await lock.release();
    }
  }
  return report;
}

/** The delta summary a v4 manifest records (absent for a full bundle). */
function manifestDelta(m: BundleManifest): SyncReport['delta'] {
  const d = (m as BundleManifest & { delta?: SyncReport['delta'] }).delta;
  return d ? { carriedBytes: d.carriedBytes, referencedBytes: d.referencedBytes, requiredBytes: d.requiredBytes, requiredBlobs: d.requiredBlobs } : undefined;
}

