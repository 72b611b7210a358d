// ferry-load push: trusted manifest -> volumes (any order, any number of runs) -> sink.
// Blobs stream from the volume into the target, verified by the reader and again by the sink.
// An image is tagged only when every blob it needs is in the target; files and keys land in a
// directory beside the image layout. Nothing is extracted to a temp directory.

import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import { createWriteStream } from 'node:fs';
import {
  FerryError,
  VerifyingStream,
  digestHex,
  readVolume,
  type BundleBlob,
  type BundleImage,
  type BundleManifest,
  type TrustedKey,
} from '@ferry/format-spec';
import { OciLayoutSink } from '@ferry/oci';
import { openTrusted, volumePath, type TrustedManifest } from './bundle.js';
import { applyRewrites, type RewriteRule } from './rewrite.js';

export interface PushOptions {
  trustedKeys: readonly TrustedKey[];
  allowUnsigned?: boolean;
  /** `oci:DIR` */
  to: string;
  /** Where files and keys go; default `<DIR>-files`. */
  filesDir?: string;
  rewrites?: RewriteRule[];
  /** Called once the signature and schema are verified and before anything is written; return false to stop. */
  confirm?: (tm: TrustedManifest, plan: PushPlan) => Promise<boolean>;
  onEvent?: (e: PushEvent) => void;
}

export interface PushPlan {
  target: string;
  filesDir: string;
  volumesPresent: number[];
  volumesMissing: number[];
  blobsAlreadyThere: number;
}

export type PushEvent =
  | { type: 'volume-start'; file: string }
  | { type: 'volume-done'; file: string; written: number; skipped: number }
  | { type: 'volume-skip'; file: string; reason: string }
  | { type: 'bytes'; bytes: number; total: number }
  | { type: 'image'; ref: string; digest: string }
  | { type: 'file'; path: string };

export interface PushReport {
  bundle: string;
  target: string;
  filesDir: string;
  signedBy?: string;
  /** `referrers`: cosign-tag artifacts tagged beside the image. */
  images: Array<{ source: string; ref: string; digest: string; status: 'loaded' | 'pending'; referrers: number }>;
  files: Array<{ path: string; status: 'written' | 'pending' }>;
  volumesMissing: string[];
  blobsWritten: number;
  bytesWritten: number;
  complete: boolean;
  seconds: number;
}

/** Target for image content; an OCI layout directory here, a registry in a later step. */
interface ImageTarget {
  description: string;
  hasBlob(digest: string): Promise<boolean>;
  writeBlob(blob: BundleBlob, data: Readable): Promise<void>;
  readSmallBlob(digest: string, max: number): Promise<Buffer>;
  tag(img: BundleImage, ref: string, bytes: Buffer): Promise<void>;
  /** Where a verified blob sits (to copy a carried file identical to image content). */
  blobPath(digest: string): string;
  /** Scratch space for blobs split across volumes (reassembled in place, then moved in). */
  partialDir: string;
}

function parseTarget(to: string): { kind: 'oci'; dir: string } {
  if (to.startsWith('oci:')) {
    const dir = to.slice(4);
    if (!dir) throw new FerryError('USAGE', '--to oci:DIR needs a directory');
    return { kind: 'oci', dir: resolve(dir) };
  }
  throw new FerryError('USAGE', `--to ${to}: this build loads into an OCI layout directory (--to oci:DIR); registry targets come with the registry loader`);
}

async function ociTarget(dir: string): Promise<ImageTarget> {
  const sink = new OciLayoutSink(dir);
  await sink.init();
  const blobPath = (d: string) => join(dir, 'blobs', 'sha256', digestHex(d));
  return {
    description: `oci:${dir}`,
    hasBlob: (d) => sink.hasBlob(d),
    writeBlob: (b, data) => sink.writeBlob({ mediaType: b.mediaType, digest: b.digest, size: b.size }, data),
    readSmallBlob: async (d, max) => {
      const st = await stat(blobPath(d));
      if (st.size > max) throw new FerryError('TARGET_ERROR', `${d} is ${st.size} bytes; manifests are at most ${max}`);
      return readFile(blobPath(d));
    },
    tag: (img, ref, bytes) => sink.writeManifest({ mediaType: img.mediaType, digest: img.digest, size: img.size }, bytes, ref),
    blobPath,
    partialDir: join(dir, '.ferry-partial'),
  };
}

export function imageRef(img: BundleImage, rewrites: readonly RewriteRule[] = []): string {
  const repo = applyRewrites(img.repository, rewrites);
  return img.tag ? `${repo}:${img.tag}` : `${repo}@${img.digest}`;
}

export async function pushBundle(path: string, opts: PushOptions): Promise<PushReport> {
  const started = Date.now();
  const emit = opts.onEvent ?? (() => {});
  const tm = await openTrusted(path, { trustedKeys: opts.trustedKeys, ...(opts.allowUnsigned ? { allowUnsigned: true } : {}) });
  const { manifest } = tm;
  const parsed = parseTarget(opts.to);
  const filesDir = resolve(opts.filesDir ?? `${parsed.dir}-files`);

  const present: number[] = [];
  const missing: number[] = [];
  for (const v of manifest.volumes) ((await stat(volumePath(tm.loc, v.index)).catch(() => undefined)) ? present : missing).push(v.index);

  const target = await ociTarget(parsed.dir);
  const have = new Set<string>();
  for (const b of manifest.blobs) if ((b.kind !== 'file' && b.kind !== 'key') && (await target.hasBlob(b.digest))) have.add(b.digest);
  const fileDone = async (p: { path: string; size: number }) => (await stat(join(filesDir, p.path)).catch(() => undefined))?.size === p.size;

  const plan: PushPlan = { target: target.description, filesDir, volumesPresent: present, volumesMissing: missing, blobsAlreadyThere: have.size };
  if (opts.confirm && !(await opts.confirm(tm, plan))) throw new FerryError('USAGE', 'stopped: the operator did not confirm');

  // File and key blobs are written to every path that carries that content.
  const pathsByDigest = new Map<string, Array<{ path: string; size: number; mode?: number }>>();
  for (const f of [...manifest.files, ...manifest.keys]) {
    const list = pathsByDigest.get(f.digest) ?? [];
    list.push({ path: f.path, size: f.size, ...('mode' in f && f.mode !== undefined ? { mode: f.mode } : {}) });
    pathsByDigest.set(f.digest, list);
  }
  const total = manifest.blobs.reduce((n, b) => n + b.size, 0);
  let bytes = 0;
  let written = 0;

  for (const index of present) {
    const file = manifest.volumes[index - 1]!.file;
    const mine = manifest.blobs.filter((b) => b.volume === index || b.segments?.some((s) => s.volume === index));
    const needed: BundleBlob[] = [];
    for (const b of mine) {
      // A blob may be image content, a carried file, or both (a file identical to a layer).
      const forImage = b.kind !== 'file' && b.kind !== 'key' && !have.has(b.digest);
      const paths = pathsByDigest.get(b.digest);
      const forFiles = paths !== undefined && !(await Promise.all(paths.map(fileDone))).every(Boolean);
      if (forImage || forFiles) needed.push(b);
    }
    if (needed.length === 0) {
      emit({ type: 'volume-skip', file, reason: 'everything in it is already loaded' });
      continue;
    }
    const neededDigests = new Set(needed.map((b) => b.digest));
    emit({ type: 'volume-start', file });
    let volWritten = 0;
    let volSkipped = 0;
    await readVolume({
      path: volumePath(tm.loc, index),
      volume: index,
      manifest,
      manifestBytes: tm.bytes,
      ...(tm.signature ? { signatureBytes: tm.signature } : {}),
      onEntry: async (info, stream) => {
        // Count bytes without switching the entry stream to flowing mode before the sink reads it.
        const count = (s: Readable): Readable => {
          const counter = new Transform({
            transform(c: Buffer, _e, cb) {
              bytes += c.length;
              emit({ type: 'bytes', bytes, total });
              cb(null, c);
            },
          });
          s.on('error', (e) => counter.destroy(e));
          return s.pipe(counter);
        };
        if ((info.kind !== 'blob' && info.kind !== 'segment') || !info.blob || !neededDigests.has(info.blob.digest)) {
          if (info.kind === 'blob' || info.kind === 'segment') volSkipped++;
          stream.resume();
          await new Promise<void>((res, rej) => stream.on('end', res).on('error', rej));
          return;
        }
        const blob = info.blob;
        if (info.kind === 'segment' && info.segment) {
          const whole = await writeSegment(target, blob, info.segment, count(stream));
          if (!whole) return; // more segments to come (this run or a later one)
          await finishBlob(target, blob, () => createReadStream(whole), pathsByDigest, filesDir);
          await rm(whole, { force: true });
          await rm(`${whole}.json`, { force: true });
        } else {
          await finishBlob(target, blob, () => count(stream), pathsByDigest, filesDir);
        }
        have.add(blob.digest);
        volWritten++;
        written++;
        if (blob.kind === 'file' || blob.kind === 'key') for (const p of pathsByDigest.get(blob.digest)!) emit({ type: 'file', path: p.path });
      },
    });
    emit({ type: 'volume-done', file, written: volWritten, skipped: volSkipped });
  }

  // Tag every image whose blobs are all in place; the rest wait for their volumes.
  const images: PushReport['images'] = [];
  for (const img of manifest.images) {
    const ref = imageRef(img, opts.rewrites);
    let complete = true;
    for (const d of img.blobs) if (!have.has(d) && !(await target.hasBlob(d))) complete = false;
    if (complete) {
      const bytesOfRoot = await target.readSmallBlob(img.digest, 4 << 20);
      await target.tag(img, ref, bytesOfRoot);
      emit({ type: 'image', ref, digest: img.digest });
    }
    // cosign signatures/attestations keep their sha256-<hex>.sig/.att tags beside the image, so
    // `cosign verify` finds them once the image moves on; only after the image itself is there.
    let referrersLoaded = 0;
    for (const r of complete ? img.referrers ?? [] : []) {
      if (r.scheme !== 'cosign-tag' || !r.tag) continue;
      let ready = true;
      for (const d of r.blobs) if (!have.has(d) && !(await target.hasBlob(d))) ready = false;
      if (!ready) continue;
      const repo = applyRewrites(img.repository, opts.rewrites ?? []);
      await target.tag({ ...img, digest: r.digest, mediaType: r.mediaType, size: r.size }, `${repo}:${r.tag}`, await target.readSmallBlob(r.digest, 4 << 20));
      referrersLoaded++;
    }
    images.push({ source: img.source, ref, digest: img.digest, status: complete ? 'loaded' : 'pending', referrers: referrersLoaded });
  }
  const files: PushReport['files'] = [];
  for (const f of [...manifest.files, ...manifest.keys]) files.push({ path: f.path, status: (await fileDone(f)) ? 'written' : 'pending' });

  return {
    bundle: manifest.name,
    target: target.description,
    filesDir,
    ...(tm.verifiedBy ? { signedBy: `${tm.verifiedBy.path} (${tm.verifiedBy.fingerprint})` } : {}),
    images,
    files,
    volumesMissing: missing.map((i) => manifest.volumes[i - 1]!.file),
    blobsWritten: written,
    bytesWritten: bytes,
    complete: images.every((i) => i.status === 'loaded') && files.every((f) => f.status === 'written'),
    seconds: (Date.now() - started) / 1000,
  };
}

/** Send a whole blob's bytes to where it belongs: the image target, or each file path carrying it. */
async function finishBlob(
  target: ImageTarget,
  blob: BundleBlob,
  data: () => Readable,
  pathsByDigest: Map<string, Array<{ path: string; size: number; mode?: number }>>,
  filesDir: string,
): Promise<void> {
  const paths = pathsByDigest.get(blob.digest) ?? [];
  let copyFrom: string;
  let rest: typeof paths;
  if (blob.kind !== 'file' && blob.kind !== 'key') {
    await target.writeBlob(blob, data());
    copyFrom = target.blobPath(blob.digest);
    rest = paths;
  } else {
    copyFrom = join(filesDir, paths[0]!.path);
    await writeVerifiedFile(copyFrom, blob, data(), paths[0]!.mode);
    rest = paths.slice(1);
  }
  // Every other path carrying the same content is copied from the verified copy (and checked again).
  for (const p of rest) await writeVerifiedFile(join(filesDir, p.path), blob, createReadStream(copyFrom), p.mode);
}

async function writeVerifiedFile(dest: string, blob: BundleBlob, data: Readable, mode?: number): Promise<void> {
  await mkdir(dirname(dest), { recursive: true });
  const tmp = `${dest}.ferry-partial`;
  try {
    await pipeline(data, new VerifyingStream(blob.digest, blob.size, { where: dest }), createWriteStream(tmp, { mode: mode ?? 0o644 }));
    await rename(tmp, dest);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/**
 * Write one segment of a split blob at its offset in a partial file; returns the partial file's
 * path once every segment is there (its digest is checked when it is moved into the target).
 */
async function writeSegment(target: ImageTarget, blob: BundleBlob, seg: NonNullable<BundleBlob['segments']>[number], data: Readable): Promise<string | undefined> {
  await mkdir(target.partialDir, { recursive: true });
  const part = join(target.partialDir, digestHex(blob.digest));
  const statePath = `${part}.json`;
  const fh = await open(part, 'a');
  await fh.close();
  await pipeline(data, createWriteStream(part, { flags: 'r+', start: seg.offset }));
  let done: number[] = [];
  try {
    done = JSON.parse(await readFile(statePath, 'utf8')) as number[];
  } catch {
    done = [];
  }
  if (!done.includes(seg.index)) done.push(seg.index);
  await writeFile(statePath, JSON.stringify(done.sort((a, b) => a - b)));
  return done.length === blob.segments!.length ? part : undefined;
}

export function pushIncomplete(r: PushReport): FerryError | undefined {
  if (r.complete) return undefined;
  const pending = r.images.filter((i) => i.status === 'pending').length + r.files.filter((f) => f.status === 'pending').length;
  return new FerryError('INCOMPLETE', `${pending} item(s) wait for volume(s) ${r.volumesMissing.join(', ') || '(none missing: re-run to retry)'}`);
}

export type { BundleManifest };
