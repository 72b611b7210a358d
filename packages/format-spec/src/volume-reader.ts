// Reads one volume as a stream (zstd -> tar-stream extract), checking every entry against what
// the signed manifest says this volume holds: names, order, types, sizes, exact tar offsets and
// content. Nothing is extracted to disk; each entry is handed to the caller as a stream.

import type { FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { PassThrough, Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { VerifyingStream, verifyBytes } from './digest.js';
import { FerryError, isFerryError, toFerryError } from './errors.js';
import type { BlobSegment, BundleBlob, BundleManifest } from './manifest-types.js';
import {
  TAR_END_BYTES,
  needsPaxHeader,
  tarHeaderBytes,
  tarLayout,
  validatePlan,
  volumeFileName,
  volumePieces,
  blobEntryName,
  segmentEntryName,
} from './plan.js';
import { checkLayoutIndex } from './layout-index.js';
import { segmentLabel } from './segment-digests.js';
import { decodeZstd, decoderReleasesInput, readSeekTable } from './zstd-frames.js';
import { openRegularFile, type OpenRegularFileOptions } from './safe-open.js';

export type VolumeEntryKind = 'manifest' | 'signature' | 'oci-layout' | 'index' | 'blob' | 'segment';

export interface VolumeEntryInfo {
  name: string;
  kind: VolumeEntryKind;
  size: number;
  blob?: BundleBlob;
  segment?: BlobSegment;
}

export interface ReadVolumeOptions {
  path: string;
  /** 1-based volume number this file must be. */
  volume: number;
  /** The verified manifest, and its exact bytes (and signature) as checked by the caller. */
  manifest: BundleManifest;
  manifestBytes: Buffer;
  signatureBytes?: Buffer;
  /** Called for every entry in order. It must consume `stream` (whatever it leaves unread is
   *  drained so blobs are still verified). Whole blobs and segments are verified as they
   *  stream (a segment against its own digest): a mismatch errors the stream before it ends,
   *  naming this volume. A split blob's joined digest is the caller's to check. */
  onEntry: (info: VolumeEntryInfo, stream: Readable) => Promise<void>;
  signal?: AbortSignal;
}

export interface ReadVolumeResult {
  entries: number;
  compressedBytes: number;
  tarBytes: number;
}

export const OCI_LAYOUT_CONTENT = '{"imageLayoutVersion":"1.0.0"}';
/** Largest manifest accepted inside a volume, and largest signature. */
export const MAX_EMBEDDED_MANIFEST_BYTES = 64 * 1024 * 1024;
export const MAX_EMBEDDED_SIGNATURE_BYTES = 1024 * 1024;
/** Beyond the two end-of-archive blocks a tar may be zero-padded to a 10 KiB record. */
const TRAILING_ZERO_ALLOWANCE = 10240 - TAR_END_BYTES;
const READ_CHUNK_BYTES = 1024 * 1024;
const BUNDLE_NAME = '[A-Za-z0-9][A-Za-z0-9._-]{0,99}';
const MANIFEST_ENTRY_RE = new RegExp(`^(${BUNDLE_NAME})\\.manifest\\.json$`);

/** One tar entry the manifest plans for a volume; header entries carry the exact bytes they must hold. */
export interface PlannedVolumeEntry extends VolumeEntryInfo {
  bytes?: Buffer;
}
type Expected = PlannedVolumeEntry;

type TarEntry = tar.Extract extends AsyncIterable<infer T> ? T : never;
type TarHeader = tar.Header & { byteOffset?: number; pax?: Record<string, string> | null };

const show = (name: string): string => JSON.stringify(name.length > 200 ? name.slice(0, 200) + '…' : name);

/** Why a tar entry name is unsafe to extract, or null. */
function unsafeName(n: string): string | null {
  if (n.length === 0) return 'an empty name';
  if (n.includes('\0')) return 'a NUL byte in its name';
  if (n.includes('\\')) return 'a backslash in its name';
  if (/[\x00-\x1f\x7f]/.test(n)) return 'control characters in its name';
  if (n.startsWith('/')) return 'an absolute path';
  if (n.startsWith('./')) return "a './' prefix";
  const parts = n.split('/');
  if (parts.includes('..')) return "a '..' path component";
  if (parts.some((p) => p === '' || p === '.')) return "an empty or '.' path component";
  return null;
}

const TYPE_WORDS: Record<string, string> = {
  link: 'a hard link',
  symlink: 'a symbolic link',
  'character-device': 'a character device',
  'block-device': 'a block device',
  directory: 'a directory',
  fifo: 'a FIFO',
  'contiguous-file': 'a contiguous file',
};

interface TarFeed {
  extract: tar.Extract;
  /** Settles when the whole file was read (or reading failed). */
  done: Promise<void>;
  stats: { compressedBytes: number; tarBytes: number };
  /** The first error from reading/decoding: the cause of anything that fails after it. */
  rootError: () => unknown;
  stop: (err?: Error) => void;
}

/**
 * Read `path`, decode zstd (at most maxTar bytes out) and feed the first `feedLimit` tar bytes
 * to a tar-stream extract; bytes past feedLimit must be zeros (end-of-archive padding).
 * The file is opened only if it is a regular file within `limits` (safe-open.ts), so a FIFO,
 * a device or a directory in a volume's place fails at once with INPUT_INVALID.
 */
function openTarFeed(path: string, file: string, maxTar: number, feedLimit: number, describe: () => string, entriesDone?: Promise<void>, limits: OpenRegularFileOptions = {}): TarFeed {
  const extract = tar.extract();
  let rs: { destroy(): void } | undefined;
  const stats = { compressedBytes: 0, tarBytes: 0 };
  let root: unknown = null;
  let stopped = false;
  async function* counted(): AsyncGenerator<Buffer> {
    const fh = await openRegularFile(path, 'volume', limits);
    if (stopped) {
      await fh.close();
      return;
    }
    // A decoder that is done with each chunk before it asks for the next gets them all in one
    // reused buffer: no 1 MiB allocation (and its share of garbage collection) per read.
    const reader = decoderReleasesInput() ? new ReusedBufferReader(fh, Buffer.allocUnsafe(READ_CHUNK_BYTES)) : fh.createReadStream({ highWaterMark: READ_CHUNK_BYTES });
    rs = reader;
    for await (const c of reader as AsyncIterable<Buffer>) {
      stats.compressedBytes += c.length;
      // The size was checked at open; a file still growing is not a volume Ferry wrote.
      if (limits.maxBytes !== undefined && stats.compressedBytes > limits.maxBytes) {
        throw new FerryError('INPUT_INVALID', `volume ${file} grew past ${limits.maxBytes} bytes while it was read`, { file });
      }
      yield c;
    }
  }
  const decoded = decodeZstd(counted(), {
    maxOutput: maxTar,
    onTooLarge: (limit) => new FerryError('ARCHIVE_HOSTILE', `${file} decompresses to more than the ${limit} bytes its entries need (a zstd bomb or trailing data)${describe()}`, { file }),
    onCorrupt: (msg) => new FerryError('ARCHIVE_CORRUPT', `${file} is damaged: ${msg}${describe()}`, { file }),
    onSkippable: (offset, msg) => new FerryError('ARCHIVE_HOSTILE', `${file} holds a zstd frame Ferry never writes: ${msg}`, { file, offset }),
  });
  const done = (async () => {
    let ended = false;
    try {
      for await (const chunk of decoded) {
        if (stopped) break;
        const start = stats.tarBytes;
        stats.tarBytes += chunk.length;
        let feed = chunk;
        let trailing: FerryError | null = null;
        if (stats.tarBytes > feedLimit) {
          const cut = Math.max(0, feedLimit - start);
          const nz = chunk.subarray(cut).findIndex((b) => b !== 0);
          if (nz !== -1) trailing = new FerryError('ARCHIVE_HOSTILE', `${file} has data after its last expected entry (tar offset ${start + cut + nz}): an extra entry or trailing garbage`, { file });
          feed = chunk.subarray(0, cut);
        }
        if (feed.length) {
          // A destroyed extract means the entry side failed or stopped: it reports why.
          if (extract.destroyed) break;
          if (!extract.write(feed) && !(await drainedStreamx(extract))) break;
        }
        if (!ended && stats.tarBytes >= feedLimit) {
          // Let every expected entry be checked (by the reader loop) before judging what
          // follows them, so the most specific error wins.
          ended = true;
          await endAndWait(extract);
          await entriesDone;
        }
        if (trailing) throw trailing;
      }
      if (!ended) await endAndWait(extract);
    } catch (e) {
      // After stop() the read stream's premature close is ours, not a cause.
      if (!stopped) root ??= e instanceof FerryError ? e : new FerryError('ARCHIVE_CORRUPT', `cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`, { file }, { cause: e });
      extract.destroy(e instanceof Error ? e : new Error(String(e)));
      throw e;
    } finally {
      rs?.destroy();
    }
  })();
  done.catch(() => undefined); // observed through rootError()/awaits
  return {
    extract,
    done,
    stats,
    rootError: () => root,
    stop: (err?: Error) => {
      stopped = true;
      if (err) root ??= err;
      rs?.destroy();
      extract.destroy(err);
    },
  };
}

/** A file's bytes read into one reused buffer: each chunk is valid until the next is asked
 *  for. destroy() stops the reading and closes the file, as a read stream's does. */
class ReusedBufferReader {
  destroyed = false;
  private closing: Promise<void> | null = null;

  constructor(private readonly fh: FileHandle, private readonly buf: Buffer) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    try {
      for (let pos = 0; ; ) {
        if (this.destroyed) return;
        const { bytesRead } = await this.fh.read(this.buf, 0, this.buf.length, pos);
        if (bytesRead === 0 || this.destroyed) return;
        pos += bytesRead;
        yield this.buf.subarray(0, bytesRead);
      }
    } finally {
      this.destroy();
    }
  }

  destroy(): void {
    this.destroyed = true;
    this.closing ??= this.fh.close().catch(() => undefined);
  }
}

/** End the extract and wait until it has parsed everything (the reader may still be on the last entry). */
function endAndWait(s: tar.Extract): Promise<void> {
  return new Promise((resolve) => {
    if (s.destroyed) {
      resolve();
      return;
    }
    s.once('close', () => resolve());
    s.end(undefined);
  });
}

/** Wait for 'drain'; false if the extract was closed or failed instead. */
function drainedStreamx(s: tar.Extract): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      s.off('drain', onDrain);
      s.off('error', onEnd);
      s.off('close', onEnd);
      resolve(ok);
    };
    const onDrain = (): void => done(true);
    const onEnd = (): void => done(false);
    s.on('drain', onDrain);
    s.on('error', onEnd);
    s.on('close', onEnd);
  });
}

async function readAll(entry: TarEntry, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of entry) {
    n += (c as Buffer).length;
    if (n > limit) throw new FerryError('INTERNAL', `entry larger than ${limit} bytes`);
    parts.push(c as Buffer);
  }
  return Buffer.concat(parts, n);
}

/** What the caller's onEntry threw (a full disk, a link in the target): passed through as it
 *  is, never reported as something wrong with the volume. */
class EntryCallbackError {
  constructor(readonly cause: unknown) {}
}

/** Hand `out` (fed from the entry) to the callback; drain what it leaves; first error wins. */
async function deliver(entry: AsyncIterable<unknown> | Iterable<unknown>, out: Transform, info: VolumeEntryInfo, onEntry: ReadVolumeOptions['onEntry']): Promise<void> {
  let first: unknown = null;
  const pump = pipeline(
    (async function* () {
      for await (const c of entry) yield c as Buffer;
    })(),
    out,
  ).catch((e: unknown) => {
    first ??= e;
  });
  const user = Promise.resolve()
    .then(() => onEntry(info, out))
    .then(
      () => {
        if (!out.readableEnded) out.resume();
      },
      (e: unknown) => {
        first ??= new EntryCallbackError(e);
        out.destroy(e instanceof Error ? e : new Error(String(e)));
      },
    );
  await Promise.all([pump, user]);
  if (first !== null) throw first;
}

/**
 * The tar entries the manifest puts in volume `volume`, in order: the manifest and signature
 * copies, oci-layout, index.json, then its blobs and segments. One definition for every reader
 * of volumes (the streaming reader here, `ferry-load serve`'s random-access index).
 */
export function plannedVolumeEntries(opts: Pick<ReadVolumeOptions, 'manifest' | 'manifestBytes' | 'signatureBytes' | 'volume'>, file: string): PlannedVolumeEntry[] {
  const { manifest, manifestBytes, signatureBytes, volume } = opts;
  const exp: Expected[] = [{ name: `${manifest.name}.manifest.json`, kind: 'manifest', size: manifestBytes.length, bytes: manifestBytes }];
  if (signatureBytes) exp.push({ name: `${manifest.name}.manifest.json.sig`, kind: 'signature', size: signatureBytes.length, bytes: signatureBytes });
  exp.push({ name: 'oci-layout', kind: 'oci-layout', size: OCI_LAYOUT_CONTENT.length, bytes: Buffer.from(OCI_LAYOUT_CONTENT) });
  const li = manifest.layoutIndex;
  if (!li || !Number.isSafeInteger(li.size) || li.size < 0 || li.size > MAX_EMBEDDED_MANIFEST_BYTES) {
    throw new FerryError('SCHEMA_INVALID', `${manifest.name}.manifest.json: bad layoutIndex (needed to check index.json in ${file})`);
  }
  exp.push({ name: 'index.json', kind: 'index', size: li.size });
  for (const p of volumePieces(manifest.blobs, volume)) {
    exp.push({ name: p.name, kind: p.segment ? 'segment' : 'blob', size: p.size, blob: p.blob, ...(p.segment ? { segment: p.segment } : {}) });
  }
  return exp;
}

/** Where the manifest puts a blob or segment entry name, for "belongs to another volume". */
function assignedVolume(manifest: BundleManifest, name: string): number | undefined {
  for (const b of manifest.blobs) {
    if (b.segments) {
      for (const s of b.segments) if (segmentEntryName(b.digest, s.index) === name) return s.volume;
    } else if (blobEntryName(b.digest) === name) {
      return b.volume;
    }
  }
  return undefined;
}

/**
 * Stream one volume, checking it against the manifest, and hand each entry to onEntry.
 * Fails closed with ARCHIVE_HOSTILE / ARCHIVE_CORRUPT / BLOB_MISMATCH / SIGNATURE_INVALID.
 */
export async function readVolume(opts: ReadVolumeOptions): Promise<ReadVolumeResult> {
  const { manifest, volume, signal } = opts;
  const file = basename(opts.path);
  if (!new RegExp(`^${BUNDLE_NAME}$`).test(manifest.name)) throw new FerryError('SCHEMA_INVALID', `bad bundle name ${show(manifest.name)} in the manifest`);
  validatePlan(manifest.blobs, manifest.volumes.length, `${manifest.name}.manifest.json`, { requireSegmentDigests: true });
  if (!Number.isSafeInteger(volume) || volume < 1 || volume > manifest.volumes.length) {
    throw new FerryError('USAGE', `volume ${volume} is not part of bundle ${manifest.name} (it has ${manifest.volumes.length})`);
  }
  const volFile = volumeFileName(manifest.name, volume);
  const exp = plannedVolumeEntries(opts, file);
  const layout = tarLayout(exp);
  // A bad seek table is reported only if streaming finds nothing more specific (a truncated
  // volume then names the entry it stops in rather than just "no seek table").
  let seekError: FerryError | null = null;
  // Only a regular file no larger than the signed volume size is read (safe-open.ts). The schema
  // requires volumeSize >= 1; a manifest built without it (unit tests) gets the kind check only.
  const limits: OpenRegularFileOptions = Number.isSafeInteger(manifest.volumeSize) && manifest.volumeSize > 0
    ? { maxBytes: manifest.volumeSize, limitName: "the bundle's volume size in its signed manifest" }
    : {};
  const seek = manifest.compression?.seekTable
    ? await readSeekTable(opts.path, limits).catch((e: unknown) => {
        if (!(e instanceof FerryError)) throw toFerryError(e);
        seekError = e;
        return undefined;
      })
    : undefined;

  const hostile = (msg: string): FerryError => new FerryError('ARCHIVE_HOSTILE', `${file}: ${msg}`, { file, volume });
  let i = 0;
  const describe = (): string => (i < exp.length ? ` (while reading entry ${exp[i]!.name}, ${i + 1} of ${exp.length})` : '');
  let loopDone = (): void => undefined;
  const entriesDone = new Promise<void>((resolve) => (loopDone = resolve));
  const feed = openTarFeed(opts.path, file, layout.tarSize + TRAILING_ZERO_ALLOWANCE, layout.entriesEnd, describe, entriesDone, limits);
  const onAbort = (): void => feed.stop(signal?.reason instanceof Error ? signal.reason : new FerryError('INTERNAL', 'aborted'));
  signal?.addEventListener('abort', onAbort);
  const seen = new Set<string>();
  // A blob a carried file names is also checked against the manifest's sha512 for that file.
  const integrityOf = new Map(manifest.files.map((f) => [f.digest, f.integrity]));
  const sigName = `${manifest.name}.manifest.json.sig`;

  const check = (h: TarHeader): Expected => {
    const name = h.name;
    const bad = unsafeName(name);
    if (bad) throw hostile(`entry ${show(name)} has ${bad}`);
    if (h.type !== 'file') throw hostile(`entry ${show(name)} is ${TYPE_WORDS[h.type] ?? `of tar type ${String(h.type)}`}; a volume holds regular files only`);
    if (i >= exp.length) throw hostile(`unexpected entry ${show(name)} after the last expected entry`);
    const e = exp[i]!;
    if (name !== e.name) {
      if (name === sigName && !opts.signatureBytes) throw new FerryError('SIGNATURE_INVALID', `${file} carries a signature entry ${sigName} but the bundle is unsigned`, { file });
      if (e.kind === 'signature') throw new FerryError('SIGNATURE_INVALID', `${file} has no signature entry (found ${show(name)} where ${sigName} belongs) but the bundle is signed`, { file });
      if (seen.has(name)) throw hostile(`duplicate entry ${show(name)}`);
      if (exp.slice(i + 1).some((x) => x.name === name)) throw hostile(`entry ${show(name)} is out of order (expected ${e.name} at position ${i + 1})`);
      const other = assignedVolume(manifest, name);
      if (other !== undefined) throw hostile(`entry ${show(name)} belongs to volume ${other} (${volumeFileName(manifest.name, other)}) according to the manifest, not to ${volFile}`);
      throw hostile(`unexpected entry ${show(name)} (expected ${e.name} at position ${i + 1})`);
    }
    if (h.size !== e.size) {
      if (e.kind === 'manifest') throw new FerryError('SIGNATURE_INVALID', `manifest copy inside ${file} differs from the signed manifest (${h.size} bytes, signed manifest has ${e.size})`, { file });
      if (e.kind === 'signature') throw new FerryError('SIGNATURE_INVALID', `signature copy inside ${file} differs from the bundle's signature (${h.size} bytes, expected ${e.size})`, { file });
      throw hostile(`entry ${e.name} claims ${h.size} bytes; the manifest plans ${e.size}`);
    }
    if ((h.mode ?? 0) & 0o7000) throw hostile(`entry ${e.name} has setuid/setgid/sticky mode bits (${(h.mode ?? 0).toString(8)})`);
    if (h.byteOffset !== layout.entries[i]!.dataStart) {
      throw hostile(`extra tar header blocks (pax, GNU long-name or padding) before entry ${e.name}: its data starts at offset ${String(h.byteOffset)}, expected ${layout.entries[i]!.dataStart}`);
    }
    if (h.pax) {
      const keys = Object.keys(h.pax);
      if (!needsPaxHeader(e.name) || keys.length !== 1 || keys[0] !== 'path') throw hostile(`entry ${e.name} has a pax extended header (${keys.join(', ').slice(0, 100)}) that Ferry never writes`);
    }
    return e;
  };

  const handle = async (entry: TarEntry): Promise<void> => {
    const e = check(entry.header as TarHeader);
    seen.add(e.name);
    const info: VolumeEntryInfo = { name: e.name, kind: e.kind, size: e.size, ...(e.blob ? { blob: e.blob } : {}), ...(e.segment ? { segment: e.segment } : {}) };
    switch (e.kind) {
      case 'manifest':
      case 'signature':
      case 'oci-layout': {
        const got = await readAll(entry, e.size);
        if (!got.equals(e.bytes!)) {
          if (e.kind === 'manifest') throw new FerryError('SIGNATURE_INVALID', `manifest copy inside ${file} differs from the signed manifest`, { file });
          if (e.kind === 'signature') throw new FerryError('SIGNATURE_INVALID', `signature copy inside ${file} differs from the bundle's signature`, { file });
          throw hostile(`oci-layout is not exactly ${OCI_LAYOUT_CONTENT}`);
        }
        await deliver([got], new PassThrough(), info, opts.onEntry);
        return;
      }
      case 'index': {
        const got = await readAll(entry, e.size);
        verifyBytes(got, manifest.layoutIndex.digest, manifest.layoutIndex.size, { where: `index.json in ${file}` });
        // The hash says the signer chose these bytes; plain tools act on what they say.
        checkLayoutIndex(got, manifest, file);
        await deliver([got], new PassThrough(), info, opts.onEntry);
        return;
      }
      case 'blob':
        await deliver(entry, new VerifyingStream(e.blob!.digest, e.blob!.size, { where: file, ...(integrityOf.has(e.blob!.digest) ? { integrity: integrityOf.get(e.blob!.digest)! } : {}) }), info, opts.onEntry);
        return;
      case 'segment':
        await deliver(entry, new VerifyingStream(e.segment!.digest, e.segment!.size, { where: file, label: segmentLabel(e.blob!, e.segment!) }), info, opts.onEntry);
        return;
    }
  };

  let failure: unknown = null;
  try {
    for await (const entry of feed.extract) {
      await handle(entry);
      i++;
    }
  } catch (e) {
    failure = e;
  } finally {
    loopDone();
  }
  if (failure === null) {
    try {
      await feed.done;
    } catch (e) {
      failure = e;
    }
  } else {
    feed.stop();
    await feed.done.catch(() => undefined);
  }
  signal?.removeEventListener('abort', onAbort);
  // Damage explains whatever failed after it; otherwise a specific entry error beats the
  // general ones (trailing data, bomb) found by the reading side.
  const root = feed.rootError();
  if (failure instanceof EntryCallbackError) {
    // The caller's own error, unless the volume's damage is what made it fail.
    if (root !== null && !(failure.cause instanceof FerryError)) throw root;
    throw failure.cause;
  }
  if (root !== null && (!(failure instanceof FerryError) || isFerryError(root, 'ARCHIVE_CORRUPT'))) throw root;
  const { tarBytes, compressedBytes } = feed.stats;
  if (failure !== null) {
    if (failure instanceof FerryError) throw failure;
    if (tarBytes < layout.entriesEnd) throw truncated();
    throw hostile(`malformed tar data${describe()}: ${failure instanceof Error ? failure.message : String(failure)}`);
  }
  if (i < exp.length) throw truncated();
  if (tarBytes < layout.entriesEnd + TAR_END_BYTES) {
    throw new FerryError('ARCHIVE_CORRUPT', `${file} is truncated: it ends without the tar end-of-archive blocks (${tarBytes} of ${layout.tarSize} bytes)`, { file });
  }
  if (seekError) throw seekError;
  if (seek && (seek.decompressedBytes !== tarBytes || seek.dataBytes + seek.tableBytes !== compressedBytes)) {
    throw new FerryError('ARCHIVE_CORRUPT', `${file}: the zstd seek table (${seek.decompressedBytes} bytes in ${seek.frames.length} frames) does not match the data (${tarBytes} bytes)`, { file });
  }
  return { entries: i, compressedBytes, tarBytes };

  function truncated(): FerryError {
    const missing = exp.slice(i).map((x) => x.name);
    const list = missing.slice(0, 3).join(', ') + (missing.length > 3 ? ` and ${missing.length - 3} more` : '');
    return new FerryError('ARCHIVE_CORRUPT', `${file} is truncated or incomplete: the tar stream ends after ${feed.stats.tarBytes} of ${layout.tarSize} bytes; missing ${list}`, { file, missing: missing.length });
  }
}

export interface EmbeddedManifest {
  /** Entry name, `<bundle>.manifest.json`. */
  manifestName: string;
  manifestBytes: Buffer;
  signatureBytes?: Buffer;
}

/**
 * Read only the first entries of a volume: `<name>.manifest.json` and, if present next,
 * `<name>.manifest.json.sig`. For when only the volumes are at hand. Trust nothing returned
 * before the signature is verified against a trusted key.
 */
export async function readEmbeddedManifest(path: string): Promise<EmbeddedManifest> {
  const file = basename(path);
  const hostile = (msg: string): FerryError => new FerryError('ARCHIVE_HOSTILE', `${file}: ${msg}`, { file });
  const limit = MAX_EMBEDDED_MANIFEST_BYTES + MAX_EMBEDDED_SIGNATURE_BYTES + 8 * 1024;
  const feed = openTarFeed(path, file, limit, Number.POSITIVE_INFINITY, () => '');
  let offset = 0;
  const checkHeader = (h: TarHeader, what: string): void => {
    const bad = unsafeName(h.name);
    if (bad) throw hostile(`entry ${show(h.name)} has ${bad}`);
    if (h.type !== 'file') throw hostile(`first entries must be regular files; ${show(h.name)} is ${TYPE_WORDS[h.type] ?? String(h.type)}`);
    if (h.byteOffset !== offset + tarHeaderBytes(h.name)) throw hostile(`extra tar header blocks before ${what}`);
    if (h.pax && (!needsPaxHeader(h.name) || Object.keys(h.pax).join() !== 'path')) throw hostile(`${what} has a pax extended header that Ferry never writes`);
  };
  let result: EmbeddedManifest | null = null;
  let failure: unknown = null;
  try {
    const it = feed.extract[Symbol.asyncIterator]();
    const first = await it.next();
    if (first.done) throw new FerryError('ARCHIVE_CORRUPT', `${file} holds no entries (truncated?)`, { file });
    const h = first.value.header as TarHeader;
    const unsafe = unsafeName(h.name);
    if (unsafe) throw hostile(`entry ${show(h.name)} has ${unsafe}`);
    const m = MANIFEST_ENTRY_RE.exec(h.name);
    if (!m) throw hostile(`the first entry is ${show(h.name)}, not <bundle>.manifest.json`);
    checkHeader(h, h.name);
    if (h.size > MAX_EMBEDDED_MANIFEST_BYTES) throw hostile(`${h.name} claims ${h.size} bytes, more than the ${MAX_EMBEDDED_MANIFEST_BYTES} allowed`);
    const manifestBytes = await readAll(first.value, h.size);
    offset = (h.byteOffset ?? 0) + Math.ceil(h.size / 512) * 512;
    result = { manifestName: h.name, manifestBytes };
    const second = await it.next();
    if (!second.done) {
      const h2 = second.value.header as TarHeader;
      if (h2.name === `${m[1]}.manifest.json.sig`) {
        checkHeader(h2, h2.name);
        if (h2.size > MAX_EMBEDDED_SIGNATURE_BYTES) throw hostile(`${h2.name} claims ${h2.size} bytes, more than the ${MAX_EMBEDDED_SIGNATURE_BYTES} allowed`);
        result.signatureBytes = await readAll(second.value, h2.size);
      }
    }
  } catch (e) {
    failure = e;
  }
  feed.stop();
  await feed.done.catch(() => undefined);
  const root = feed.rootError();
  if (failure !== null || result === null) {
    if (root !== null) throw root;
    if (failure instanceof FerryError) throw failure;
    throw new FerryError('ARCHIVE_CORRUPT', `${file}: cannot read the embedded manifest: ${failure instanceof Error ? failure.message : String(failure)}`, { file });
  }
  return result;
}
