// What changed since the last bundle a sync run made, image by image, and whether anything did
// at all (`--skip-if-unchanged`). Compared on what the high side ends up holding — tags and the
// digests they point at, charts, carried files and keys — not on volume bytes, which differ with
// every name and date.

import { chartsOf, imageRefName as imageKey, type BundleImage, type BundleManifest } from '@ferry/format-spec';

export type ImageChange = 'new' | 'updated' | 'unchanged';

const referrerSet = (i: BundleImage): string => (i.referrers ?? []).map((r) => r.digest).sort().join(',');

/** new: the tag was not in the previous bundle; updated: it pointed elsewhere (or its
 *  signatures/attestations changed); unchanged otherwise. `previous` absent: everything is new. */
export function imageChange(image: BundleImage, previous: BundleManifest | undefined): { change: ImageChange; was?: string } {
  const before = previous?.images.find((p) => imageKey(p) === imageKey(image));
  if (!before) return { change: 'new' };
  if (before.digest !== image.digest || referrerSet(before) !== referrerSet(image)) return { change: 'updated', was: before.digest };
  return { change: 'unchanged' };
}

function contentSet(m: BundleManifest): string[] {
  return [
    ...m.images.map((i) => `image ${imageKey(i)} ${i.digest} ${referrerSet(i)}`),
    ...chartsOf(m).map((c) => `chart ${c.name} ${c.version} ${c.digest} ${c.provenance?.digest ?? ''}`),
    ...m.files.map((f) => `file ${f.path} ${f.digest} ${f.mode ?? ''}`),
    ...m.keys.map((k) => `key ${k.path} ${k.digest}`),
  ].sort();
}

/** Whether two bundles leave the high side holding exactly the same things. */
export function sameContent(a: BundleManifest, b: BundleManifest): boolean {
  const x = contentSet(a);
  const y = contentSet(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** Images the previous bundle had and this one does not (removed from the spec, or failed). */
export function droppedImages(next: BundleManifest, previous: BundleManifest | undefined): string[] {
  if (!previous) return [];
  const now = new Set(next.images.map(imageKey));
  return previous.images.map(imageKey).filter((k) => !now.has(k));
}
