// Where one whole, verified blob goes: the target's blob store (the first repository that lacks
// it; every other repository that needs it gets a cross-repo mount in the background), the carried
// paths that want it, or both. The global queue: each blob is sent once per run, whatever number
// of images and repositories share it.

import { Readable } from 'node:stream';
import { blobDescriptor, markVerified, type BundleBlob } from '@ferry/format-spec';
import { noFollowReadStream } from '@ferry/oci';
import { missingRepos, needsFile, placeKey, type PushState } from './plan.js';
import type { SessionUpload } from './upload-session.js';
import type { PushEvent } from './types.js';
import type { VolumeLoop } from './volumes.js';

/** A verified stream from a volume (with its bytes when it is small enough to be held), a file
 *  reassembled from segments, or a finished upload session. */
export type DeliverySource = { stream: Readable; bytes?: Buffer } | { assembled: string } | { session: SessionUpload };

/** Background work (cross-repo mounts) bounded by the run's concurrency; errors surface at drain. */
export class TaskQueue {
  private running = new Set<Promise<void>>();
  private errors: unknown[] = [];
  constructor(private readonly limit: number) {}
  async add(task: () => Promise<void>): Promise<void> {
    while (this.running.size >= this.limit) await Promise.race(this.running);
    const p: Promise<void> = task().catch((e: unknown) => void this.errors.push(e)).finally(() => this.running.delete(p));
    this.running.add(p);
  }
  async drain(): Promise<void> {
    while (this.running.size) await Promise.race(this.running);
    const e = this.errors.shift();
    this.errors = [];
    if (e !== undefined) throw e;
  }
}

export class Delivery {
  constructor(
    private readonly s: PushState,
    private readonly out: VolumeLoop,
    private readonly emit: (e: PushEvent) => void,
    private readonly queue: TaskQueue,
  ) {}

  /** The carried paths that still want this content. */
  private pathsFor(b: BundleBlob) {
    const s = this.s;
    return (s.pathsByDigest.get(b.digest) ?? []).filter((f) => needsFile(s, f));
  }

  private markFile(path: string): void {
    this.s.fileStates.set(path, 'same');
    this.out.written.add(path);
    this.emit({ type: 'file', path });
  }

  private mark(repository: string, b: BundleBlob, how: 'uploaded' | 'mounted' | 'exists'): void {
    this.s.present.add(placeKey(this.s, repository, b.digest));
    this.s.damaged.delete(b.digest);
    if (how === 'mounted') this.out.blobsMounted++;
    this.emit({ type: 'blob', digest: b.digest, repository, how });
  }

  /**
   * A whole, verified blob: to the first repository that lacks it, mounted into the others,
   * and to every carried path that wants it. `assembled` is a file Ferry reassembled from
   * segments in its own area (adopted: a layout renames it into place).
   */
  async deliver(b: BundleBlob, src: DeliverySource): Promise<void> {
    const s = this.s;
    const sink = s.target.sink;
    let paths = this.pathsFor(b);
    const repos = missingRepos(s, b.digest);
    const desc = blobDescriptor(b);
    if ('session' in src) {
      // Its segments went into an upload session as they came: closing it makes the blob whole.
      await src.session.finish();
      this.mark(src.session.repository, b, 'uploaded');
      await this.spread(b, repos.filter((x) => x !== src.session.repository), src.session.repository);
      this.out.blobsWritten++;
      return;
    }
    const open = (): Readable => ('stream' in src ? src.stream : noFollowReadStream(src.assembled));
    let from: { stream: Readable } | { assembled: string } | { file: string } = src;
    if (repos.length && paths.length && s.target.localPath(b.digest) === undefined) {
      // A remote target and a carried file want the same bytes: the file first, then the
      // upload reads it back (the volume's stream can be read only once).
      from = { file: await this.writeFiles(paths, open()) };
      paths = [];
    }
    if (repos.length) {
      const [first, ...rest] = repos as [string, ...string[]];
      if ('assembled' in from) {
        await s.target.adopt(first, desc, from.assembled);
        this.mark(first, b, 'uploaded');
      } else {
        this.mark(first, b, await sink.putBlob(first, desc, 'stream' in from ? from.stream : noFollowReadStream(from.file)));
      }
      await this.spread(b, rest, first, 'stream' in src ? src.bytes : undefined);
      const local = s.target.localPath(b.digest);
      for (const f of paths) {
        await s.files!.copyFrom(f, local!);
        this.markFile(f.path);
      }
    } else if (paths.length) {
      await this.writeFiles(paths, open());
    }
    this.out.blobsWritten++;
  }

  /**
   * Into every other repository that needs it, in the background: a cross-repo mount from
   * `first`. A small blob held in memory is offered with its bytes, so a registry that answers
   * the mount with an upload session gets them at once; otherwise a refused mount leaves the
   * blob needed there, and a later pass sends it from the volume.
   */
  private async spread(b: BundleBlob, repos: readonly string[], first: string, bytes?: Buffer): Promise<void> {
    const sink = this.s.target.sink;
    const desc = blobDescriptor(b);
    for (const r of repos) {
      await this.queue.add(async () => {
        if (bytes) this.mark(r, b, await sink.putBlob(r, desc, markVerified(Readable.from([bytes], { objectMode: false }), b.digest)));
        else if (await sink.mountBlob(r, desc, first)) this.mark(r, b, 'mounted');
      });
    }
  }

  /** The first carried path gets the bytes, the others a copy of it; returns the first's file. */
  private async writeFiles(paths: ReturnType<Delivery['pathsFor']>, data: Readable): Promise<string> {
    const files = this.s.files!;
    const [first, ...rest] = paths as [typeof paths[number], ...typeof paths];
    await files.write(first, data);
    this.markFile(first.path);
    for (const f of rest) {
      await files.copyFrom(f, files.pathOf(first.path));
      this.markFile(f.path);
    }
    return files.pathOf(first.path);
  }
}
