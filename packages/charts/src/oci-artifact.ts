// The Helm OCI artifact exactly as `helm push` builds it (helm v3 pkg/registry/client.go Push,
// util.go generateOCIAnnotations), so a chart Ferry pushes has the manifest digest `helm push`
// would give it, and one Helm pulls passes Helm's checks (client.go Pull).
//
// - config: json.Marshal(chart.Metadata): Go's field order, omitempty, and Go's HTML-safe
//   string escaping (<, > and & as \u003c, \u003e, \u0026);
// - layers: the chart (and the .prov when there is one) as oras.PushBytes describes them
//   (mediaType, digest, size only), sorted by digest string;
// - annotations: description, title (name), version, url (home), created, source (sources[0]),
//   authors ("Name (email), ..."), each only when it is not blank; then Chart.yaml's
//   annotations, which may override every one of these but title and version;
// - manifest: ocispec.Manifest marshalled by encoding/json: schemaVersion, config, layers,
//   annotations. Helm sets no mediaType field (the registry is told it by Content-Type) and no
//   artifactType.
//
// `created`: `helm push` writes the .tgz file's mtime, or the time of the push when it has none.
// Here it is `opts.created` as given, and left out when not given, so the same chart always
// gives the same manifest (a Chart.yaml annotation org.opencontainers.image.created still wins).
// Checked against helm v3.22 pushing into a distribution registry (test/fixtures/helm-push).

import { FerryError, MAX_IMAGE_MANIFEST_BYTES, MediaTypes, isIndexMediaType, isSha256Digest, printable, sha256Digest, type Descriptor } from '@ferry/format-spec';
import { GoObject, compareUtf8, goJsonMarshal, goTrimSpace, metadataGoObject } from './metadata.js';
import { HelmMediaTypes, type ChartMetadata, type CheckedChart } from './types.js';

export const OCI_ANNOTATIONS = {
  title: 'org.opencontainers.image.title',
  version: 'org.opencontainers.image.version',
  description: 'org.opencontainers.image.description',
  url: 'org.opencontainers.image.url',
  created: 'org.opencontainers.image.created',
  source: 'org.opencontainers.image.source',
  authors: 'org.opencontainers.image.authors',
} as const;

export interface HelmOciArtifact {
  /** The config blob: json.Marshal(chart.Metadata). */
  config: Buffer;
  configDigest: string;
  manifest: Buffer;
  manifestDigest: string;
  /** What to send as Content-Type when pushing the manifest. */
  manifestMediaType: string;
  /** Chart layer and, with provenance, the prov layer; sorted by digest. */
  layers: Descriptor[];
}

/** The config blob `helm push` writes for this chart. */
export function helmConfigBlob(metadata: ChartMetadata): Buffer {
  return Buffer.from(goJsonMarshal(metadataGoObject(metadata)), 'utf8');
}

/** generateOCIAnnotations: the manifest annotations for a chart (keys in Go's sorted order). */
export function helmOciAnnotations(md: ChartMetadata, created?: string): Record<string, string> {
  const a = new Map<string, string>();
  const add = (k: string, v: string | undefined): void => {
    if (v !== undefined && goTrimSpace(v).length > 0) a.set(k, v);
  };
  add(OCI_ANNOTATIONS.description, md.description);
  add(OCI_ANNOTATIONS.title, md.name);
  add(OCI_ANNOTATIONS.version, md.version);
  add(OCI_ANNOTATIONS.url, md.home);
  add(OCI_ANNOTATIONS.created, created);
  if (md.sources?.length) add(OCI_ANNOTATIONS.source, md.sources[0]);
  if (md.maintainers?.length) {
    let s = '';
    md.maintainers.forEach((m, i) => {
      if (m.name) s += m.name;
      if (m.email) s += ` (${m.email})`;
      if (i < md.maintainers!.length - 1) s += ', ';
    });
    add(OCI_ANNOTATIONS.authors, s);
  }
  for (const [k, v] of Object.entries(md.annotations ?? {})) {
    if (k === OCI_ANNOTATIONS.title || k === OCI_ANNOTATIONS.version) continue;
    a.set(k, v);
  }
  const out: Record<string, string> = {};
  for (const k of [...a.keys()].sort(compareUtf8)) {
    Object.defineProperty(out, k, { value: a.get(k)!, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function descriptorObject(d: Descriptor): GoObject {
  return new GoObject([['mediaType', d.mediaType], ['digest', d.digest], ['size', d.size]]);
}

/** Build the artifact `helm push` would build for `chart` (see the file header). */
export function helmOciArtifact(chart: CheckedChart, opts: { provenance?: Buffer; created?: string } = {}): HelmOciArtifact {
  const config = helmConfigBlob(chart.metadata);
  const configDigest = sha256Digest(config);
  const layers: Descriptor[] = [{ mediaType: HelmMediaTypes.chart, digest: sha256Digest(chart.archive), size: chart.archive.length }];
  if (opts.provenance) layers.push({ mediaType: HelmMediaTypes.provenance, digest: sha256Digest(opts.provenance), size: opts.provenance.length });
  layers.sort((x, y) => (x.digest < y.digest ? -1 : x.digest > y.digest ? 1 : 0));
  const annotations = helmOciAnnotations(chart.metadata, opts.created);
  const manifestObj = new GoObject([
    ['schemaVersion', 2],
    ['config', descriptorObject({ mediaType: HelmMediaTypes.config, digest: configDigest, size: config.length })],
    ['layers', layers.map(descriptorObject)],
    // Sorted again: a JavaScript object lists integer-like keys first.
    ['annotations', new GoObject(Object.entries(annotations).sort(([x], [y]) => compareUtf8(x, y)))],
  ]);
  const manifest = Buffer.from(goJsonMarshal(manifestObj), 'utf8');
  return { config, configDigest, manifest, manifestDigest: sha256Digest(manifest), manifestMediaType: MediaTypes.ociManifest, layers };
}

export interface HelmOciManifest {
  /** The manifest's mediaType field, or the Content-Type it came with (OCI image manifest). */
  mediaType: string;
  config: Descriptor;
  chart: Descriptor;
  provenance?: Descriptor;
  /** The chart layer has the pre-Helm-3.7 type application/tar+gzip (Helm pulls it with a warning). */
  legacyChartLayer: boolean;
  annotations: Record<string, string>;
  /** Layers of other types, which Helm skips when it pulls. */
  ignored: Descriptor[];
}

function checkDescriptor(v: unknown, what: string, fail: (why: string) => never): Descriptor {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return fail(`${what} is not a descriptor object`);
  const d = v as Record<string, unknown>;
  if (typeof d.mediaType !== 'string') return fail(`${what} has no mediaType`);
  if (typeof d.digest !== 'string' || !isSha256Digest(d.digest)) return fail(`${what} has no sha256 digest (${printable(String(d.digest)).slice(0, 100)})`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) return fail(`${what} has no valid size`);
  const out: Descriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.annotations && typeof d.annotations === 'object') out.annotations = d.annotations as Record<string, string>;
  return out;
}

/**
 * Check a manifest pulled for a chart the way `helm pull` does and return its descriptors:
 * an OCI image manifest (not a Docker schema 2 one, not an index), the Helm config type, one
 * chart layer (or the legacy application/tar+gzip one), at most one provenance layer; other
 * layers are skipped as Helm skips them. `mediaType` is the Content-Type it came with.
 */
export function parseHelmOciManifest(bytes: Buffer, opts: { mediaType?: string; where?: string } = {}): HelmOciManifest {
  const where = opts.where ? printable(opts.where) : 'the chart manifest';
  const fail = (why: string): never => {
    throw new FerryError('CHART_INVALID', `${where}: ${why}; helm pull refuses it too`, {});
  };
  if (bytes.length > MAX_IMAGE_MANIFEST_BYTES) fail(`the manifest is ${bytes.length} bytes, more than any registry serves`);
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    return fail('the manifest is not JSON');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return fail('the manifest is not a JSON object');
  const m = doc as Record<string, unknown>;
  const declared = typeof m.mediaType === 'string' ? m.mediaType : undefined;
  const header = opts.mediaType?.split(';')[0]?.trim() || undefined;
  if (Array.isArray(m.manifests) || isIndexMediaType(declared) || isIndexMediaType(header)) fail('it is an image index, not a chart manifest');
  for (const mt of [declared, header]) {
    if (mt === undefined || mt === MediaTypes.ociManifest) continue;
    if (mt === MediaTypes.dockerManifest) fail('it is a Docker schema 2 manifest; Helm charts are stored as OCI image manifests');
    fail(`its media type is ${printable(mt)}, not ${MediaTypes.ociManifest}`);
  }
  const mediaType = declared ?? header ?? MediaTypes.ociManifest;
  if (m.schemaVersion !== 2) fail(`schemaVersion is ${printable(String(m.schemaVersion))}, not 2`);
  const config = checkDescriptor(m.config, 'config', fail);
  if (config.mediaType !== HelmMediaTypes.config) fail(`the config has media type ${printable(config.mediaType)}, not ${HelmMediaTypes.config}: this is not a Helm chart`);
  if (!Array.isArray(m.layers)) return fail('the manifest has no layers list');
  let chart: Descriptor | undefined;
  let provenance: Descriptor | undefined;
  let legacy = false;
  const ignored: Descriptor[] = [];
  m.layers.forEach((l, i) => {
    const d = checkDescriptor(l, `layers[${i}]`, fail);
    if (d.mediaType === HelmMediaTypes.chart || d.mediaType === HelmMediaTypes.legacyChart) {
      if (chart) fail('the manifest has more than one chart layer');
      chart = d;
      legacy = d.mediaType === HelmMediaTypes.legacyChart;
    } else if (d.mediaType === HelmMediaTypes.provenance) {
      if (provenance) fail('the manifest has more than one provenance layer');
      provenance = d;
    } else ignored.push(d);
  });
  if (!chart) return fail(`the manifest has no layer of media type ${HelmMediaTypes.chart}`);
  const annotations: Record<string, string> = {};
  if (m.annotations && typeof m.annotations === 'object' && !Array.isArray(m.annotations)) {
    for (const [k, v] of Object.entries(m.annotations as Record<string, unknown>)) if (typeof v === 'string') annotations[k] = v;
  }
  return { mediaType, config, chart, ...(provenance ? { provenance } : {}), legacyChartLayer: legacy, annotations, ignored };
}
