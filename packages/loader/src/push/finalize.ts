// Stage 3 of a push: make complete images visible. An image is tagged only when every blob it
// lists is verified in the target and its own bytes agree (closure.ts); cosign signatures and
// attestations get their sha256-<hex>.sig/.att tags beside it only after it. Then the report:
// what was loaded, what waits for which volumes (exactly those still needed), what was refused.

import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError, isFerryError, type Descriptor } from '@ferry/format-spec';
import { targetFsError } from '@ferry/oci';
import { checkClosure } from '../closure.js';
import { volumesStillNeeded, type PushState } from './plan.js';
import type { VolumeLoop } from './volumes.js';
import type { FileStatus, PushEvent, PushReport } from './types.js';

export async function finalize(s: PushState, loop: VolumeLoop, emit: (e: PushEvent) => void, started: number): Promise<PushReport> {
  const read = (d: Descriptor): Promise<Buffer> => s.layout.readManifest(d);
  const images: PushReport['images'] = [];
  for (const [i, img] of s.manifest.images.entries()) {
    const ref = s.refs[i]!;
    const base = { source: img.source, ref, digest: img.digest, referrers: 0 };
    if (!img.blobs.every((d) => s.present.has(d))) {
      images.push({ ...base, status: 'pending' });
      continue;
    }
    // The image and the signatures ready to go beside it are checked before anything is tagged.
    const ready = s.referrerTags.filter((rt) => rt.image === img && rt.referrer.blobs.every((d) => s.present.has(d)));
    try {
      await checkClosure({ what: `image ${ref}`, root: img, listed: img.blobs, blobs: s.blobs, read });
      for (const { referrer: r } of ready) await checkClosure({ what: `${r.tag} of image ${ref}`, root: r, listed: r.blobs, blobs: s.blobs, read });
    } catch (e) {
      if (!isFerryError(e, 'ARCHIVE_HOSTILE')) throw e;
      images.push({ ...base, status: 'refused', reason: e.message });
      emit({ type: 'image-refused', ref, message: e.message });
      continue;
    }
    const move = s.retags.find((m) => m.ref === ref);
    await s.layout.tag(ref, { mediaType: img.mediaType, digest: img.digest, size: img.size });
    emit({ type: 'image', ref, digest: img.digest, ...(move ? { retagged: move.from } : {}) });
    // cosign signatures/attestations keep their sha256-<hex>.sig/.att tags beside the image, so
    // `cosign verify` finds them once the image moves on; only after the image itself is there.
    for (const rt of ready) await s.layout.tag(rt.ref, { mediaType: rt.referrer.mediaType, digest: rt.referrer.digest, size: rt.referrer.size });
    const referrers = ready.length;
    images.push({ ...base, status: 'loaded', referrers, ...(move ? { retaggedFrom: move.from } : {}) });
  }

  const files: PushReport['files'] = s.carried.map((f) => {
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

  const stillNeeded = volumesStillNeeded(s);
  const damagedVolumes = new Set(loop.failures.flatMap((f) => f.volumes));
  const name = (v: number): string => s.manifest.volumes[v - 1]!.file;
  return {
    bundle: s.manifest.name,
    target: s.targets.description,
    filesDir: s.targets.filesDir,
    ...(s.tm.verifiedBy ? { signedBy: `${s.tm.verifiedBy.path} (${s.tm.verifiedBy.fingerprint})` } : {}),
    images,
    files,
    retagged: s.retags.filter((m) => images.some((i) => i.status === 'loaded' && (i.ref === m.ref)) || s.referrerTags.some((r) => r.ref === m.ref)),
    volumesMissing: stillNeeded.filter((v) => s.volumeState.get(v) === 'absent' && !damagedVolumes.has(v)).map(name),
    volumesDamaged: loop.failures.map((f) => ({ file: f.volumes.map(name).join(', '), code: f.code, message: f.message })),
    blobsWritten: loop.blobsWritten,
    bytesWritten: loop.bytesWritten,
    complete: images.every((i) => i.status === 'loaded') && files.every((f) => f.status === 'written' || f.status === 'unchanged'),
    seconds: (Date.now() - started) / 1000,
  };
}

/**
 * Split blobs whose content is now in place leave nothing behind — also those collected by
 * another bundle that split the same blob elsewhere. Progress for anything still missing stays.
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
      const m = /^([a-f0-9]{64})\.[a-f0-9]{16}(\.json)?$/.exec(n);
      if (m && (await done(`sha256:${m[1]}`))) await rm(join(dir, n), { force: true });
    }
  };
  await useless(s.layout.partialDir, async (d) => (await s.layout.blobState({ digest: d, size: s.blobs.get(d)?.size ?? -1 })) === 'present' || ((await s.layout.hasBlob(d)) && !s.blobs.has(d)));
  await useless(s.files.partialDir, async (d) => {
    const paths = s.pathsByDigest.get(d);
    return paths !== undefined && paths.every((f) => s.fileStates.get(f.path) === 'same');
  });
}

/**
 * The error a push exits with, most serious first: refused (hostile) content, damaged volumes,
 * volumes still to bring, local files kept. Undefined when everything is in place.
 */
export function pushOutcome(r: PushReport): FerryError | undefined {
  if (r.complete) return undefined;
  const refused = r.images.filter((i) => i.status === 'refused');
  if (refused.length) return new FerryError('ARCHIVE_HOSTILE', `${refused.length} image(s) refused: ${refused[0]!.reason}`, { refused: refused.length });
  const pending = r.images.filter((i) => i.status === 'pending').length + r.files.filter((f) => f.status === 'pending').length;
  if (r.volumesDamaged.length) {
    const d = r.volumesDamaged[0]!;
    return new FerryError(d.code as FerryError['code'], `${d.message}${pending ? `; ${pending} item(s) wait for it` : ''}`, { volume: d.file });
  }
  if (pending) {
    if (!r.volumesMissing.length) return new FerryError('INTERNAL', `${pending} item(s) are not loaded, yet no volume is missing or damaged`);
    return new FerryError('INCOMPLETE', `${pending} item(s) wait for volume${r.volumesMissing.length > 1 ? 's' : ''} ${r.volumesMissing.join(', ')}`, { missing: r.volumesMissing.length });
  }
  const kept = r.files.filter((f) => f.status === 'kept');
  if (kept.length) {
    return new FerryError('PARTIAL_FAILURE', `${kept.length} carried file(s) were not written because a different local file is there (kept as it is): ${kept.slice(0, 5).map((f) => f.path).join(', ')}${kept.length > 5 ? ', …' : ''}; run again with --overwrite-files to replace them`, { kept: kept.length });
  }
  return new FerryError('INTERNAL', 'the load is not complete, for no reason Ferry can name');
}
