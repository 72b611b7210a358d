// --cache DIR: a content-addressed store (blobs/sha256/<hex>, like an OCI layout) in front of
// slow sources. A blob streamed from the source is written to the cache as it passes and kept
// only if its digest and size check out, so an interrupted or repeated run reads it locally.
// An entry is hashed again before it is used; a damaged one is dropped and fetched again.

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
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
  constructor(private readonly desc: Descriptor, private readonly tmp: string, private readonly final: string) {
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
      (ok ? rename(this.tmp, this.final) : rm(this.tmp, { force: true })).then(() => cb(), () => cb());
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

export function withCache(src: ImageSource, dir: string): ImageSource {
  const blobs = join(dir, 'blobs', 'sha256');
  const openBlob = async (desc: Descriptor): Promise<Readable> => {
    const final = join(blobs, digestHex(desc.digest));
    const st = await stat(final).catch(() => undefined);
    if (st?.size === desc.size) {
      // A damaged entry (bit rot, a bad disk, a hand edit) must not fail this and every later
      // run: check it first, and fetch again when it does not hash to its name.
      if ((await hashFile(final)) === desc.digest) return createReadStream(final, { highWaterMark: 1 << 20 });
      await rm(final, { force: true });
    }
    await mkdir(blobs, { recursive: true });
    const upstream = await src.openBlob(desc);
    const tee = new CacheTee(desc, `${final}.${randomBytes(6).toString('hex')}.partial`, final);
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
