// ferry-load verify: signature against trusted keys, schema, then every blob's digest and size,
// volume by volume, with no registry and nothing written. Each segment of a split blob is
// verified in its own volume (by the reader, against its segment digest), so a damaged segment
// marks the volume that holds it. The joined segments are also hashed against the blob digest
// (volumes are read in order so segments arrive in order); if every segment verified and the
// join still does not, the signed manifest contradicts itself: that names the blob, not a volume.

import { createHash, type Hash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { FerryError, readVolume, toFerryError, type TrustedKey } from '@ferry/format-spec';
import { openTrusted, volumePath } from './bundle.js';

export interface VolumeResult {
  file: string;
  status: 'ok' | 'missing' | 'bad';
  entries?: number;
  error?: { code: string; message: string };
}

/** A disagreement inside the signed manifest itself, found while verifying. */
export interface ManifestProblem {
  digest: string;
  code: 'SCHEMA_INVALID';
  message: string;
}

export interface VerifyReport {
  bundle: string;
  signature: 'verified' | 'unsigned-allowed';
  signedBy?: string;
  volumes: VolumeResult[];
  /** Split blobs whose segments all verified but whose joined bytes do not hash to the blob digest. */
  manifestProblems: ManifestProblem[];
  blobsVerified: number;
  bytesVerified: number;
  ok: boolean;
  seconds: number;
}

export interface VerifyOptions {
  trustedKeys: readonly TrustedKey[];
  allowUnsigned?: boolean;
  onVolume?: (v: VolumeResult) => void;
  onBytes?: (n: number, total: number) => void;
}

export async function verifyBundle(path: string, opts: VerifyOptions): Promise<VerifyReport> {
  const started = Date.now();
  const tm = await openTrusted(path, { trustedKeys: opts.trustedKeys, ...(opts.allowUnsigned ? { allowUnsigned: true } : {}) });
  const { manifest } = tm;
  const total = manifest.blobs.reduce((n, b) => n + b.size, 0);
  let bytes = 0;
  let blobs = 0;
  const segHash = new Map<string, { hash: Hash; next: number }>();
  const volumes: VolumeResult[] = [];
  const manifestProblems: ManifestProblem[] = [];

  for (const v of manifest.volumes) {
    const p = volumePath(tm.loc, v.index);
    if (!(await stat(p).catch(() => undefined))) {
      const r: VolumeResult = { file: v.file, status: 'missing' };
      volumes.push(r);
      opts.onVolume?.(r);
      continue;
    }
    try {
      const res = await readVolume({
        path: p,
        volume: v.index,
        manifest,
        manifestBytes: tm.bytes,
        ...(tm.signature ? { signatureBytes: tm.signature } : {}),
        onEntry: async (info, stream) => {
          if (info.kind === 'segment' && info.blob && info.segment) {
            const st = segHash.get(info.blob.digest) ?? { hash: createHash('sha256'), next: 1 };
            segHash.set(info.blob.digest, st);
            const inOrder = st.next === info.segment.index;
            // The reader fails this stream (BLOB_MISMATCH naming this volume) if the segment does
            // not match its own digest; the blob's later segments are then out of order, unhashed.
            for await (const c of stream) {
              if (inOrder) st.hash.update(c as Buffer);
              bytes += (c as Buffer).length;
              opts.onBytes?.(bytes, total);
            }
            if (inOrder) st.next++;
            if (inOrder && st.next > info.blob.segments!.length) {
              const got = 'sha256:' + st.hash.digest('hex');
              if (got === info.blob.digest) blobs++;
              else {
                manifestProblems.push({
                  digest: info.blob.digest,
                  code: 'SCHEMA_INVALID',
                  message: `blob ${info.blob.digest}: each of its ${info.blob.segments!.length} segments matches its own digest, but joined they hash to ${got}; the signed manifest contradicts itself (no volume is damaged)`,
                });
              }
            }
            return;
          }
          for await (const c of stream) {
            if (info.kind !== 'blob') continue; // header entries are not part of the blob total
            bytes += (c as Buffer).length;
            opts.onBytes?.(bytes, total);
          }
          if (info.kind === 'blob') blobs++;
        },
      });
      const r: VolumeResult = { file: v.file, status: 'ok', entries: res.entries };
      volumes.push(r);
      opts.onVolume?.(r);
    } catch (e) {
      const fe = toFerryError(e);
      const r: VolumeResult = { file: v.file, status: 'bad', error: { code: fe.code, message: fe.message } };
      volumes.push(r);
      opts.onVolume?.(r);
    }
  }
  return {
    bundle: manifest.name,
    signature: tm.verifiedBy ? 'verified' : 'unsigned-allowed',
    ...(tm.verifiedBy ? { signedBy: `${tm.verifiedBy.path} (${tm.verifiedBy.fingerprint})` } : {}),
    volumes,
    manifestProblems,
    blobsVerified: blobs,
    bytesVerified: bytes,
    ok: volumes.every((v) => v.status === 'ok') && manifestProblems.length === 0 && blobs === manifest.blobs.length,
    seconds: (Date.now() - started) / 1000,
  };
}

/** The error a failed verify exits with: the first bad volume's, else the missing ones. */
export function verifyFailure(r: VerifyReport): FerryError | undefined {
  const bad = r.volumes.find((v) => v.status === 'bad');
  if (bad?.error) return new FerryError(bad.error.code as FerryError['code'], `${bad.file}: ${bad.error.message}`, { volume: bad.file });
  const problem = r.manifestProblems[0];
  if (problem) return new FerryError(problem.code, `${r.bundle}.manifest.json: ${problem.message}`, { digest: problem.digest });
  const missing = r.volumes.filter((v) => v.status === 'missing').map((v) => v.file);
  if (missing.length) return new FerryError('VOLUME_MISSING', `missing volume${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`);
  if (!r.ok) return new FerryError('BLOB_MISMATCH', `only ${r.blobsVerified} blobs verified`);
  return undefined;
}
