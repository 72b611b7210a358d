// A registry reference (`docker://REF` or a bare reference) as an ImageSource, plus referrer
// discovery for the bundler.

import type { Readable } from 'node:stream';
import { FerryError, type Descriptor } from '@ferry/format-spec';
import type { ImageSource, ManifestBytes } from '../source.js';
import { parseReference, referenceTarget, type ImageReference } from '../reference.js';
import { RegistryClient, RegistryClients } from './client.js';
import { fetchReferrers, fetchCosignArtifacts } from './referrers.js';
import type { RegistryOptions } from './options.js';

export interface ReferrerDescriptor {
  /** 'cosign-tag': found under a `sha256-<hex>.sig|.att|.sbom` tag; 'oci-referrer': a manifest whose subject is the image. */
  scheme: 'cosign-tag' | 'oci-referrer';
  descriptor: Descriptor;
  /** For cosign-tag artifacts, the tag. */
  tag?: string;
  /** Digest of the manifest referred to. */
  subject: string;
}

export class RegistrySource implements ImageSource {
  readonly description: string;
  readonly reference: ImageReference;
  readonly repository: string;
  readonly tag?: string;
  readonly client: RegistryClient;
  private readonly ownsClients: RegistryClients | undefined;

  /**
   * `ref` is a reference string (`docker://` optional) or a parsed one. Pass a shared
   * RegistryClients to reuse connections and tokens across images; otherwise options.
   */
  constructor(ref: string | ImageReference, opts: RegistryOptions | RegistryClients = {}) {
    this.reference = typeof ref === 'string' ? parseReference(ref) : ref;
    this.description = typeof ref === 'string' ? ref : ref.toString();
    this.repository = this.reference.repository;
    if (this.reference.tag !== undefined) this.tag = this.reference.tag;
    const clients = opts instanceof RegistryClients ? opts : new RegistryClients(opts);
    this.ownsClients = opts instanceof RegistryClients ? undefined : clients;
    this.client = clients.get(this.reference.registry);
  }

  /** The root manifest/index; by digest when the reference has one (the tag is then metadata). */
  resolve(): Promise<ManifestBytes> {
    return this.client.getManifest(this.repository, referenceTarget(this.reference));
  }

  async fetchManifest(desc: Descriptor): Promise<ManifestBytes> {
    const m = await this.client.getManifest(this.repository, desc.digest);
    if (m.bytes.length !== desc.size) {
      throw new FerryError('BLOB_MISMATCH', `manifest ${this.reference.name}@${desc.digest}: ${m.bytes.length} bytes, the descriptor says ${desc.size}`, {
        reference: `${this.reference.name}@${desc.digest}`, registry: this.reference.registry, status: 200,
      });
    }
    // Keep what the parent said (platform, annotations); the digest is verified to be the same.
    return { descriptor: { ...desc, mediaType: m.descriptor.mediaType }, bytes: m.bytes };
  }

  /** Size-checked and resumable; the digest is checked by the caller, as ImageSource says
   *  (the bundle writer hashes every blob anyway: hashing here too cost ~10% of create time). */
  openBlob(desc: Descriptor): Promise<Readable> {
    return this.client.openBlob(this.repository, desc, { hash: false });
  }

  /** cosign tag-scheme artifacts and OCI referrers of `subject` in this repository. */
  async listReferrers(subject: Descriptor | string): Promise<ReferrerDescriptor[]> {
    const digest = typeof subject === 'string' ? subject : subject.digest;
    const [cosign, oci] = await Promise.all([
      fetchCosignArtifacts(this.client, this.repository, digest),
      fetchReferrers(this.client, this.repository, digest),
    ]);
    const out: ReferrerDescriptor[] = cosign.map((a) => ({ scheme: 'cosign-tag', descriptor: a.descriptor, tag: a.tag, subject: digest }));
    const seen = new Set(out.map((r) => r.descriptor.digest));
    for (const d of oci.descriptors) {
      if (seen.has(d.digest)) continue;
      seen.add(d.digest);
      out.push({ scheme: 'oci-referrer', descriptor: d, subject: digest });
    }
    return out;
  }

  async close(): Promise<void> {
    this.ownsClients?.close();
  }
}

/** Referrers of `subject` (cosign tags + OCI referrers), each marked with its scheme. */
export function listReferrers(source: RegistrySource, subject: Descriptor | string): Promise<ReferrerDescriptor[]> {
  return source.listReferrers(subject);
}
