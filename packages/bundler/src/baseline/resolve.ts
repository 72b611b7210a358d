// The --baseline specs of a create, as baselines: a path, or `last` (the newest manifest in
// <stateDir>/manifests/, where every successful create with --state-dir keeps a copy), and
// --since DATE (every manifest kept there created at or after DATE). The same file given twice
// is read once.

import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { FerryError, printable } from '@ferry/format-spec';
import { keptManifests, STATE_MANIFESTS_DIR } from './kept-manifests.js';
import { readManifestBaseline } from './manifest.js';
import { readBaseline } from './read.js';
import type { Baseline } from './types.js';

export async function resolveBaselines(o: { specs: readonly string[]; since?: Date; stateDir?: string; trustedKeys?: readonly KeyObject[] }): Promise<Baseline[]> {
  const opts = o.trustedKeys ? { trustedKeys: o.trustedKeys } : {};
  const out: Baseline[] = [];
  const add = (b: Baseline): void => {
    if (!out.some((x) => x.digest === b.digest)) out.push(b);
  };
  const needsState = o.specs.includes('last') || o.since !== undefined;
  const kept = needsState ? await keptBaselines(o.stateDir, o.since ? '--since' : '--baseline last') : [];
  for (const spec of o.specs) {
    if (spec === 'last') {
      const newest = kept.at(-1);
      if (!newest) throw new FerryError('BASELINE_INVALID', `--baseline last: no earlier bundle is recorded in ${printable(join(o.stateDir!, STATE_MANIFESTS_DIR))}; make a full bundle with --state-dir first (or give the earlier NAME.manifest.json)`);
      add(newest);
    } else {
      add(await readBaseline(spec, opts));
    }
  }
  if (o.since) {
    const since = o.since.getTime();
    const matched = kept.filter((b) => b.created !== undefined && Date.parse(b.created) >= since);
    if (!matched.length) throw new FerryError('BASELINE_INVALID', `--since ${o.since.toISOString()}: no bundle recorded in ${printable(join(o.stateDir!, STATE_MANIFESTS_DIR))} was created at or after that date`);
    matched.forEach(add);
  }
  return out;
}

/** The kept manifests as baselines, oldest first; --baseline last and --since need --state-dir. */
async function keptBaselines(stateDir: string | undefined, what: string): Promise<Baseline[]> {
  if (stateDir === undefined) throw new FerryError('USAGE', `${what} needs --state-dir DIR (where earlier creates kept their manifests)`);
  return (await keptManifests(stateDir)).map((k) => readManifestBaseline(k.bytes, k.path));
}
