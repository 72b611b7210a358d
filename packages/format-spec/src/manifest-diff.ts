// What changed between two bundles (`ferry-bundle diff` / `ferry-load diff`), from their
// manifests alone: images added, removed and re-tagged, blobs added and removed, what NEW carries
// against what it only references (a delta's required blobs, format v4), charts and files. Pure
// comparison of what the manifests say; signatures are not checked here.

import { locateBundle, readBundleManifest } from './bundle-location.js';
import { chartsOf, type BundleManifest } from './manifest-types.js';
import { parseManifest } from './schema.js';

export interface DiffSide {
  name: string;
  created: string;
  /** The manifest file read (or the volume holding its copy). */
  file: string;
}

export interface DiffImage {
  repository: string;
  tag?: string;
  digest: string;
}

export interface DiffBlob {
  digest: string;
  size: number;
  mediaType: string;
  /** For a blob NEW references: carried in its volumes (true) or required of the target (false). */
  carried?: boolean;
}

export interface DiffNamed {
  /** `name@version` for charts, the path for files. */
  name: string;
  digest: string;
  size: number;
}

export interface DiffChanged {
  name: string;
  old: string;
  new: string;
}

export interface ManifestDiff {
  old: DiffSide;
  new: DiffSide;
  images: {
    added: DiffImage[];
    removed: DiffImage[];
    /** Same repository:tag, other content. */
    retagged: Array<{ repository: string; tag: string; old: string; new: string }>;
    unchanged: number;
  };
  /** Blobs referenced (carried or required) by one side and not the other. */
  blobs: { added: DiffBlob[]; removed: DiffBlob[]; addedBytes: number; removedBytes: number };
  /** Of NEW: bytes in its volumes, and bytes its images need (carried + required). */
  bytes: { carried: number; required: number; referenced: number };
  charts: { added: DiffNamed[]; removed: DiffNamed[]; changed: DiffChanged[] };
  files: { added: DiffNamed[]; removed: DiffNamed[]; changed: DiffChanged[] };
}

interface Referenced {
  digest: string;
  size: number;
  mediaType: string;
  carried: boolean;
}

/** Every blob a manifest references: its blobs[] (carried) and, from format v4, required[]. */
function referenced(m: BundleManifest): Map<string, Referenced> {
  const out = new Map<string, Referenced>();
  for (const b of m.blobs) out.set(b.digest, { digest: b.digest, size: b.size, mediaType: b.mediaType, carried: true });
  // Read defensively: required[] is not in the v1-v3 types (a v4 manifest passed the schema).
  const required = (m as { required?: unknown }).required;
  if (Array.isArray(required)) {
    for (const r of required as Array<{ digest?: unknown; size?: unknown; mediaType?: unknown }>) {
      if (typeof r?.digest !== 'string' || typeof r.size !== 'number' || out.has(r.digest)) continue;
      out.set(r.digest, { digest: r.digest, size: r.size, mediaType: typeof r.mediaType === 'string' ? r.mediaType : '', carried: false });
    }
  }
  return out;
}

const imageKey = (i: { repository: string; tag?: string; digest: string }): string => (i.tag !== undefined ? `${i.repository}:${i.tag}` : `${i.repository}@${i.digest}`);
const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const byDigest = <T extends { digest: string }>(a: T, b: T): number => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0);

/** Added, removed and changed between two keyed lists. */
function compare<T>(older: ReadonlyMap<string, T>, newer: ReadonlyMap<string, T>, same: (a: T, b: T) => boolean): { added: T[]; removed: T[]; changed: Array<[T, T]>; unchanged: number } {
  const out = { added: [] as T[], removed: [] as T[], changed: [] as Array<[T, T]>, unchanged: 0 };
  for (const [k, n] of newer) {
    const o = older.get(k);
    if (o === undefined) out.added.push(n);
    else if (same(o, n)) out.unchanged++;
    else out.changed.push([o, n]);
  }
  for (const [k, o] of older) if (!newer.has(k)) out.removed.push(o);
  return out;
}

function named(list: ReadonlyArray<{ key: string; digest: string; size: number }>): Map<string, DiffNamed> {
  return new Map(list.map((x) => [x.key, { name: x.key, digest: x.digest, size: x.size }]));
}

function changedNamed(c: { added: DiffNamed[]; removed: DiffNamed[]; changed: Array<[DiffNamed, DiffNamed]> }): ManifestDiff['charts'] {
  return {
    added: c.added.sort(byName),
    removed: c.removed.sort(byName),
    changed: c.changed.map(([o, n]) => ({ name: n.name, old: o.digest, new: n.digest })).sort(byName),
  };
}

export function diffManifests(older: BundleManifest, newer: BundleManifest, files: { old: string; new: string } = { old: older.name, new: newer.name }): ManifestDiff {
  const images = compare(
    new Map(older.images.map((i) => [imageKey(i), i])),
    new Map(newer.images.map((i) => [imageKey(i), i])),
    (a, b) => a.digest === b.digest,
  );
  const img = (i: { repository: string; tag?: string; digest: string }): DiffImage => ({ repository: i.repository, ...(i.tag !== undefined ? { tag: i.tag } : {}), digest: i.digest });
  const byImage = (a: DiffImage, b: DiffImage): number => (imageKey(a) < imageKey(b) ? -1 : imageKey(a) > imageKey(b) ? 1 : 0);
  const oldBlobs = referenced(older);
  const newBlobs = referenced(newer);
  const blobs = compare(oldBlobs, newBlobs, () => true);
  const added = blobs.added.map((b) => ({ digest: b.digest, size: b.size, mediaType: b.mediaType, carried: b.carried })).sort(byDigest);
  const removed = blobs.removed.map((b) => ({ digest: b.digest, size: b.size, mediaType: b.mediaType })).sort(byDigest);
  let carried = 0;
  let required = 0;
  for (const b of newBlobs.values()) {
    if (b.carried) carried += b.size;
    else required += b.size;
  }
  const chartList = (m: BundleManifest) => named(chartsOf(m).map((c) => ({ key: `${c.name}@${c.version}`, digest: c.digest, size: c.size })));
  const fileList = (m: BundleManifest) => named(m.files.map((f) => ({ key: f.path, digest: f.digest, size: f.size })));
  const sameDigest = (a: DiffNamed, b: DiffNamed): boolean => a.digest === b.digest;
  return {
    old: { name: older.name, created: older.created, file: files.old },
    new: { name: newer.name, created: newer.created, file: files.new },
    images: {
      added: images.added.map(img).sort(byImage),
      removed: images.removed.map(img).sort(byImage),
      retagged: images.changed.map(([o, n]) => ({ repository: n.repository, tag: n.tag!, old: o.digest, new: n.digest })).sort((a, b) => byImage({ ...a, digest: a.new }, { ...b, digest: b.new })),
      unchanged: images.unchanged,
    },
    blobs: { added, removed, addedBytes: added.reduce((n, b) => n + b.size, 0), removedBytes: removed.reduce((n, b) => n + b.size, 0) },
    bytes: { carried, required, referenced: carried + required },
    charts: changedNamed(compare(chartList(older), chartList(newer), sameDigest)),
    files: changedNamed(compare(fileList(older), fileList(newer), sameDigest)),
  };
}

/** Read one side: a bundle directory, NAME.manifest.json, NAME.sha256 or a volume. */
async function readSide(path: string): Promise<{ manifest: BundleManifest; file: string }> {
  const loaded = await readBundleManifest(await locateBundle(path));
  return { manifest: parseManifest(loaded.bytes, loaded.from), file: loaded.from };
}

export async function diffBundles(oldPath: string, newPath: string): Promise<ManifestDiff> {
  const [o, n] = await Promise.all([readSide(oldPath), readSide(newPath)]);
  return diffManifests(o.manifest, n.manifest, { old: o.file, new: n.file });
}
