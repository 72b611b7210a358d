// The `index.json` every volume carries. Plain tools read it (`zstd -dc | tar -x`, then
// `skopeo copy oci:DIR:REF`), so it must name exactly the images the signed manifest lists,
// and nothing else: a hash match against layoutIndex only proves the signer chose these bytes,
// not that they agree with images[] and charts[]. One writer (layoutIndexBytes) and one check.

import { FerryError } from './errors.js';
import { chartsOf, type BundleChart, type BundleImage, type BundleManifest } from './manifest-types.js';
import { MediaTypes, REF_NAME_ANNOTATION, type Descriptor } from './oci-types.js';
import { printable } from './text.js';

/** The name an image is loaded under: `repository:tag`, or `repository@digest` when untagged. */
export function imageRefName(img: Pick<BundleImage, 'repository' | 'tag' | 'digest'>): string {
  return img.tag ? `${img.repository}:${img.tag}` : `${img.repository}@${img.digest}`;
}

/** The name a chart's Helm OCI artifact has in the layout: `charts/NAME:TAG`, the tag as Helm
 *  writes it (`+` as `_`), so `skopeo copy oci:DIR:charts/x:1.0.0` and `helm push` agree. */
export function chartRefName(c: Pick<BundleChart, 'name' | 'version'>): string {
  return `charts/${c.name}:${c.version.replaceAll('+', '_')}`;
}

/** One index.json entry per image, then per chart, in manifest order. */
function layoutEntries(images: readonly BundleImage[], charts: readonly BundleChart[]): Array<{ what: string; mediaType: string; digest: string; size: number; name: string }> {
  return [
    ...images.map((img, i) => ({ what: `images[${i}]`, mediaType: img.mediaType, digest: img.digest, size: img.size, name: imageRefName(img) })),
    ...charts.map((c, i) => ({ what: `charts[${i}]`, mediaType: c.manifest.mediaType, digest: c.manifest.digest, size: c.manifest.size, name: chartRefName(c) })),
  ];
}

/** The exact bytes of index.json for these images and charts: compact JSON, keys in this order. */
export function layoutIndexBytes(images: readonly BundleImage[], charts: readonly BundleChart[] = []): Buffer {
  const manifests: Descriptor[] = layoutEntries(images, charts).map((e) => ({
    mediaType: e.mediaType,
    digest: e.digest,
    size: e.size,
    annotations: { [REF_NAME_ANNOTATION]: e.name },
  }));
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests }));
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => printable(JSON.stringify(v) ?? String(v)).slice(0, 200);

/** The fields an object may have, exactly; the first one it lacks or adds. */
function keysProblem(o: Record<string, unknown>, allowed: readonly string[]): string | null {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) return `has a field ${show(k)} that Ferry never writes`;
  for (const k of allowed) if (!(k in o)) return `has no ${k}`;
  return null;
}

/**
 * Check the index.json of a volume (already hash-checked against layoutIndex) against the
 * manifest's images[]: an OCI index with exactly one entry per image, in order, with the same
 * mediaType, digest, size and ref-name annotation, no other field, in the exact bytes
 * layoutIndexBytes() writes (so no parser can read anything else into it: duplicate keys,
 * escapes, a BOM). Throws ARCHIVE_HOSTILE naming `where` (the volume) and the first disagreement.
 */
export function checkLayoutIndex(bytes: Buffer, manifest: BundleManifest, where: string): void {
  const fail = (msg: string): never => {
    throw new FerryError('ARCHIVE_HOSTILE', `${where}: index.json disagrees with the signed manifest: ${msg}`, { file: where });
  };
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    return fail(`not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(doc)) return fail('it is not a JSON object');
  const top = keysProblem(doc, ['schemaVersion', 'mediaType', 'manifests']);
  if (top) fail(`the index ${top}`);
  if (doc.schemaVersion !== 2) fail(`schemaVersion is ${show(doc.schemaVersion)}, not 2`);
  if (doc.mediaType !== MediaTypes.ociIndex) fail(`mediaType is ${show(doc.mediaType)}, not ${MediaTypes.ociIndex}`);
  const list = doc.manifests;
  if (!Array.isArray(list)) return fail('manifests is not an array');
  const entries = layoutEntries(manifest.images, chartsOf(manifest));
  for (let i = 0; i < Math.max(list.length, entries.length); i++) {
    const d: unknown = list[i];
    const img = entries[i];
    if (!img) return fail(`manifests[${i}] (${show(isObject(d) ? d.digest : d)}) is not an image or chart of the bundle (the manifest lists ${entries.length})`);
    if (d === undefined) return fail(`${img.what} ${printable(img.name)} is missing (index.json lists ${list.length} entries)`);
    if (!isObject(d)) return fail(`manifests[${i}] is not an object`);
    const k = keysProblem(d, ['mediaType', 'digest', 'size', 'annotations']);
    if (k) fail(`manifests[${i}] ${k}`);
    if (d.digest !== img.digest) fail(`manifests[${i}].digest is ${show(d.digest)}, ${img.what} is ${img.digest}`);
    if (d.mediaType !== img.mediaType) fail(`manifests[${i}].mediaType is ${show(d.mediaType)}, ${img.what} has ${img.mediaType}`);
    if (d.size !== img.size) fail(`manifests[${i}].size is ${show(d.size)}, ${img.what} has ${img.size}`);
    const a = d.annotations;
    if (!isObject(a)) return fail(`manifests[${i}].annotations is not an object`);
    const ak = keysProblem(a, [REF_NAME_ANNOTATION]);
    if (ak) fail(`manifests[${i}].annotations ${ak}`);
    if (a[REF_NAME_ANNOTATION] !== img.name) fail(`manifests[${i}] is named ${show(a[REF_NAME_ANNOTATION])}, ${img.what} is ${printable(img.name)}`);
  }
  if (!bytes.equals(layoutIndexBytes(manifest.images, chartsOf(manifest)))) fail('the same entries, but not in the exact form Ferry writes (spacing, key order, escapes or duplicate keys)');
}
