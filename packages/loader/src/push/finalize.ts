// Stage 3 of a push: make complete images visible. An image is tagged only when every blob it
// lists is verified in the target and its own bytes agree (closure.ts); cosign signatures and
// attestations get their sha256-<hex>.sig/.att tags beside it only after it. Then the report:
// what was loaded, what waits for which volumes (exactly those still needed), what was refused.

import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError, blobDescriptor, isFerryError, isManifestBlob, type Descriptor } from '@ferry/format-spec';
import { checkRegularFile, targetFsError, type TagRequest } from '@ferry/oci';
import { checkClosure } from '../closure.js';
import { imageNeeds, isPresent, volumesStillNeeded, type PushState } from './plan.js';
import { mapLimit } from '@ferry/format-spec';
import type { VolumeLoop } from './volumes.js';
import type { FileStatus, PushEvent, PushReport } from './types.js';


type ImageResult = PushReport['images'][number] & { tags: TagRequest[]; referrerTagRequests: TagRequest[] };

export async function finalize(s: PushState, loop: VolumeLoop, emit: (e: PushEvent) => void, started: number): Promise<PushReport> {
  const sink = s.target.sink;
  // Manifest bytes by blob store and digest: read (and verified) once, for the closure check and the push.
  const bytesOf = new Map<string, Promise<Buffer>>();
  const read = (repo: string) => (d: Descriptor): Promise<Buffer> => {
    const k = `${sink.storeOf(repo)}\0${d.digest}`;
    let p = bytesOf.get(k);
    if (!p) bytesOf.set(k, (p = sink.getManifest(repo, d)));
    return p;
  };
  // Each (repository, manifest) is stored once, even when several images share it.
  const stored = new Map<string, Promise<void>>();
  const storeManifests = async (repo: string, digests: readonly string[], tagsRoot = false): Promise<void> => {
    for (const [n, d] of digests.entries()) {
      const b = s.blobs.get(d);
      if (!b || !isManifestBlob(b)) continue;
      // A root about to be tagged is stored by that tag's PUT (one request, not two).
      if (tagsRoot && n === digests.length - 1) continue;
      const k = `${repo}\0${d}`;
      let p = stored.get(k);
      if (!p) {
        stored.set(k, (p = (async () => {
          if (await sink.hasManifest(repo, blobDescriptor(b))) return;
          await sink.putManifest(repo, blobDescriptor(b), await read(repo)(blobDescriptor(b)));
        })()));
      }
      await p;
    }
  };

  const results: ImageResult[] = new Array(s.manifest.images.length);
  await mapLimit([...s.manifest.images.entries()], s.concurrency, async ([i, img]) => {
    const ref = s.refs[i]!;
    const repo = s.repos[i]!;
    const base = { source: img.source, ref, digest: img.digest, referrers: 0, tags: [] as TagRequest[], referrerTagRequests: [] as TagRequest[] };
    const policy = s.excluded.get(i);
    if (policy !== undefined) {
      results[i] = { ...base, status: 'refused', reason: policy, policy: true };
      emit({ type: 'image-refused', ref, message: policy });
      return;
    }
    if (!img.blobs.every((d) => isPresent(s, repo, d))) {
      results[i] = { ...base, status: 'pending' };
      return;
    }
    // The image and the signatures ready to go beside it are checked before anything is stored
    // under a manifest's name, let alone tagged.
    const ready = s.referrerTags.filter((rt) => rt.image === img && rt.referrer.blobs.every((d) => isPresent(s, repo, d)));
    const readyOci = (img.referrers ?? []).filter((r) => r.scheme === 'oci-referrer' && r.blobs.every((d) => isPresent(s, repo, d)));
    // Already in the target under its tag, with its signature tags: the content behind a digest
    // is that digest's, so there is nothing to check or send (a re-run costs no reads).
    const allTagged = img.tag !== undefined && s.taggedOk.has(ref) && ready.length === s.referrerTags.filter((rt) => rt.image === img).length && ready.every((rt) => s.taggedOk.has(rt.ref));
    // (OCI referrers have no tag to tell; an image with any goes the full way, with cached answers.)
    const noOci = !(img.referrers ?? []).some((r) => r.scheme === 'oci-referrer');
    if (allTagged && noOci && s.targets.kind === 'registry') {
      results[i] = { ...base, status: 'loaded', referrers: ready.length };
      return;
    }
    try {
      await checkClosure({ what: `image ${ref}`, root: img, listed: img.blobs, blobs: s.blobs, read: read(repo) });
      for (const { referrer: r } of ready) await checkClosure({ what: `${r.tag} of image ${ref}`, root: r, listed: r.blobs, blobs: s.blobs, read: read(repo) });
      for (const r of readyOci) await checkClosure({ what: `referrer ${r.digest} of image ${ref}`, root: r, listed: r.blobs, blobs: s.blobs, read: read(repo), subject: r.subject });
    } catch (e) {
      if (!isFerryError(e, 'ARCHIVE_HOSTILE')) throw e;
      results[i] = { ...base, status: 'refused', reason: e.message };
      emit({ type: 'image-refused', ref, message: e.message });
      return;
    }
    // Children by digest before the index, the image before what refers to it.
    const tagging = img.tag !== undefined && !s.taggedOk.has(ref) && s.targets.kind === 'registry';
    await storeManifests(repo, img.blobs, tagging);
    for (const r of [...readyOci, ...ready.map((rt) => rt.referrer)]) await storeManifests(repo, r.blobs);
    const referrerTagRequests: TagRequest[] = [];
    for (const rt of ready) {
      if (s.taggedOk.has(rt.ref)) continue;
      const d = blobDescriptor(rt.referrer);
      referrerTagRequests.push({ repository: repo, tag: rt.tag, descriptor: d, bytes: await read(repo)(d) });
    }
    const tags: TagRequest[] = img.tag && !s.taggedOk.has(ref) ? [{ repository: repo, tag: img.tag, descriptor: blobDescriptor(img), bytes: await read(repo)(blobDescriptor(img)) }] : [];
    const move = s.retags.find((m) => m.ref === ref);
    results[i] = { ...base, status: 'loaded', referrers: ready.length, tags, referrerTagRequests, ...(move ? { retaggedFrom: move.from } : {}) };
  });

  // Tags last, all at once: cosign's sha256-<hex>.sig/.att tags (so `cosign verify` finds them
  // the moment the image is visible), then the images' own tags.
  await sink.putTags(results.flatMap((r) => r.referrerTagRequests));
  await sink.putTags(results.flatMap((r) => r.tags));
  results.forEach((r, i) => {
    if (r.tags.length || r.referrerTagRequests.length) s.taggedNow.add(i);
  });
  const images: PushReport['images'] = results.map(({ tags: _t, referrerTagRequests: _r, ...r }) => r);
  for (const r of images) if (r.status === 'loaded') emit({ type: 'image', ref: r.ref, digest: r.digest, ...(r.retaggedFrom ? { retagged: r.retaggedFrom } : {}) });

  const files: PushReport['files'] = s.carried.map((f) => {
    if (!s.files) return { path: f.path, status: 'skipped' as const, reason: 'a registry has no place for files: give --files-dir DIR to write them' };
    const st = s.fileStates.get(f.path);
    let status: FileStatus;
    if (st === 'same') {
      status = loop.written.has(f.path) ? 'written' : 'unchanged';
      s.files.record(f);
    } else if (st === 'changed' && !s.overwriteFiles) {
      status = 'kept';
      emit({ type: 'file-kept', path: f.path });
    } else {
      status = 'pending';
    }
    return { path: f.path, status, ...(status === 'kept' ? { reason: 'a different local file is there; --overwrite-files replaces it' } : {}) };
  });

  await dropUselessPartials(s);
  // Manifests kept for images now complete in the target are not needed any more.
  const pendingDigests = new Set(s.manifest.images.flatMap((img, i) => [
    ...(images[i]!.status === 'loaded' ? [] : img.blobs),
    ...(img.referrers ?? []).filter((r) => images[i]!.status !== 'loaded' || !r.blobs.every((d) => isPresent(s, s.repos[i]!, d))).flatMap((r) => r.blobs),
  ]));
  await s.target.prune((d) => s.wanted.has(d) && !pendingDigests.has(d));

  const stillNeeded = volumesStillNeeded(s);
  const damagedVolumes = new Set(loop.failures.flatMap((f) => f.volumes));
  const name = (v: number): string => s.manifest.volumes[v - 1]!.file;
  return {
    bundle: s.manifest.name,
    target: s.targets.description,
    targetKind: s.targets.kind,
    ...(s.targets.filesDir !== undefined ? { filesDir: s.targets.filesDir } : {}),
    ...(s.tm.verifiedBy ? { signedBy: `${s.tm.verifiedBy.path} (${s.tm.verifiedBy.fingerprint})` } : {}),
    images,
    files,
    charts: [],
    notes: s.notes,
    retagged: s.retags.filter((m) => images.some((i) => i.status === 'loaded' && (i.ref === m.ref)) || s.referrerTags.some((r) => r.ref === m.ref)),
    volumesMissing: stillNeeded.filter((v) => s.volumeState.get(v) === 'absent' && !damagedVolumes.has(v)).map(name),
    volumesDamaged: loop.failures.map((f) => ({ file: f.volumes.map(name).join(', '), code: f.code, message: f.message })),
    blobsWritten: loop.blobsWritten,
    blobsMounted: loop.blobsMounted,
    bytesWritten: loop.bytesWritten,
    complete: images.every((i) => i.status === 'loaded') && files.every((f) => f.status === 'written' || f.status === 'unchanged' || f.status === 'skipped'),
    seconds: (Date.now() - started) / 1000,
  };
}

/**
 * Split blobs whose content is now in place leave nothing behind — also those collected by
 * another bundle that split the same blob elsewhere (when the target can tell). Progress for
 * anything still missing stays.
 */
async function dropUselessPartials(s: PushState): Promise<void> {
  const useless = async (dir: string, done: (digest: string) => Promise<boolean>): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw targetFsError(e, dir, 'cannot read the partial blobs directory');
    }
    for (const n of names) {
      const m = /^([a-f0-9]{64})\.[a-f0-9]{16}(\.json|\.upload)?$/.exec(n);
      if (m && (await done(`sha256:${m[1]}`))) await rm(join(dir, n), { force: true });
    }
  };
  const filesDone = (d: string): boolean => {
    const paths = s.pathsByDigest.get(d);
    return paths !== undefined && paths.every((f) => s.fileStates.get(f.path) === 'same');
  };
  await useless(s.target.area.partial, async (d) => {
    if (s.wanted.has(d)) return !imageNeeds(s, d) && (!s.files || !s.pathsByDigest.has(d) || filesDone(d));
    if (s.blobs.has(d)) return false;
    const local = s.target.localPath(d);
    return local !== undefined && (await checkRegularFile(local).catch(() => undefined)) !== undefined;
  });
  if (s.files) await useless(s.files.partialDir, async (d) => filesDone(d));
}

/**
 * The error a push exits with, most serious first: refused (hostile) content, damaged volumes,
 * volumes still to bring, local files kept. Undefined when everything is in place.
 */
export function pushOutcome(r: PushReport): FerryError | undefined {
  if (r.check && !r.check.ok) {
    const bad = r.check.items;
    return new FerryError('CHECK_FAILED', `after loading, ${bad.length} item(s) are not in ${r.target} as the bundle has them: ${bad.slice(0, 3).map((b) => `${b.ref} ${b.status}`).join(', ')}${bad.length > 3 ? ', …' : ''}; something else changed the target meanwhile`, { failed: bad.length });
  }
  if (r.complete) return undefined;
  const hostile = r.images.filter((i) => i.status === 'refused' && !i.policy);
  if (hostile.length) return new FerryError('ARCHIVE_HOSTILE', `${hostile.length} image(s) refused: ${hostile[0]!.reason}`, { refused: hostile.length });
  const refused = r.images.filter((i) => i.status === 'refused');
  if (refused.length) return new FerryError('SIGNATURE_POLICY', `${refused.length} image(s) not pushed under the signature policy: ${refused.slice(0, 3).map((i) => `${i.ref} (${i.reason})`).join('; ')}${refused.length > 3 ? `; and ${refused.length - 3} more (the report lists each)` : ''}`, { refused: refused.length });
  const pending = r.images.filter((i) => i.status === 'pending').length + r.files.filter((f) => f.status === 'pending').length + r.charts.filter((c) => c.status === 'pending').length;
  if (r.volumesDamaged.length) {
    const d = r.volumesDamaged[0]!;
    return new FerryError(d.code as FerryError['code'], `${d.message}${pending ? `; ${pending} item(s) wait for it` : ''}`, { volume: d.file });
  }
  if (pending) {
    if (!r.volumesMissing.length) return new FerryError('INTERNAL', `${pending} item(s) are not loaded, yet no volume is missing or damaged`);
    return new FerryError('INCOMPLETE', `${pending} item(s) wait for volume${r.volumesMissing.length > 1 ? 's' : ''} ${r.volumesMissing.join(', ')}`, { missing: r.volumesMissing.length });
  }
  const chartsRefused = r.charts.filter((c) => c.status === 'refused');
  if (chartsRefused.length) return new FerryError('CHART_INVALID', `${chartsRefused.length} chart(s) of the bundle refused and not published: ${chartsRefused[0]!.reason ?? ''}`, { refused: chartsRefused.length });
  const chartsFailed = r.charts.filter((c) => c.status === 'failed');
  if (chartsFailed.length) {
    return new FerryError('PARTIAL_FAILURE', `${chartsFailed.length} chart upload(s) failed: ${chartsFailed.slice(0, 3).map((c) => `${c.chart} to ${c.destination}: ${c.reason ?? ''}`).join('; ')}`, { failed: chartsFailed.length });
  }
  const kept = r.files.filter((f) => f.status === 'kept');
  if (kept.length) {
    return new FerryError('PARTIAL_FAILURE', `${kept.length} carried file(s) were not written because a different local file is there (kept as it is): ${kept.slice(0, 5).map((f) => f.path).join(', ')}${kept.length > 5 ? ', …' : ''}; run again with --overwrite-files to replace them`, { kept: kept.length });
  }
  return new FerryError('INTERNAL', 'the load is not complete, for no reason Ferry can name');
}
