// `ferry-load push` on the command line: the summary the operator confirms (who signed it,
// where it goes, tags that move, local files in the way), progress while it runs, Ctrl-C as a
// clean stop, and the closing report. Every string from the bundle is printed escaped.

import { createInterface } from 'node:readline/promises';
import { FerryError, loadTrustedKeys, printable } from '@ferry/format-spec';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { asArray, createProgress, outputMode, reportError, writeJson, writeReportFile, writeText, type Progress } from '@ferry/cli-kit';
import { pushBundle, pushOutcome, type PushPlan, type PushReport } from './push/index.js';
import { ImageStates, describe, nextCommand, planLines, summary } from './push-view.js';
import type { NextVolume } from './push/index.js';
import { parseRewrite } from './rewrite.js';
import { registryOptionsFrom, type RegistryArgs } from './registry-flags.js';
import type { TrustedManifest } from './bundle.js';
import { openChartSinks } from './charts/destinations.js';
import { imagePolicyFrom, type ImagePolicyArgs } from './image-policy-flags.js';
import { k8sOutputs, writeK8s } from './k8s/index.js';

const PROGRAM = 'ferry-load';

export interface PushArgs extends RegistryArgs, ImagePolicyArgs {
  path: string;
  trustedKey?: string[];
  to?: string;
  filesDir?: string;
  rewrite?: string[];
  allowUnsigned: boolean;
  overwriteFiles: boolean;
  retag: boolean;
  yes: boolean;
  json: boolean;
  report?: string;
  charts?: string[];
  force: boolean;
  /** Also write the Kubernetes outputs (ferry-load k8s) for this target into DIR after the load. */
  k8sOut?: string;
  namespace?: string;
  chartCreds?: string;
  stateDir?: string;
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

/** The disc swap: ask for the next volume on the terminal (Enter = it is in place now). */
function volumePrompt(signal: AbortSignal, abort: () => void): NextVolume {
  return async (ask) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    rl.on('SIGINT', abort);
    try {
      const answer = (await rl.question(`Insert volume ${ask.index} of ${ask.of} (${printable(ask.file)}) and press Enter, or type its path (q to stop here): `, { signal })).trim();
      if (/^q(uit)?$/i.test(answer)) return undefined;
      if (!answer) return ask.expectedAt;
      const p = resolve(answer.replace(/^~(?=\/)/, process.env.HOME ?? '~'));
      const st = await stat(p).catch(() => undefined);
      return st?.isDirectory() ? join(p, ask.file) : p;
    } finally {
      rl.close();
    }
  };
}


export async function pushCmd(a: PushArgs): Promise<number> {
  const interactive = !a.yes && !a.json && process.stdin.isTTY === true;
  if (!a.yes && !interactive) throw new FerryError('USAGE', 'not a terminal, so there is no one to confirm: pass --yes to load without asking');
  if (a.k8sOut && (!a.to || a.to.startsWith('oci:'))) throw new FerryError('USAGE', '--k8s-out: a cluster pulls from a registry; give --to HOST[:PORT][/PREFIX]');
  const mode = outputMode(a.json);
  const rewrites = asArray(a.rewrite).map(parseRewrite);
  const keys = await loadTrustedKeys(asArray(a.trustedKey));
  const registry = registryOptionsFrom(a);
  const chartCreds = a.chartCreds ?? process.env.FERRY_CHART_CREDS;
  const policy = await imagePolicyFrom(a);
  const sinks = openChartSinks(asArray(a.charts), { registry, ...(chartCreds ? { creds: chartCreds } : {}) });

  const controller = new AbortController();
  const abort = (): void => controller.abort();
  process.on('SIGINT', abort);
  process.on('SIGTERM', abort);
  let progress: Progress | undefined;
  let plan: PushPlan | undefined;
  let states: ImageStates | undefined;
  let report: PushReport;
  let last = { bytes: 0, total: 0 };
  const prompt = volumePrompt(controller.signal, abort);
  try {
    report = await pushBundle(a.path, {
      trustedKeys: keys,
      allowUnsigned: a.allowUnsigned,
      ...(a.to ? { to: a.to } : {}),
      ...(a.filesDir ? { filesDir: a.filesDir } : {}),
      ...(a.stateDir ? { stateDir: a.stateDir } : {}),
      ...(a.concurrency ? { concurrency: a.concurrency } : {}),
      registry,
      rewrites,
      charts: sinks,
      forceCharts: a.force,
      ...policy,
      overwriteFiles: a.overwriteFiles,
      noRetag: !a.retag,
      signal: controller.signal,
      confirm: async (tm, p) => {
        plan = p;
        const ok = interactive ? await askToProceed(tm, p, controller.signal, abort) : true;
        // The plan is not progress: logs (plain and CI) keep it, so a cron run's log shows moved tags.
        if (!interactive && (mode === 'plain' || mode === 'tty' || mode === 'ci')) process.stderr.write(planLines(tm, p).join('\n') + '\n');
        if (ok) progress = await createProgress(mode, 'loading', { interrupt: 'command' });
        states = new ImageStates(tm, p);
        return ok;
      },
      ...(interactive
        ? {
            nextVolume: async (ask) => {
              // The live view gives the terminal to the question, then comes back.
              await progress?.finish();
              progress = undefined;
              try {
                return await prompt(ask);
              } finally {
                progress = await createProgress(mode, 'loading', { interrupt: 'command' });
              }
            },
          }
        : {}),
      onEvent: (e) => {
        // Before the question only the plan's own checks report (re-verifying a large target
        // takes a while); the CI log keeps just the plan and the final state.
        if (!progress) {
          if (e.type === 'checking' && (mode === 'tty' || mode === 'plain')) process.stderr.write(`${describe(e)}…\n`);
          return;
        }
        if (e.type === 'bytes') {
          last = { bytes: e.bytes, total: e.total };
          progress.update({ ...last, ...(states ? { detail: states.volume ? `volume ${states.volume}` : '', rows: states.lines() } : {}) });
        } else {
          const line = describe(e);
          if (line) progress.log(line);
          if (states?.apply(e) && mode === 'tty') progress.update({ ...last, detail: states.volume ? `volume ${states.volume}` : '', rows: states.lines() });
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
    await Promise.all(sinks.map((s) => s.close().catch(() => undefined)));
    process.off('SIGINT', abort);
    process.off('SIGTERM', abort);
  }
  // The cluster side of this load, named exactly as push named the images (registry targets).
  let k8s: Array<{ path: string; status: string }> | undefined;
  if (a.k8sOut && a.to) {
    const o = await k8sOutputs(a.path, { trustedKeys: keys, allowUnsigned: a.allowUnsigned, to: a.to, rewrites, imageKeys: asArray(a.imageKey), ...(a.namespace ? { namespace: a.namespace } : {}) });
    k8s = (await writeK8s(o, a.k8sOut, { force: false })).map((f) => ({ path: f.path, status: f.status }));
    if (!a.json && mode !== 'quiet') process.stderr.write(`Kubernetes outputs in ${printable(a.k8sOut)}: ${k8s.map((f) => printable(f.path)).join(', ')}\n`);
  }
  const outcome = pushOutcome(report);
  const doc = { ok: !outcome, ...report, ...(plan ? { plan } : {}), ...(k8s ? { k8s } : {}), ...(outcome ? { error: { code: outcome.code, message: outcome.message, exitCode: outcome.exitCode } } : {}) };
  if (a.report) await writeReportFile(a.report, doc);
  if (a.json) writeJson(doc);
  else writeText(summary(report, nextCommand(PROGRAM, process.argv.slice(2))));
  if (outcome) return a.json ? outcome.exitCode : reportError(outcome, { program: PROGRAM, json: false });
  return 0;
}
