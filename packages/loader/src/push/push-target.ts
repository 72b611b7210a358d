// The target a push writes through: an ImageSink (the only way content reaches it) plus the
// little a run needs around it — a read-only check before the operator's yes, a lock for the
// run, and Ferry's own area for split blobs being reassembled (inside an OCI layout; for a
// registry, in the state directory, since the registry cannot hold half a blob across runs).

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { printable, type BundleBlob, type Descriptor } from '@ferry/format-spec';
import {
  OciLayoutSink,
  RegistrySink,
  acquireDirLock,
  cleanTemp,
  ensureFerryArea,
  ferryArea,
  noFollowReadStream,
  targetFsError,
  type DirLock,
  type FerryArea,
  type ImageSink,
  type RegistryOptions,
} from '@ferry/oci';
import type { PushTargets } from './target.js';
import { SessionUpload } from './upload-session.js';
import { StagedManifestSink } from './staged-manifests.js';

export interface PushTarget {
  readonly kind: 'layout' | 'registry';
  readonly sink: ImageSink;
  readonly description: string;
  /** Where split blobs are reassembled. */
  readonly area: FerryArea;
  /**
   * Read-only, before anything is written: may the target hold content already (worth a
   * presence check)? For a registry this is the pre-flight: reachable, TLS trusted,
   * credentials accepted, push allowed to `repository`.
   */
  check(repository: string | undefined): Promise<boolean>;
  /** Read-only: does the target hold a blob a delta requires (and did not carry)? A layout
   *  answers from the file (regular, of the right size: no link, not hashed again); a registry
   *  from a HEAD. Anything but 'present' says why not. */
  requiredPresence(repository: string, desc: Descriptor): Promise<string>;
  /** The first write of a run: create what is missing and hold the target for this run. */
  lock(what: string): Promise<void>;
  /** Store a blob reassembled in `area` (a layout renames it into place; a registry uploads it). */
  adopt(repository: string, desc: Descriptor, path: string): Promise<void>;
  /** For a split blob: an upload session that takes its segments as they come (registries), or
   *  undefined when the target reassembles it in `area` instead. */
  sessionUpload(blob: BundleBlob, repository: string): SessionUpload | undefined;
  /** After a run: forget what Ferry kept for content now in the target (`done` says which). */
  prune(done: (digest: string) => boolean): Promise<void>;
  /** A stored blob's local file, when the target is local (carried files are copied from it). */
  localPath(digest: string): string | undefined;
  close(): Promise<void>;
}

class LayoutTarget implements PushTarget {
  readonly kind = 'layout';
  readonly sink: OciLayoutSink;
  constructor(dir: string, readonly description: string) {
    this.sink = new OciLayoutSink(dir);
  }
  get area(): FerryArea {
    return this.sink.ferryArea;
  }
  check(): Promise<boolean> {
    return this.sink.check();
  }
  lock(what: string): Promise<void> {
    return this.sink.lock(what);
  }
  async requiredPresence(_repository: string, desc: Descriptor): Promise<string> {
    try {
      const state = await this.sink.blobState(desc);
      return state === 'damaged' ? `the layout's blobs/sha256/${desc.digest.slice(7, 19)}… is not ${desc.size} bytes` : state;
    } catch (e) {
      return `not a regular file in the layout: ${printable((e as Error).message)}`;
    }
  }
  adopt(_repository: string, desc: Descriptor, path: string): Promise<void> {
    return this.sink.adoptBlob(desc, path);
  }
  localPath(digest: string): string {
    return this.sink.blobPath(digest);
  }
  sessionUpload(): undefined {
    return undefined;
  }
  async prune(): Promise<void> {}
  close(): Promise<void> {
    return this.sink.close();
  }
}

/** A state-directory name for a registry host: readable, and never a path. */
function stateName(registry: string): string {
  return 'registry-' + registry.replace(/[^A-Za-z0-9._-]/g, '_');
}

class RegistryTarget implements PushTarget {
  readonly kind = 'registry';
  readonly sink: StagedManifestSink;
  readonly registry: RegistrySink;
  readonly area: FerryArea;
  private runLock?: DirLock;
  private checked = new Set<string>();
  constructor(registry: string, stateDir: string, readonly description: string, options: RegistryOptions) {
    this.registry = new RegistrySink(registry, options);
    this.area = ferryArea(join(stateDir, stateName(registry)));
    this.sink = new StagedManifestSink(this.registry, this.area);
  }
  async check(repository: string | undefined): Promise<boolean> {
    // Reachable, TLS, credentials: once per run; push permission: once per repository asked.
    for (const key of ['', ...(repository ? [repository] : [])]) {
      if (this.checked.has(key)) continue;
      if (key) await this.registry.preflight(key);
      else await this.registry.ping();
      this.checked.add(key);
    }
    return true;
  }
  async requiredPresence(repository: string, desc: Descriptor): Promise<string> {
    // Through the run's answers: the plan made again under the lock does not ask twice.
    return this.sink.blobPresence(repository, desc);
  }
  async lock(what: string): Promise<void> {
    try {
      await mkdir(this.area.root, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw targetFsError(e, this.area.root, 'cannot create the state directory (--state-dir)');
    }
    await ensureFerryArea(this.area.root);
    this.runLock ??= await acquireDirLock(join(this.area.dir, 'lock'), { what });
    await cleanTemp(this.area);
    await this.sink.lockedForWriting();
  }
  async adopt(repository: string, desc: Descriptor, path: string): Promise<void> {
    this.sink.writing(repository);
    const data: Readable = noFollowReadStream(path);
    await this.registry.putBlob(repository, desc, data);
  }
  localPath(): undefined {
    return undefined;
  }
  sessionUpload(blob: BundleBlob, repository: string): SessionUpload {
    this.sink.writing(repository); // its segments go to the registry past the sink
    return new SessionUpload(this.area, blob, this.registry, repository);
  }
  prune(done: (digest: string) => boolean): Promise<void> {
    return this.sink.prune(done);
  }
  async close(): Promise<void> {
    await this.sink.close();
    const l = this.runLock;
    this.runLock = undefined;
    await l?.release();
  }
}

export function openPushTarget(t: PushTargets, registryOptions: RegistryOptions = {}): PushTarget {
  return t.kind === 'layout' ? new LayoutTarget(t.layoutDir, t.description) : new RegistryTarget(t.registry, t.stateDir, t.description, registryOptions);
}
