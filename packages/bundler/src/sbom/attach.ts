// Attaching SBOM files to the images of a bundle: which image an --sbom-file IMAGE names, and the
// referrer each SBOM becomes beside that image's discovered referrers (one referrer per digest:
// an SBOM the source registry already holds as the very same referrer is carried once).

import { FerryError, imageRefName, printable, type Descriptor } from '@ferry/format-spec';
import type { ResolvedReferrer } from '@ferry/oci';
import { closestName as closest } from '@ferry/cli-kit';
import { readSbomFile, type SbomDocument } from './read.js';
import { sbomReferrer } from './referrer.js';

/** `--sbom-file IMAGE=FILE`. */
export interface SbomFileRequest {
  /** The image: its --image reference as given, or its bundle name (repository[:tag], repository@digest). */
  image: string;
  /** Path of the SBOM file (absolute, or relative to create's cwd). */
  file: string;
}

/** `--sbom-file IMAGE=FILE` → its parts (split at the first `=`: image references have none, paths may). */
export function parseSbomFileFlag(value: string): SbomFileRequest {
  const eq = value.indexOf('=');
  const image = eq < 0 ? '' : value.slice(0, eq).trim();
  const file = eq < 0 ? '' : value.slice(eq + 1);
  if (!image || !file) throw new FerryError('USAGE', `--sbom-file ${printable(value)}: give IMAGE=FILE (the image as given to --image, or its name in the bundle, then = and the SBOM file)`);
  return { image, file };
}

/** What an image of the bundle is known by, for matching an IMAGE. */
export interface AttachableImage {
  /** The image source as the user gave it (--image, spec images:). */
  source: string;
  repository: string;
  tag?: string;
  /** The root as the bundle carries it (for a platform-filtered image, Ferry's index or the kept child). */
  root: Descriptor;
}

const bare = (s: string): string => s.replace(/^docker:\/\//, '');

/**
 * The index of the one image `image` names: its source as given (a `docker://` prefix either side
 * does not matter), its bundle name, or else its repository when that is unique. None or several
 * is a USAGE error that lists the images there are.
 */
export function findImage(image: string, images: readonly AttachableImage[], what: string): number {
  const name = (i: AttachableImage): string => imageRefName({ repository: i.repository, ...(i.tag ? { tag: i.tag } : {}), digest: i.root.digest });
  const all = images.map((_, n) => n);
  let hit = all.filter((n) => {
    const i = images[n]!;
    return bare(i.source) === bare(image) || name(i) === image || `${i.repository}@${i.root.digest}` === image;
  });
  if (hit.length === 0) hit = all.filter((n) => images[n]!.repository === image);
  // One image given twice under one name is one image; different images are ambiguous.
  if (new Set(hit.map((n) => name(images[n]!))).size > 1) {
    throw new FerryError('USAGE', `${printable(what)}: ${printable(image)} names more than one image (${hit.map((n) => printable(name(images[n]!))).join(', ')}); give the one by its name in the bundle`);
  }
  if (hit.length) return hit[0]!;
  const names = images.map(name);
  const guess = closest(image, [...new Set([...images.map((i) => i.source), ...names])]);
  const list = names.length ? names.slice(0, 10).map(printable).join(', ') + (names.length > 10 ? `, … (${names.length} in all)` : '') : 'none';
  throw new FerryError('USAGE', `${printable(what)}: no image of this bundle is ${printable(image)}${guess ? ` (did you mean ${printable(guess)}?)` : ''}; give an --image reference as given, or a bundle name; the images are: ${list}`, { image });
}

/** What create reports for each SBOM attached. */
export interface AttachedSbom {
  /** The image's bundle name. */
  image: string;
  file: string;
  mediaType: string;
  size: number;
  /** The SBOM's own digest (the referrer's layer). */
  digest: string;
  /** The referrer manifest's digest. */
  referrer: string;
  /** True when the source already held this very referrer (carried once). */
  alreadyAtSource?: boolean;
}

/**
 * Add the referrer for `sbom` to `referrers` (the image's, discovered at its source), unless one
 * with that digest is there already. Returns what to report, or undefined for an exact repeat.
 */
export function attachSbom(image: AttachableImage, referrers: ResolvedReferrer[], sbom: SbomDocument, discovered: ReadonlySet<string>): AttachedSbom | undefined {
  const r = sbomReferrer(image.root, sbom);
  const report: AttachedSbom = {
    image: imageRefName({ repository: image.repository, ...(image.tag ? { tag: image.tag } : {}), digest: image.root.digest }),
    file: sbom.path,
    mediaType: sbom.mediaType,
    size: sbom.size,
    digest: sbom.digest,
    referrer: r.descriptor.digest,
  };
  if (referrers.some((x) => x.descriptor.digest === r.descriptor.digest)) {
    return discovered.has(r.descriptor.digest) ? { ...report, alreadyAtSource: true } : undefined;
  }
  referrers.push(r);
  return report;
}

/** Read every SBOM file once (the same file may go to several images), in the order given. */
export async function readSbomFiles(files: ReadonlyArray<{ path: string; what: string }>): Promise<Map<string, SbomDocument>> {
  const out = new Map<string, SbomDocument>();
  for (const f of files) {
    if (!out.has(f.path)) out.set(f.path, await readSbomFile(f.path, f.what));
  }
  return out;
}
