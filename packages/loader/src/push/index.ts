// ferry-load push: trusted manifest -> plan (read-only) -> the operator's yes -> lock the
// targets -> volume loop -> finalize (tag what is complete) -> report. Nothing is written
// before the yes; volumes come in any order over any number of runs; an interrupted run tags
// nothing incomplete and the next run continues from what is in the target.

import { FerryError, chartsOf, isFerryError, signerOf } from '@ferry/format-spec';
import { openTrusted, volumePath, type TrustedManifest } from '../bundle.js';
import { checkLoaded } from '../check.js';
import { finalize } from './finalize.js';
import { planPush } from './plan.js';
import { interrupted, loadVolumes } from './volumes.js';
import type { PushOptions, PushPlan, PushReport } from './types.js';
import { placeKey, volumePresence } from './plan.js';
import { mountRequired } from './required.js';
import { deltaReport } from '../delta-report.js';
import { chartInPlace, checkWritten, loadCharts, planCharts, refuseChartConflicts } from '../charts/deliver.js';
import { applyImagePolicy } from '../trust/policy.js';

export type { NameMapping, NextVolume, PushOptions, PushPlan, PushEvent, PushReport, TagMove, FileConflict, ImageStatus, FileStatus } from './types.js';
export { pushOutcome } from './finalize.js';
export { defaultStateDir, parseRegistryTarget, resolveTargets, type PushTargets } from './target.js';

export async function pushBundle(path: string, opts: PushOptions): Promise<PushReport> {
  const started = Date.now();
  const emit = opts.onEvent ?? (() => {});
  const tm = await openTrusted(path, { trustedKeys: opts.trustedKeys, ...(opts.allowUnsigned ? { allowUnsigned: true } : {}) });
  if (opts.to === undefined) return pushChartsOnly(tm, opts, started);
  // Image signatures, before anything else is asked of the target: under the policy an image
  // without a valid signature by a trusted image key is left out of the plan altogether.
  const { signatures, refused: excluded } = await applyImagePolicy(tm, opts, opts.signal ? { signal: opts.signal } : {});
  const first = await planPush(tm, { ...opts, to: opts.to, excluded });
  if (signatures) first.plan.signatures = signatures;
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
    const { state } = await planPush(tm, { ...opts, to: opts.to, excluded }, { target, files });
    // A delta's mounts first: a refused one stops the run before any blob or tag is written.
    await mountRequired(state, state.required.mounts, (r, d) => placeKey(state, r, d));
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
    const chartChecks = await checkWritten(chartsOf(tm.manifest), sinks, charted?.items ?? []);
    const items = [...check.items, ...chartChecks].filter((c) => c.status !== 'ok');
    const chartItems = charted?.items ?? [];
    const delta = deltaReport(tm.manifest);
    const volumesMissing = [...new Set([...report.volumesMissing, ...(charted?.volumesMissing ?? [])])].sort();
    return {
      ...report,
      images: signatures ? report.images.map((img, i) => ({ ...img, signature: signatures[i]! })) : report.images,
      charts: chartItems,
      volumesMissing,
      volumesDamaged: [...report.volumesDamaged, ...(charted?.volumesDamaged ?? []).filter((d) => !report.volumesDamaged.some((r) => r.file === d.file))],
      complete: report.complete && chartItems.every((c) => chartInPlace(c.status)),
      check: { ok: items.length === 0, items },
      ...(delta ? { delta } : {}),
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

/**
 * A bundle of charts only needs no image target: the same plan (destinations asked before the
 * yes), load and post-load check as the chart half of a full push, and a report of the same shape.
 */
async function pushChartsOnly(tm: TrustedManifest, opts: PushOptions, started: number): Promise<PushReport> {
  const m = tm.manifest;
  const sinks = opts.charts ?? [];
  const other = m.images.length + m.files.length + m.keys.length;
  if (other) throw new FerryError('USAGE', `${m.name} also carries ${m.images.length} image(s) and ${m.files.length + m.keys.length} file(s)/key(s): give --to TARGET for them`);
  if (!sinks.length) throw new FerryError('USAGE', 'give --to TARGET, or --charts DEST for a bundle of charts');
  const emit = opts.onEvent ?? (() => {});
  const force = opts.forceCharts ?? false;
  const target = sinks.map((s) => s.description).join(', ');
  emit({ type: 'checking', what: `the chart destination(s) ${target}` });
  const charts = await planCharts(chartsOf(m), sinks, { force });
  refuseChartConflicts(charts);
  const here = (await Promise.all(m.volumes.map(async (v) => ((await volumePresence(volumePath(tm.loc, v.index))) === 'present' ? v.index : 0)))).filter(Boolean);
  const plan: PushPlan = {
    target, targetKind: 'charts', mapping: [], volumesPresent: here, volumesMissing: m.volumes.map((v) => v.index).filter((v) => !here.includes(v)),
    volumesToRead: here, blobsAlreadyThere: 0, blobsDamaged: 0, retags: [], fileConflicts: [], notes: [], images: 0, files: 0, charts,
  };
  if (opts.signal?.aborted) throw interrupted();
  if (opts.confirm && !(await opts.confirm(tm, plan))) throw new FerryError('DECLINED', 'not loaded: the operator answered no; nothing was written');
  const loaded = await loadCharts(tm, sinks, charts, { force, ...(opts.signal ? { signal: opts.signal } : {}), emit });
  if (opts.signal?.aborted) throw interrupted();
  emit({ type: 'checking', what: `the charts in ${target}` });
  const items = (await checkWritten(chartsOf(m), sinks, loaded.items)).filter((c) => c.status !== 'ok');
  return {
    bundle: m.name, target, targetKind: 'charts',
    ...(tm.verifiedBy ? { signer: signerOf(tm.verifiedBy) } : {}),
    images: [], files: [], charts: loaded.items, retagged: [], volumesMissing: loaded.volumesMissing, volumesDamaged: loaded.volumesDamaged, notes: [],
    blobsWritten: 0, blobsMounted: 0, bytesWritten: 0,
    complete: loaded.items.every((c) => chartInPlace(c.status)),
    check: { ok: items.length === 0, items },
    seconds: (Date.now() - started) / 1000,
  };
}
