// Stage 1 of a push: find out, without writing a byte, what the target already holds and what
// this run must do. Blobs already in the layout are counted only after their content is
// re-verified (a power cut can leave a renamed blob short or wrong); carried files count as done
// only when their content matches; tags that would move, and local files that would be
// replaced, are found here so the operator sees them before saying yes.

import { stat } from 'node:fs/promises';
import { FerryError, imageRefName, isFerryError, printable, statRegularFile, type BundleBlob, type BundleImage, type BundleManifest } from '@ferry/format-spec';
import { OciLayoutSink, statSignature } from '@ferry/oci';
import { volumePath, type TrustedManifest } from '../bundle.js';
import { applyRewrites, type RewriteRule } from '../rewrite.js';
import { FilesTarget, type CarriedFile, type FileState } from './files-target.js';
import { SegmentStore } from './segments.js';
import { resolveTargets, type PushTargets } from './target.js';
import type { FileConflict, PushOptions, PushPlan, TagMove } from './types.js';

/** A referrer tagged beside its image (cosign's sha256-<hex>.sig/.att/.sbom scheme). */
export interface TaggedReferrer {
  image: BundleImage;
  ref: string;
  referrer: NonNullable<BundleImage['referrers']>[number];
}

export interface PushState {
  tm: TrustedManifest;
  manifest: BundleManifest;
  targets: PushTargets;
  layout: OciLayoutSink;
  files: FilesTarget;
  blobs: Map<string, BundleBlob>;
  /** Each image's reference in the target (rewrites applied), in manifest order. */
  refs: string[];
  referrerTags: TaggedReferrer[];
  /** Digests that are image content (listed by an image or referrer). */
  imageDigests: Set<string>;
  /** Image content verified present in the layout (grows as the run writes). */
  present: Set<string>;
  damaged: Set<string>;
  carried: CarriedFile[];
  fileStates: Map<string, FileState>;
  pathsByDigest: Map<string, CarriedFile[]>;
  segments: Map<string, SegmentStore>;
  retags: TagMove[];
  volumeState: Map<number, 'present' | 'absent' | { code: 'INPUT_INVALID'; message: string }>;
  overwriteFiles: boolean;
}

export function imageRef(img: BundleImage, rewrites: readonly RewriteRule[] = []): string {
  return imageRefName({ ...img, repository: applyRewrites(img.repository, rewrites) });
}

/** Re-hashing present blobs is the slow part of planning; a blob verified once and unchanged
 *  since (same size, mtime and inode) need not be hashed again when the plan is redone. */
export type VerifiedCache = Map<string, string>;

async function fileSignature(path: string): Promise<string | undefined> {
  const st = await stat(path).catch(() => undefined);
  return st ? statSignature(st) : undefined;
}

async function mapLimit<T>(items: readonly T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/** A volume is here (a regular file), absent, or here but not something a volume can be. */
async function volumePresence(path: string): Promise<'present' | 'absent' | { code: 'INPUT_INVALID'; message: string }> {
  try {
    return (await statRegularFile(path, 'volume')) ? 'present' : 'absent';
  } catch (e) {
    if (!isFerryError(e, 'INPUT_INVALID')) throw e;
    return { code: 'INPUT_INVALID', message: e.message };
  }
}

export function needsFile(s: PushState, f: CarriedFile): boolean {
  const st = s.fileStates.get(f.path);
  return st === 'absent' || st === 'ours-older' || (st === 'changed' && s.overwriteFiles);
}

export function imageNeeds(s: PushState, digest: string): boolean {
  return s.imageDigests.has(digest) && !s.present.has(digest);
}

export function blobNeeded(s: PushState, b: BundleBlob): boolean {
  return imageNeeds(s, b.digest) || (s.pathsByDigest.get(b.digest) ?? []).some((f) => needsFile(s, f));
}

/** Volumes that hold a piece (a whole blob, or a segment not yet in) of what is still missing. */
export function volumesStillNeeded(s: PushState): number[] {
  const out = new Set<number>();
  for (const b of s.manifest.blobs) {
    if (!blobNeeded(s, b)) continue;
    if (b.volume !== undefined) out.add(b.volume);
    const store = s.segments.get(b.digest);
    for (const g of b.segments ?? []) if (!store?.isDone(g.index)) out.add(g.volume);
  }
  return [...out].sort((a, b) => a - b);
}

export function volumeNeeded(s: PushState, v: number): boolean {
  return volumesStillNeeded(s).includes(v);
}

/** Tags that two entries of this bundle would both write (after --rewrite) with other content. */
function checkNames(refs: string[], images: readonly BundleImage[], referrerTags: TaggedReferrer[]): void {
  const owner = new Map<string, string>();
  const claim = (ref: string, digest: string, what: string): void => {
    const prev = owner.get(ref);
    if (prev !== undefined && prev !== digest) {
      throw new FerryError('USAGE', `${printable(what)} and another entry of this bundle would both be loaded as ${printable(ref)} with different content; change the --rewrite rules so they stay apart`, { ref });
    }
    owner.set(ref, digest);
  };
  images.forEach((img, i) => claim(refs[i]!, img.digest, `image ${img.source}`));
  for (const r of referrerTags) {
    if (refs.includes(r.ref)) throw new FerryError('USAGE', `the ${r.referrer.tag} artifact of ${printable(r.image.source)} would be loaded as ${printable(r.ref)}, the name of an image`, { ref: r.ref });
    claim(r.ref, r.referrer.digest, `the ${r.referrer.tag} artifact of ${r.image.source}`);
  }
}

/** Everything a push needs to know before it writes, and the plan to show the operator. */
export async function planPush(
  tm: TrustedManifest,
  opts: PushOptions,
  cache: VerifiedCache = new Map(),
  existing?: { layout: OciLayoutSink; files: FilesTarget },
): Promise<{ state: PushState; plan: PushPlan }> {
  const manifest = tm.manifest;
  const emit = opts.onEvent ?? (() => {});
  const targets = await resolveTargets(opts.to, opts.filesDir, tm.loc.dir);
  const layout = existing?.layout ?? new OciLayoutSink(targets.layoutDir);
  const layoutExists = await layout.check();
  const files = existing?.files ?? new FilesTarget(targets.filesDir);
  await files.check();
  const rewrites = opts.rewrites ?? [];

  const blobs = new Map(manifest.blobs.map((b) => [b.digest, b]));
  const refs = manifest.images.map((img) => imageRef(img, rewrites));
  const referrerTags: TaggedReferrer[] = [];
  manifest.images.forEach((img) => {
    const repo = applyRewrites(img.repository, rewrites);
    for (const r of img.referrers ?? []) if (r.scheme === 'cosign-tag' && r.tag) referrerTags.push({ image: img, ref: `${repo}:${r.tag}`, referrer: r });
  });
  checkNames(refs, manifest.images, referrerTags);

  // Tags that would move.
  const retags: TagMove[] = [];
  if (layoutExists) {
    const tagged = [...manifest.images.map((img, i) => ({ ref: refs[i]!, digest: img.digest })), ...referrerTags.map((r) => ({ ref: r.ref, digest: r.referrer.digest }))];
    for (const t of tagged) {
      const cur = await layout.resolveTag(t.ref);
      if (cur && cur.digest !== t.digest && !retags.some((m) => m.ref === t.ref)) retags.push({ ref: t.ref, from: cur.digest, to: t.digest });
    }
  }
  if (opts.noRetag && retags.length) {
    throw new FerryError('TAG_CONFLICT', `--no-retag: ${retags.length} tag(s) in ${printable(targets.description)} point at other content: ${retags.slice(0, 5).map((m) => `${printable(m.ref)} (${m.from.slice(0, 19)}… → ${m.to.slice(0, 19)}…)`).join(', ')}${retags.length > 5 ? ', …' : ''}`, { tags: retags.length });
  }

  // Image content already in the layout, re-verified.
  const imageDigests = new Set<string>();
  for (const img of manifest.images) {
    for (const d of img.blobs) imageDigests.add(d);
    for (const r of img.referrers ?? []) for (const d of r.blobs) imageDigests.add(d);
  }
  const present = new Set<string>();
  const damaged = new Set<string>();
  if (layoutExists) {
    emit({ type: 'checking', what: `what ${targets.description} already holds` });
    await mapLimit([...imageDigests], 4, async (d) => {
      const b = blobs.get(d)!;
      const state = await layout.blobState(b);
      if (state === 'absent') return;
      if (state === 'damaged') {
        damaged.add(d);
        return;
      }
      const sig = await fileSignature(layout.blobPath(d));
      if (sig !== undefined && cache.get(d) === sig) {
        present.add(d);
        return;
      }
      if (await layout.verifyBlob(b)) {
        present.add(d);
        if (sig !== undefined) cache.set(d, sig);
      } else {
        damaged.add(d);
      }
    });
  }

  // Carried files and keys: what is at each path now.
  const carried: CarriedFile[] = [
    ...manifest.files.map((f) => ({ path: f.path, digest: f.digest, size: f.size, integrity: f.integrity, ...(f.mode !== undefined ? { mode: f.mode } : {}) })),
    ...manifest.keys.map((k) => ({ path: k.path, digest: k.digest, size: k.size })),
  ];
  const pathsByDigest = new Map<string, CarriedFile[]>();
  for (const f of carried) pathsByDigest.set(f.digest, [...(pathsByDigest.get(f.digest) ?? []), f]);
  const fileStates = new Map<string, FileState>();
  await mapLimit(carried, 4, async (f) => {
    fileStates.set(f.path, await files.stateOf(f));
  });
  const fileConflicts: FileConflict[] = carried.filter((f) => fileStates.get(f.path) === 'changed').map((f) => ({ path: f.path, action: opts.overwriteFiles ? 'overwrite' : 'keep' }));

  // Volumes, and split blobs' progress from earlier runs.
  const volumeState = new Map<number, Awaited<ReturnType<typeof volumePresence>>>();
  for (const v of manifest.volumes) volumeState.set(v.index, await volumePresence(volumePath(tm.loc, v.index)));
  const state: PushState = {
    tm, manifest, targets, layout, files, blobs, refs, referrerTags, imageDigests, present, damaged, carried, fileStates, pathsByDigest,
    segments: new Map(), retags, volumeState, overwriteFiles: opts.overwriteFiles ?? false,
  };
  for (const b of manifest.blobs) {
    if (!b.segments || !blobNeeded(state, b)) continue;
    const store = new SegmentStore(imageDigests.has(b.digest) ? layout.ferryArea : files.area, b);
    await store.load();
    state.segments.set(b.digest, store);
  }
  const here = manifest.volumes.filter((v) => volumeState.get(v.index) !== 'absent').map((v) => v.index);
  const plan: PushPlan = {
    target: targets.description,
    filesDir: targets.filesDir,
    volumesPresent: here,
    volumesMissing: manifest.volumes.filter((v) => volumeState.get(v.index) === 'absent').map((v) => v.index),
    volumesToRead: here.filter((v) => volumeNeeded(state, v)),
    blobsAlreadyThere: present.size,
    blobsDamaged: damaged.size,
    retags,
    fileConflicts,
    images: manifest.images.length,
    files: carried.length,
  };
  return { state, plan };
}
