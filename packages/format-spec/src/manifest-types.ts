// TypeScript view of schemas/bundle-manifest.schema.json (format versions 1 to 4).
// docs/format.md is the normative text; keep the three in step.

import type { Platform } from './oci-types.js';
import type { BundleLoader } from './loader-files.js';

/** Version 1: images, files, keys. Version 2 adds charts[]. Version 3 adds loaders[] (the
 *  ferry-load executables carried beside the volumes). A writer uses the lowest version that can
 *  say what the bundle holds (bundleFormatFor), so a bundle without charts or loaders still
 *  loads with a v1 loader. Version 4 is a delta: version 3 plus required[], baselines[] and
 *  delta (blobs left out because an earlier bundle or an inventory says the target holds them). */
export const BUNDLE_SCHEMA_VERSION = 4;
export const BUNDLE_MEDIA_TYPE = 'application/vnd.ferry.bundle.manifest.v2+json';
export const BUNDLE_MEDIA_TYPE_V1 = 'application/vnd.ferry.bundle.manifest.v1+json';
export const BUNDLE_MEDIA_TYPE_V3 = 'application/vnd.ferry.bundle.manifest.v3+json';
export const BUNDLE_MEDIA_TYPE_V4 = 'application/vnd.ferry.bundle.manifest.v4+json';
/** schemaVersion -> mediaType, for every version this reader reads. */
export const BUNDLE_FORMATS: Readonly<Record<number, string>> = { 1: BUNDLE_MEDIA_TYPE_V1, 2: BUNDLE_MEDIA_TYPE, 3: BUNDLE_MEDIA_TYPE_V3, 4: BUNDLE_MEDIA_TYPE_V4 };

/** The lowest version that says what a bundle holds: 4 for a delta (blobs required, or built
 *  against baselines), 3 with loaders, 2 with charts, else 1. */
export function bundleFormatFor(has: { charts: boolean; loaders: boolean; required?: boolean; baselines?: boolean }): Pick<BundleManifest, 'schemaVersion' | 'mediaType'> {
  if (has.required || has.baselines) return { schemaVersion: 4, mediaType: BUNDLE_MEDIA_TYPE_V4 };
  if (has.loaders) return { schemaVersion: 3, mediaType: BUNDLE_MEDIA_TYPE_V3 };
  if (has.charts) return { schemaVersion: 2, mediaType: BUNDLE_MEDIA_TYPE };
  return { schemaVersion: 1, mediaType: BUNDLE_MEDIA_TYPE_V1 };
}

export type SignatureAlgorithm = 'ecdsa-p256' | 'ed25519';

/** What a blob is, so a loader knows how to treat it without parsing it. */
export type BlobKind = 'index' | 'manifest' | 'config' | 'layer' | 'file' | 'key' | 'blob';

/** Where a piece of a blob too large for one volume goes, as planned (planVolumes). */
export interface PlannedSegment {
  /** 1-based volume number. */
  volume: number;
  /** 1-based segment number; tar entry `segments/sha256/<hex>.<NNN>`. */
  index: number;
  /** Byte offset of this segment inside the blob. */
  offset: number;
  size: number;
}

/** A segment as the manifest records it: the plan plus the sha256 of the segment's exact bytes,
 *  so a damaged segment is refused in the volume that holds it (hashSegments computes it
 *  before the manifest is written; the whole-blob digest is still checked once joined). */
export interface BlobSegment extends PlannedSegment {
  digest: string;
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

/** A blob as planVolumes assigns it, before its segments' digests are known. */
export type PlannedBlob = Omit<BundleBlob, 'segments'> & { segments?: PlannedSegment[] };

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

/** A Helm chart: its `.tgz` (and `.prov`) as content-addressed blobs, and the same chart as a
 *  Helm OCI artifact in the layout (config, chart layer, prov layer), so `helm pull oci://` and
 *  plain OCI tools see it and the loader can publish it to any chart destination. */
export interface BundleChart {
  /** Chart.yaml name (also the file name `name-version.tgz` in a classic repository). */
  name: string;
  /** SemVer 2 version, `+build` included (the OCI tag has `_` for `+`). */
  version: string;
  appVersion?: string;
  /** Chart.yaml apiVersion. */
  apiVersion: 'v1' | 'v2';
  description?: string;
  /** As the user asked for it: `https://repo/name@range`, `oci://…`, a local path. */
  source: string;
  /** The chart archive (`.tgz`): a blob of this bundle with the Helm chart layer media type. */
  digest: string;
  size: number;
  /** The `.prov` provenance file, when the source had one. */
  provenance?: { digest: string; size: number };
  /** When the chart was published (the source index's `created`), else when it was bundled. */
  created: string;
  /** The Helm OCI artifact manifest (its layers are the chart and the provenance). */
  manifest: { digest: string; size: number; mediaType: string };
  /** Every blob of the artifact, children first, the manifest last. */
  blobs: string[];
  /** Set for a dependency carried because other charts need it: their `name@version`. */
  requiredBy?: string[];
  /** Image references found in the chart's values and templates (`--chart-images`). */
  images?: Array<{ reference: string; file: string; line: number }>;
}

/** Kinds a delta may leave out: manifests and indexes are always carried (the loader tags with
 *  their bytes), files, keys and chart blobs too. */
export type RequiredKind = 'config' | 'layer' | 'blob';
export const REQUIRED_KINDS: readonly RequiredKind[] = ['config', 'layer', 'blob'];

/** Format version 4: a blob an image or referrer needs that this bundle does not carry; the
 *  loader proves the target holds it before writing anything. */
export interface RequiredBlob {
  digest: string;
  size: number;
  mediaType: string;
  kind: RequiredKind;
  /** The baselines[] entry (by name) that says the target holds it. */
  baseline: string;
  /** Where that baseline says the target holds it (may be empty): the loader mounts from there. */
  repositories: string[];
}

/** Format version 4: an earlier bundle or inventory this delta was built against. */
export interface BundleBaseline {
  name: string;
  kind: 'bundle' | 'inventory';
  /** sha256 of the baseline file as read. */
  digest: string;
  created?: string;
}

/** Format version 4: what leaving the required blobs out saved. */
export interface BundleDelta {
  /** Sum of blobs[] sizes. */
  carriedBytes: number;
  /** Every distinct blob the images, referrers and charts reference, carried or not. */
  referencedBytes: number;
  requiredBytes: number;
  requiredBlobs: number;
}

export interface BundleVolume {
  index: number;
  file: string;
}

export interface BundleManifest {
  schemaVersion: 1 | 2 | 3 | 4;
  mediaType: typeof BUNDLE_MEDIA_TYPE | typeof BUNDLE_MEDIA_TYPE_V1 | typeof BUNDLE_MEDIA_TYPE_V3 | typeof BUNDLE_MEDIA_TYPE_V4;
  name: string;
  created: string;
  tool: { name: 'ferry'; version: string };
  /** Informational: which key signed this (trust comes only from the loader's trusted keys). */
  signer?: { algorithm: SignatureAlgorithm; fingerprint: string };
  /** `seekTable` is always true in format version 1 (the schema says `const: true`); the type
   *  stays boolean so the low-level reader can be told to read a volume without one. */
  compression: { algorithm: 'zstd'; level: number; framing: 'entry'; seekTable: boolean };
  volumeSize: number;
  volumes: BundleVolume[];
  /** The `index.json` every volume carries (identical in each), so a reader can check it. */
  layoutIndex: { digest: string; size: number };
  images: BundleImage[];
  files: BundleFile[];
  keys: BundleKey[];
  /** Format versions 2 and 3 (absent in version 1: read it with chartsOf). */
  charts?: BundleChart[];
  /** Format version 3 only: the ferry-load executables beside the volumes (read with loadersOf). */
  loaders?: BundleLoader[];
  /** Write order: every blob exactly once. */
  blobs: BundleBlob[];
  /** Format version 4 only (read with requiredOf): blobs needed but not carried. */
  required?: RequiredBlob[];
  /** Format version 4 only: the baselines required[] refers to. */
  baselines?: BundleBaseline[];
  /** Format version 4 only: bytes carried against bytes referenced. */
  delta?: BundleDelta;
}

/** The required blobs of a manifest of any version (none before version 4). */
export function requiredOf(m: Pick<BundleManifest, 'required'>): readonly RequiredBlob[] {
  return m.required ?? [];
}

/** Every blob an image or referrer may name, carried or required, by digest. A required blob
 *  has neither volume nor segments: it is never read from a volume, only asked of the target. */
export function contentBlobs(m: Pick<BundleManifest, 'blobs' | 'required'>): Map<string, BundleBlob> {
  const out = new Map<string, BundleBlob>(m.blobs.map((b) => [b.digest, b]));
  for (const r of requiredOf(m)) if (!out.has(r.digest)) out.set(r.digest, { digest: r.digest, size: r.size, mediaType: r.mediaType, kind: r.kind });
  return out;
}

/** The charts of a manifest of any version (version 1 has none). */
export function chartsOf(m: Pick<BundleManifest, 'charts'>): readonly BundleChart[] {
  return m.charts ?? [];
}
