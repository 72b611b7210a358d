// Small blobs the loader must look at before (or beside) the push engine's volume loop — a
// chart's archive and artifact, an image's signatures — read from the volumes that are here:
// each volume streamed once with the reader's own checks (every blob and segment verified as it
// streams), only the wanted blobs kept in memory, split ones joined and checked against their
// digest. Groups (a chart, an image's signatures) whose volumes are not all here are named.

import { FerryError, collectBytes, readVolume, sha256Digest, type BundleBlob } from '@ferry/format-spec';
import { volumePath, type TrustedManifest } from './bundle.js';
import { volumePresence } from './push/plan.js';

/** Largest blob held in memory this way (Helm's own limit on a chart is 100 MiB decompressed). */
export const MAX_SMALL_BLOB = 128 << 20;

export interface SmallBlobs<K> {
  /** Blob bytes by digest, every one verified. */
  bytes: Map<string, Buffer>;
  /** Groups that could not be read in full, with the volume files they need (absent or damaged). */
  missing: Map<K, string[]>;
  /** Volumes that could not be read (damaged). */
  damaged: Array<{ file: string; code: string; message: string }>;
}

/** The volumes holding a blob (one, or one per segment). */
const volumesOf = (b: BundleBlob): number[] => (b.volume !== undefined ? [b.volume] : [...new Set((b.segments ?? []).map((s) => s.volume))]);

/** Read the blobs of every group whose volumes are all here; name what the others need. */
export async function readSmallBlobs<K>(
  tm: TrustedManifest,
  groups: ReadonlyMap<K, readonly string[]>,
  opts: { volumeFiles?: ReadonlyMap<number, string>; signal?: AbortSignal } = {},
): Promise<SmallBlobs<K>> {
  const m = tm.manifest;
  const blobs = new Map(m.blobs.map((b) => [b.digest, b]));
  const fileOf = (v: number): string => opts.volumeFiles?.get(v) ?? volumePath(tm.loc, v);
  const out: SmallBlobs<K> = { bytes: new Map(), missing: new Map(), damaged: [] };
  const volsOf = (ds: readonly string[]): number[] => [...new Set(ds.flatMap((d) => volumesOf(blobs.get(d)!)))];

  const here = new Map<number, boolean>();
  for (const ds of groups.values()) for (const v of volsOf(ds)) here.set(v, false);
  for (const v of here.keys()) here.set(v, (await volumePresence(fileOf(v))) === 'present');
  const readable = [...groups].filter(([k, ds]) => {
    const absent = volsOf(ds).filter((v) => !here.get(v));
    if (absent.length) out.missing.set(k, absent.map((v) => m.volumes[v - 1]!.file));
    return absent.length === 0;
  });
  const needed = new Set(readable.flatMap(([, ds]) => ds));
  const parts = new Map<string, Buffer[]>();
  const bad = new Set<number>();
  for (const v of volsOf([...needed]).sort((a, b) => a - b)) {
    const file = m.volumes[v - 1]!.file;
    try {
      await readVolume({
        path: fileOf(v),
        volume: v,
        manifest: m,
        manifestBytes: tm.bytes,
        ...(tm.signature ? { signatureBytes: tm.signature } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
        onEntry: async (info, stream) => {
          const b = info.blob;
          if (!b || !needed.has(b.digest) || b.size > MAX_SMALL_BLOB) return; // drained and checked by the reader
          const bytes = await collectBytes(stream, info.kind === 'segment' ? info.segment!.size : b.size, b.digest);
          if (info.kind === 'blob') out.bytes.set(b.digest, bytes);
          else if (info.kind === 'segment') {
            const list = parts.get(b.digest) ?? [];
            list[info.segment!.index - 1] = bytes;
            parts.set(b.digest, list);
          }
        },
      });
    } catch (e) {
      const fe = e instanceof FerryError ? e : new FerryError('ARCHIVE_CORRUPT', `${file}: ${(e as Error).message}`);
      if (!['BLOB_MISMATCH', 'ARCHIVE_CORRUPT', 'INPUT_INVALID'].includes(fe.code)) throw fe;
      bad.add(v);
      out.damaged.push({ file, code: fe.code, message: fe.message.includes(file) ? fe.message : `${file}: ${fe.message}` });
    }
  }
  // Split blobs: the segments verified one by one; the join must match the blob's digest.
  for (const [digest, list] of parts) {
    const b = blobs.get(digest)!;
    if (list.filter(Boolean).length !== b.segments!.length) continue;
    const joined = Buffer.concat(list);
    if (sha256Digest(joined) !== digest) throw new FerryError('BLOB_MISMATCH', `${digest}: its segments do not join to the blob's digest; the manifest is inconsistent`);
    out.bytes.set(digest, joined);
  }
  for (const [k, ds] of readable) {
    const damagedIn = volsOf(ds).filter((v) => bad.has(v));
    if (damagedIn.length) out.missing.set(k, damagedIn.map((v) => m.volumes[v - 1]!.file));
  }
  return out;
}
