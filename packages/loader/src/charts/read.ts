// Where a chart's bytes enter the loader: its few blobs read from the verified volumes
// (volume-blobs.ts), then the chart checked as Helm would load it (archive.ts) and against the
// artifact manifest the bundle carries, so a destination only ever receives a chart that passed both.

import { FerryError, printable, type BundleChart } from '@ferry/format-spec';
import { checkChartArchive, parseHelmOciManifest, type ChartUpload } from '@ferry/charts';
import type { TrustedManifest } from '../bundle.js';
import { MAX_SMALL_BLOB, readSmallBlobs } from '../volume-blobs.js';

export interface ChartReadResult {
  /** Charts read and checked, in manifest order. */
  charts: Map<BundleChart, ChartUpload>;
  /** Charts some of whose volumes are not here (or damaged): the volume files needed. */
  missing: Map<BundleChart, string[]>;
  /** Volumes that could not be read (damaged): file -> message. */
  damaged: Array<{ file: string; code: string; message: string }>;
  /** Charts whose content the checks refused (signed, yet not what Helm would load). */
  refused: Map<BundleChart, FerryError>;
}

/** The largest chart blob verify keeps in memory to check it. */
export const MAX_CHART_BLOB = MAX_SMALL_BLOB;

/**
 * Read `wanted` charts from the volumes that are here. A chart whose volumes are all here is
 * returned checked; one with a volume missing or damaged is listed with what to bring.
 */
export async function readCharts(tm: TrustedManifest, wanted: readonly BundleChart[], opts: { volumeFiles?: ReadonlyMap<number, string>; signal?: AbortSignal } = {}): Promise<ChartReadResult> {
  const read = await readSmallBlobs(tm, new Map(wanted.map((c) => [c, c.blobs])), opts);
  const out: ChartReadResult = { charts: new Map(), missing: read.missing, damaged: read.damaged, refused: new Map() };
  for (const c of wanted) {
    if (read.missing.has(c)) continue;
    try {
      out.charts.set(c, await checkedUpload(c, (d) => read.bytes.get(d)));
    } catch (e) {
      if (!(e instanceof FerryError) || e.code === 'INTERNAL') throw e;
      out.refused.set(c, e);
    }
  }
  return out;
}

/** The chart as Helm would load it, agreeing with the artifact the bundle carries (push, and
 *  verify, which checks every chart the same way). */
export async function checkedUpload(c: BundleChart, bytesOf: (digest: string) => Buffer | undefined): Promise<ChartUpload> {
  const what = `chart ${printable(`${c.name}@${c.version}`)}`;
  const get = (d: string): Buffer => bytesOf(d) ?? (() => { throw new FerryError('INTERNAL', `${what}: blob ${d} was not read`); })();
  const archive = get(c.digest);
  const checked = await checkChartArchive(archive, { where: what, expect: { name: c.name, version: c.version } });
  const manifest = get(c.manifest.digest);
  const parsed = parseHelmOciManifest(manifest, { mediaType: c.manifest.mediaType, where: what });
  const layerDigests = [parsed.chart, ...(parsed.provenance ? [parsed.provenance] : []), ...parsed.ignored].map((l) => l.digest).sort();
  const carried = [c.digest, ...(c.provenance ? [c.provenance.digest] : [])].sort();
  if (layerDigests.join() !== carried.join() || parsed.chart.digest !== c.digest || !c.blobs.includes(parsed.config.digest)) {
    throw new FerryError('ARCHIVE_HOSTILE', `${what}: its OCI manifest lists other content (${layerDigests.join(', ')}) than the chart and provenance the bundle carries`);
  }
  const config = get(parsed.config.digest);
  return {
    name: c.name,
    version: c.version,
    archive,
    digest: c.digest,
    ...(c.provenance ? { provenance: get(c.provenance.digest) } : {}),
    oci: { manifest, manifestDigest: c.manifest.digest, manifestMediaType: c.manifest.mediaType, config, configDigest: parsed.config.digest },
    metadata: checked.metadata,
    created: c.created,
  };
}
