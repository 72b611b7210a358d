// `ferry-load push` on the command line: the summary the operator confirms (who signed it,
// where it goes, tags that move, local files in the way), progress while it runs, Ctrl-C as a
// clean stop, and the closing report. Every string from the bundle is printed escaped.

import { createInterface } from 'node:readline/promises';
import { rename, writeFile } from 'node:fs/promises';
import { FerryError, loadTrustedKeys, printable } from '@ferry/format-spec';
import { asArray, createProgress, formatBytes, outputMode, reportError, writeJson, writeText, type Progress } from '@ferry/cli-kit';
import { pushBundle, pushOutcome, type PushEvent, type PushPlan, type PushReport } from './push/index.js';
import { parseRewrite } from './rewrite.js';
import { registryOptionsFrom, type RegistryArgs } from './registry-flags.js';
import type { TrustedManifest } from './bundle.js';

const PROGRAM = 'ferry-load';

export interface PushArgs extends RegistryArgs {
  path: string;
  trustedKey?: string[];
  to: string;
  filesDir?: string;
  rewrite?: string[];
  allowUnsigned: boolean;
  overwriteFiles: boolean;
  retag: boolean;
  yes: boolean;
  json: boolean;
  report?: string;
  charts?: string;
  stateDir?: string;
}

const short = (d: string): string => `${d.slice(0, 19)}…`;

/** The plan, as the lines the operator reads before saying yes (also logged with --yes). */
export function planLines(tm: TrustedManifest, plan: PushPlan): string[] {
  const m = tm.manifest;
  const who = tm.verifiedBy ? `signed by ${printable(tm.verifiedBy.path)} (${tm.verifiedBy.fingerprint})` : 'UNSIGNED (allowed by --allow-unsigned)';
  const vol = (ns: number[]) => ns.map((n) => String(n).padStart(3, '0')).join(', ');
  const lines = [
    `Bundle ${printable(m.name)}, created ${printable(m.created)}, ${who}`,
    `  ${m.images.length} image(s), ${m.files.length} file(s), ${m.keys.length} key(s) -> ${printable(plan.target)} (${plan.filesDir !== undefined ? `files to ${printable(plan.filesDir)}` : 'files not written: no --files-dir'})`,
    `  volumes here: ${plan.volumesPresent.length}/${m.volumes.length}${plan.volumesMissing.length ? ` (missing ${vol(plan.volumesMissing)}: load them in a later run)` : ''}; to read now: ${plan.volumesToRead.length ? vol(plan.volumesToRead) : 'none (everything here is loaded already)'}`,
  ];
  if (plan.targetKind === 'registry') {
    lines.push('  names in the target:');
    for (const n of plan.mapping.slice(0, 50)) lines.push(`    ${printable(n.source)} -> ${printable(n.target)}`);
    if (plan.mapping.length > 50) lines.push(`    … and ${plan.mapping.length - 50} more (--json lists all)`);
  }
  if (plan.blobsAlreadyThere || plan.blobsDamaged) {
    lines.push(`  already in the target: ${plan.blobsAlreadyThere} blob(s), re-verified${plan.blobsDamaged ? `; ${plan.blobsDamaged} damaged blob(s) there will be replaced` : ''}`);
  }
  if (plan.retags.length) {
    lines.push(`  tags that will MOVE to other content (--no-retag refuses this):`);
    for (const t of plan.retags) lines.push(`    ${printable(t.ref)}  ${short(t.from)} -> ${short(t.to)}`);
  }
  if (plan.fileConflicts.length) {
    const keep = plan.fileConflicts.every((c) => c.action === 'keep');
    lines.push(keep ? '  local files that differ from the bundle are KEPT (pass --overwrite-files to replace them):' : '  local files that differ from the bundle will be REPLACED (--overwrite-files):');
    for (const c of plan.fileConflicts) lines.push(`    ${printable(c.path)}`);
  }
  return lines;
}

async function askToProceed(tm: TrustedManifest, plan: PushPlan, signal: AbortSignal, abort: () => void): Promise<boolean> {
  process.stderr.write(planLines(tm, plan).join('\n') + '\n');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  rl.on('SIGINT', abort); // Ctrl-C while readline holds the terminal
  try {
    const answer = await rl.question('Load it? [y/N] ', { signal });
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

function describe(e: PushEvent): string | undefined {
  switch (e.type) {
    case 'checking': return `Checking ${printable(e.what)}`;
    case 'volume-start': return `Reading ${printable(e.file)}`;
    case 'volume-skip': return `Skipping ${printable(e.file)}: ${e.reason}`;
    case 'volume-failed': return `❌ ${printable(e.file)}: ${printable(e.message)}`;
    case 'image': return `✅ ${printable(e.ref)} ${e.digest}${e.retagged ? ` (tag moved from ${short(e.retagged)})` : ''}`;
    case 'image-refused': return `⛔ ${printable(e.ref)}: ${printable(e.message)}`;
    case 'file': return `✅ file ${printable(e.path)}`;
    case 'file-kept': return `⚠️  kept local ${printable(e.path)} (differs from the bundle; --overwrite-files replaces it)`;
    default: return undefined;
  }
}

function summary(r: PushReport): string {
  const loaded = r.images.filter((i) => i.status === 'loaded').length;
  const filesDone = r.files.filter((f) => f.status === 'written' || f.status === 'unchanged').length;
  const out = [
    `Loaded ${loaded}/${r.images.length} image(s) into ${printable(r.target)}, ${r.filesDir !== undefined ? `${filesDone}/${r.files.length} file(s) into ${printable(r.filesDir)}` : `${r.files.length} file(s) not written (no --files-dir)`}; ${r.blobsWritten} blobs (${formatBytes(r.bytesWritten)}) written${r.blobsMounted ? `, ${r.blobsMounted} mounted from another repository` : ''} in ${r.seconds.toFixed(1)} s`,
    ...r.images.map((i) => {
      const mark = i.status === 'loaded' ? '✅' : i.status === 'pending' ? '⏳' : '⛔';
      const note = i.status === 'refused' ? `  refused: ${printable(i.reason ?? '')}` : i.retaggedFrom ? `  (tag moved from ${short(i.retaggedFrom)})` : '';
      return `  ${mark} ${printable(i.ref)}  ${i.digest}${note}`;
    }),
  ];
  const kept = r.files.filter((f) => f.status === 'kept');
  if (kept.length) out.push(`Kept as they are (they differ from the bundle; --overwrite-files replaces them): ${kept.map((f) => printable(f.path)).join(', ')}`);
  for (const d of r.volumesDamaged) out.push(`Damaged: ${printable(d.message)} — re-copy it from the original media and run the same command again.`);
  if (r.volumesMissing.length) out.push(`Not complete: bring ${r.volumesMissing.map(printable).join(', ')} and run the same command again.`);
  if (r.complete) out.push('Complete.');
  return out.join('\n') + '\n';
}

async function writeReport(path: string, doc: unknown): Promise<void> {
  const tmp = `${path}.ferry-tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(doc, null, 2) + '\n');
  await rename(tmp, path);
}

export async function pushCmd(a: PushArgs): Promise<number> {
  if (a.charts) throw new FerryError('USAGE', '--charts: chart repositories are not supported by this build yet');
  const interactive = !a.yes && !a.json && process.stdin.isTTY === true;
  if (!a.yes && !interactive) throw new FerryError('USAGE', 'not a terminal, so there is no one to confirm: pass --yes to load without asking');
  const mode = outputMode(a.json);
  const rewrites = asArray(a.rewrite).map(parseRewrite);
  const keys = await loadTrustedKeys(asArray(a.trustedKey));
  const registry = registryOptionsFrom(a);

  const controller = new AbortController();
  const abort = (): void => controller.abort();
  process.on('SIGINT', abort);
  process.on('SIGTERM', abort);
  let progress: Progress | undefined;
  let plan: PushPlan | undefined;
  let report: PushReport;
  try {
    report = await pushBundle(a.path, {
      trustedKeys: keys,
      allowUnsigned: a.allowUnsigned,
      to: a.to,
      ...(a.filesDir ? { filesDir: a.filesDir } : {}),
      ...(a.stateDir ? { stateDir: a.stateDir } : {}),
      ...(a.concurrency ? { concurrency: a.concurrency } : {}),
      registry,
      rewrites,
      overwriteFiles: a.overwriteFiles,
      noRetag: !a.retag,
      signal: controller.signal,
      confirm: async (tm, p) => {
        plan = p;
        const ok = interactive ? await askToProceed(tm, p, controller.signal, abort) : true;
        // The plan is not progress: logs (plain and CI) keep it, so a cron run's log shows moved tags.
        if (!interactive && mode !== 'json') process.stderr.write(planLines(tm, p).join('\n') + '\n');
        if (ok) progress = await createProgress(mode, 'loading');
        return ok;
      },
      onEvent: (e) => {
        // Before the question only the plan's own checks report (re-verifying a large target
        // takes a while); the CI log keeps just the plan and the final state.
        if (!progress) {
          if (e.type === 'checking' && (mode === 'tty' || mode === 'plain')) process.stderr.write(`${describe(e)}…\n`);
          return;
        }
        if (e.type === 'bytes') progress.update({ bytes: e.bytes, total: e.total });
        else {
          const line = describe(e);
          if (line) progress.log(line);
        }
      },
    });
  } catch (e) {
    await progress?.finish();
    progress = undefined;
    if (controller.signal.aborted) {
      const msg = 'interrupted; nothing was tagged that is incomplete; run the same command again to continue';
      if (a.json) writeJson({ ok: false, error: { code: 'INTERRUPTED', message: msg, exitCode: 130 } });
      else process.stderr.write(`${PROGRAM}: ${msg}\n`);
      return 130;
    }
    throw e;
  } finally {
    await progress?.finish();
    process.off('SIGINT', abort);
    process.off('SIGTERM', abort);
  }
  const outcome = pushOutcome(report);
  const doc = { ok: !outcome, ...report, ...(plan ? { plan } : {}), ...(outcome ? { error: { code: outcome.code, message: outcome.message, exitCode: outcome.exitCode } } : {}) };
  if (a.report) await writeReport(a.report, doc);
  if (a.json) writeJson(doc);
  else writeText(summary(report));
  if (outcome) return a.json ? outcome.exitCode : reportError(outcome, { program: PROGRAM, json: false });
  return 0;
}
