// One registry as an ImageSink (the loader's push target): a blob store per repository, filled
// by upload or cross-repo mount; manifests PUT by digest as exact bytes (a manifest with
// `subject` also goes into the `sha256-<hex>` fallback index when the registry does not index
// referrers itself); tags last, each a PUT of the bytes under the tag. Blobs are verified while
// streaming and made visible only when they match.

import type { Readable } from 'node:stream';
import { FerryError, MAX_IMAGE_MANIFEST_BYTES, isManifestOrIndexMediaType, verifyBytes, type Descriptor } from '@ferry/format-spec';
import type { BlobPresence, BlobWriteResult, ImageSink, TagRequest } from '../source.js';
import { RegistryClient, RegistryClients } from './client.js';
import { appendToUploadSession, checkPushAllowed, closeUploadSession, mountBlob, openUploadSession, pushBlob, putManifest, uploadSessionStatus, type UploadSession } from './upload.js';
import { addToReferrersTagIndex, fetchReferrers, referrerDescriptor, subjectOf } from './referrers.js';
import type { RegistryOptions } from './options.js';

export class RegistrySink implements ImageSink {
  readonly description: string;
  readonly client: RegistryClient;
  private readonly ownsClients: RegistryClients | undefined;

  constructor(readonly registry: string, opts: RegistryOptions | RegistryClients = {}) {
    this.description = registry;
    const clients = opts instanceof RegistryClients ? opts : new RegistryClients(opts);
    this.ownsClients = opts instanceof RegistryClients ? undefined : clients;
    this.client = clients.get(registry);
  }

  /** Reachable, TLS trusted, credentials accepted (GET /v2/). */
  ping(): Promise<void> {
    return this.client.ping();
  }

  /** Push allowed to `repository` (after ping()): an upload session opened and cancelled. */
  async preflight(repository: string): Promise<void> {
    try {
      await checkPushAllowed(this.client, repository);
    } catch (e) {
      if (!(e instanceof FerryError) || e.code !== 'REGISTRY_ERROR') throw e;
      // Reachable and the credentials work, yet no upload can start: say what it means.
      throw new FerryError('REGISTRY_DENIED', `pre-flight: registry ${this.registry} does not let this account push to ${repository} (${e.message}); check the account's push permission, or whether the registry is read-only; nothing was sent`, { ...e.details }, { cause: e });
    }
  }

  /** true / false when the registry says (tag list: 200, or 404 NAME_UNKNOWN), else undefined. */
  repositoryExists(repository: string): Promise<boolean | undefined> {
    return this.client.repositoryExists(repository);
  }

  storeOf(repository: string): string {
    return repository;
  }

  async blobPresence(repository: string, desc: Descriptor): Promise<BlobPresence> {
    if (await this.client.blobExists(repository, desc.digest)) return 'present';
    // A manifest pushed by digest (by an earlier run or another client) counts as stored.
    if (isManifestOrIndexMediaType(desc.mediaType) && (await this.hasManifest(repository, desc))) return 'present';
    return 'absent';
  }

  putBlob(repository: string, desc: Descriptor, data: Readable): Promise<BlobWriteResult> {
    return pushBlob(this.client, repository, desc, data, { mountFrom: this.client.blobHomesOf(desc.digest, repository) });
  }

  mountBlob(repository: string, desc: Descriptor, from: string): Promise<boolean> {
    return mountBlob(this.client, repository, desc, from);
  }

  async hasManifest(repository: string, desc: Descriptor): Promise<boolean> {
    const d = await this.client.headManifest(repository, desc.digest);
    return d !== undefined;
  }

  async getManifest(repository: string, desc: Descriptor): Promise<Buffer> {
    const where = `${this.registry}/${repository}@${desc.digest}`;
    if (desc.size > MAX_IMAGE_MANIFEST_BYTES) throw new FerryError('TARGET_ERROR', `${where}: manifests are at most ${MAX_IMAGE_MANIFEST_BYTES} bytes, this one is ${desc.size}`);
    return (await this.client.getManifest(repository, desc.digest)).bytes; // verified against the digest asked for
  }

  async putManifest(repository: string, desc: Descriptor, bytes: Buffer): Promise<void> {
    const where = `${this.registry}/${repository}@${desc.digest}`;
    verifyBytes(bytes, desc.digest, desc.size, { where });
    if (bytes.length > MAX_IMAGE_MANIFEST_BYTES) {
      throw new FerryError('TARGET_ERROR', `${where}: the manifest is ${bytes.length} bytes; registries (distribution) accept at most ${MAX_IMAGE_MANIFEST_BYTES}; not pushed`, { digest: desc.digest });
    }
    const r = await putManifest(this.client, repository, desc.digest, bytes, desc.mediaType);
    const subject = subjectOf(bytes);
    if (subject && !r.subjectProcessed) {
      await addToReferrersTagIndex(this.client, repository, subject, referrerDescriptor(bytes, desc));
    }
  }

  /** Manifests that name `subject` (the referrers API, else the `sha256-<hex>` fallback index). */
  async referrersOf(repository: string, subject: string): Promise<Descriptor[]> {
    return (await fetchReferrers(this.client, repository, subject)).descriptors;
  }

  tagged(repository: string, tag: string): Promise<Descriptor | undefined> {
    return this.client.headManifest(repository, tag);
  }

  async putTags(tags: readonly TagRequest[]): Promise<void> {
    // Each tag is independent once its content is stored: as many at once as the client allows.
    await Promise.all(tags.map((t) => putManifest(this.client, t.repository, t.tag, t.bytes, t.descriptor.mediaType)));
  }

  // Chunked sessions kept open across volumes and runs (a split blob, sent as its segments come).
  openSession(repository: string, digest: string): Promise<UploadSession> {
    return openUploadSession(this.client, repository, digest);
  }
  sessionStatus(session: UploadSession, digest: string): Promise<UploadSession | undefined> {
    return uploadSessionStatus(this.client, session, digest);
  }
  appendToSession(session: UploadSession, digest: string, data: Readable, size: number): Promise<UploadSession> {
    return appendToUploadSession(this.client, session, digest, data, size);
  }
  closeSession(session: UploadSession, desc: Descriptor): Promise<void> {
    return closeUploadSession(this.client, session, desc);
  }

  async close(): Promise<void> {
    this.ownsClients?.close();
  }
}
