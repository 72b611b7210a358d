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

/** Something blobs and manifests can be written to (OCI layout dir, registry repo). */
export interface ImageSink {
  readonly description: string;
  hasBlob(digest: string): Promise<boolean>;
  /** Write a blob from a stream; the sink must verify size and digest before making it visible. */
  writeBlob(desc: Descriptor, data: Readable): Promise<void>;
  /** Make a manifest (exact bytes) visible, optionally under a tag; called only when all its children are present. */
  writeManifest(desc: Descriptor, bytes: Buffer, tag?: string): Promise<void>;
  close(): Promise<void>;
}
