// ferry-bundle's chart step: each requested chart is fetched (http repo, OCI or local, by the
// injected fetcher), checked with Helm's own rules, turned into the Helm OCI artifact the bundle
// carries (or carried unchanged when it came from an OCI registry), and — when asked — joined
// by the dependencies it does not vendor and the images it names. Everything here is held in
// memory: a chart is at most Helm's 100 MiB and usually a few KiB.

import {
  FerryError,
  HelmMediaTypes,
  MediaTypes,
  mapLimit,
  printable,
  sha256Digest,
  type BlobKind,
  type BundleChart,
  type Descriptor,
} from '@ferry/format-spec';
import { checkChartArchive, findChartImages, helmOciArtifact, isStrictSemver, parseChartSpec, parseHelmOciManifest, parseOciChartRef, type CheckedChart, type FetchedChart, type FoundImage } from '@ferry/charts';

/** A chart as asked for: the --chart string (local paths absolute) or the spec's mapping. */
export type ChartRequest = string | { repo: string; name: string; version?: string };

/** Fetches what a request names (a glob may name several). Errors are FerryErrors. */
export type ChartFetcher = (req: ChartRequest, why?: { requiredBy: string }) => Promise<FetchedChart[]>;

export interface ChartBlob {
  descriptor: Descriptor;
  kind: BlobKind;
  bytes: Buffer;
}

export interface ResolvedChart {
  chart: BundleChart;
  /** Children first, the artifact manifest last (the order of chart.blobs). */
  blobs: ChartBlob[];
  found: FoundImage[];
}

export interface ResolveChartsOptions {
  fetch: ChartFetcher;
  /** Fetch dependencies Chart.yaml / Chart.lock name that are not vendored under charts/. */
  dependencies: boolean;
  /** Look for image references in values.yaml and templates. */
  images: boolean;
  now: Date;
  /** Fetches in flight at once (default 6). */
  concurrency?: number;
  onChart?: (c: ResolvedChart) => void;
}

/** What a request says about the chart it must yield, so a wrong archive is refused. A range
 *  or no version says only the name; a local path says nothing (its name is just a file name). */
function expected(req: ChartRequest): { name?: string; version?: string } {
  const exact = (v: string | undefined): { version?: string } => (v !== undefined && isStrictSemver(v) ? { version: v } : {});
  if (typeof req !== 'string') return { name: req.name, ...exact(req.version) };
  const spec = parseChartSpec(req);
  if (spec.kind === 'http' || spec.kind === 'repo-name') return { name: spec.name, ...exact(spec.version) };
  if (spec.kind === 'oci') {
    const r = parseOciChartRef(spec.ref);
    return { name: r.name, ...exact(r.version?.replaceAll('_', '+')) };
  }
  return {};
}

/** Free text from a chart (description, appVersion) as the manifest may hold it: one line. */
const oneLine = (s: string, max: number): string => s.replace(/[\p{Cc}\u2028\u2029]+/gu, ' ').trim().slice(0, max);

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;

/** The artifact the bundle carries: the source's own when it came from OCI, else Helm's layout. */
function artifactOf(f: FetchedChart, checked: CheckedChart, created: string | undefined): { config: Buffer; manifest: Buffer; layers: Descriptor[] } {
  if (f.oci) {
    const parsed = parseHelmOciManifest(f.oci.manifest, { mediaType: f.oci.manifestMediaType, where: f.source });
    if (sha256Digest(f.oci.config) !== parsed.config.digest) {
      throw new FerryError('BLOB_MISMATCH', `${printable(f.source)}: the config blob does not match its manifest`);
    }
    if (parsed.chart.digest !== checked.digest) {
      throw new FerryError('BLOB_MISMATCH', `${printable(f.source)}: the chart archive does not match the chart layer of its manifest`);
    }
    // The manifest is carried unchanged, so every layer it names must be carried too; layers
    // Helm skips have no place in a chart destination.
    if (parsed.ignored.length) {
      throw new FerryError('CHART_INVALID', `${printable(f.source)}: its OCI manifest has ${parsed.ignored.length} layer(s) that are neither the chart nor its provenance (${parsed.ignored.map((l) => printable(l.mediaType)).join(', ')}); Ferry carries Helm charts as helm push writes them`);
    }
    return { config: f.oci.config, manifest: f.oci.manifest, layers: [parsed.chart, ...(parsed.provenance ? [parsed.provenance] : [])] };
  }
  // Only a publication time the source gave goes into the artifact: one chart, one digest.
  const a = helmOciArtifact(checked, { ...(f.provenance ? { provenance: f.provenance } : {}), ...(created ? { created } : {}) });
  return { config: a.config, manifest: a.manifest, layers: a.layers };
}

function bundleChart(f: FetchedChart, checked: CheckedChart, now: Date, found: FoundImage[]): ResolvedChart {
  const md = checked.metadata;
  const published = f.created && RFC3339.test(f.created) ? f.created : undefined;
  const created = published ?? now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const art = artifactOf(f, checked, published);
  const blobs: ChartBlob[] = [
    { descriptor: { mediaType: HelmMediaTypes.config, digest: sha256Digest(art.config), size: art.config.length }, kind: 'config', bytes: art.config },
  ];
  for (const l of art.layers) {
    const bytes = l.digest === checked.digest ? checked.archive : f.provenance && l.digest === sha256Digest(f.provenance) ? f.provenance : undefined;
    if (!bytes) throw new FerryError('SOURCE_INVALID', `${printable(f.source)}: its OCI manifest has a layer ${l.digest} (${printable(l.mediaType)}) that is neither the chart nor its provenance`);
    blobs.push({ descriptor: { mediaType: l.mediaType, digest: l.digest, size: l.size }, kind: 'layer', bytes });
  }
  const manifestDigest = sha256Digest(art.manifest);
  blobs.push({ descriptor: { mediaType: MediaTypes.ociManifest, digest: manifestDigest, size: art.manifest.length }, kind: 'manifest', bytes: art.manifest });
  const prov = f.provenance && art.layers.some((l) => l.digest === sha256Digest(f.provenance!)) ? f.provenance : undefined;
  const chart: BundleChart = {
    name: md.name,
    version: md.version,
    ...(md.appVersion ? { appVersion: oneLine(String(md.appVersion), 255) } : {}),
    apiVersion: md.apiVersion,
    ...(md.description ? { description: oneLine(md.description, 4096) } : {}),
    source: f.source,
    digest: checked.digest,
    size: checked.archive.length,
    ...(prov ? { provenance: { digest: sha256Digest(prov), size: prov.length } } : {}),
    created,
    manifest: { digest: manifestDigest, size: art.manifest.length, mediaType: MediaTypes.ociManifest },
    blobs: blobs.map((b) => b.descriptor.digest),
    ...(found.length ? { images: found.map((i) => ({ reference: i.reference, file: i.file, line: i.line })) } : {}),
  };
  return { chart, blobs, found };
}

/** The dependencies of a chart that it does not carry itself, as requests (Chart.lock wins). */
function missingDependencies(checked: CheckedChart, parentSource: string): Array<{ req: ChartRequest; name: string }> {
  const out: Array<{ req: ChartRequest; name: string }> = [];
  const locked = new Map((checked.lock?.dependencies ?? []).map((d) => [d.name, d]));
  for (const dep of checked.metadata.dependencies ?? []) {
    if (checked.vendored.includes(dep.name) || (dep.alias && checked.vendored.includes(dep.alias))) continue;
    const version = locked.get(dep.name)?.version ?? dep.version;
    const repo = (dep.repository ?? '').trim();
    const what = `${checked.metadata.name}@${checked.metadata.version} depends on ${dep.name}${dep.version ? ` ${dep.version}` : ''}`;
    if (/^https?:\/\//.test(repo)) out.push({ req: { repo, name: dep.name, ...(version ? { version } : {}) }, name: dep.name });
    else if (repo.startsWith('oci://')) out.push({ req: `${repo.replace(/\/+$/, '')}/${dep.name}${version ? `:${version}` : ''}`, name: dep.name });
    else if (repo.startsWith('@') || repo.startsWith('alias:')) out.push({ req: `${repo.replace(/^@|^alias:/, '')}/${dep.name}@${version ?? '*'}`, name: dep.name });
    else {
      throw new FerryError('CHART_INVALID', `${printable(parentSource)}: ${printable(what)} from ${repo ? printable(repo) : 'no repository'}, and it is not vendored under charts/; run \`helm dependency build\` first, or give the dependency as its own --chart`);
    }
  }
  return out;
}

/** Resolve every request (and, if asked, the dependencies), each chart name@version once. */
export async function resolveCharts(requests: readonly ChartRequest[], opts: ResolveChartsOptions): Promise<ResolvedChart[]> {
  const out: ResolvedChart[] = [];
  const byKey = new Map<string, ResolvedChart>();
  const direct = new Set<string>();
  let queue: Array<{ req: ChartRequest; requiredBy?: string }> = requests.map((req) => ({ req }));
  while (queue.length) {
    // One wave at a time: its requests fetched concurrently, then taken in request order (so the
    // bundle lists the same charts in the same order every run); dependencies make the next wave.
    const wave = queue;
    queue = [];
    const results = new Map<number, FetchedChart[]>();
    await mapLimit([...wave.keys()], opts.concurrency ?? 6, async (i) => {
      const w = wave[i]!;
      results.set(i, await opts.fetch(w.req, w.requiredBy ? { requiredBy: w.requiredBy } : undefined));
    });
    for (const [i, { req, requiredBy }] of wave.entries()) for (const f of results.get(i)!) {
      const checked = await checkChartArchive(f.archive, { where: f.source, expect: expected(req) });
      const key = `${checked.metadata.name}@${checked.metadata.version}`;
      if (!requiredBy) direct.add(key);
      const prev = byKey.get(key);
      if (prev) {
        if (prev.chart.digest !== checked.digest) {
          throw new FerryError('CHART_INVALID', `${printable(key)} is asked for twice with different content: ${printable(prev.chart.source)} (${prev.chart.digest}) and ${printable(f.source)} (${checked.digest})`);
        }
        if (requiredBy && prev.chart.requiredBy && !prev.chart.requiredBy.includes(requiredBy)) prev.chart.requiredBy.push(requiredBy);
        continue;
      }
      const found = opts.images ? findChartImages(checked) : [];
      const r = bundleChart(f, checked, opts.now, found);
      if (requiredBy) r.chart.requiredBy = [requiredBy];
      byKey.set(key, r);
      out.push(r);
      opts.onChart?.(r);
      if (opts.dependencies) for (const d of missingDependencies(checked, f.source)) queue.push({ req: d.req, requiredBy: key });
    }
  }
  // A chart asked for directly and also as a dependency is a direct one: it is not "required by".
  for (const r of out) if (r.chart.requiredBy && direct.has(`${r.chart.name}@${r.chart.version}`)) delete r.chart.requiredBy;
  return out;
}
