// Where a chart's bytes enter the loader: the volumes that hold its blobs are streamed (the
// reader verifies every blob and segment against the signed manifest as it goes) and the chart's
// few blobs are kept in memory; a split blob's joined segments are checked against its digest.
// Then the chart itself is checked as Helm would load it (archive.ts) and against the artifact
// manifest the bundle carries, so a destination only ever receives a chart that passed both.

import {
  FerryError,
  collectBytes,
  printable,
  readVolume,
  sha256Digest,
  type BundleBlob,
  type BundleChart,
} from '@ferry/format-spec';
import { checkChartArchive, parseHelmOciManifest, type ChartUpload } from '@ferry/charts';
import { volumePath, type TrustedManifest } from '../bundle.js';
import { volumePresence } from '../push/plan.js';

/** Largest chart blob held in memory (Helm's own limit on a chart is 100 MiB decompressed). */
export const MAX_CHART_BLOB = 128 << 20;

export interface ChartReadResult {
  /** Charts read and checked, in manifest order. */
  charts: Map<BundleChart, ChartUpload>;
  /** Charts some of whose volumes are not here: the volume files needed. */
  missing: Map<BundleChart, string[]>;
  /** Volumes that could not be read (damaged): file -> message. */
  damaged: Array<{ file: string; code: string; message: string }>;
  /** Charts whose content the checks refused (signed, yet not what Helm would load). */
  refused: Map<BundleChart, FerryError>;
}

/** The volumes holding a blob (one, or one per segment). */
const volumesOf = (b: BundleBlob): number[] => (b.volume !== undefined ? [b.volume] : [...new Set((b.segments ?? []).map((s) => s.volume))]);

/**
 * Read `wanted` charts from the volumes that are here. A chart whose volumes are all here is
 * returned checked; one with a volume missing is listed with what to bring.
 */
export async function readCharts(tm: TrustedManifest, wanted: readonly BundleChart[], opts: { volumeFiles?: ReadonlyMap<number, string>; signal?: AbortSignal } = {}): Promise<ChartReadResult> {
  const m = tm.manifest;
  const blobs = new Map(m.blobs.map((b) => [b.digest, b]));
  const fileOf = (v: number): string => opts.volumeFiles?.get(v) ?? volumePath(tm.loc, v);
  const out: ChartReadResult = { charts: new Map(), missing: new Map(), damaged: [], refused: new Map() };

  // Which volumes are here, and which charts they can complete.
  const here = new Map<number, boolean>();
  for (const c of wanted) for (const d of c.blobs) for (const v of volumesOf(blobs.get(d)!)) here.set(v, false);
  for (const v of here.keys()) here.set(v, (await volumePresence(fileOf(v))) === 'present');
  const readable = wanted.filter((c) => {
    const need = [...new Set(c.blobs.flatMap((d) => volumesOf(blobs.get(d)!)))];
    const absent = need.filter((v) => !here.get(v));
    if (absent.length) out.missing.set(c, absent.map((v) => m.volumes[v - 1]!.file));
    return absent.length === 0;
  });
  const needed = new Set(readable.flatMap((c) => c.blobs));
  const whole = new Map<string, Buffer>();
  const parts = new Map<string, Buffer[]>();
  const volumes = [...new Set([...needed].flatMap((d) => volumesOf(blobs.get(d)!)))].sort((a, b) => a - b);
  const bad = new Set<number>();
  for (const v of volumes) {
    const file = m.volumes[v - 1]!.file;
    try {
      await readVolume({
        path: fileOf(v),
        volume: v,
        manifest: m,
        manifestBytes: tm.bytes,
        ...(tm.signature ? { signatureBytes: tm.signature } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
        onEntry: async (info, stream) => {
          const b = info.blob;
          if (!b || !needed.has(b.digest) || b.size > MAX_CHART_BLOB) return; // drained and checked by the reader
          const bytes = await collectBytes(stream, info.kind === 'segment' ? info.segment!.size : b.size, b.digest);
          if (info.kind === 'blob') whole.set(b.digest, bytes);
          else if (info.kind === 'segment') {
            const list = parts.get(b.digest) ?? [];
            list[info.segment!.index - 1] = bytes;
            parts.set(b.digest, list);
          }
        },
      });
    } catch (e) {
      const fe = e instanceof FerryError ? e : new FerryError('ARCHIVE_CORRUPT', `${file}: ${(e as Error).message}`);
      if (!['BLOB_MISMATCH', 'ARCHIVE_CORRUPT', 'INPUT_INVALID'].includes(fe.code)) throw fe;
      bad.add(v);
      out.damaged.push({ file, code: fe.code, message: fe.message.includes(file) ? fe.message : `${file}: ${fe.message}` });
    }
  }
  // Split blobs: the segments verified one by one; the join must match the blob's digest.
  for (const [digest, list] of parts) {
    const b = blobs.get(digest)!;
    if (list.filter(Boolean).length !== b.segments!.length) continue;
    const joined = Buffer.concat(list);
    if (sha256Digest(joined) !== digest) throw new FerryError('BLOB_MISMATCH', `${digest}: its segments do not join to the blob's digest; the manifest is inconsistent`);
    whole.set(digest, joined);
  }

  for (const c of readable) {
    const damagedIn = c.blobs.flatMap((d) => volumesOf(blobs.get(d)!)).filter((v) => bad.has(v));
    if (damagedIn.length) {
      out.missing.set(c, [...new Set(damagedIn)].map((v) => m.volumes[v - 1]!.file));
      continue;
    }
    try {
      out.charts.set(c, await checkedUpload(c, (d) => whole.get(d)));
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
