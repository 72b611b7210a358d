// Opening a bundle for serving: the signature against trusted keys and the schema (bundle.ts
// openTrusted, as every command), then each volume that is here indexed and structurally
// checked (volume-index.ts). Any failure refuses to serve at all: a registry that answers is one
// whose signed manifest and volume layout were checked. Absent volumes are allowed: their
// blobs answer 404, and the rest is served.

import { FerryError, printable, requiredOf, type BundleManifest, type TrustedKey } from '@ferry/format-spec';
import { openTrusted, type TrustedManifest } from '../bundle.js';
import { BlobReader, type BlobReaderOptions } from './blob-reader.js';
import { buildCatalog, type Catalog } from './catalog.js';
import { indexVolume, type VolumeIndex } from './volume-index.js';

export interface OpenedBundle {
  tm: TrustedManifest;
  catalog: Catalog;
  reader: BlobReader;
  volumes: Map<number, VolumeIndex>;
  /** Volume files not here. */
  missing: string[];
}

export async function openForServing(path: string, trust: { trustedKeys: readonly TrustedKey[]; allowUnsigned?: boolean }, opts: BlobReaderOptions = {}): Promise<OpenedBundle> {
  const tm = await openTrusted(path, trust);
  refuseDelta(tm.manifest);
  const volumes = new Map<number, VolumeIndex>();
  const missing: string[] = [];
  for (const v of tm.manifest.volumes) {
    const vi = await indexVolume(tm, v.index);
    if (vi) volumes.set(v.index, vi);
    else missing.push(v.file);
  }
  const fileOf = (v: number): string => tm.manifest.volumes[v - 1]?.file ?? `volume ${v}`;
  return { tm, catalog: buildCatalog(tm.manifest), reader: new BlobReader(volumes, fileOf, opts), volumes, missing };
}

/** A delta's images need blobs it does not carry: serving them would answer 404 for their layers. */
function refuseDelta(m: BundleManifest): void {
  const required = requiredOf(m);
  if (!required.length) return;
  const from = [...new Set(required.map((r) => r.baseline))].map(printable).join(', ');
  throw new FerryError('USAGE', `${printable(m.name)} is a delta bundle: ${required.length} blob(s) its images need are not carried (the target was expected to hold them from ${from}), so serve cannot offer its images; load it with ferry-load push --to a target that holds those earlier bundles, or serve a bundle built without --baseline`, { required: required.length });
}
