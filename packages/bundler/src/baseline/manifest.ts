// A baseline from a NAME.manifest.json an earlier `ferry-bundle create` wrote (the one beside its
// volumes, or the copy kept in --state-dir). What it says the high side holds: the image content
// it carried (config, layer and plain blobs; manifests are always carried again) and what it
// itself required, each with the repositories its images were loaded under.

import {
  FerryError,
  contentBlobs,
  isFerryError,
  parseManifest,
  printable,
  requiredOf,
  sha256Digest,
  type BundleManifest,
} from '@ferry/format-spec';
import type { Baseline, BaselineBlob } from './types.js';

/** Kinds that are stored by digest in the target's blob stores and that create may leave out. */
const OCI_KINDS = new Set(['config', 'layer', 'blob']);

export function readManifestBaseline(bytes: Buffer, path: string): Baseline {
  let m: BundleManifest;
  try {
    m = parseManifest(bytes, path);
  } catch (e) {
    if (isFerryError(e)) throw new FerryError('BASELINE_INVALID', `--baseline ${printable(path)}: not a bundle manifest this Ferry reads: ${e.message}`, { file: path }, { cause: e });
    throw e;
  }
  const content = contentBlobs(m);
  const blobs = new Map<string, { size: number; mediaType: string; repositories: Set<string> }>();
  const add = (digest: string, repository: string | undefined): void => {
    const b = content.get(digest);
    if (!b || !OCI_KINDS.has(b.kind)) return;
    let e = blobs.get(digest);
    if (!e) blobs.set(digest, (e = { size: b.size, mediaType: b.mediaType, repositories: new Set() }));
    if (repository !== undefined) e.repositories.add(repository);
  };
  // Only what images and referrers need reached a registry: chart blobs went to chart
  // destinations, files and keys to a directory.
  for (const img of m.images) {
    for (const d of img.blobs) add(d, img.repository);
    for (const r of img.referrers ?? []) for (const d of r.blobs) add(d, img.repository);
  }
  for (const r of requiredOf(m)) {
    add(r.digest, undefined);
    for (const repo of r.repositories) blobs.get(r.digest)?.repositories.add(repo);
  }
  const out = new Map<string, BaselineBlob>();
  for (const [d, b] of blobs) out.set(d, { size: b.size, mediaType: b.mediaType, repositories: [...b.repositories].sort() });
  return { name: m.name, kind: 'bundle', digest: sha256Digest(bytes), created: m.created, blobs: out };
}
