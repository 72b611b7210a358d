// Writes an OCI image layout directory (`ferry-load push --to oci:DIR`). Storing and making
// visible are separate steps: blobs and manifests are stored by digest (verified, then renamed
// into blobs/sha256/<hex>), and a tag is added to index.json only by tag(). index.json is
// replaced atomically under a cross-process lock, so a reader (skopeo) never sees a half-written
// layout, a re-run after a crash completes it, and two writers never lose each other's tags.
// Temp files live in DIR/.ferry/tmp; nothing inside DIR that Ferry did not make is followed.

import { mkdir, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  FerryError,
  MAX_IMAGE_MANIFEST_BYTES,
  REF_NAME_ANNOTATION,
  VerifyingStream,
  isFerryError,
  isSha256Digest,
  printable,
  verifyBytes,
  verifiedDigestOf,
  type Descriptor,
} from '@ferry/format-spec';
import type { BlobPresence, BlobWriteResult, ImageSink, TagRequest } from './source.js';
import {
  checkFerryArea,
  checkRealDir,
  checkRegularFile,
  ensureFerryArea,
  ensureRealDir,
  ferryArea,
  tempName,
  cleanTemp,
  targetFsError,
  openNoFollow,
  replaceFile,
  exclusiveWriteStream,
  noFollowReadStream,
  FERRY_AREA,
  statSignature,
  type FerryArea,
} from './target-dir.js';
import { acquireDirLock, type DirLock } from './dir-lock.js';

const OCI_LAYOUT_BYTES = '{"imageLayoutVersion":"1.0.0"}';
const EMPTY_INDEX = '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}';
const MAX_INDEX_BYTES = 64 << 20;
/** index.json writers wait this long for one another (each holds the lock for one rename). */
const INDEX_LOCK_WAIT_MS = 60_000;

// image-spec annotations.md grammar for org.opencontainers.image.ref.name (what skopeo accepts).
const REF_NAME_RE = /^[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*(?:\/[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*)*$/;

export interface OciLayoutSinkOptions {
  /**
   * fsync each blob before its rename and the directory after (default false). Without it a
   * power cut can leave a renamed blob short or empty; presence checks compare the size and
   * the loader re-verifies what it finds, so correctness holds at the cost of a re-run.
   */
  durable?: boolean;
}

/** What a presence check found for a blob: absent, present with the right size, or a file of
 *  the wrong size (a crash-truncated write: it must be replaced, never trusted). */
export type BlobState = 'absent' | 'present' | 'damaged';

function targetError(msg: string, e?: unknown, details: Record<string, string> = {}): FerryError {
  return new FerryError('TARGET_ERROR', msg, details, e === undefined ? undefined : { cause: e });
}

export class OciLayoutSink implements ImageSink {
  readonly description: string;
  private readonly blobsDir: string;
  private readonly area: FerryArea;
  private readonly durable: boolean;
  /** Serialises read-modify-write of index.json within this process (the file lock does across). */
  private indexChain: Promise<void> = Promise.resolve();
  private runLock?: DirLock;
  private initialised?: Promise<void>;
  /** digest -> stat signature of the blob file when its content last verified. */
  private readonly verified = new Map<string, string>();
  /** index.json's entries by ref name, for the version of the file with this stat signature. */
  private names?: { sig: string; byName: Map<string, Descriptor> };

  /** Call init() (or use OciLayoutSink.open) before writing; write methods also run it once. */
  constructor(readonly dir: string, opts: OciLayoutSinkOptions = {}) {
    this.description = `oci:${dir}`;
    this.blobsDir = join(dir, 'blobs', 'sha256');
    this.area = ferryArea(dir);
    this.durable = opts.durable ?? false;
  }

  /** Open (or create) a layout at `dir`; see init(). */
  static async open(dir: string, opts: OciLayoutSinkOptions = {}): Promise<OciLayoutSink> {
    const sink = new OciLayoutSink(dir, opts);
    await sink.init();
    return sink;
  }

  /** Where split blobs are reassembled before adoptBlob() (same file system as the blobs). */
  get partialDir(): string {
    return this.area.partial;
  }

  get ferryArea(): FerryArea {
    return this.area;
  }

  /**
   * Read-only: is `dir` absent (false), or a layout (or an empty directory) Ferry can add to
   * (true)? Refuses anything else — a non-empty directory that is not a layout, links or
   * special files where the layout's own files and directories belong — without writing.
   */
  async check(): Promise<boolean> {
    const dir = this.dir;
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return false;
      if (code === 'ENOTDIR') throw targetError(`oci:${printable(dir)}: ${printable(dir)} exists and is not a directory`, e, { path: dir });
      throw targetFsError(e, dir, `oci:${dir}: cannot read the target`);
    }
    const own = names.filter((n) => n !== FERRY_AREA);
    if (!names.includes('oci-layout') && own.length > 0) {
      throw targetError(
        `oci:${printable(dir)}: ${printable(dir)} is not empty and is not an OCI layout (no oci-layout file); give a new or empty directory, or an existing layout`,
        undefined,
        { path: dir },
      );
    }
    await checkFerryArea(dir);
    if (await checkRegularFile(join(dir, 'oci-layout'), 'the oci-layout file') !== undefined) {
      let version: unknown;
      try {
        version = (JSON.parse(await readFile(join(dir, 'oci-layout'), 'utf8')) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
      } catch (e) {
        throw targetError(`oci:${printable(dir)}: ${printable(join(dir, 'oci-layout'))} is not valid JSON; this is not a layout Ferry can add to`, e, { path: dir });
      }
      if (typeof version !== 'string' || !/^1\.\d+\.\d+$/.test(version)) {
        throw targetError(`oci:${printable(dir)}: oci-layout has imageLayoutVersion ${printable(JSON.stringify(version) ?? 'undefined')}, not 1.x`, undefined, { path: dir });
      }
    }
    if (await checkRealDir(join(dir, 'blobs'), 'the blobs directory')) await checkRealDir(this.blobsDir, 'the blobs/sha256 directory');
    if (await checkRegularFile(join(dir, 'index.json'), 'the layout index (index.json)') !== undefined) await this.readIndex();
    return true;
  }

  /**
   * Make `dir` a usable layout: check() first, then create what is missing (the directory,
   * Ferry's area, oci-layout, blobs/sha256, index.json). Idempotent.
   */
  init(): Promise<void> {
    this.initialised ??= this.doInit();
    return this.initialised;
  }

  private async doInit(): Promise<void> {
    const exists = await this.check();
    if (!exists) {
      try {
        await mkdir(this.dir, { recursive: true });
      } catch (e) {
        throw targetFsError(e, this.dir, `oci:${this.dir}: cannot create the target`);
      }
    }
    await ensureFerryArea(this.dir);
    // oci-layout first: if we are interrupted after it, the next run recognises the layout
    // and completes it (blobs/ and index.json are created below when missing).
    if ((await checkRegularFile(join(this.dir, 'oci-layout'))) === undefined) await this.atomicWrite('oci-layout', Buffer.from(OCI_LAYOUT_BYTES));
    await ensureRealDir(join(this.dir, 'blobs'), 'the blobs directory');
    await ensureRealDir(this.blobsDir, 'the blobs/sha256 directory');
    if ((await checkRegularFile(join(this.dir, 'index.json'))) === undefined) await this.atomicWrite('index.json', Buffer.from(EMPTY_INDEX));
  }

  /**
   * Hold the layout for one run (`ferry-load push`): a second run gets TARGET_BUSY naming this
   * process. Released by close(). Also clears temp files an interrupted run left behind.
   */
  async lock(what: string): Promise<void> {
    await this.init();
    this.runLock ??= await acquireDirLock(join(this.area.dir, 'lock'), { what });
    await cleanTemp(this.area);
  }

  private hex(digest: string): string {
    if (!isSha256Digest(digest)) {
      throw targetError(`${this.description}: refusing digest ${printable(JSON.stringify(digest).slice(0, 120))}: only sha256:<64 lowercase hex> digests are written`, undefined, { digest: String(digest).slice(0, 120) });
    }
    return digest.slice(7);
  }

  blobPath(digest: string): string {
    return join(this.blobsDir, this.hex(digest));
  }

  /** Size of a stored blob, undefined when absent; a link or special file there is refused. */
  private async blobSize(digest: string): Promise<number | undefined> {
    return checkRegularFile(this.blobPath(digest), `blob ${digest}`);
  }

  async blobState(desc: Pick<Descriptor, 'digest' | 'size'>): Promise<BlobState> {
    const size = await this.blobSize(desc.digest);
    return size === undefined ? 'absent' : size === desc.size ? 'present' : 'damaged';
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

  /** Re-read a stored blob and check its digest (a same-size file can still be damaged). */
  async verifyBlob(desc: Pick<Descriptor, 'digest' | 'size'>): Promise<boolean> {
    if ((await this.blobState(desc)) !== 'present') return false;
    const path = this.blobPath(desc.digest);
    try {
      await pipeline(noFollowReadStream(path), new VerifyingStream(desc.digest, desc.size, { where: path }), discard());
      return true;
    } catch (e) {
      if (isFerryError(e, 'BLOB_MISMATCH')) return false;
      throw targetFsError(e, path, `${this.description}: cannot read blob ${desc.digest}`);
    }
  }

  /**
   * Stream `data` into blobs/sha256/<hex>. The bytes go to a new temp file in Ferry's area, are
   * checked against desc (size and digest) as they pass, and are renamed into place only when
   * right — replacing whatever was there (a damaged copy is repaired, never trusted).
   */
  async writeBlob(desc: Descriptor, data: Readable): Promise<void> {
    await this.init();
    const hex = this.hex(desc.digest);
    const where = `${this.description} (writing ${desc.digest})`;
    const tmp = tempName(this.area, hex.slice(0, 12));
    try {
      // A stream already verified against this digest upstream is not hashed a second time.
      if (verifiedDigestOf(data) === desc.digest) await pipeline(data, exclusiveWriteStream(tmp, { flush: this.durable }));
      else await pipeline(data, new VerifyingStream(desc.digest, desc.size, { where }), exclusiveWriteStream(tmp, { flush: this.durable }));
      await this.moveIntoPlace(tmp, hex);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      if (isFerryError(e)) throw e;
      throw targetFsError(e, tmp, where);
    }
  }

  /**
   * Make a file Ferry assembled in its own area (a blob reassembled from segments) the blob:
   * its content is hashed first, then it is renamed into place without a copy.
   */
  async adoptBlob(desc: Descriptor, path: string): Promise<void> {
    await this.init();
    const hex = this.hex(desc.digest);
    try {
      await pipeline(noFollowReadStream(path), new VerifyingStream(desc.digest, desc.size, { where: `${this.description} (reassembled ${desc.digest})` }), discard());
    } catch (e) {
      if (isFerryError(e)) throw e;
      throw targetFsError(e, path, `${this.description}: cannot read reassembled blob ${desc.digest}`);
    }
    await this.moveIntoPlace(path, hex);
  }

  private async moveIntoPlace(from: string, hex: string): Promise<void> {
    const dest = join(this.blobsDir, hex);
    try {
      await rename(from, dest);
      if (this.durable) await this.fsyncPath(this.blobsDir);
    } catch (e) {
      throw targetFsError(e, dest, `${this.description}: cannot store blob sha256:${hex}`);
    }
  }

  /** The exact bytes of a stored manifest or index, checked against desc. */
  async readManifest(desc: Descriptor, max = MAX_IMAGE_MANIFEST_BYTES): Promise<Buffer> {
    if (desc.size > max) throw targetError(`${this.description}: manifest ${desc.digest} is ${desc.size} bytes; manifests are at most ${max}`, undefined, { digest: desc.digest });
    const path = this.blobPath(desc.digest);
    const fh = await openNoFollow(path, 0);
    let bytes: Buffer;
    try {
      if ((await fh.stat()).size !== desc.size) throw new FerryError('BLOB_MISMATCH', `${this.description}: stored manifest ${desc.digest} has the wrong size`, { digest: desc.digest });
      bytes = await fh.readFile();
    } finally {
      await fh.close();
    }
    verifyBytes(bytes, desc.digest, desc.size, { where: `${this.description} (manifest ${desc.digest})` });
    return bytes;
  }

  /**
   * Store a manifest's exact bytes (checked against desc) and, when `tag` is given, tag it
   * (see tag()). Callers store children first; the tag is the last step.
   */
  async writeManifest(desc: Descriptor, bytes: Buffer, tag?: string): Promise<void> {
    await this.init();
    const hex = this.hex(desc.digest);
    if (tag !== undefined) this.checkRefName(tag);
    verifyBytes(bytes, desc.digest, desc.size, { where: `${this.description} (manifest ${desc.digest})` });
    if ((await this.blobSize(desc.digest)) !== desc.size || !(await this.verifyBlob(desc))) {
      await replaceFile(this.area, join(this.blobsDir, hex), bytes, { doing: `${this.description}: cannot store manifest ${desc.digest}`, flush: this.durable });
      if (this.durable) await this.fsyncPath(this.blobsDir);
    }
    if (tag !== undefined) await this.tag(tag, desc);
  }

  private checkRefName(ref: string): void {
    if (!REF_NAME_RE.test(ref)) {
      throw targetError(`${this.description}: "${printable(ref)}" is not a valid OCI layout reference name (letters, digits and - . _ : @ + separators, / between components)`, undefined, { tag: ref });
    }
  }

  /** What `ref` points at now (the first index.json entry of that name), if anything. Read-only. */
  async resolveTag(ref: string): Promise<Descriptor | undefined> {
    const path = join(this.dir, 'index.json');
    if ((await checkRegularFile(path, 'the layout index (index.json)')) === undefined) return undefined;
    // One parse per version of index.json, not one per question (a 1000-image plan asks 1000 times).
    const sig = await stat(path).then(statSignature, () => undefined);
    if (sig === undefined || this.names?.sig !== sig) {
      const byName = new Map<string, Descriptor>();
      for (const m of (await this.readIndex()).manifests) {
        const name = (m as { annotations?: Record<string, unknown> } | null)?.annotations?.[REF_NAME_ANNOTATION];
        if (typeof name === 'string' && !byName.has(name)) byName.set(name, m as Descriptor);
      }
      if (sig === undefined) return byName.get(ref);
      this.names = { sig, byName };
    }
    return this.names.byName.get(ref);
  }

  /**
   * Point the index.json entry named `ref` at `desc` (replacing an entry of that name in place,
   * keeping all others and their fields as they were). The manifest must be stored already.
   */
  async tag(ref: string, desc: Descriptor): Promise<void> {
    await this.tagMany([{ ref, desc }]);
  }

  /** Several tags in one rewrite of index.json (a thousand images cost one write, not 1000). */
  async tagMany(entries: ReadonlyArray<{ ref: string; desc: Descriptor }>): Promise<void> {
    if (!entries.length) return;
    await this.init();
    for (const { ref, desc } of entries) {
      this.checkRefName(ref);
      if ((await this.blobSize(desc.digest)) !== desc.size) {
        throw new FerryError('INTERNAL', `${this.description}: tag ${ref} would point at ${desc.digest}, which is not stored`);
      }
    }
    await this.withIndexLock(async () => {
      const index = await this.readIndex();
      let manifests = index.manifests;
      for (const { ref, desc } of entries) {
        const entry: Descriptor = {
          mediaType: desc.mediaType,
          digest: desc.digest,
          size: desc.size,
          ...(desc.artifactType !== undefined ? { artifactType: desc.artifactType } : {}),
          ...(desc.platform !== undefined ? { platform: desc.platform } : {}),
          annotations: { [REF_NAME_ANNOTATION]: ref },
        };
        const first = manifests.findIndex((m) => named(m, ref));
        const kept = manifests.filter((m, i) => i === first || !named(m, ref));
        if (first >= 0) kept[kept.indexOf(manifests[first])] = entry;
        else kept.push(entry);
        manifests = kept;
      }
      index.manifests = manifests;
      // JSON.stringify keeps the key order we read (index.json is ours to rewrite: it is not
      // content-addressed; manifests themselves are never re-serialised).
      await this.atomicWrite('index.json', Buffer.from(JSON.stringify(index)));
    });
  }

  // ImageSink: one blob store for every repository; a tag is the ref name `repository:tag`.

  storeOf(): string {
    return '';
  }

  /**
   * Present only when the stored bytes hash right (a power cut can leave a renamed blob short
   * or wrong); a blob verified once and unchanged since (size, mtime, inode) is not hashed again.
   */
  async blobPresence(_repository: string, desc: Descriptor): Promise<BlobPresence> {
    const state = await this.blobState(desc);
    if (state !== 'present') return state;
    const path = this.blobPath(desc.digest);
    const sig = await stat(path).then(statSignature, () => undefined);
    if (sig !== undefined && this.verified.get(desc.digest) === sig) return 'present';
    if (!(await this.verifyBlob(desc))) return 'damaged';
    if (sig !== undefined) this.verified.set(desc.digest, sig);
    return 'present';
  }

  async putBlob(_repository: string, desc: Descriptor, data: Readable): Promise<BlobWriteResult> {
    await this.writeBlob(desc, data);
    return 'uploaded';
  }

  async mountBlob(): Promise<boolean> {
    return true; // one store: a blob stored for one repository is there for all
  }

  async hasManifest(_repository: string, desc: Descriptor): Promise<boolean> {
    return (await this.blobState(desc)) === 'present';
  }

  getManifest(_repository: string, desc: Descriptor): Promise<Buffer> {
    return this.readManifest(desc);
  }

  putManifest(_repository: string, desc: Descriptor, bytes: Buffer): Promise<void> {
    return this.writeManifest(desc, bytes);
  }

  tagged(repository: string, tag: string): Promise<Descriptor | undefined> {
    return this.resolveTag(`${repository}:${tag}`);
  }

  putTags(tags: readonly TagRequest[]): Promise<void> {
    return this.tagMany(tags.map((t) => ({ ref: `${t.repository}:${t.tag}`, desc: t.descriptor })));
  }

  async close(): Promise<void> {
    await this.indexChain;
    const l = this.runLock;
    this.runLock = undefined;
    await l?.release();
  }

  private async readIndex(): Promise<{ manifests: unknown[]; [k: string]: unknown }> {
    const path = join(this.dir, 'index.json');
    let text: string;
    try {
      const size = await checkRegularFile(path, 'the layout index (index.json)');
      if (size === undefined) throw targetError(`${this.description}: ${printable(path)} is missing`, undefined, { path });
      if (size > MAX_INDEX_BYTES) throw targetError(`${printable(path)} is ${size} bytes, more than ${MAX_INDEX_BYTES}`);
      const fh = await openNoFollow(path, 0);
      try {
        text = await fh.readFile('utf8');
      } finally {
        await fh.close();
      }
    } catch (e) {
      if (isFerryError(e)) throw e;
      throw targetFsError(e, path, `${this.description}: cannot read index.json`);
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw targetError(`${this.description}: ${printable(path)} is not valid JSON (${(e as Error).message}); fix or remove it`, e, { path });
    }
    if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { manifests?: unknown }).manifests)) {
      throw targetError(`${this.description}: ${printable(path)} has no "manifests" array; fix or remove it`, undefined, { path });
    }
    return doc as { manifests: unknown[] };
  }

  /** In-process chain, then the cross-process lock file, around one read-modify-rename. */
  private withIndexLock(fn: () => Promise<void>): Promise<void> {
    const run = this.indexChain.then(async () => {
      const lock = await acquireDirLock(join(this.area.dir, 'index.lock'), { what: `updating ${join(this.dir, 'index.json')}`, waitMs: INDEX_LOCK_WAIT_MS });
      try {
        await fn();
      } finally {
        await lock.release();
      }
    });
    this.indexChain = run.catch(() => undefined);
    return run;
  }

  /** A small file of the layout's own (oci-layout, index.json), replaced atomically. */
  private async atomicWrite(rel: string, bytes: Buffer): Promise<void> {
    const path = join(this.dir, rel);
    await replaceFile(this.area, path, bytes, { doing: `${this.description}: cannot write ${rel}`, flush: this.durable });
    if (this.durable) await this.fsyncPath(dirname(path));
  }

  private async fsyncPath(path: string): Promise<void> {
    const fh = await openNoFollow(path, 0);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}

function discard(): Writable {
  return new Writable({ write: (_c, _e, cb) => cb() });
}

function named(m: unknown, ref: string): boolean {
  return typeof m === 'object' && m !== null && (m as { annotations?: Record<string, unknown> }).annotations?.[REF_NAME_ANNOTATION] === ref;
}

/** `oci:DIR` as a sink. */
export function openOciLayoutSink(dir: string, opts?: OciLayoutSinkOptions): Promise<OciLayoutSink> {
  return OciLayoutSink.open(dir, opts);
}
