// Resolve an image to everything that must travel with it: the exact manifest bytes of the
// root and its children, and every blob, children before parents. Platform filtering picks
// children without changing any digest (see docs/format.md "Platform filtering").

import {
  FerryError,
  MAX_IMAGE_MANIFEST_BYTES,
  MediaTypes,
  isIndexMediaType,
  isManifestMediaType,
  parsePlatform,
  platformMatches,
  platformString,
  sha256Digest,
  type BlobKind,
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  type Platform,
  type PlatformFilter,
} from '@ferry/format-spec';
import type { ImageSource, ManifestBytes } from './source.js';

/** A blob to carry: where its bytes come from is the source that resolved it. */
export interface PlannedBlob {
  descriptor: Descriptor;
  kind: BlobKind;
  /** Exact bytes for manifests and indexes (and any JSON Ferry wrote), else undefined: stream from the source. */
  bytes?: Buffer;
}

export interface ResolvedImage {
  source: ImageSource;
  /** What the tag points at. */
  root: Descriptor;
  platformFilter: PlatformFilter;
  platforms: Array<{ platform: Platform; digest: string }>;
  /** Children first, root last; each digest once. */
  blobs: PlannedBlob[];
}


function parseJson<T>(m: ManifestBytes, where: string): T {
  if (m.bytes.length > MAX_IMAGE_MANIFEST_BYTES) throw new FerryError('SOURCE_INVALID', `${where}: manifest ${m.descriptor.digest} is larger than ${MAX_IMAGE_MANIFEST_BYTES} bytes`);
  try {
    return JSON.parse(m.bytes.toString('utf8')) as T;
  } catch (e) {
    throw new FerryError('SOURCE_INVALID', `${where}: manifest ${m.descriptor.digest} is not JSON (${(e as Error).message})`);
  }
}

function manifestKind(mediaType: string | undefined, doc: { manifests?: unknown; config?: unknown }): 'index' | 'manifest' {
  if (isIndexMediaType(mediaType) || (mediaType === undefined && Array.isArray(doc.manifests))) return 'index';
  if (isManifestMediaType(mediaType) || (mediaType === undefined && doc.config)) return 'manifest';
  // Artifacts (Helm charts, cosign bundles) use the OCI manifest shape with other config types.
  if (doc.config) return 'manifest';
  if (Array.isArray(doc.manifests)) return 'index';
  throw new FerryError('SOURCE_INVALID', `unsupported manifest media type ${mediaType ?? '(none)'}`);
}

class BlobCollector {
  readonly blobs: PlannedBlob[] = [];
  private readonly seen = new Set<string>();
  add(b: PlannedBlob): void {
    if (this.seen.has(b.descriptor.digest)) return;
    this.seen.add(b.descriptor.digest);
    this.blobs.push(b);
  }
}

/** Add one image manifest and what it references (config, layers) to the collector. */
function addImageManifest(m: ManifestBytes, where: string, out: BlobCollector): ImageManifest {
  const doc = parseJson<ImageManifest>(m, where);
  if (!doc.config || !Array.isArray(doc.layers)) throw new FerryError('SOURCE_INVALID', `${where}: manifest ${m.descriptor.digest} has no config or layers`);
  out.add({ descriptor: strip(doc.config), kind: 'config' });
  for (const l of doc.layers) {
    if (l.urls?.length || l.mediaType === MediaTypes.dockerLayerForeign || /nondistributable/.test(l.mediaType)) {
      throw new FerryError('SOURCE_INVALID', `${where}: layer ${l.digest} is a foreign (non-distributable) layer with external URLs; Ferry cannot carry it`);
    }
    out.add({ descriptor: strip(l), kind: 'layer' });
  }
  out.add({ descriptor: { ...m.descriptor, mediaType: m.descriptor.mediaType }, kind: 'manifest', bytes: m.bytes });
  return doc;
}

function strip(d: Descriptor): Descriptor {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}

/**
 * Resolve `source` to the set of blobs to carry. `platforms` empty = keep every platform
 * (mode "all"). Otherwise keep matching children; one kept child becomes the tag's target
 * unchanged, several get a new index written by Ferry that lists their unchanged descriptors.
 */
export async function resolveImage(source: ImageSource, platforms: readonly string[] = []): Promise<ResolvedImage> {
  const where = source.description;
  const root = await source.resolve();
  const rootDoc = parseJson<ImageIndex & ImageManifest>(root, where);
  const kind = manifestKind(root.descriptor.mediaType ?? rootDoc.mediaType, rootDoc);
  const out = new BlobCollector();

  if (kind === 'manifest') {
    addImageManifest(root, where, out);
    const plat = await configPlatform(source, rootDoc);
    if (platforms.length && plat && !platforms.some((p) => platformMatches(plat, parsePlatform(p)))) {
      throw new FerryError('SOURCE_NOT_FOUND', `${where} is a single-platform image for ${platformString(plat)}, not ${platforms.join(', ')}`);
    }
    return {
      source,
      root: strip(root.descriptor),
      platformFilter: { mode: 'all' },
      platforms: plat ? [{ platform: plat, digest: root.descriptor.digest }] : [],
      blobs: out.blobs,
    };
  }

  const children = rootDoc.manifests ?? [];
  const wanted = platforms.map(parsePlatform);
  const keep = wanted.length === 0 ? children : children.filter((c) => wanted.some((w) => platformMatches(c.platform, w)));
  if (wanted.length) {
    const missing = wanted.filter((w) => !children.some((c) => platformMatches(c.platform, w)));
    if (missing.length) {
      const have = children.map((c) => platformString(c.platform)).join(', ');
      throw new FerryError('SOURCE_NOT_FOUND', `${where} has no ${missing.map(platformString).join(', ')} (it has ${have})`);
    }
  }
  const kept: Array<{ platform: Platform; digest: string }> = [];
  for (const child of keep) {
    const m = await source.fetchManifest(child);
    const childDoc = parseJson<ImageIndex & ImageManifest>(m, where);
    if (manifestKind(child.mediaType, childDoc) === 'index') {
      throw new FerryError('SOURCE_INVALID', `${where}: nested index ${child.digest} is not supported`);
    }
    addImageManifest(m, where, out);
    if (child.platform) kept.push({ platform: child.platform, digest: child.digest });
  }

  if (wanted.length === 0) {
    out.add({ descriptor: strip(root.descriptor), kind: 'index', bytes: root.bytes });
    return { source, root: strip(root.descriptor), platformFilter: { mode: 'all' }, platforms: kept, blobs: out.blobs };
  }

  const sourceIndex = { digest: root.descriptor.digest, size: root.descriptor.size, mediaType: root.descriptor.mediaType };
  if (keep.length === 1) {
    const only = keep[0]!;
    return {
      source,
      root: strip(only),
      platformFilter: { mode: 'filtered', requested: [...platforms], sourceIndex, target: 'child' },
      platforms: kept,
      blobs: out.blobs,
    };
  }
  // Several platforms: a new index of the kept descriptors, copied as they were (annotations too).
  const idx: ImageIndex = {
    schemaVersion: 2,
    mediaType: rootDoc.mediaType ?? root.descriptor.mediaType,
    manifests: keep,
    ...(rootDoc.annotations ? { annotations: rootDoc.annotations } : {}),
  };
  const bytes = Buffer.from(JSON.stringify(idx));
  const desc: Descriptor = { mediaType: root.descriptor.mediaType, digest: sha256Digest(bytes), size: bytes.length };
  out.add({ descriptor: desc, kind: 'index', bytes });
  return {
    source,
    root: desc,
    platformFilter: { mode: 'filtered', requested: [...platforms], sourceIndex, target: 'ferry-index' },
    platforms: kept,
    blobs: out.blobs,
  };
}

export interface ResolvedReferrer {
  scheme: 'cosign-tag' | 'oci-referrer';
  descriptor: Descriptor;
  artifactType?: string;
  tag?: string;
  subject: string;
  /** Children first, the referrer manifest last. */
  blobs: PlannedBlob[];
}

/**
 * Everything that refers to the image's root or its platform manifests (one level: signatures
 * of signatures are not followed), with the blobs each needs. Sources without referrer
 * discovery return none.
 */
export async function resolveReferrers(img: ResolvedImage): Promise<ResolvedReferrer[]> {
  const source = img.source;
  if (!source.listReferrers) return [];
  const subjects = [img.root, ...img.blobs.filter((b) => b.kind === 'manifest' && b.descriptor.digest !== img.root.digest).map((b) => b.descriptor)];
  const out: ResolvedReferrer[] = [];
  const seen = new Set<string>();
  for (const subject of subjects) {
    for (const r of await source.listReferrers(subject)) {
      if (seen.has(r.descriptor.digest)) continue;
      const m = await source.fetchManifest(r.descriptor);
      const doc = parseJson<ImageIndex & ImageManifest>(m, source.description);
      // An OCI referrer is one because its `subject` names this image. The referrers API only
      // lists such manifests, but the `sha256-<hex>` fallback tag index is written by clients and
      // can list anything (a stale entry, another image's signature copied in): such an entry does
      // not refer to this image, so it is not carried (the loader would rightly call a bundle that
      // says otherwise hostile). A cosign-tag artifact is tied by its tag and has no subject.
      if (r.scheme === 'oci-referrer' && (doc as { subject?: { digest?: unknown } }).subject?.digest !== r.subject) continue;
      seen.add(r.descriptor.digest);
      const coll = new BlobCollector();
      if (manifestKind(m.descriptor.mediaType, doc) === 'index') {
        for (const child of doc.manifests ?? []) addImageManifest(await source.fetchManifest(child), source.description, coll);
        coll.add({ descriptor: strip(m.descriptor), kind: 'index', bytes: m.bytes });
      } else {
        addImageManifest(m, source.description, coll);
      }
      const artifactType = doc.artifactType ?? r.descriptor.artifactType ?? (doc.config as Descriptor | undefined)?.mediaType;
      out.push({
        scheme: r.scheme,
        descriptor: strip(m.descriptor),
        ...(artifactType ? { artifactType } : {}),
        ...(r.tag ? { tag: r.tag } : {}),
        subject: r.subject,
        blobs: coll.blobs,
      });
    }
  }
  return out;
}

/** The platform a single-manifest image was built for, from its config (small JSON). */
async function configPlatform(source: ImageSource, doc: ImageManifest): Promise<Platform | undefined> {
  const cfg = doc.config;
  if (cfg.mediaType !== MediaTypes.ociConfig && cfg.mediaType !== MediaTypes.dockerConfig) return undefined;
  if (cfg.size > MAX_IMAGE_MANIFEST_BYTES) return undefined;
  const stream = await source.openBlob(cfg);
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  const bytes = Buffer.concat(chunks);
  if (sha256Digest(bytes) !== cfg.digest) throw new FerryError('BLOB_MISMATCH', `${source.description}: config ${cfg.digest} does not match its content`);
  try {
    const c = JSON.parse(bytes.toString('utf8')) as { os?: string; architecture?: string; variant?: string };
    if (!c.os || !c.architecture) return undefined;
    return c.variant ? { os: c.os, architecture: c.architecture, variant: c.variant } : { os: c.os, architecture: c.architecture };
  } catch {
    return undefined;
  }
}
