// A blob split across volumes, pushed into a registry without a copy of it on disk: its segments
// go, in order, into one chunked upload session that stays open across volumes and runs (the
// session's Location and what it holds are journalled in the state directory). A segment that
// arrives before its predecessor (volume 3 before volume 2) is staged in the state directory
// until the session reaches it — the only time bytes are kept. The registry checks the whole
// digest when the session is closed, so a session can never make wrong bytes visible; a
// session the registry no longer knows (purged, or its storage lost) is forgotten, and the
// volumes that fed it are asked for again.

import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { FerryError, digestHex, verifying, isFerryError, type BlobSegment, type BundleBlob } from '@ferry/format-spec';
import { checkRegularFile, noFollowReadStream, replaceFile, type FerryArea, type RegistrySink, type UploadSession } from '@ferry/oci';
import { SegmentStore, layoutKey } from './segments.js';

interface SessionRecord {
  version: 1;
  digest: string;
  size: number;
  layout: string;
  session: UploadSession;
  /** Segment indexes the session holds, in order. */
  sent: number[];
}

const MAX_RECORD_BYTES = 1 << 20;

export class SessionUpload {
  private readonly recordPath: string;
  private readonly layout: string;
  private readonly staged: SegmentStore;
  private rec: SessionRecord | undefined;
  /** Set by load() when an earlier run's session is gone: what it held must come again. */
  lost: string | undefined;

  constructor(private readonly area: FerryArea, readonly blob: BundleBlob, private readonly sink: RegistrySink, readonly repository: string) {
    if (!blob.segments) throw new FerryError('INTERNAL', `${blob.digest} is not split`);
    this.layout = layoutKey(blob.segments);
    this.recordPath = join(area.partial, `${digestHex(blob.digest)}.${this.layout}.upload`);
    this.staged = new SegmentStore(area, blob);
  }

  get segments(): readonly BlobSegment[] {
    return this.blob.segments!;
  }

  /** What earlier runs left: staged segments, and a session if the registry still holds it as recorded. */
  async load(): Promise<void> {
    await this.staged.load();
    this.rec = undefined;
    this.lost = undefined;
    const size = await checkRegularFile(this.recordPath, `upload record of ${this.blob.digest}`);
    if (size === undefined || size > MAX_RECORD_BYTES) return;
    let rec: SessionRecord;
    try {
      rec = JSON.parse(await readFile(this.recordPath, 'utf8')) as SessionRecord;
    } catch {
      return;
    }
    if (rec.version !== 1 || rec.digest !== this.blob.digest || rec.layout !== this.layout || rec.session?.repository !== this.repository || !Array.isArray(rec.sent)) return;
    const expected = this.sentBytes(rec.sent);
    const now = await this.sink.sessionStatus(rec.session, this.blob.digest);
    if (!now || now.offset !== expected) {
      const vols = [...new Set(this.segments.filter((g) => rec.sent.includes(g.index) && !this.staged.isDone(g.index)).map((g) => g.volume))];
      this.lost = `the registry's upload session for ${this.blob.digest} (split across volumes) is ${now ? `at ${now.offset} bytes, not the ${expected} recorded` : 'gone'}; it starts over${vols.length ? `: volume(s) ${vols.join(', ')} are needed again` : ''}`;
      return;
    }
    this.rec = { ...rec, session: now };
  }

  isDone(index: number): boolean {
    return this.staged.isDone(index) || (this.rec?.sent.includes(index) ?? false);
  }

  get complete(): boolean {
    return this.segments.every((g) => this.isDone(g.index));
  }

  private sentBytes(sent: readonly number[]): number {
    return this.segments.filter((g) => sent.includes(g.index)).reduce((n, g) => n + g.size, 0);
  }

  /** The next segment the session needs. */
  private next(): BlobSegment | undefined {
    return this.segments.find((g) => !(this.rec?.sent.includes(g.index) ?? false));
  }

  /** One verified segment: into the session when it is the next one, else staged. */
  async write(seg: BlobSegment, data: Readable): Promise<void> {
    if (this.next()?.index === seg.index) {
      await this.send(seg, data);
      await this.drainStaged();
    } else {
      await this.staged.write(seg, data);
    }
  }

  /** Every segment is in: send what is staged, close the session (the registry checks the digest). */
  async finish(): Promise<void> {
    await this.drainStaged();
    if (this.next()) throw new FerryError('INTERNAL', `${this.blob.digest}: finishing an upload with segment ${this.next()!.index} not sent`);
    try {
      await this.sink.closeSession(this.rec!.session, { mediaType: this.blob.mediaType, digest: this.blob.digest, size: this.blob.size });
    } finally {
      await this.discard();
    }
  }

  async discard(): Promise<void> {
    this.rec = undefined;
    await rm(this.recordPath, { force: true });
    await this.staged.discard();
  }

  private async send(seg: BlobSegment, data: Readable): Promise<void> {
    if (!this.rec) {
      const session = await this.sink.openSession(this.repository, this.blob.digest);
      this.rec = { version: 1, digest: this.blob.digest, size: this.blob.size, layout: this.layout, session, sent: [] };
    }
    let session: UploadSession;
    try {
      session = await this.sink.appendToSession(this.rec.session, this.blob.digest, data, seg.size);
    } catch (e) {
      // A failed PATCH may have left part of the segment in the session: it cannot be trusted
      // to continue; what it held comes again from the volumes.
      await this.forget();
      throw e;
    }
    this.rec = { ...this.rec, session, sent: [...this.rec.sent, seg.index] };
    await replaceFile(this.area, this.recordPath, Buffer.from(JSON.stringify(this.rec)), { doing: `cannot record the upload of ${this.blob.digest}`, flush: true });
  }

  private async forget(): Promise<void> {
    this.rec = undefined;
    await rm(this.recordPath, { force: true });
  }

  private async drainStaged(): Promise<void> {
    for (let g = this.next(); g && this.staged.isDone(g.index); g = this.next()) {
      // Staged bytes are verified again as they leave the disk (a power cut can damage them).
      const from = verifying(noFollowReadStream(this.staged.part, { start: g.offset, end: g.offset + g.size - 1 }), g.digest, g.size, { where: this.staged.part });
      try {
        await this.send(g, from);
      } catch (e) {
        if (isFerryError(e, 'BLOB_MISMATCH')) await this.staged.recheck();
        throw e;
      }
    }
  }
}
