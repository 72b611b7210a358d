// --cache DIR: a content-addressed store (blobs/sha256/<hex>, like an OCI layout) in front of
// slow sources. A blob streamed from the source is written to the cache as it passes and kept
// only if its digest and size check out, so an interrupted or repeated run reads it locally.
// An entry is hashed again before it is used; a damaged one is dropped and fetched again.
//
// Counted (BlobCache.stats): blobs and bytes served from the cache and fetched into it, each
// digest once, for the create summary and --json.
//
// Leftovers: a run that is killed mid-download leaves `<hex>.<random>.partial`. The first use
// of a cache in a process sweeps them: a partial older than STALE_PARTIAL_MS (so not another
// run's download in progress) that hashes to its name is complete — it is renamed into place
// and reused; any other stale partial is removed. (The source interface has no offset, so a
// truncated partial cannot be resumed; the registry client itself resumes a dropped download
// with Range within one run.)

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { digestHex, type Descriptor } from '@ferry/format-spec';
import type { ImageSource } from '@ferry/oci';

/** Pass-through that copies into `tmp` and renames to `final` only when the bytes are right. */
class CacheTee extends Transform {
  private readonly hash = createHash('sha256');
  private seen = 0;
  private readonly file: WriteStream;
  constructor(private readonly desc: Descriptor, private readonly tmp: string, private readonly final: string, private readonly onStored: () => void = () => {}) {
    super();
    this.file = createWriteStream(tmp);
    this.file.on('error', () => {}); // a full cache disk must not fail the bundle
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.seen += chunk.length;
    if (this.file.writable && !this.file.write(chunk)) this.file.once('drain', () => cb(null, chunk));
    else cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    const ok = this.seen === this.desc.size && `sha256:${this.hash.digest('hex')}` === this.desc.digest;
    this.file.end(() => {
      (ok ? rename(this.tmp, this.final).then(this.onStored) : rm(this.tmp, { force: true })).then(() => cb(), () => cb());
    });
  }
  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    this.file.destroy();
    rm(this.tmp, { force: true }).finally(() => cb(err));
  }
}

async function hashFile(path: string): Promise<string | undefined> {
  const h = createHash('sha256');
  try {
    for await (const c of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(c as Buffer);
  } catch {
    return undefined;
  }
  return `sha256:${h.digest('hex')}`;
}

/** A partial file untouched for this long belongs to no download in progress (the socket
 *  idle timeout is 60 s; a download that stalls longer has failed). */
export const STALE_PARTIAL_MS = 10 * 60 * 1000;

const PARTIAL_RE = /^([a-f0-9]{64})\.[a-f0-9]+\.partial$/;

export interface CacheStats {
  /** Blobs (and their bytes) read from the cache instead of the source, each digest once. */
  hits: { blobs: number; bytes: number };
  /** Blobs fetched from the source and kept in the cache. */
  stored: { blobs: number; bytes: number };
  /** Leftover `.partial` files of interrupted runs: complete ones put in place, others removed. */
  partials: { reused: number; removed: number };
}

/** One --cache directory, shared by every source of a run. */
export class BlobCache {
  private readonly blobs: string;
  private sweep?: Promise<void>;
  private readonly hitDigests = new Map<string, number>();
  private readonly storedDigests = new Map<string, number>();
  private readonly partials = { reused: 0, removed: 0 };

  constructor(readonly dir: string, private readonly now: () => number = Date.now) {
    this.blobs = join(dir, 'blobs', 'sha256');
  }

  get stats(): CacheStats {
    const sum = (m: Map<string, number>) => ({ blobs: m.size, bytes: [...m.values()].reduce((n, x) => n + x, 0) });
    return { hits: sum(this.hitDigests), stored: sum(this.storedDigests), partials: { ...this.partials } };
  }

  /** Sweep leftovers of interrupted runs (once per BlobCache). */
  cleanPartials(): Promise<void> {
    this.sweep ??= this.doSweep();
    return this.sweep;
  }

  private async doSweep(): Promise<void> {
    const names = await readdir(this.blobs).catch(() => [] as string[]);
    for (const name of names) {
      const m = PARTIAL_RE.exec(name);
      if (!m) continue;
      const path = join(this.blobs, name);
      const st = await stat(path).catch(() => undefined);
      if (!st?.isFile() || this.now() - st.mtimeMs < STALE_PARTIAL_MS) continue;
      const final = join(this.blobs, m[1]!);
      if (!(await stat(final).catch(() => undefined)) && (await hashFile(path)) === `sha256:${m[1]}`) {
        await rename(path, final).then(() => this.partials.reused++, () => undefined);
      } else {
        await rm(path, { force: true }).then(() => this.partials.removed++, () => undefined);
      }
    }
  }

  wrap(src: ImageSource): ImageSource {
    const openBlob = async (desc: Descriptor): Promise<Readable> => {
      await this.cleanPartials();
      const final = join(this.blobs, digestHex(desc.digest));
      const st = await stat(final).catch(() => undefined);
      if (st?.size === desc.size) {
        // A damaged entry (bit rot, a bad disk, a hand edit) must not fail this and every later
        // run: check it first, and fetch again when it does not hash to its name.
        if ((await hashFile(final)) === desc.digest) {
          if (!this.storedDigests.has(desc.digest)) this.hitDigests.set(desc.digest, desc.size);
          return createReadStream(final, { highWaterMark: 1 << 20 });
        }
        await rm(final, { force: true });
      }
      await mkdir(this.blobs, { recursive: true });
      const upstream = await src.openBlob(desc);
      const tee = new CacheTee(desc, `${final}.${randomBytes(6).toString('hex')}.partial`, final, () => this.storedDigests.set(desc.digest, desc.size));
      upstream.on('error', (e) => tee.destroy(e));
      return upstream.pipe(tee);
    };
    const cached: ImageSource = {
      description: src.description,
      repository: src.repository,
      ...(src.tag !== undefined ? { tag: src.tag } : {}),
      resolve: () => src.resolve(),
      fetchManifest: (d) => src.fetchManifest(d),
      openBlob,
      close: () => src.close(),
      ...(src.listReferrers ? { listReferrers: (s: Descriptor) => src.listReferrers!(s) } : {}),
    };
    return cached;
  }
}

/** `src` in front of the cache in `dir` (a BlobCache of its own; share one with BlobCache.wrap). */
export function withCache(src: ImageSource, dir: string): ImageSource {
  return new BlobCache(dir).wrap(src);
}
