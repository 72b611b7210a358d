// ferry-load verify: signature against trusted keys, schema, then every blob's digest and size,
// volume by volume, with no registry and nothing written. Each segment of a split blob is
// verified in its own volume (by the reader, against its segment digest), so a damaged segment
// marks the volume that holds it. The joined segments are also hashed against the blob digest
// (volumes are read in order so segments arrive in order); if every segment verified and the
// join still does not, the signed manifest contradicts itself: that names the blob, not a volume.
// Once every volume verified, each image's own manifests are checked against what the bundle
// carries (closure.ts: the same check push makes before tagging), and carried files against the
// manifest's second hash (sha512 integrity; the reader checks whole blobs, the join here split ones),
// and each chart as Helm would load it under its signed name and version (charts/read.ts).

import { createHash, type Hash } from 'node:crypto';
import ssri from 'ssri';
import { FerryError, MAX_IMAGE_MANIFEST_BYTES, signerOf, type Signer, chartsOf, contentBlobs, imageRefName, isFerryError, readVolume, statRegularFile, toFerryError, type BundleManifest, type TrustedKey } from '@ferry/format-spec';
import { openTrusted, volumePath } from './bundle.js';
import { checkClosure } from './closure.js';
import { MAX_CHART_BLOB, checkedUpload } from './charts/read.js';
import { checkCarriedLoaders, type LoaderCheck } from './carried-loaders.js';
import { applyImagePolicy, checkImagePolicy, type ImagePolicy } from './trust/policy.js';
import type { ImageSignature } from './trust/image-signatures.js';
import { deltaReport, type DeltaReport } from './delta-report.js';


export interface VolumeResult {
  file: string;
  status: 'ok' | 'missing' | 'bad';
  entries?: number;
  error?: { code: string; message: string };
}

/** A disagreement inside the signed manifest itself, found while verifying. */
export interface ManifestProblem {
  digest: string;
  /** SCHEMA_INVALID: the manifest contradicts itself; ARCHIVE_HOSTILE: it misdescribes an image
   *  (what the image's own bytes reference is not carried as such) or a file's second hash;
   *  CHART_INVALID: a chart is not what Helm would load under its signed name and version. */
  code: 'SCHEMA_INVALID' | 'ARCHIVE_HOSTILE' | 'CHART_INVALID';
  message: string;
}

export interface VerifyReport {
  bundle: string;
  signature: 'verified' | 'unsigned-allowed';
  /** Who signed the manifest, as the trusted key verified it. */
  signer?: Signer;
  volumes: VolumeResult[];
  /** Split blobs whose segments all verified but whose joined bytes do not hash to the blob digest. */
  manifestProblems: ManifestProblem[];
  /** The ferry-load executables the manifest lists (format version 3), each checked if present. */
  loaders: LoaderCheck[];
  blobsVerified: number;
  bytesVerified: number;
  /** With --image-key: each image's signatures, and why the policy flags refuse it (if they do). */
  images?: Array<{ ref: string; digest: string; signature: ImageSignature; refused?: string }>;
  /** A delta bundle: the blobs it requires the target to hold, and its baselines. */
  delta?: DeltaReport;
  ok: boolean;
  seconds: number;
}

export interface VerifyOptions {
  trustedKeys: readonly TrustedKey[];
  allowUnsigned?: boolean;
  onVolume?: (v: VolumeResult) => void;
  onBytes?: (n: number, total: number) => void;
  /** --image-key and the policy flags: checked after the volumes, from the same bytes. */
  policy?: ImagePolicy;
}

export async function verifyBundle(path: string, opts: VerifyOptions): Promise<VerifyReport> {
  const started = Date.now();
  if (opts.policy) checkImagePolicy(opts.policy);
  const tm = await openTrusted(path, { trustedKeys: opts.trustedKeys, ...(opts.allowUnsigned ? { allowUnsigned: true } : {}) });
  const { manifest } = tm;
  // The progress total is what the volumes here hold: a missing one is no part of it (as push counts).
  const here = new Set<number>();
  for (const v of manifest.volumes) if (await statRegularFile(volumePath(tm.loc, v.index), 'volume').catch(() => ({ size: -1 }))) here.add(v.index);
  const total = manifest.blobs.reduce((n, b) => n + (b.volume !== undefined ? (here.has(b.volume) ? b.size : 0) : (b.segments ?? []).filter((g) => here.has(g.volume)).reduce((m, g) => m + g.size, 0)), 0);
  let bytes = 0;
  let blobs = 0;
  const segHash = new Map<string, { hash: Hash; sha512?: Hash; next: number }>();
  const volumes: VolumeResult[] = [];
  const manifestProblems: ManifestProblem[] = [];
  const manifests = new Map<string, Buffer>();
  const pieces = new Map<string, Map<number, Buffer>>();
  const integrityOf = new Map(manifest.files.map((f) => [f.digest, f.integrity]));
  // Charts are checked as Helm loads them once every volume verified: their few blobs are kept.
  const chartBlobs = new Set(chartsOf(manifest).flatMap((c) => c.blobs));
  const keep = (d: string, size: number, kind: string): boolean => ((kind === 'index' || kind === 'manifest') && size <= MAX_IMAGE_MANIFEST_BYTES) || (chartBlobs.has(d) && size <= MAX_CHART_BLOB);

  for (const v of manifest.volumes) {
    const p = volumePath(tm.loc, v.index);
    // Absent is "missing"; here but not a regular file is reported by the reader as INPUT_INVALID.
    if (!(await statRegularFile(p, 'volume').catch(() => ({ size: -1 })))) {
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
          const b = info.blob;
          if (info.kind === 'segment' && b && info.segment) {
            const integrity = integrityOf.get(b.digest);
            const st = segHash.get(b.digest) ?? { hash: createHash('sha256'), ...(integrity ? { sha512: createHash('sha512') } : {}), next: 1 };
            segHash.set(b.digest, st);
            const inOrder = st.next === info.segment.index;
            const kept: Buffer[] | undefined = keep(b.digest, b.size, b.kind) ? [] : undefined;
            // The reader fails this stream (BLOB_MISMATCH naming this volume) if the segment does
            // not match its own digest; the blob's later segments are then out of order, unhashed.
            for await (const c of stream) {
              if (inOrder) {
                st.hash.update(c as Buffer);
                st.sha512?.update(c as Buffer);
              }
              kept?.push(c as Buffer);
              bytes += (c as Buffer).length;
              opts.onBytes?.(bytes, total);
            }
            if (kept) pieces.set(b.digest, (pieces.get(b.digest) ?? new Map()).set(info.segment.index, Buffer.concat(kept)));
            if (inOrder) st.next++;
            if (inOrder && st.next > b.segments!.length) {
              const got = 'sha256:' + st.hash.digest('hex');
              if (got !== b.digest) {
                manifestProblems.push({
                  digest: b.digest,
                  code: 'SCHEMA_INVALID',
                  message: `blob ${b.digest}: each of its ${b.segments!.length} segments matches its own digest, but joined they hash to ${got}; the signed manifest contradicts itself (no volume is damaged)`,
                });
              } else if (integrity && st.sha512 && st.sha512.digest('base64') !== ssri.parse(integrity, { single: true })?.digest) {
                manifestProblems.push({ digest: b.digest, code: 'ARCHIVE_HOSTILE', message: `blob ${b.digest} matches its sha256 but not the sha512 integrity the manifest records for it; the manifest's two hashes disagree` });
              } else {
                blobs++;
              }
            }
            return;
          }
          const kept: Buffer[] | undefined = info.kind === 'blob' && b && keep(b.digest, b.size, b.kind) ? [] : undefined;
          for await (const c of stream) {
            if (info.kind !== 'blob') continue; // header entries are not part of the blob total
            kept?.push(c as Buffer);
            bytes += (c as Buffer).length;
            opts.onBytes?.(bytes, total);
          }
          if (kept && b) manifests.set(b.digest, Buffer.concat(kept));
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
  for (const [digest, parts] of pieces) {
    const b = manifest.blobs.find((x) => x.digest === digest)!;
    if (parts.size === b.segments!.length) manifests.set(digest, Buffer.concat([...parts.entries()].sort(([i], [j]) => i - j).map(([, p]) => p)));
  }
  if (volumes.every((v) => v.status === 'ok') && manifestProblems.length === 0) {
    manifestProblems.push(...(await closureProblems(manifest, manifests)));
    for (const c of chartsOf(manifest)) {
      try {
        await checkedUpload(c, (d) => manifests.get(d));
      } catch (e) {
        const fe = toFerryError(e);
        if (fe.code === 'INTERNAL') throw fe;
        manifestProblems.push({ digest: c.digest, code: fe.code === 'ARCHIVE_HOSTILE' ? 'ARCHIVE_HOSTILE' : 'CHART_INVALID', message: fe.message });
      }
    }
  }
  const loaders = await checkCarriedLoaders(manifest, tm.loc.dir);
  const policy = opts.policy?.imageKeys?.length ? await applyImagePolicy(tm, opts.policy) : undefined;
  const images = policy?.signatures?.map((signature, i) => {
    const refused = policy.refused.get(i);
    return { ref: imageRefName(manifest.images[i]!), digest: manifest.images[i]!.digest, signature, ...(refused ? { refused } : {}) };
  });
  return {
    bundle: manifest.name,
    signature: tm.verifiedBy ? 'verified' : 'unsigned-allowed',
    ...(tm.verifiedBy ? { signer: signerOf(tm.verifiedBy) } : {}),
    volumes,
    manifestProblems,
    loaders,
    blobsVerified: blobs,
    bytesVerified: bytes,
    ...(images ? { images } : {}),
    ...(deltaReport(manifest) ? { delta: deltaReport(manifest)! } : {}),
    ok: volumes.every((v) => v.status === 'ok') && manifestProblems.length === 0 && blobs === manifest.blobs.length && !policy?.refused.size && loaders.every((l) => l.status !== 'bad'),
    seconds: (Date.now() - started) / 1000,
  };
}

/** Every image and referrer checked the way push checks it before tagging (bytes from the volumes). */
async function closureProblems(manifest: BundleManifest, bytes: ReadonlyMap<string, Buffer>): Promise<ManifestProblem[]> {
  // A delta's required blobs are image content like any other; only their bytes are elsewhere.
  const blobs = contentBlobs(manifest);
  const read = async (d: { digest: string }): Promise<Buffer> => {
    const got = bytes.get(d.digest);
    if (!got) throw new FerryError('ARCHIVE_HOSTILE', `${d.digest} is not a manifest the bundle carries`);
    return got;
  };
  const out: ManifestProblem[] = [];
  const check = async (what: string, root: { digest: string; mediaType: string; size: number }, listed: string[], subject?: string): Promise<void> => {
    try {
      await checkClosure({ what, root, listed, blobs, read, ...(subject ? { subject } : {}) });
    } catch (e) {
      if (!isFerryError(e, 'ARCHIVE_HOSTILE')) throw e;
      out.push({ digest: root.digest, code: 'ARCHIVE_HOSTILE', message: e.message });
    }
  };
  for (const img of manifest.images) {
    const ref = imageRefName(img);
    await check(`image ${ref}`, img, img.blobs);
    for (const r of img.referrers ?? []) await check(`${r.tag ?? r.artifactType ?? 'referrer'} ${r.digest} of image ${ref}`, r, r.blobs, r.scheme === 'oci-referrer' ? r.subject : undefined);
  }
  return out;
}

/** The error a failed verify exits with: the first bad volume's, else the missing ones. */
export function verifyFailure(r: VerifyReport): FerryError | undefined {
  const bad = r.volumes.find((v) => v.status === 'bad');
  if (bad?.error) return new FerryError(bad.error.code as FerryError['code'], `${bad.file}: ${bad.error.message}`, { volume: bad.file });
  const badLoader = r.loaders.find((l) => l.status === 'bad');
  if (badLoader) return new FerryError('CHECKSUM_MISMATCH', `${badLoader.file}: the ferry-load executable beside the volumes is not the one the signed manifest lists: ${badLoader.reason ?? ''}; do not run it`, { file: badLoader.file });
  const problem = r.manifestProblems[0];
  if (problem) return new FerryError(problem.code, `${r.bundle}.manifest.json: ${problem.message}`, { digest: problem.digest });
  const missing = r.volumes.filter((v) => v.status === 'missing').map((v) => v.file);
  if (missing.length) return new FerryError('VOLUME_MISSING', `missing volume${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`);
  const refused = r.images?.filter((i) => i.refused) ?? [];
  if (refused.length) return new FerryError('SIGNATURE_POLICY', `${refused.length} image(s) fail the image policy: ${refused.slice(0, 3).map((i) => `${i.ref} (${i.refused})`).join('; ')}${refused.length > 3 ? '; …' : ''}`);
  if (!r.ok) return new FerryError('BLOB_MISMATCH', `only ${r.blobsVerified} blobs verified`);
  return undefined;
}
