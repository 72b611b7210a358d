// A registry repository as an ImageSink (the loader's push target). Blobs are verified while
// streaming and made visible only when they match; manifests are pushed as exact bytes; a
// manifest with `subject` is also recorded in the fallback tag index when the registry does
// not index referrers itself.

import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { FerryError, type Descriptor } from '@ferry/format-spec';
import type { ImageSink } from '../source.js';
import { RegistryClient, RegistryClients } from './client.js';
import { pushBlob, putManifest, type BlobPushResult } from './upload.js';
import { addToReferrersTagIndex, referrerDescriptor, subjectOf } from './referrers.js';
import type { RegistryOptions } from './options.js';

export class RegistrySink implements ImageSink {
  readonly description: string;
  readonly client: RegistryClient;
  private readonly ownsClients: RegistryClients | undefined;

  constructor(readonly registry: string, readonly repository: string, opts: RegistryOptions | RegistryClients = {}) {
    this.description = `${registry}/${repository}`;
    const clients = opts instanceof RegistryClients ? opts : new RegistryClients(opts);
    this.ownsClients = opts instanceof RegistryClients ? undefined : clients;
    this.client = clients.get(registry);
  }

  hasBlob(digest: string): Promise<boolean> {
    return this.client.blobExists(this.repository, digest);
  }

  /** Upload (or cross-repo mount, when another repository of this registry got it this session). */
  writeBlob(desc: Descriptor, data: Readable): Promise<void> {
    return this.pushBlob(desc, data).then(() => undefined);
  }

  pushBlob(desc: Descriptor, data: Readable | Buffer): Promise<BlobPushResult> {
    return pushBlob(this.client, this.repository, desc, data, { mountFrom: this.client.blobHomesOf(desc.digest, this.repository) });
  }

  async writeManifest(desc: Descriptor, bytes: Buffer, tag?: string): Promise<void> {
    const digest = 'sha256:' + createHash('sha256').update(bytes).digest('hex');
    if (digest !== desc.digest || bytes.length !== desc.size) {
      throw new FerryError('BLOB_MISMATCH', `manifest ${desc.digest} for ${this.description}: the bytes hash to ${digest} (${bytes.length} bytes, expected ${desc.size}); not pushed`, {
        reference: `${this.description}@${desc.digest}`, registry: this.registry, status: null,
      });
    }
    const r = await putManifest(this.client, this.repository, tag ?? desc.digest, bytes, desc.mediaType);
    const subject = subjectOf(bytes);
    if (subject && !r.subjectProcessed) {
      await addToReferrersTagIndex(this.client, this.repository, subject, referrerDescriptor(bytes, desc));
    }
  }

  async close(): Promise<void> {
    this.ownsClients?.close();
  }
}
