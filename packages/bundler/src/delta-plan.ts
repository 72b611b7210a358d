// Which blobs of a bundle to leave out because a baseline says the high side holds them, and
// what that saves. Only image and referrer content of kinds config, layer and blob is left out:
// manifests and indexes are small and the loader tags with their bytes; chart blobs, files and
// keys go elsewhere than a registry. A blob is vouched for by the first baseline (in the order
// given) that lists it, with the same size.

import type { BlobKind, BundleBaseline, BundleDelta, RequiredBlob, RequiredKind } from '@ferry/format-spec';
import type { Baseline } from './baseline/types.js';

const LEAVE_OUT: readonly BlobKind[] = ['config', 'layer', 'blob'];

export interface DeltaPlan {
  /** Digest -> the required entry (the bundle does not carry it). */
  required: Map<string, RequiredBlob>;
  baselines: BundleBaseline[];
}

export function planDelta(
  baselines: readonly Baseline[],
  imageContent: ReadonlyArray<{ digest: string; size: number; mediaType: string; kind: BlobKind }>,
  /** Digests that must be carried whatever a baseline says (chart blobs, files, keys). */
  alwaysCarried: ReadonlySet<string>,
): DeltaPlan {
  // Names are how required[] refers to a baseline: two earlier bundles of the same name (a rebuilt
  // one) are told apart by their digest.
  const names = baselines.map((b) => (baselines.filter((x) => x.name === b.name).length > 1 ? `${b.name}@${b.digest.slice(7, 19)}` : b.name));
  const required = new Map<string, RequiredBlob>();
  for (const b of imageContent) {
    if (required.has(b.digest) || alwaysCarried.has(b.digest) || !LEAVE_OUT.includes(b.kind)) continue;
    for (const [i, base] of baselines.entries()) {
      const known = base.blobs.get(b.digest);
      // A size that disagrees means the baseline is wrong about this blob: carry it.
      if (!known || known.size !== b.size) continue;
      required.set(b.digest, { digest: b.digest, size: b.size, mediaType: b.mediaType, kind: b.kind as RequiredKind, baseline: names[i]!, repositories: [...known.repositories] });
      break;
    }
  }
  return {
    required,
    baselines: baselines.map((b, i) => ({ name: names[i]!, kind: b.kind, digest: b.digest, ...(b.created ? { created: b.created } : {}) })),
  };
}

/** The manifest's delta record: bytes carried, referenced (by images, referrers and charts), required. */
export function deltaSummary(carried: ReadonlyArray<{ size: number }>, referenced: ReadonlyMap<string, number>, required: ReadonlyMap<string, RequiredBlob>): BundleDelta {
  let requiredBytes = 0;
  for (const r of required.values()) requiredBytes += r.size;
  let referencedBytes = 0;
  for (const s of referenced.values()) referencedBytes += s;
  return { carriedBytes: carried.reduce((n, b) => n + b.size, 0), referencedBytes, requiredBytes, requiredBlobs: required.size };
}
