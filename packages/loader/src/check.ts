// ferry-load check: does the target hold what the bundle promises? (The seed's "verify the image
// exists in the private registry" step, for every image at once.) Every tag resolved in the
// target and compared with the bundled digest; every manifest and blob below it present (HEAD,
// many at once; a layout's blobs are also re-hashed); every cosign tag and OCI referrer there.
// Read-only: nothing is written, nothing is locked.

import { FerryError, blobDescriptor, chartsOf, contentBlobs, isManifestBlob, type BundleManifest, type TrustedKey } from '@ferry/format-spec';
import type { ChartSink } from '@ferry/charts';
import { checkCharts } from './charts/deliver.js';
import type { RegistryOptions } from '@ferry/oci';
import { openTrusted, type TrustedManifest } from './bundle.js';
import type { RewriteRule } from './rewrite.js';
import { mapNames } from './push/names.js';
import { mapLimit } from '@ferry/format-spec';
import { openPushTarget, type PushTarget } from './push/push-target.js';
import { resolveTargets, type PushTargets } from './push/target.js';

export type CheckStatus = 'ok' | 'missing' | 'different' | 'incomplete';

export interface CheckItem {
  /** `image`, `cosign-tag` (.sig/.att/.sbom beside an image), `referrer` (OCI subject) or
   *  `chart` (`name@version in DEST`; `expected` is the archive's digest). */
  kind: 'image' | 'cosign-tag' | 'referrer' | 'chart';
  ref: string;
  expected: string;
  /** What the tag points at in the target, when it differs. */
  found?: string;
  status: CheckStatus;
  /** Content below it that the target lacks. */
  missing?: string[];
  /** What the destination holds instead, in words (charts). */
  detail?: string;
}

export interface CheckReport {
  bundle: string;
  target: string;
  items: CheckItem[];
  ok: boolean;
}

export interface CheckOptions {
  trustedKeys: readonly TrustedKey[];
  allowUnsigned?: boolean;
  /** Absent: only the chart destinations are checked (a bundle of charts only). */
  to?: string;
  rewrites?: RewriteRule[];
  registry?: RegistryOptions;
  concurrency?: number;
  /** Chart destinations to check too (`--charts`), opened by the caller. */
  charts?: readonly ChartSink[];
}

export async function checkTarget(path: string, opts: CheckOptions): Promise<CheckReport> {
  return checkTrusted(await openTrusted(path, { trustedKeys: opts.trustedKeys, ...(opts.allowUnsigned ? { allowUnsigned: true } : {}) }), opts);
}

/** checkTarget on a bundle already opened (doctor asks it several things). */
export async function checkTrusted(tm: TrustedManifest, opts: Omit<CheckOptions, 'trustedKeys' | 'allowUnsigned'>): Promise<CheckReport> {
  if (opts.to === undefined) {
    const m = tm.manifest;
    if (m.images.length + m.files.length + m.keys.length) throw new FerryError('USAGE', `${m.name} also carries images or files: give --to TARGET`);
    const items = await checkCharts(chartsOf(m), opts.charts ?? []);
    return { bundle: m.name, target: (opts.charts ?? []).map((s) => s.description).join(', '), items, ok: items.every((i) => i.status === 'ok') };
  }
  const targets = await resolveTargets(opts.to, undefined, tm.loc.dir);
  const target = openPushTarget(targets, opts.registry ?? {});
  try {
    const report = await checkLoaded(tm.manifest, targets, target, { rewrites: opts.rewrites ?? [], concurrency: opts.concurrency ?? 6, deep: true });
    if (!opts.charts?.length) return report;
    const charts = await checkCharts(chartsOf(tm.manifest), opts.charts);
    const items = [...report.items, ...charts];
    return { ...report, items, ok: items.every((i) => i.status === 'ok') };
  } finally {
    await target.close();
  }
}

/**
 * The check itself, on an open target. `deep`: also every manifest and blob below each tag
 * (what `check` does); without it, the tags, their roots and the signature tags (what push
 * does right after tagging, when it has just stored everything below them).
 */
export async function checkLoaded(m: BundleManifest, targets: PushTargets, target: PushTarget, o: { rewrites: readonly RewriteRule[]; concurrency: number; deep: boolean; only?: (image: number) => boolean }): Promise<CheckReport> {
  const sink = target.sink;
  const concurrency = Math.max(1, o.concurrency);
  // A delta's required blobs are expected in the target like the carried ones.
  const blobs = contentBlobs(m);
  const exists = await target.check(undefined);
  const names = mapNames(targets, m.images, o.rewrites);
  // Each (blob store, digest) asked once, however many images share it.
  const asked = new Map<string, Promise<boolean>>();
  const has = (repo: string, d: string): Promise<boolean> => {
    const b = blobs.get(d)!;
    const k = `${sink.storeOf(repo)}\0${d}`;
    let p = asked.get(k);
    if (!p) {
      asked.set(k, (p = exists ? (isManifestBlob(b) ? sink.hasManifest(repo, blobDescriptor(b)) : sink.blobPresence(repo, blobDescriptor(b)).then((s) => s === 'present')) : Promise.resolve(false)));
    }
    return p;
  };
  const missingOf = async (repo: string, all: readonly string[]): Promise<string[]> => {
    // Children before parents, the root last: a shallow check asks for the root only.
    const digests = o.deep ? all : all.slice(-1);
    const out: string[] = [];
    await mapLimit([...digests], concurrency, async (d) => {
      if (!(await has(repo, d))) out.push(d);
    });
    return digests.filter((d) => out.includes(d));
  };
  const items: CheckItem[] = [];
  await mapLimit([...m.images.entries()].filter(([i]) => o.only?.(i) ?? true), concurrency, async ([i, img]) => {
    const repo = names.repos[i]!;
    const ref = names.refs[i]!;
    const item: CheckItem = { kind: 'image', ref, expected: img.digest, status: 'ok' };
    if (img.tag) {
      const cur = exists ? await sink.tagged(repo, img.tag) : undefined;
      if (!cur) item.status = 'missing';
      else if (cur.digest !== img.digest) Object.assign(item, { status: 'different', found: cur.digest });
    }
    // Right after a push, the tag resolving to the bundled digest is the check: the push has just
    // stored everything below it (and the registry checked each manifest's references).
    if (item.status === 'ok' && (o.deep || !img.tag)) {
      const missing = await missingOf(repo, img.blobs);
      if (missing.length) Object.assign(item, { status: img.tag ? 'incomplete' : 'missing', missing });
    }
    items.push(item);
    const hasOci = (img.referrers ?? []).some((r) => r.scheme === 'oci-referrer');
    const listed = hasOci && sink.referrersOf && exists ? await sink.referrersOf(repo, img.digest).catch(() => undefined) : undefined;
    for (const r of img.referrers ?? []) {
      if (r.scheme === 'cosign-tag' && r.tag) {
        const rref = names.show(repo, r.tag);
        const cur = exists ? await sink.tagged(repo, r.tag) : undefined;
        const it: CheckItem = { kind: 'cosign-tag', ref: rref, expected: r.digest, status: 'ok' };
        if (!cur) it.status = 'missing';
        else if (cur.digest !== r.digest) Object.assign(it, { status: 'different', found: cur.digest });
        else if (o.deep) {
          const missing = await missingOf(repo, r.blobs);
          if (missing.length) Object.assign(it, { status: 'incomplete', missing });
        }
        items.push(it);
      } else {
        const it: CheckItem = { kind: 'referrer', ref: names.show(repo, undefined, r.digest), expected: r.digest, status: 'ok' };
        const missing = await missingOf(repo, r.blobs);
        if (missing.length) Object.assign(it, { status: missing.includes(r.digest) ? 'missing' : 'incomplete', missing });
        // A registry's referrers index (or its fallback tag) must list it, or clients never find it.
        else if (listed && !listed.some((d) => d.digest === r.digest)) Object.assign(it, { status: 'missing', missing: [`referrers index of ${img.digest}`] });
        items.push(it);
      }
    }
  });
  const order = new Map(m.images.flatMap((_, i) => [names.refs[i]!]).map((r, i) => [r, i]));
  items.sort((a, b) => (order.get(a.ref) ?? 1e9) - (order.get(b.ref) ?? 1e9) || a.ref.localeCompare(b.ref));
  return { bundle: m.name, target: targets.description, items, ok: items.every((i) => i.status === 'ok') };
}

/** The error `check` exits with when the target lacks something. */
export function checkOutcome(r: CheckReport): FerryError | undefined {
  const bad = r.items.filter((i) => i.status !== 'ok');
  if (!bad.length) return undefined;
  return new FerryError('CHECK_FAILED', `${bad.length} of ${r.items.length} item(s) are not in ${r.target} as the bundle has them: ${bad.slice(0, 3).map((b) => `${b.ref} ${b.status}`).join(', ')}${bad.length > 3 ? ', …' : ''}`, { failed: bad.length });
}
