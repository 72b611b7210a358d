// Stage 2 of a push: read each present volume that holds something still needed and hand every
// needed blob, straight from the volume (verified by the reader as it streams), to deliver.ts,
// which sends it where it belongs — once per run, mounted into every other repository that needs
// it. Small blobs are delivered in the background while the volume streams on. Segments of a split blob
// are collected in Ferry's area until the blob is whole. A damaged volume does not stop the
// others: it is reported by name, and a good copy loaded later completes what it held. What a
// pass could not finish (a mount the registry refused, an upload cut by a dropped connection)
// is read again from its volume in another pass — never from memory, never from a temp copy.

import { Readable, Transform } from 'node:stream';
import { FerryError, collectBytes, isFerryError, markVerified, readVolume, toFerryError, verifiedDigestOf, type BundleBlob } from '@ferry/format-spec';
import { blobNeeded, volumeFile, volumeNeeded, volumePresence, volumesStillNeeded, type PushState } from './plan.js';
import type { SegmentStore } from './segments.js';
import { SessionUpload } from './upload-session.js';
import { Delivery, TaskQueue, type DeliverySource } from './deliver.js';
import type { NextVolume, PushEvent } from './types.js';

/** A volume that could not be read this run (damaged, not a file), or a split blob whose
 *  reassembled copy needs some volumes again. */
export interface VolumeFailure {
  volumes: number[];
  code: string;
  message: string;
}

export interface VolumeLoop {
  blobsWritten: number;
  blobsMounted: number;
  bytesWritten: number;
  failures: VolumeFailure[];
  /** Carried paths written this run. */
  written: Set<string>;
}

/** Damage to one volume: the others are still worth loading. Anything else stops the run. */
const DAMAGE = new Set(['BLOB_MISMATCH', 'ARCHIVE_CORRUPT', 'INPUT_INVALID']);
/** Passes over the volumes: the first does the work, later ones what a dropped connection or a
 *  refused mount left (each re-reads only the volumes that still hold something needed). */
const MAX_PASSES = 3;

/** Blobs up to this size are delivered in the background (memory: concurrency × this). */
const SMALL_BLOB = 1 << 20;


export function interrupted(): FerryError {
  return new FerryError('INTERRUPTED', 'interrupted; nothing was tagged that is incomplete; run the same command again to continue');
}

export async function loadVolumes(s: PushState, emit: (e: PushEvent) => void, signal?: AbortSignal, nextVolume?: NextVolume): Promise<VolumeLoop> {
  const out: VolumeLoop = { blobsWritten: 0, blobsMounted: 0, bytesWritten: 0, failures: [], written: new Set() };
  const queue = new TaskQueue(s.concurrency);
  // What this run can load: needed blobs and segments in the volumes that are here.
  const here = (v: number): boolean => s.volumeState.get(v) === 'present';
  let total = s.manifest.blobs.filter((b) => blobNeeded(s, b)).reduce((n, b) => {
    if (b.volume !== undefined) return n + (here(b.volume) ? b.size : 0);
    const store = s.segments.get(b.digest);
    return n + (b.segments ?? []).filter((g) => here(g.volume) && !store?.isDone(g.index)).reduce((m, g) => m + g.size, 0);
  }, 0);

  // Count bytes without switching the entry stream to flowing mode before the sink reads it.
  const counted = (src: Readable): Readable => {
    const counter = new Transform({
      transform(c: Buffer, _e, cb) {
        out.bytesWritten += c.length;
        // A pass that re-reads a blob never makes progress go backwards: the total grows.
        if (out.bytesWritten > total) total = out.bytesWritten;
        emit({ type: 'bytes', bytes: out.bytesWritten, total });
        cb(null, c);
      },
    });
    src.on('error', (e) => counter.destroy(e));
    // It ends only after the reader's VerifyingStream ended (it errors instead on a mismatch),
    // so the sink need not hash the bytes again.
    const verified = verifiedDigestOf(src);
    if (verified) markVerified(counter, verified);
    // The sink may still be opening its file when the volume's bytes turn out bad: the error is
    // kept on the stream (its consumer's pipeline reports it), not thrown as an unhandled event.
    counter.on('error', () => undefined);
    return src.pipe(counter);
  };

  const delivery = new Delivery(s, out, emit, queue);
  const deliver = (b: BundleBlob, src: DeliverySource): Promise<void> => delivery.deliver(b, src);

  const failed = new Set<number>();

  /** Every segment is in: join them (no copy into a layout: the partial file is renamed; a
   *  registry session is closed). */
  const assemble = async (b: BundleBlob, store: SegmentStore | SessionUpload): Promise<void> => {
    if (store instanceof SessionUpload) {
      try {
        await deliver(b, { session: store });
      } catch (e) {
        const fe = toFerryError(e);
        if (fe.code !== 'REGISTRY_ERROR' && fe.code !== 'BLOB_MISMATCH') throw fe;
        // The registry refused the joined digest (or a staged segment went bad on disk): the
        // session is gone; its volumes are needed again.
        const vols = [...new Set(b.segments!.map((g) => g.volume))];
        for (const v of vols) failed.add(v);
        const message = `${b.digest}: closing its upload session failed (${fe.message}); it starts over in the next run from ${vols.map((v) => s.manifest.volumes[v - 1]!.file).join(', ')}`;
        out.failures.push({ volumes: vols, code: 'BLOB_MISMATCH', message });
        emit({ type: 'volume-failed', file: b.digest, code: 'BLOB_MISMATCH', message });
      }
      return;
    }
    try {
      await deliver(b, { assembled: store.part });
    } catch (e) {
      if (!isFerryError(e, 'BLOB_MISMATCH')) throw e;
      const bad = await store.recheck();
      const vols = [...new Set(bad.map((g) => g.volume))];
      const names = vols.map((v) => s.manifest.volumes[v - 1]!.file).join(', ');
      for (const v of vols) failed.add(v); // reported: brought again in a later run, not re-read now
      out.failures.push({
        volumes: vols,
        code: 'BLOB_MISMATCH',
        message: bad.length
          ? `${b.digest}: the copy reassembled in the target did not verify; segment(s) ${bad.map((g) => g.index).join(', ')} were damaged there (an interrupted write) and were discarded: bring ${names} again`
          : `${b.digest}: its segments verified one by one but do not join to the blob's digest; the manifest is inconsistent`,
      });
      emit({ type: 'volume-failed', file: names || b.digest, code: 'BLOB_MISMATCH', message: out.failures[out.failures.length - 1]!.message });
      return;
    }
    await store.discard();
  };

  /** Read one volume; a registry that drops the connection ends the pass (`dropped`). */
  const readOne = async (v: { index: number; file: string }, pass: number): Promise<'read' | 'skipped' | 'dropped'> => {
    if (signal?.aborted) throw interrupted();
    if (failed.has(v.index)) return 'skipped';
    const presence = s.volumeState.get(v.index);
    if (presence === 'absent') return 'skipped';
    if (presence !== 'present' && presence !== undefined) {
      failed.add(v.index);
      out.failures.push({ volumes: [v.index], code: presence.code, message: presence.message });
      emit({ type: 'volume-failed', file: v.file, code: presence.code, message: presence.message });
      return 'skipped';
    }
    if (!volumeNeeded(s, v.index)) {
      if (pass === 0) emit({ type: 'volume-skip', file: v.file, reason: 'everything in it is already loaded' });
      return 'skipped';
    }
    emit({ type: 'volume-start', file: v.file });
    let written = 0;
    let skipped = 0;
    try {
      await readVolume({
        path: volumeFile(s, v.index),
        volume: v.index,
        manifest: s.manifest,
        manifestBytes: s.tm.bytes,
        ...(s.tm.signature ? { signatureBytes: s.tm.signature } : {}),
        ...(signal ? { signal } : {}),
        onEntry: async (info, stream) => {
          const b = info.blob;
          if (!b || (info.kind !== 'blob' && info.kind !== 'segment')) return; // the reader drains and checks it
          if (!blobNeeded(s, b)) {
            skipped++;
            return;
          }
          if (info.kind === 'blob') {
            if (b.size <= SMALL_BLOB) {
              // Small blobs (configs, manifests, thin layers) are read whole — the reader has
              // verified them once the read ends — and delivered in the background, several
              // at once, while the volume streams on: per-blob latency overlaps instead of adding up.
              const bytes = await collectBytes(counted(stream), b.size, b.digest);
              await queue.add(() => deliver(b, { stream: markVerified(Readable.from([bytes], { objectMode: false }), b.digest), bytes }));
            } else {
              await deliver(b, { stream: counted(stream) });
            }
            written++;
            return;
          }
          const store = s.segments.get(b.digest);
          const seg = info.segment!;
          if (!store || store.isDone(seg.index)) {
            skipped++;
            return;
          }
          await store.write(seg, counted(stream));
          written++;
          if (store.complete) await assemble(b, store);
        },
      });
      await queue.drain();
    } catch (e) {
      await queue.drain().catch(() => undefined);
      if (signal?.aborted) throw interrupted();
      const fe = toFerryError(e);
      if (fe.code === 'REGISTRY_ERROR') {
        // A dropped connection or a registry that went away: what this volume still holds is
        // read again in the next pass; a registry that stays down stops the run.
        dropped = fe;
        emit({ type: 'volume-failed', file: v.file, code: fe.code, message: fe.message });
        return 'dropped';
      }
      if (!DAMAGE.has(fe.code)) throw fe;
      const message = fe.message.includes(v.file) ? fe.message : `${v.file}: ${fe.message}`;
      failed.add(v.index);
      out.failures.push({ volumes: [v.index], code: fe.code, message });
      emit({ type: 'volume-failed', file: v.file, code: fe.code, message });
      return 'read';
    }
    emit({ type: 'volume-done', file: v.file, written, skipped });
    return 'read';
  };

  let dropped: FerryError | undefined;
  const passes = async (): Promise<void> => {
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      dropped = undefined;
      let read = 0;
      for (const v of s.manifest.volumes) {
        const r = await readOne(v, pass);
        if (r === 'dropped') break;
        if (r === 'read') read++;
      }
      if (!dropped && read === 0) break;
    }
    if (dropped) throw dropped;
  };
  await passes();

  // Volumes still needed and not here: ask for them one at a time (a disc swap within the run).
  if (nextVolume) {
    for (;;) {
      const want = volumesStillNeeded(s).find((v) => s.volumeState.get(v) === 'absent' && !failed.has(v));
      if (want === undefined) break;
      const vol = s.manifest.volumes[want - 1]!;
      const path = await nextVolume({ index: want, of: s.manifest.volumes.length, file: vol.file, expectedAt: volumeFile(s, want) });
      if (path === undefined) break;
      if (signal?.aborted) throw interrupted();
      const presence = await volumePresence(path);
      if (presence === 'absent') {
        emit({ type: 'volume-failed', file: vol.file, code: 'VOLUME_MISSING', message: `${path}: no such file` });
        continue;
      }
      s.volumeFiles.set(want, path);
      s.volumeState.set(want, presence);
      total += (s.manifest.blobs.filter((b) => blobNeeded(s, b)).reduce((n, b) => n + (b.volume === want ? b.size : (b.segments ?? []).filter((g) => g.volume === want && !s.segments.get(b.digest)?.isDone(g.index)).reduce((m, g) => m + g.size, 0)), 0));
      await passes();
    }
  }
  if (dropped) throw dropped;
  return out;
}
