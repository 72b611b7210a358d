// `dir:PATH`: a static chart repository in a directory, the kind any web server (or `helm repo
// add file://…`'s cousin, a plain HTTP server) can serve. put() writes <name>-<version>.tgz
// (and <name>-<version>.tgz.prov next to it, where `helm pull --verify` looks for it); finish()
// merges index.yaml (repo-index-write.ts: what `helm repo index` writes, existing entries kept).
//
// PATH is a target Ferry did not make: a link or a special file where a chart or index.yaml
// belongs is refused, never followed or replaced, and PATH itself must be a real directory.
// Every file is written to a fresh temp file (O_EXCL, O_NOFOLLOW) in PATH/.ferry/tmp and renamed
// into place, so a web server serving PATH never hands out half a chart or half an index. The
// first put takes PATH/.ferry/lock (oci dir-lock: stale locks are taken over) and close()
// releases it: two loaders writing one directory do not interleave their index writes or
// write one chart version twice with different bytes.
//
// A .prov beside a chart that is replaced (force) or newly written without one is removed: it
// signs other bytes. A chart already there with the same bytes is 'skipped', but still gets its
// index entry (an index that lost it is repaired; an entry with the same digest keeps its
// `created`).

import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, lstat, mkdir, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { FerryError, isFerryError, printable, sha256Digest } from '@ferry/format-spec';
import {
  acquireDirLock,
  checkFerryArea,
  checkRealDir,
  checkRegularFile,
  cleanTemp,
  ensureFerryArea,
  noFollowReadStream,
  replaceFile,
  targetFsError,
  type DirLock,
  type FerryArea,
} from '@ferry/oci';
import { MAX_INDEX_BYTES } from '../repo-index-read.js';
import { indexEntryFor, mergeRepoIndex, readIndexForMerge, serializeRepoIndex } from '../repo-index-write.js';
import { chartFileName, type ChartMetadata, type ChartPresence, type ChartPutOptions, type ChartSink, type ChartUpload, type RepoIndex } from '../types.js';


export interface DirChartSinkOptions {
  /** Absolute base URL the directory is served at: index urls become `<baseUrl>/<file>`, and
   *  locationOf names that URL (else urls are relative, as `helm repo index` writes them). */
  baseUrl?: string;
  /** Wait this long for another writer's lock before TARGET_BUSY (default 0: at once). */
  lockWaitMs?: number;
  /** The clock for `created` and `generated` (tests). */
  now?: () => Date;
}

interface Written {
  metadata: ChartMetadata;
  digest: string;
  created?: string;
}

async function sha256OfFile(path: string): Promise<string> {
  const h = createHash('sha256');
  try {
    for await (const c of noFollowReadStream(path)) h.update(c as Buffer);
  } catch (e) {
    throw targetFsError(e, path, 'cannot read a chart already in the directory');
  }
  return `sha256:${h.digest('hex')}`;
}

/** A chart name and version safe to use as one file name in PATH. */
function checkFileName(c: { name: string; version: string }): string {
  const file = chartFileName(c);
  if (!/^[^/\\\0]+$/.test(file) || c.name === '.' || c.name === '..' || /[\u0000-\u001f\u007f]/.test(file)) {
    throw new FerryError('CHART_INVALID', `the chart name or version ${printable(c.name)} ${printable(c.version)} cannot name a file`, { name: printable(c.name) });
  }
  return file;
}

export class DirChartSink implements ChartSink {
  readonly kind = 'dir' as const;
  readonly description: string;
  private readonly root: string;
  private readonly baseUrl: string | undefined;
  private area?: FerryArea;
  private lock?: DirLock;
  private opening?: Promise<void>;
  private readonly written = new Map<string, Written>();
  private readonly now: () => Date;

  constructor(path: string, private readonly opts: DirChartSinkOptions = {}) {
    this.root = resolve(path);
    this.description = `dir:${path}`;
    this.baseUrl = opts.baseUrl?.replace(/\/+$/, '');
    this.now = opts.now ?? (() => new Date());
  }

  private fileUrl(file: string): string {
    return this.baseUrl ? `${this.baseUrl}/${file}` : file;
  }

  locationOf(chart: Pick<ChartUpload, 'name' | 'version'>): string {
    const file = chartFileName(chart);
    return this.baseUrl ? `${this.baseUrl}/${file}` : `dir:${join(this.root, file)}`;
  }

  /** PATH is a real, writable directory, or can be made one; an index.yaml there is readable. */
  async preflight(): Promise<void> {
    const st = await lstat(this.root).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw targetFsError(e, this.root, `cannot check ${this.description}`);
    });
    if (st) {
      await checkRealDir(this.root, 'the chart directory');
      await access(this.root, constants.W_OK | constants.X_OK).catch((e: unknown) => {
        throw targetFsError(e, this.root, `${this.description} is not writable`);
      });
      await checkFerryArea(this.root);
      await this.readIndex();
      return;
    }
    // Not there yet: the nearest existing parent must be a directory we may write in.
    let parent = dirname(this.root);
    for (;;) {
      const p = await lstat(parent).catch(() => undefined);
      if (p) {
        if (!p.isDirectory()) throw new FerryError('TARGET_ERROR', `cannot create ${this.description}: ${printable(parent)} is not a directory`, { path: parent });
        await access(parent, constants.W_OK | constants.X_OK).catch((e: unknown) => {
          throw targetFsError(e, parent, `cannot create ${this.description}`);
        });
        return;
      }
      if (dirname(parent) === parent) return;
      parent = dirname(parent);
    }
  }

  async check(chart: Pick<ChartUpload, 'name' | 'version' | 'digest'>): Promise<ChartPresence> {
    const dest = join(this.root, checkFileName(chart));
    if (!(await checkRealDir(this.root, 'the chart directory'))) return { state: 'absent' };
    if ((await checkRegularFile(dest, `chart ${chartFileName(chart)}`)) === undefined) return { state: 'absent' };
    const have = await sha256OfFile(dest);
    if (have === chart.digest) return { state: 'same' };
    return { state: 'different', detail: `${printable(dest)} has ${have}, the chart to load has ${chart.digest}` };
  }

  private async open(): Promise<void> {
    try {
      await mkdir(this.root, { recursive: true });
    } catch (e) {
      throw targetFsError(e, this.root, `cannot create ${this.description}`);
    }
    await checkRealDir(this.root, 'the chart directory');
    this.area = await ensureFerryArea(this.root);
    this.lock = await acquireDirLock(join(this.area.dir, 'lock'), { what: `writing charts into ${this.root}`, waitMs: this.opts.lockWaitMs ?? 0 });
    await cleanTemp(this.area);
  }

  private async ready(): Promise<FerryArea> {
    this.opening ??= this.open();
    try {
      await this.opening;
    } catch (e) {
      this.opening = undefined;
      throw e;
    }
    return this.area!;
  }

  private async writeFile(area: FerryArea, dest: string, bytes: Buffer, what: string): Promise<void> {
    await checkRegularFile(dest, what);
    await replaceFile(area, dest, bytes, { doing: `cannot write ${what} into ${this.description}` });
  }

  private async removeStale(dest: string, what: string): Promise<void> {
    if ((await checkRegularFile(dest, what)) === undefined) return;
    await unlink(dest).catch((e: unknown) => {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw targetFsError(e, dest, `cannot remove the stale ${what}`);
    });
  }

  async put(chart: ChartUpload, opts: ChartPutOptions): Promise<'uploaded' | 'skipped'> {
    const file = checkFileName(chart);
    if (sha256Digest(chart.archive) !== chart.digest) {
      throw new FerryError('BLOB_MISMATCH', `chart ${printable(file)}: its bytes do not match ${chart.digest}; nothing was written to ${printable(this.description)}`, { name: printable(chart.name) });
    }
    const area = await this.ready();
    const dest = join(this.root, file);
    const provDest = `${dest}.prov`;
    const existing = await checkRegularFile(dest, `chart ${file}`);
    let result: 'uploaded' | 'skipped' = 'uploaded';
    if (existing !== undefined) {
      const have = await sha256OfFile(dest);
      if (have === chart.digest) result = 'skipped';
      else if (!opts.force) {
        throw new FerryError(
          'CHART_CONFLICT',
          `${printable(this.description)} already holds ${printable(chart.name)} ${printable(chart.version)} with other bytes (${printable(dest)} is ${have}, the chart to load is ${chart.digest})`,
          { name: printable(chart.name), version: printable(chart.version), path: dest },
        );
      }
    }
    if (result === 'uploaded') {
      await this.writeFile(area, dest, chart.archive, `chart ${file}`);
      if (chart.provenance) await this.writeFile(area, provDest, chart.provenance, `provenance ${file}.prov`);
      else await this.removeStale(provDest, `provenance ${file}.prov`);
    } else if (chart.provenance) {
      const haveProv = await checkRegularFile(provDest, `provenance ${file}.prov`);
      const same = haveProv !== undefined && (await sha256OfFile(provDest)) === sha256Digest(chart.provenance);
      if (!same) {
        if (haveProv !== undefined && !opts.force) {
          throw new FerryError('CHART_CONFLICT', `${printable(this.description)} holds ${printable(file)} with the same bytes but a different provenance file (${printable(provDest)})`, { path: provDest });
        }
        await this.writeFile(area, provDest, chart.provenance, `provenance ${file}.prov`);
        result = 'uploaded';
      }
    }
    this.written.set(`${chart.name}\0${chart.version}`, { metadata: chart.metadata, digest: chart.digest, ...(chart.created ? { created: chart.created } : {}) });
    return result;
  }

  /** The index.yaml already in PATH, or undefined; a link or a broken index is TARGET_ERROR. */
  private async readIndex(): Promise<RepoIndex | undefined> {
    const path = join(this.root, 'index.yaml');
    const size = await checkRegularFile(path, 'index.yaml');
    if (size === undefined) return undefined;
    if (size > MAX_INDEX_BYTES) throw new FerryError('TARGET_ERROR', `${printable(path)} is larger than the ${MAX_INDEX_BYTES >> 20} MiB Ferry merges into`, { path });
    let text: string;
    try {
      const chunks: Buffer[] = [];
      for await (const c of noFollowReadStream(path)) chunks.push(c as Buffer);
      text = Buffer.concat(chunks).toString('utf8');
    } catch (e) {
      throw targetFsError(e, path, 'cannot read the index.yaml already there');
    }
    return readIndexForMerge(text, `${printable(this.description)}/index.yaml`);
  }

  async finish(): Promise<void> {
    if (this.written.size === 0) return;
    const area = await this.ready();
    const now = this.now();
    const existing = await this.readIndex();
    const add = [...this.written.values()].map((w) => indexEntryFor({ metadata: w.metadata, digest: w.digest }, { url: this.fileUrl(chartFileName(w.metadata)), ...(w.created ? { created: w.created } : {}) }));
    // The files on disk are ours now (same bytes, or replaced with force): their entries win.
    const merged = mergeRepoIndex(existing, add, now, { replace: true });
    await this.writeFile(area, join(this.root, 'index.yaml'), Buffer.from(serializeRepoIndex(merged), 'utf8'), 'index.yaml');
    this.written.clear();
  }

  async close(): Promise<void> {
    const lock = this.lock;
    this.lock = undefined;
    this.opening = undefined;
    try {
      if (lock && this.area) await cleanTemp(this.area).catch((e: unknown) => {
        if (!isFerryError(e)) throw e;
      });
    } finally {
      await lock?.release();
    }
  }
}
