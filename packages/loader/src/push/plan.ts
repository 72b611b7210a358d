// Stage 1 of a push: find out, without writing a byte, what the target already holds and what
// this run must do. Each image goes to one repository of the target (the name mapping); its
// blobs are needed once per blob store (a layout has one; a registry one per repository).
// Blobs already in a layout are counted only after their content is re-verified (a power cut
// can leave a renamed blob short or wrong); a registry is asked (HEAD, many at once). Carried
// files count as done only when their content matches; tags that would move, and local files
// that would be replaced, are found here so the operator sees them before saying yes.

import { FerryError, MAX_IMAGE_MANIFEST_BYTES, blobDescriptor, contentBlobs, isFerryError, isManifestBlob, printable, requiredOf, statRegularFile, type BundleBlob, type BundleImage, type BundleManifest } from '@ferry/format-spec';
import { checkRequired, type RequiredStatus } from './required.js';
import { formatBytes } from '@ferry/cli-kit';
import { volumePath, type TrustedManifest } from '../bundle.js';
import { mapNames, type TaggedReferrer } from './names.js';
import { mapLimit } from '@ferry/format-spec';
import { FilesTarget, type CarriedFile, type FileState } from './files-target.js';
import { openPushTarget, type PushTarget } from './push-target.js';
import { SegmentStore } from './segments.js';
import type { SessionUpload } from './upload-session.js';
import { resolveTargets, type PushTargets } from './target.js';
import type { FileConflict, NameMapping, PushOptions, PushPlan, TagMove } from './types.js';

export interface PushState {
  tm: TrustedManifest;
  manifest: BundleManifest;
  targets: PushTargets;
  target: PushTarget;
  /** Undefined for a registry target without --files-dir: carried files are then not written. */
  files: FilesTarget | undefined;
  blobs: Map<string, BundleBlob>;
  /** Each image's repository in the target and its full reference (for messages), in manifest order. */
  repos: string[];
  refs: string[];
  referrerTags: TaggedReferrer[];
  /** Image content: digest -> the repositories (one per blob store) that need it. */
  wanted: Map<string, string[]>;
  /** placeKey(store, digest) verified present in the target (grows as the run writes). */
  present: Set<string>;
  damaged: Set<string>;
  carried: CarriedFile[];
  fileStates: Map<string, FileState>;
  pathsByDigest: Map<string, CarriedFile[]>;
  segments: Map<string, SegmentStore | SessionUpload>;
  /** Things the operator should know that are not failures (an upload session that was lost). */
  notes: string[];
  retags: TagMove[];
  /** Tags that already point at the bundled digest (nothing to do for them). */
  taggedOk: Set<string>;
  /** Images this run tagged (finalize fills it; the post-load check looks at these). */
  taggedNow: Set<number>;
  volumeState: Map<number, 'present' | 'absent' | { code: 'INPUT_INVALID'; message: string }>;
  /** Volumes read from somewhere else than beside the manifest (a path the operator typed). */
  volumeFiles: Map<number, string>;
  overwriteFiles: boolean;
  concurrency: number;
  /** Images this run leaves alone (--require-signed-images), with the reason. */
  excluded: ReadonlyMap<number, string>;
  /** A delta: its required blobs, found in the target or to be mounted (required.ts). */
  required: RequiredStatus;
}

export function placeKey(s: Pick<PushState, 'target'>, repository: string, digest: string): string {
  return `${s.target.sink.storeOf(repository)}\0${digest}`;
}

export function isPresent(s: PushState, repository: string, digest: string): boolean {
  return s.present.has(placeKey(s, repository, digest));
}

/** Repositories that still lack this image content. */
export function missingRepos(s: PushState, digest: string): string[] {
  return (s.wanted.get(digest) ?? []).filter((r) => !isPresent(s, r, digest));
}

/** A volume is here (a regular file), absent, or here but not something a volume can be. */
export async function volumePresence(path: string): Promise<'present' | 'absent' | { code: 'INPUT_INVALID'; message: string }> {
  try {
    return (await statRegularFile(path, 'volume')) ? 'present' : 'absent';
  } catch (e) {
    if (!isFerryError(e, 'INPUT_INVALID')) throw e;
    return { code: 'INPUT_INVALID', message: e.message };
  }
}

export function volumeFile(s: Pick<PushState, 'tm' | 'volumeFiles'>, index: number): string {
  return s.volumeFiles.get(index) ?? volumePath(s.tm.loc, index);
}

export function needsFile(s: PushState, f: CarriedFile): boolean {
  if (!s.files) return false;
  const st = s.fileStates.get(f.path);
  return st === 'absent' || st === 'ours-older' || (st === 'changed' && s.overwriteFiles);
}

export function imageNeeds(s: PushState, digest: string): boolean {
  return missingRepos(s, digest).length > 0;
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

/** Everything a push needs to know before it writes, and the plan to show the operator. The
 *  target it opens (unless given one) is closed again if planning fails. */
export async function planPush(
  tm: TrustedManifest,
  opts: PushOptions & { to: string; excluded?: ReadonlyMap<number, string> },
  existing?: { target: PushTarget; files: FilesTarget | undefined },
): Promise<{ state: PushState; plan: PushPlan }> {
  const targets = await resolveTargets(opts.to, opts.filesDir, tm.loc.dir, opts.stateDir);
  const target = existing?.target ?? openPushTarget(targets, opts.registry ?? {});
  try {
    return await planWith(tm, opts, targets, target, existing);
  } catch (e) {
    if (!existing) await target.close().catch(() => undefined);
    throw e;
  }
}

async function planWith(
  tm: TrustedManifest,
  opts: PushOptions & { excluded?: ReadonlyMap<number, string> },
  targets: PushTargets,
  target: PushTarget,
  existing?: { target: PushTarget; files: FilesTarget | undefined },
): Promise<{ state: PushState; plan: PushPlan }> {
  const manifest = tm.manifest;
  const emit = opts.onEvent ?? (() => {});
  const excluded = opts.excluded ?? new Map<number, string>();
  const filesDir = targets.filesDir;
  const files = existing ? existing.files : filesDir !== undefined ? new FilesTarget(filesDir) : undefined;
  const rewrites = opts.rewrites ?? [];
  const concurrency = Math.max(1, opts.concurrency ?? (targets.kind === 'registry' ? 6 : 4));
  const { repos, refs, referrerTags } = mapNames(targets, manifest.images, rewrites);

  // Manifests a registry would refuse, before anything is sent (distribution: 4 MiB).
  // A delta's required blobs are image content too: looked for in the target, never in a volume.
  const blobs = contentBlobs(manifest);
  const requiredDigests = new Set(requiredOf(manifest).map((r) => r.digest));
  if (targets.kind === 'registry') {
    for (const b of manifest.blobs) {
      if (isManifestBlob(b) && b.size > MAX_IMAGE_MANIFEST_BYTES) {
        throw new FerryError('TARGET_ERROR', `manifest ${b.digest} is ${b.size} bytes; registries accept at most ${MAX_IMAGE_MANIFEST_BYTES} (distribution answers MANIFEST_INVALID); nothing was pushed`, { digest: b.digest });
      }
    }
  }

  checkNames(refs, manifest.images, referrerTags);

  emit({ type: 'checking', what: targets.kind === 'registry' ? `registry ${targets.registry} (reachable, TLS, credentials, push allowed)` : `the target ${targets.description}` });
  // Push permission is often per project or namespace (Harbor, GitLab, Artifactory): one
  // repository of each is tried before anything is sent.
  const namespaces = targets.kind === 'registry' ? [...new Map(repos.map((r) => [r.split('/')[0], r])).values()] : [];
  const targetExists = await target.check(namespaces[0]);
  for (const r of namespaces.slice(1)) await target.check(r);
  if (files) await files.check();

  // Tags that would move.
  const retags: TagMove[] = [];
  const taggedOk = new Set<string>();
  if (targetExists) {
    const tagged = [
      ...manifest.images.flatMap((img, i) => (img.tag && !excluded.has(i) ? [{ repo: repos[i]!, tag: img.tag, ref: refs[i]!, digest: img.digest }] : [])),
      ...referrerTags.filter((r) => !excluded.has(manifest.images.indexOf(r.image))).map((r) => ({ repo: r.repository, tag: r.tag, ref: r.ref, digest: r.referrer.digest })),
    ];
    const seen = new Set<string>();
    await mapLimit(tagged, concurrency, async (t) => {
      if (seen.has(t.ref)) return;
      seen.add(t.ref);
      const cur = await target.sink.tagged(t.repo, t.tag);
      if (cur && cur.digest !== t.digest) retags.push({ ref: t.ref, from: cur.digest, to: t.digest });
      else if (cur) taggedOk.add(t.ref);
    });
    retags.sort((a, b) => a.ref.localeCompare(b.ref));
  }
  if (opts.noRetag && retags.length) {
    throw new FerryError('TAG_CONFLICT', `--no-retag: ${retags.length} tag(s) in ${printable(targets.description)} point at other content: ${retags.slice(0, 5).map((m) => `${printable(m.ref)} (${m.from.slice(0, 19)}… → ${m.to.slice(0, 19)}…)`).join(', ')}${retags.length > 5 ? ', …' : ''}`, { tags: retags.length });
  }

  // Image content: which repositories (one per blob store) need each digest.
  const wanted = new Map<string, string[]>();
  const stores = new Map<string, Set<string>>();
  const want = (digest: string, repo: string): void => {
    const store = target.sink.storeOf(repo);
    let s = stores.get(digest);
    if (!s) stores.set(digest, (s = new Set()));
    if (s.has(store)) return;
    s.add(store);
    wanted.set(digest, [...(wanted.get(digest) ?? []), repo]);
  };
  manifest.images.forEach((img, i) => {
    if (excluded.has(i)) return; // refused by policy: nothing of it is sent
    for (const d of img.blobs) want(d, repos[i]!);
    for (const r of img.referrers ?? []) for (const d of r.blobs) want(d, repos[i]!);
  });
  const stateRef: Pick<PushState, 'target'> = { target };
  const present = new Set<string>();
  const damaged = new Set<string>();
  if (targetExists && targets.kind === 'registry') {
    // A registry holds a tag only once everything under it is there (it checks on every PUT):
    // an image already tagged at the bundled digest needs no question per blob.
    manifest.images.forEach((img, i) => {
      if (!img.tag || !taggedOk.has(refs[i]!)) return;
      for (const d of img.blobs) present.add(placeKey(stateRef, repos[i]!, d));
      for (const rt of referrerTags) if (rt.image === img && taggedOk.has(rt.ref)) for (const d of rt.referrer.blobs) present.add(placeKey(stateRef, repos[i]!, d));
    });
  }
  if (targetExists) {
    emit({ type: 'checking', what: `what ${targets.description} already holds` });
    const places = [...wanted].filter(([d]) => !requiredDigests.has(d)).flatMap(([d, rs]) => rs.map((r) => ({ d, r }))).filter(({ d, r }) => !present.has(placeKey(stateRef, r, d)));
    await mapLimit(places, concurrency, async ({ d, r }) => {
      const b = blobs.get(d)!;
      const state = await target.sink.blobPresence(r, blobDescriptor(b));
      if (state === 'present') present.add(placeKey(stateRef, r, d));
      else if (state === 'damaged') damaged.add(d);
    });
  }

  // Required blobs (a delta), before the operator is asked: all there, or mountable, or nothing is written.
  if (requiredDigests.size) emit({ type: 'checking', what: `the ${requiredDigests.size} blob(s) this delta requires in ${targets.description}` });
  const required = await checkRequired({ manifest, targets, target, wanted, present, repos, refs, concurrency }, rewrites, (r, d) => placeKey(stateRef, r, d));

  // Carried files and keys: what is at each path now.
  const carried: CarriedFile[] = [
    ...manifest.files.map((f) => ({ path: f.path, digest: f.digest, size: f.size, integrity: f.integrity, ...(f.mode !== undefined ? { mode: f.mode } : {}) })),
    ...manifest.keys.map((k) => ({ path: k.path, digest: k.digest, size: k.size })),
  ];
  const pathsByDigest = new Map<string, CarriedFile[]>();
  for (const f of carried) pathsByDigest.set(f.digest, [...(pathsByDigest.get(f.digest) ?? []), f]);
  const fileStates = new Map<string, FileState>();
  if (files) {
    await mapLimit(carried, 4, async (f) => {
      fileStates.set(f.path, await files.stateOf(f));
    });
  }
  const fileConflicts: FileConflict[] = carried.filter((f) => fileStates.get(f.path) === 'changed').map((f) => ({ path: f.path, action: opts.overwriteFiles ? 'overwrite' : 'keep' }));

  // Volumes, and split blobs' progress from earlier runs.
  const notes: string[] = [];
  const volumeState = new Map<number, Awaited<ReturnType<typeof volumePresence>>>();
  for (const v of manifest.volumes) volumeState.set(v.index, await volumePresence(volumePath(tm.loc, v.index)));
  const state: PushState = {
    tm, manifest, targets, target, files, blobs, repos, refs, referrerTags, wanted, present, damaged, carried, fileStates, pathsByDigest,
    segments: new Map(), notes, retags, taggedOk, taggedNow: new Set(), volumeState, volumeFiles: new Map(), overwriteFiles: opts.overwriteFiles ?? false, concurrency, excluded, required,
  };
  if (required.blobs) notes.push(`delta: ${required.blobs} blob(s) (${formatBytes(required.bytes)}) are not carried; every one is in the target${required.mounts.length ? ` or will be mounted from another repository (${required.mounts.length} mount(s))` : ''}`);
  for (const b of manifest.blobs) {
    if (!b.segments || !blobNeeded(state, b)) continue;
    // Into a registry, and no carried file wants the bytes: segments go straight into an upload
    // session. Otherwise they are reassembled in Ferry's area (a layout renames the result in).
    const forImages = wanted.has(b.digest);
    const repo = missingRepos(state, b.digest)[0];
    const session = forImages && repo !== undefined && !pathsByDigest.has(b.digest) ? target.sessionUpload(b, repo) : undefined;
    const store = session ?? new SegmentStore(forImages || !files ? target.area : files.area, b);
    await store.load();
    if (session?.lost) notes.push(session.lost);
    state.segments.set(b.digest, store);
  }
  const here = manifest.volumes.filter((v) => volumeState.get(v.index) !== 'absent').map((v) => v.index);
  const mapping: NameMapping[] = manifest.images.map((img, i) => {
    const all = [...new Set([...img.blobs, ...(img.referrers ?? []).flatMap((r) => r.blobs)])];
    return { source: img.source, target: refs[i]!, repository: repos[i]!, blobs: all.length, present: all.filter((d) => isPresent(state, repos[i]!, d)).length };
  });
  const plan: PushPlan = {
    target: targets.description,
    targetKind: targets.kind,
    ...(filesDir !== undefined ? { filesDir } : {}),
    mapping,
    volumesPresent: here,
    volumesMissing: manifest.volumes.filter((v) => volumeState.get(v.index) === 'absent').map((v) => v.index),
    volumesToRead: here.filter((v) => volumeNeeded(state, v)),
    blobsAlreadyThere: present.size,
    blobsDamaged: damaged.size,
    retags,
    fileConflicts,
    notes,
    images: manifest.images.length,
    files: carried.length,
    charts: [],
  };
  return { state, plan };
}
