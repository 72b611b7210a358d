// Writes an OCI image layout directory (`ferry-load push --to oci:DIR`). Blobs become visible
// under blobs/sha256/<hex> only after their size and digest were checked; index.json is
// replaced atomically, so a reader (skopeo) never sees a half-written layout and a re-run
// after a crash completes it.

import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  FerryError,
  REF_NAME_ANNOTATION,
  VerifyingStream,
  isFerryError,
  isSha256Digest,
  verifyBytes,
  type Descriptor,
} from '@ferry/format-spec';
import type { ImageSink } from './source.js';

const OCI_LAYOUT_BYTES = '{"imageLayoutVersion":"1.0.0"}';
const EMPTY_INDEX = '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}';
const MAX_INDEX_BYTES = 64 << 20;

// image-spec annotations.md grammar for org.opencontainers.image.ref.name (what skopeo accepts).
const REF_NAME_RE = /^[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*(?:\/[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*)*$/;

export interface OciLayoutSinkOptions {
  /**
   * fsync each blob before its rename and the directory after (default false). Without it a
   * power cut can leave a renamed blob short or empty; the next run sees the wrong size and
   * rewrites it, so correctness holds at the cost of a re-run. Turn on for removable media.
   */
  durable?: boolean;
}

function targetError(msg: string, e?: unknown, details: Record<string, string> = {}): FerryError {
  return new FerryError('TARGET_ERROR', msg, details, e === undefined ? undefined : { cause: e });
}

export class OciLayoutSink implements ImageSink {
  readonly description: string;
  private readonly blobsDir: string;
  private readonly durable: boolean;
  /** Serialises read-modify-write of index.json within this process. */
  private indexLock: Promise<void> = Promise.resolve();

  private initialised?: Promise<void>;

  /** Call init() (or use OciLayoutSink.open) before writing; write methods also run it once. */
  constructor(readonly dir: string, opts: OciLayoutSinkOptions = {}) {
    this.description = `oci:${dir}`;
    this.blobsDir = join(dir, 'blobs', 'sha256');
    this.durable = opts.durable ?? false;
  }

  /** Open (or create) a layout at `dir`; see init(). */
  static async open(dir: string, opts: OciLayoutSinkOptions = {}): Promise<OciLayoutSink> {
    const sink = new OciLayoutSink(dir, opts);
    await sink.init();
    return sink;
  }

  /**
   * Make `dir` a usable layout. A missing or empty directory becomes a new layout; an existing
   * layout is added to; any other non-empty directory is refused so we never mix blobs into
   * someone's unrelated files. Idempotent.
   */
  init(): Promise<void> {
    this.initialised ??= this.doInit();
    return this.initialised;
  }

  private async doInit(): Promise<void> {
    const dir = this.dir;
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') throw targetError(`oci:${dir}: ${dir} exists and is not a directory`, e, { path: dir });
      if (code !== 'ENOENT') throw targetError(`oci:${dir}: cannot read ${dir} (${(e as Error).message})`, e, { path: dir });
      names = [];
    }
    if (!names.includes('oci-layout')) {
      if (names.length > 0) {
        throw targetError(
          `oci:${dir}: ${dir} is not empty and is not an OCI layout (no oci-layout file); give a new or empty directory, or an existing layout`,
          undefined,
          { path: dir },
        );
      }
      try {
        await mkdir(dir, { recursive: true });
      } catch (e) {
        throw targetError(`oci:${dir}: cannot create ${dir} (${(e as Error).message})`, e, { path: dir });
      }
      // oci-layout first: if we are interrupted after it, the next run recognises the layout
      // and completes it (blobs/ and index.json are created below when missing).
      await this.atomicWrite('oci-layout', Buffer.from(OCI_LAYOUT_BYTES));
    } else {
      let version: unknown;
      try {
        version = (JSON.parse(await readFile(join(dir, 'oci-layout'), 'utf8')) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
      } catch (e) {
        throw targetError(`oci:${dir}: ${join(dir, 'oci-layout')} is not valid JSON; this is not a layout Ferry can add to`, e, { path: dir });
      }
      if (typeof version !== 'string' || !/^1\.\d+\.\d+$/.test(version)) {
        throw targetError(`oci:${dir}: oci-layout has imageLayoutVersion ${JSON.stringify(version)}, not 1.x`, undefined, { path: dir });
      }
    }
    try {
      await mkdir(this.blobsDir, { recursive: true });
    } catch (e) {
      throw targetError(`oci:${dir}: cannot create ${this.blobsDir} (${(e as Error).message})`, e, { path: dir });
    }
    if (names.includes('index.json')) await this.readIndex(); // fail now, not after copying gigabytes
    else await this.atomicWrite('index.json', Buffer.from(EMPTY_INDEX));
  }

  private hex(digest: string): string {
    if (!isSha256Digest(digest)) {
      throw targetError(`${this.description}: refusing digest ${JSON.stringify(digest).slice(0, 120)}: only sha256:<64 lowercase hex> digests are written`, undefined, { digest: String(digest).slice(0, 120) });
    }
    return digest.slice(7);
  }

  private async blobSize(digest: string): Promise<number | undefined> {
    try {
      const st = await stat(join(this.blobsDir, this.hex(digest)));
      return st.isFile() ? st.size : undefined;
    } catch (e) {
      if (isFerryError(e)) throw e;
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw targetError(`${this.description}: cannot stat blob ${digest} (${(e as Error).message})`, e);
    }
  }

  async hasBlob(digest: string): Promise<boolean> {
    return (await this.blobSize(digest)) !== undefined;
  }

  /** Which of `digests` are present already (for resume and delta checks). */
  async presentBlobs(digests: Iterable<string>): Promise<Set<string>> {
    const all = [...new Set(digests)];
    const present = new Set<string>();
    // A few stats at a time: plenty for a local disk, and no EMFILE on huge lists.
    for (let i = 0; i < all.length; i += 64) {
      const batch = all.slice(i, i + 64);
      const sizes = await Promise.all(batch.map((d) => this.blobSize(d)));
      batch.forEach((d, j) => {
        if (sizes[j] !== undefined) present.add(d);
      });
    }
    return present;
  }

  /**
   * Stream `data` into blobs/sha256/<hex>. The bytes go to a temp file beside it, are checked
   * against desc (size and digest) as they pass, and are renamed into place only when right.
   * A blob already present with the right size is kept; the stream is still drained through
   * the verifier (not destroyed: it may be a tar entry whose parser must move on).
   */
  async writeBlob(desc: Descriptor, data: Readable): Promise<void> {
    await this.init();
    const hex = this.hex(desc.digest);
    const where = `${this.description} (writing ${desc.digest})`;
    const existing = await this.blobSize(desc.digest);
    if (existing === desc.size) {
      const sinkNull = new Writable({ write: (_c, _e, cb) => cb() });
      await pipeline(data, new VerifyingStream(desc.digest, desc.size, { where }), sinkNull);
      return;
    }
    const tmp = join(this.blobsDir, `.ferry-tmp-${hex.slice(0, 12)}-${randomBytes(6).toString('hex')}`);
    try {
      await pipeline(data, new VerifyingStream(desc.digest, desc.size, { where }), createWriteStream(tmp, { flags: 'wx' }));
      if (this.durable) await this.fsyncFile(tmp);
      await rename(tmp, join(this.blobsDir, hex));
      if (this.durable) await this.fsyncFile(this.blobsDir);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      if (isFerryError(e)) throw e;
      throw targetError(`${where}: ${(e as Error).message}`, e, { digest: desc.digest });
    }
  }

  /**
   * Store a manifest's exact bytes (checked against desc) and, when `tag` is given, point the
   * index.json entry named `tag` at it (replacing an entry of that name in place, keeping all
   * others and their fields as they were).
   */
  async writeManifest(desc: Descriptor, bytes: Buffer, tag?: string): Promise<void> {
    await this.init();
    const hex = this.hex(desc.digest);
    if (tag !== undefined && !REF_NAME_RE.test(tag)) {
      throw targetError(`${this.description}: "${tag}" is not a valid OCI layout reference name (letters, digits and - . _ : @ + separators, / between components)`, undefined, { tag });
    }
    verifyBytes(bytes, desc.digest, desc.size, { where: `${this.description} (manifest ${desc.digest})` });
    if ((await this.blobSize(desc.digest)) !== desc.size) {
      await this.atomicWrite(join('blobs', 'sha256', hex), bytes);
    }
    if (tag === undefined) return;
    const entry: Descriptor = {
      mediaType: desc.mediaType,
      digest: desc.digest,
      size: desc.size,
      ...(desc.artifactType !== undefined ? { artifactType: desc.artifactType } : {}),
      ...(desc.platform !== undefined ? { platform: desc.platform } : {}),
      annotations: { [REF_NAME_ANNOTATION]: tag },
    };
    await this.withIndexLock(async () => {
      const index = await this.readIndex();
      const manifests = index.manifests as unknown[];
      const named = (m: unknown): boolean =>
        typeof m === 'object' && m !== null && (m as { annotations?: Record<string, unknown> }).annotations?.[REF_NAME_ANNOTATION] === tag;
      const first = manifests.findIndex(named);
      const kept = manifests.filter((m, i) => i === first || !named(m));
      if (first >= 0) kept[kept.indexOf(manifests[first])] = entry;
      else kept.push(entry);
      index.manifests = kept;
      // JSON.stringify keeps the key order we read (index.json is ours to rewrite: it is not
      // content-addressed; manifests themselves are never re-serialised).
      await this.atomicWrite('index.json', Buffer.from(JSON.stringify(index)));
    });
  }

  async close(): Promise<void> {
    await this.indexLock;
  }

  private async readIndex(): Promise<{ manifests: unknown[]; [k: string]: unknown }> {
    const path = join(this.dir, 'index.json');
    let text: string;
    try {
      const st = await stat(path);
      if (st.size > MAX_INDEX_BYTES) throw targetError(`${path} is ${st.size} bytes, more than ${MAX_INDEX_BYTES}`);
      text = await readFile(path, 'utf8');
    } catch (e) {
      if (isFerryError(e)) throw e;
      throw targetError(`${this.description}: cannot read ${path} (${(e as Error).message})`, e, { path });
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw targetError(`${this.description}: ${path} is not valid JSON (${(e as Error).message}); fix or remove it`, e, { path });
    }
    if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { manifests?: unknown }).manifests)) {
      throw targetError(`${this.description}: ${path} has no "manifests" array; fix or remove it`, undefined, { path });
    }
    return doc as { manifests: unknown[] };
  }

  private withIndexLock(fn: () => Promise<void>): Promise<void> {
    const run = this.indexLock.then(fn);
    this.indexLock = run.catch(() => undefined);
    return run;
  }

  /** Write a small file via temp + rename in the same directory, so readers see old or new, never half. */
  private async atomicWrite(rel: string, bytes: Buffer): Promise<void> {
    const path = join(this.dir, rel);
    const tmp = `${path}.ferry-tmp-${randomBytes(6).toString('hex')}`;
    try {
      await writeFile(tmp, bytes, { flag: 'wx' });
      if (this.durable) await this.fsyncFile(tmp);
      await rename(tmp, path);
      if (this.durable) await this.fsyncFile(dirname(path));
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw targetError(`${this.description}: cannot write ${path} (${(e as Error).message})`, e, { path });
    }
  }

  private async fsyncFile(path: string): Promise<void> {
    const fh = await open(path, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}

/** `oci:DIR` as a sink. */
export function openOciLayoutSink(dir: string, opts?: OciLayoutSinkOptions): Promise<OciLayoutSink> {
  return OciLayoutSink.open(dir, opts);
}
