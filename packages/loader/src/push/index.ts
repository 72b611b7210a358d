// ferry-load push: trusted manifest -> plan (read-only) -> the operator's yes -> lock the
// targets -> volume loop -> finalize (tag what is complete) -> report. Nothing is written
// before the yes; volumes come in any order over any number of runs; an interrupted run tags
// nothing incomplete and the next run continues from what is in the target.

import { FerryError, chartsOf, isFerryError } from '@ferry/format-spec';
import { openTrusted } from '../bundle.js';
import { checkLoaded } from '../check.js';
import { finalize } from './finalize.js';
import { planPush } from './plan.js';
import { interrupted, loadVolumes } from './volumes.js';
import type { PushOptions, PushReport } from './types.js';
import { checkCharts, loadCharts, planCharts, refuseChartConflicts } from '../charts/deliver.js';

export type { NameMapping, NextVolume, PushOptions, PushPlan, PushEvent, PushReport, TagMove, FileConflict, ImageStatus, FileStatus } from './types.js';
export { pushOutcome } from './finalize.js';
export { defaultStateDir, parseRegistryTarget, resolveTargets, type PushTargets } from './target.js';

export async function pushBundle(path: string, opts: PushOptions): Promise<PushReport> {
  const started = Date.now();
  const emit = opts.onEvent ?? (() => {});
  const tm = await openTrusted(path, { trustedKeys: opts.trustedKeys, ...(opts.allowUnsigned ? { allowUnsigned: true } : {}) });
  const first = await planPush(tm, opts);
  const { target, files } = first.state;
  try {
    // Chart destinations are asked before the yes too: reachable, allowed, and what they hold.
    const sinks = opts.charts ?? [];
    const force = opts.forceCharts ?? false;
    if (sinks.length) emit({ type: 'checking', what: `the chart destination(s) ${sinks.map((s) => s.description).join(', ')}` });
    first.plan.charts = sinks.length ? await planCharts(chartsOf(tm.manifest), sinks, { force }) : [];
    if (!sinks.length && chartsOf(tm.manifest).length) first.plan.notes.push(`${chartsOf(tm.manifest).length} chart(s) are not loaded: give --charts DEST (oci://HOST/PATH, chartmuseum+https://HOST, artifactory+https://HOST/artifactory/REPO or dir:PATH)`);
    refuseChartConflicts(first.plan.charts);
    if (opts.signal?.aborted) throw interrupted();
    if (opts.confirm && !(await opts.confirm(tm, first.plan))) {
      throw new FerryError('DECLINED', 'not loaded: the operator answered no; nothing was written');
    }
    if (opts.signal?.aborted) throw interrupted();

    // The first write: the targets are created and locked. Then plan again under the lock (only
    // another Ferry run can have changed them meanwhile; verified blobs are not hashed twice).
    const t = first.state.targets;
    const what = `loading ${tm.manifest.name} into ${t.kind === 'layout' ? t.layoutDir : t.description}`;
    await target.lock(what);
    await files?.open(what);
    const { state } = await planPush(tm, opts, { target, files });
    const loop = await loadVolumes(state, emit, opts.signal, opts.nextVolume);
    if (opts.signal?.aborted) throw interrupted();
    const report = await finalize(state, loop, emit, started);
    // Charts after the images: what the plan says is missing, from the volumes that are here.
    const charted = sinks.length ? await loadCharts(tm, sinks, first.plan.charts, { force, volumeFiles: state.volumeFiles, ...(opts.signal ? { signal: opts.signal } : {}), emit }) : undefined;
    if (opts.signal?.aborted) throw interrupted();
    // The post-load check: every tag this run made resolves in the target to the bundled digest,
    // and every chart it wrote is in its destination with the bundled bytes.
    emit({ type: 'checking', what: `the tags in ${state.targets.description}` });
    const check = await checkLoaded(state.manifest, state.targets, target, { rewrites: opts.rewrites ?? [], concurrency: state.concurrency, deep: false, only: (i) => state.taggedNow.has(i) });
    const written = new Set((charted?.items ?? []).filter((c) => c.status === 'uploaded' || c.status === 'replaced').map((c) => `${c.chart} ${c.destination}`));
    const chartChecks = written.size ? await checkCharts(chartsOf(tm.manifest), sinks, (c, d) => written.has(`${c} ${d}`)) : [];
    const items = [...check.items, ...chartChecks].filter((c) => c.status !== 'ok');
    const chartItems = charted?.items ?? [];
    const volumesMissing = [...new Set([...report.volumesMissing, ...(charted?.volumesMissing ?? [])])].sort();
    return {
      ...report,
      charts: chartItems,
      volumesMissing,
      volumesDamaged: [...report.volumesDamaged, ...(charted?.volumesDamaged ?? []).filter((d) => !report.volumesDamaged.some((r) => r.file === d.file))],
      complete: report.complete && chartItems.every((c) => c.status === 'uploaded' || c.status === 'exists' || c.status === 'replaced'),
      check: { ok: items.length === 0, items },
      seconds: (Date.now() - started) / 1000,
    };
  } catch (e) {
    if (opts.signal?.aborted && !isFerryError(e, 'INTERRUPTED')) throw interrupted();
    throw e;
  } finally {
    await files?.close();
    await target.close();
  }
}
