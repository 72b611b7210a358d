// ferry-load push: trusted manifest -> plan (read-only) -> the operator's yes -> lock the
// targets -> volume loop -> finalize (tag what is complete) -> report. Nothing is written
// before the yes; volumes come in any order over any number of runs; an interrupted run tags
// nothing incomplete and the next run continues from what is in the target.

import { FerryError, isFerryError } from '@ferry/format-spec';
import { openTrusted } from '../bundle.js';
import { checkLoaded } from '../check.js';
import { finalize } from './finalize.js';
import { planPush } from './plan.js';
import { interrupted, loadVolumes } from './volumes.js';
import type { PushOptions, PushReport } from './types.js';

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
    // The post-load check: every tag this run made resolves in the target to the bundled digest.
    emit({ type: 'checking', what: `the tags in ${state.targets.description}` });
    const check = await checkLoaded(state.manifest, state.targets, target, { rewrites: opts.rewrites ?? [], concurrency: state.concurrency, deep: false, only: (i) => state.taggedNow.has(i) });
    return { ...report, check: { ok: check.ok, items: check.items.filter((c) => c.status !== 'ok') }, seconds: (Date.now() - started) / 1000 };
  } catch (e) {
    if (opts.signal?.aborted && !isFerryError(e, 'INTERRUPTED')) throw interrupted();
    throw e;
  } finally {
    await files?.close();
    await target.close();
  }
}
