// The files directory: carried files and public keys land here under their bundle paths.
// Every destination is checked to stay inside the directory before it is opened (containedPath,
// defence in depth behind the schema); no link on the
// way is followed; content goes to a fresh temp file in `.ferry/tmp`, is verified (sha256 and
// the manifest's sha512 integrity) and only then renamed into place.
//
// "Done" means the content matches, not the size. A file already there with other content is
// either an older one Ferry wrote (the journal `.ferry/files.json` records what Ferry wrote, so
// a newer version replaces it) or a local change, which is reported and kept unless the
// operator passes --overwrite-files.

import { mkdir, readFile, rename, unlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  FerryError,
  VerifyingStream,
  containedPath,
  isFerryError,
  printable,
  sha256File,
} from '@ferry/format-spec';
import {
  acquireDirLock,
  checkDirChain,
  checkFerryArea,
  checkRegularFile,
  cleanTemp,
  ensureDirChain,
  ensureFerryArea,
  exclusiveWriteStream,
  ferryArea,
  lstatOrUndefined,
  noFollowReadStream,
  replaceFile,
  statSignature,
  targetFsError,
  tempName,
  type DirLock,
  type FerryArea,
} from '@ferry/oci';

export interface CarriedFile {
  path: string;
  digest: string;
  size: number;
  /** sha512 SRI (files; keys have none). */
  integrity?: string;
  mode?: number;
}

/**
 * - `absent`: nothing there yet;
 * - `same`: the content already matches;
 * - `ours-older`: a file Ferry wrote earlier and nobody changed since (safe to replace);
 * - `changed`: other content Ferry did not write (a local change): replaced only with --overwrite-files.
 */
export type FileState = 'absent' | 'same' | 'ours-older' | 'changed';

const JOURNAL = 'files.json';
const MAX_JOURNAL_BYTES = 64 << 20;

export class FilesTarget {
  readonly area: FerryArea;
  private journal = new Map<string, string>();
  /** Content hashes of files already there, by path and stat signature: the plan is made twice
   *  (before the operator's yes and again under the lock), large files are hashed once. */
  private hashed = new Map<string, { sig: string; digest: string }>();
  private journalDirty = false;
  private lock?: DirLock;

  constructor(readonly root: string) {
    this.area = ferryArea(root);
  }

  get partialDir(): string {
    return this.area.partial;
  }

  /** Read-only: the directory is absent or a directory, and Ferry's area in it is sound. */
  async check(): Promise<boolean> {
    const st = await lstatOrUndefined(this.root);
    if (!st) return false;
    if (!st.isDirectory() && !st.isSymbolicLink()) throw new FerryError('TARGET_ERROR', `--files-dir ${printable(this.root)} exists and is not a directory`, { path: this.root });
    await checkFerryArea(this.root);
    await this.loadJournal();
    return true;
  }

  /** Create the directory and Ferry's area, take the run lock, clear what interrupted runs left. */
  async open(what: string): Promise<void> {
    try {
      await mkdir(this.root, { recursive: true });
    } catch (e) {
      throw targetFsError(e, this.root, 'cannot create the files directory');
    }
    await ensureFerryArea(this.root);
    this.lock ??= await acquireDirLock(join(this.area.dir, 'lock'), { what });
    await cleanTemp(this.area);
    await this.loadJournal();
  }

  pathOf(rel: string): string {
    return containedPath(this.root, rel);
  }

  /** What is at the file's path now (read-only; links and special files on the way are refused). */
  async stateOf(f: CarriedFile): Promise<FileState> {
    const dest = containedPath(this.root, f.path);
    const parent = posix.dirname(f.path);
    if (parent !== '.' && !(await checkDirChain(this.root, parent))) return 'absent';
    const st = await lstatOrUndefined(dest);
    if (st === undefined) return 'absent';
    if (!st.isFile()) await checkRegularFile(dest, `carried file ${f.path}`); // throws: a link or special file is there
    const size = st.size;
    const sig = statSignature(st);
    let now = this.hashed.get(dest)?.sig === sig ? this.hashed.get(dest)!.digest : undefined;
    if (now === undefined) {
      now = 'sha256:' + (await sha256File(dest).catch((e: unknown) => {
        throw targetFsError(e, dest, 'cannot read a file already in the files directory');
      })).sha256;
      this.hashed.set(dest, { sig, digest: now });
    }
    if (size === f.size && now === f.digest) return 'same';
    return this.journal.get(f.path) === now ? 'ours-older' : 'changed';
  }

  /** Write `data` (verified on the way) to the file's path, replacing what is there. */
  async write(f: CarriedFile, data: Readable): Promise<void> {
    const dest = containedPath(this.root, f.path);
    const parent = posix.dirname(f.path);
    if (parent !== '.') await ensureDirChain(this.root, parent);
    // A link or special file at the destination is not ours to replace.
    await checkRegularFile(dest, `carried file ${f.path}`);
    const tmp = tempName(this.area, 'file');
    const out = exclusiveWriteStream(tmp, { mode: f.mode ?? 0o644 });
    try {
      await pipeline(data, new VerifyingStream(f.digest, f.size, { where: dest, ...(f.integrity ? { integrity: f.integrity } : {}) }), out);
      await rename(tmp, dest);
    } catch (e) {
      // A mismatch can come before the temp file is even open: wait until the stream has
      // opened and closed it, or the unlink runs first and the file is left behind.
      if (!out.closed) await new Promise<void>((done) => out.once('close', () => done()));
      await unlink(tmp).catch(() => undefined);
      if (isFerryError(e)) throw e;
      throw targetFsError(e, dest, `cannot write carried file ${f.path}`);
    }
    this.record(f);
  }

  /** Copy another verified file's content (the layout's blob, or a path written before) to `f`. */
  async copyFrom(f: CarriedFile, from: string): Promise<void> {
    await this.write(f, noFollowReadStream(from));
  }

  /** Note that `f`'s path holds Ferry's content (also for files found already in place). */
  record(f: CarriedFile): void {
    if (this.journal.get(f.path) !== f.digest) {
      this.journal.set(f.path, f.digest);
      this.journalDirty = true;
    }
  }

  async saveJournal(): Promise<void> {
    if (!this.journalDirty) return;
    const body = JSON.stringify({ version: 1, files: Object.fromEntries([...this.journal].sort(([a], [b]) => (a < b ? -1 : 1))) });
    await replaceFile(this.area, join(this.area.dir, JOURNAL), Buffer.from(body), { doing: 'cannot record what was written' });
    this.journalDirty = false;
  }

  async close(): Promise<void> {
    try {
      if (this.lock) await this.saveJournal();
      if (this.lock) await cleanTemp(this.area);
    } finally {
      const l = this.lock;
      this.lock = undefined;
      await l?.release();
    }
  }

  private async loadJournal(): Promise<void> {
    const path = join(this.area.dir, JOURNAL);
    const size = await checkRegularFile(path, "Ferry's record of written files");
    if (size === undefined || size > MAX_JOURNAL_BYTES) return;
    try {
      const doc = JSON.parse(await readFile(path, 'utf8')) as { files?: Record<string, unknown> };
      for (const [p, d] of Object.entries(doc.files ?? {})) if (typeof d === 'string') this.journal.set(p, d);
    } catch {
      // A damaged record only costs a question: unrecorded files count as local changes.
      this.journal.clear();
    }
  }
}
