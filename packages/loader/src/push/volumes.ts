// Stage 2 of a push: read each present volume that holds something still needed and send every
// needed blob where it belongs — the layout, the files directory, or both — straight from the
// volume (verified by the reader as it streams, again by the sink). Segments of a split blob are
// collected in the target until the blob is whole. A damaged volume does not stop the others:
// it is reported by name, and a good copy loaded later completes what it held.

import { Transform, type Readable } from 'node:stream';
import { FerryError, isFerryError, readVolume, toFerryError, type BundleBlob, type Descriptor } from '@ferry/format-spec';
import { noFollowReadStream } from '@ferry/oci';
import { volumePath } from '../bundle.js';
import { blobNeeded, imageNeeds, needsFile, volumeNeeded, type PushState } from './plan.js';
import type { SegmentStore } from './segments.js';
import type { PushEvent } from './types.js';

/** A volume that could not be read this run (damaged, not a file), or a split blob whose
 *  reassembled copy needs some volumes again. */
export interface VolumeFailure {
  volumes: number[];
  code: string;
  message: string;
}

export interface VolumeLoop {
  blobsWritten: number;
  bytesWritten: number;
  failures: VolumeFailure[];
  /** Carried paths written this run. */
  written: Set<string>;
}

/** Damage to one volume: the others are still worth loading. Anything else stops the run. */
const DAMAGE = new Set(['BLOB_MISMATCH', 'ARCHIVE_CORRUPT', 'INPUT_INVALID']);

const descOf = (b: BundleBlob): Descriptor => ({ mediaType: b.mediaType, digest: b.digest, size: b.size });

export function interrupted(): FerryError {
  return new FerryError('INTERRUPTED', 'interrupted; nothing was tagged that is incomplete; run the same command again to continue');
}

export async function loadVolumes(s: PushState, emit: (e: PushEvent) => void, signal?: AbortSignal): Promise<VolumeLoop> {
  const out: VolumeLoop = { blobsWritten: 0, bytesWritten: 0, failures: [], written: new Set() };
  // What this run can load: needed blobs and segments in the volumes that are here.
  const here = (v: number): boolean => s.volumeState.get(v) === 'present';
  const total = s.manifest.blobs.filter((b) => blobNeeded(s, b)).reduce((n, b) => {
    if (b.volume !== undefined) return n + (here(b.volume) ? b.size : 0);
    const store = s.segments.get(b.digest);
    return n + (b.segments ?? []).filter((g) => here(g.volume) && !store?.isDone(g.index)).reduce((m, g) => m + g.size, 0);
  }, 0);

  // Count bytes without switching the entry stream to flowing mode before the sink reads it.
  const counted = (src: Readable): Readable => {
    const counter = new Transform({
      transform(c: Buffer, _e, cb) {
        out.bytesWritten += c.length;
        emit({ type: 'bytes', bytes: out.bytesWritten, total });
        cb(null, c);
      },
    });
    src.on('error', (e) => counter.destroy(e));
    // The sink may still be opening its file when the volume's bytes turn out bad: the error is
    // kept on the stream (its consumer's pipeline reports it), not thrown as an unhandled event.
    counter.on('error', () => undefined);
    return src.pipe(counter);
  };

  /** The carried paths that still want this content. */
  const pathsFor = (b: BundleBlob) => (s.pathsByDigest.get(b.digest) ?? []).filter((f) => needsFile(s, f));

  const markFile = (path: string): void => {
    s.fileStates.set(path, 'same');
    out.written.add(path);
    emit({ type: 'file', path });
  };

  /** A whole, verified blob: into the layout if images need it, and to every path carrying it. */
  const deliver = async (b: BundleBlob, data: Readable | string): Promise<void> => {
    const paths = pathsFor(b);
    const open = (): Readable => (typeof data === 'string' ? noFollowReadStream(data) : data);
    if (imageNeeds(s, b.digest)) {
      if (typeof data === 'string') await s.layout.adoptBlob(descOf(b), data);
      else await s.layout.writeBlob(descOf(b), data);
      s.present.add(b.digest);
      s.damaged.delete(b.digest);
      for (const f of paths) {
        await s.files.copyFrom(f, s.layout.blobPath(b.digest));
        markFile(f.path);
      }
    } else if (paths.length) {
      const [first, ...rest] = paths as [typeof paths[number], ...typeof paths];
      await s.files.write(first, open());
      markFile(first.path);
      for (const f of rest) {
        await s.files.copyFrom(f, s.files.pathOf(first.path));
        markFile(f.path);
      }
    }
    out.blobsWritten++;
  };

  /** Every segment is in: join them (no copy into the layout: the partial file is renamed). */
  const assemble = async (b: BundleBlob, store: SegmentStore): Promise<void> => {
    try {
      await deliver(b, store.part);
    } catch (e) {
      if (!isFerryError(e, 'BLOB_MISMATCH')) throw e;
      const bad = await store.recheck();
      const vols = [...new Set(bad.map((g) => g.volume))];
      const names = vols.map((v) => s.manifest.volumes[v - 1]!.file).join(', ');
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

  for (const v of s.manifest.volumes) {
    if (signal?.aborted) throw interrupted();
    const presence = s.volumeState.get(v.index);
    if (presence === 'absent') continue;
    if (presence !== 'present' && presence !== undefined) {
      out.failures.push({ volumes: [v.index], code: presence.code, message: presence.message });
      emit({ type: 'volume-failed', file: v.file, code: presence.code, message: presence.message });
      continue;
    }
    if (!volumeNeeded(s, v.index)) {
      emit({ type: 'volume-skip', file: v.file, reason: 'everything in it is already loaded' });
      continue;
    }
    emit({ type: 'volume-start', file: v.file });
    let written = 0;
    let skipped = 0;
    try {
      await readVolume({
        path: volumePath(s.tm.loc, v.index),
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
            await deliver(b, counted(stream));
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
    } catch (e) {
      if (signal?.aborted) throw interrupted();
      const fe = toFerryError(e);
      if (!DAMAGE.has(fe.code)) throw fe;
      const message = fe.message.includes(v.file) ? fe.message : `${v.file}: ${fe.message}`;
      out.failures.push({ volumes: [v.index], code: fe.code, message });
      emit({ type: 'volume-failed', file: v.file, code: fe.code, message });
      continue;
    }
    emit({ type: 'volume-done', file: v.file, written, skipped });
  }
  return out;
}
