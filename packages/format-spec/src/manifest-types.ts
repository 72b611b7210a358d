// TypeScript view of schemas/bundle-manifest.schema.json (format version 1).
// docs/format.md is the normative text; keep the three in step.

import type { Platform } from './oci-types.js';

export const BUNDLE_SCHEMA_VERSION = 1;
export const BUNDLE_MEDIA_TYPE = 'application/vnd.ferry.bundle.manifest.v1+json';

export type SignatureAlgorithm = 'ecdsa-p256' | 'ed25519';

/** What a blob is, so a loader knows how to treat it without parsing it. */
export type BlobKind = 'index' | 'manifest' | 'config' | 'layer' | 'file' | 'key' | 'blob';

/** A piece of a blob that was too large for one volume. Segments carry no digest of their
 *  own: the manifest is written before blobs stream, so only the whole-blob digest (checked
 *  when the segments are reassembled) is known. */
export interface BlobSegment {
  /** 1-based volume number. */
  volume: number;
  /** 1-based segment number; tar entry `segments/sha256/<hex>.<NNN>`. */
  index: number;
  /** Byte offset of this segment inside the blob. */
  offset: number;
  size: number;
  /** sha256 of this segment's bytes (being added to the format on another branch). */
  digest?: string;
}

export interface BundleBlob {
  digest: string;
  size: number;
  mediaType: string;
  kind: BlobKind;
  /** Volume holding the whole blob as `blobs/sha256/<hex>`; absent when segmented. */
  volume?: number;
  /** Present (2 or more) when the blob is split across volumes. */
  segments?: BlobSegment[];
}

export type PlatformFilter =
  | { mode: 'all' }
  | {
      mode: 'filtered';
      /** Platforms asked for, as given (os/arch[/variant]). */
      requested: string[];
      /** The source index, which is not carried whole; its digest is recorded for provenance. */
      sourceIndex: { digest: string; size: number; mediaType: string };
      /** 'child' when one platform was kept (the tag points at that unchanged manifest);
       *  'ferry-index' when several were kept (the tag points at a new index listing exactly
       *  those unchanged child descriptors). */
      target: 'child' | 'ferry-index';
    };

export interface BundleReferrer {
  digest: string;
  mediaType: string;
  size: number;
  artifactType?: string;
  /** 'cosign-tag' for sha256-<hex>.sig/.att/.sbom tags, 'oci-referrer' for subject-linked manifests. */
  scheme: 'cosign-tag' | 'oci-referrer';
  /** For cosign-tag artifacts: the tag (e.g. sha256-<hex>.sig). */
  tag?: string;
  /** Digest of the manifest this refers to. */
  subject: string;
  /** Every blob the referrer needs, children first, itself last. */
  blobs: string[];
}

export interface BundleImage {
  /** The source as the user wrote it, e.g. `oci:examples/demo:1.0` or `ghcr.io/x/y:1`. */
  source: string;
  /** Repository path (no registry host) and tag the loader writes, e.g. `ferry/demo`. */
  repository: string;
  tag?: string;
  /** Root the tag points at (exact bytes, unchanged digest unless platformFilter says ferry-index). */
  digest: string;
  mediaType: string;
  size: number;
  platformFilter: PlatformFilter;
  /** Platform manifests carried (empty for a single-platform image with no platform in its config). */
  platforms: Array<{ platform: Platform; digest: string }>;
  /** Every blob this image needs, children before parents, the root last. */
  blobs: string[];
  referrers?: BundleReferrer[];
}

export interface BundleFile {
  /** Relative POSIX path under which the loader writes it; no `..`, not absolute. */
  path: string;
  digest: string;
  size: number;
  /** ssri integrity string (sha512), a second independent hash. */
  integrity: string;
  mode?: number;
}

export interface BundleKey {
  path: string;
  digest: string;
  size: number;
  algorithm: string;
  /** sha256 of the DER SubjectPublicKeyInfo, `sha256:<hex>`. */
  fingerprint: string;
}

export interface BundleVolume {
  index: number;
  file: string;
}

export interface BundleManifest {
  schemaVersion: 1;
  mediaType: typeof BUNDLE_MEDIA_TYPE;
  name: string;
  created: string;
  tool: { name: 'ferry'; version: string };
  /** Informational: which key signed this (trust comes only from the loader's trusted keys). */
  signer?: { algorithm: SignatureAlgorithm; fingerprint: string };
  compression: { algorithm: 'zstd'; level: number; framing: 'entry'; seekTable: boolean };
  volumeSize: number;
  volumes: BundleVolume[];
  /** The `index.json` every volume carries (identical in each), so a reader can check it. */
  layoutIndex: { digest: string; size: number };
  images: BundleImage[];
  files: BundleFile[];
  keys: BundleKey[];
  /** Write order: every blob exactly once. */
  blobs: BundleBlob[];
}
