// The small interfaces every image source and sink implements (go-containerregistry's
// remote/layout/tarball split is the model). An image is something you can resolve to exact
// manifest bytes and read blobs from, wherever it sits.

import type { Readable } from 'node:stream';
import type { Descriptor } from '@ferry/format-spec';

/** A manifest or index exactly as received: `bytes` hash to `descriptor.digest`. */
export interface ManifestBytes {
  descriptor: Descriptor;
  bytes: Buffer;
}

/** One image reference in some store (registry, OCI layout, archive, bundle volume). */
export interface ImageSource {
  /** What the user asked for, for messages, e.g. `oci:examples/demo:1.0`. */
  readonly description: string;
  /** Suggested target repository (no host) and tag, e.g. `ferry/demo` + `1.0`. */
  readonly repository: string;
  readonly tag?: string;
  /** The root manifest or index the reference points at. */
  resolve(): Promise<ManifestBytes>;
  /** A manifest below the root (index child, referrer), by descriptor; bytes verified by caller. */
  fetchManifest(desc: Descriptor): Promise<ManifestBytes>;
  /** A blob's bytes as a stream; the caller hashes and checks them. */
  openBlob(desc: Descriptor): Promise<Readable>;
  /** The path of a regular file holding exactly the blob's bytes, for sources that have one
   *  (a layout directory): readers that can read at positions use it instead of openBlob. The
   *  size is checked as by openBlob, the content by the caller. */
  blobFile?(desc: Descriptor): Promise<string | undefined>;
  /** Release file handles / connections. */
  close(): Promise<void>;
  /** Signatures, attestations, SBOMs that refer to `subject` (sources that can find them). */
  listReferrers?(subject: Descriptor): Promise<SourceReferrer[]>;
}

/** A manifest found to refer to an image: by cosign's tag scheme or the OCI subject field. */
export interface SourceReferrer {
  scheme: 'cosign-tag' | 'oci-referrer';
  descriptor: Descriptor;
  tag?: string;
  subject: string;
}

/** What a presence check found: absent, present (and, where the sink can tell, verified), or
 *  there with the wrong size or content (a crash-truncated write: replaced, never trusted). */
export type BlobPresence = 'absent' | 'present' | 'damaged';

/** How a blob got into a repository. */
export type BlobWriteResult = 'uploaded' | 'mounted' | 'exists';

/** A tag to create or move, with the exact bytes of what it points at (a registry tags by PUT). */
export interface TagRequest {
  repository: string;
  tag: string;
  descriptor: Descriptor;
  bytes: Buffer;
}

/**
 * Where pushed content lands (an OCI layout directory, a registry). Content is routed by kind:
 * blobs to the blob store, manifests and indexes to the manifest store by digest, and tags as
 * their own, last, step — storing something never makes it visible under a name. Callers push
 * children before parents; a sink checks what it is given and never makes wrong bytes visible.
 */
export interface ImageSink {
  readonly description: string;
  /** The blob store serving `repository`: repositories with the same store need a blob once
   *  (a layout has one store; a registry one per repository, filled by upload or mount). */
  storeOf(repository: string): string;
  blobPresence(repository: string, desc: Descriptor): Promise<BlobPresence>;
  /** Stream a blob in; visible only once its size and digest match `desc`. */
  putBlob(repository: string, desc: Descriptor, data: Readable): Promise<BlobWriteResult>;
  /** Make a blob that repository `from` holds present in `repository` without sending it
   *  (a cross-repo mount); false when the sink would need the bytes after all. */
  mountBlob(repository: string, desc: Descriptor, from: string): Promise<boolean>;
  hasManifest(repository: string, desc: Descriptor): Promise<boolean>;
  /** The exact, verified bytes of a stored manifest or index. */
  getManifest(repository: string, desc: Descriptor): Promise<Buffer>;
  /** Store a manifest or index by digest; everything it references must be stored already. */
  putManifest(repository: string, desc: Descriptor, bytes: Buffer): Promise<void>;
  /** Manifests the target indexes as referring to `subject` (sinks with a referrers index). */
  referrersOf?(repository: string, subject: string): Promise<Descriptor[]>;
  /** What a tag points at now, if anything. */
  tagged(repository: string, tag: string): Promise<Descriptor | undefined>;
  /** Create or move tags, in order; each must point at stored content. */
  putTags(tags: readonly TagRequest[]): Promise<void>;
  close(): Promise<void>;
}
