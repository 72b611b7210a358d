// A Helm chart stored as an OCI artifact (`helm push … oci://…`), pulled through @ferry/oci's
// RegistryClient, so credentials (docker config, auth files, helpers, --creds), CA files,
// insecure hosts and token auth are the same as for images. Accepted as Helm's `Pull` accepts:
// an OCI manifest (or an index, whose Helm child is taken) with Helm's config type and only the
// chart layer (or the legacy `application/tar+gzip`) and at most one provenance layer. Every
// blob is verified against its digest. The manifest and config are carried as exact bytes so
// the high side pushes the same digest.
//
// `oci://HOST[:PORT]/PATH/NAME:VERSION`, `…/NAME@sha256:<hex>`, or `…/NAME:RANGE` / `…/NAME` (no
// version): then the tags are listed, `_` read back as `+`, non-SemVer tags dropped, and the
// version picked as Helm does (repo-index-read.ts pickVersion).

import { FerryError, MediaTypes, collectBytes, isIndexMediaType, printable, type Descriptor } from '@ferry/format-spec';
import { RegistryClients, isRepositoryPath, showReference, type RegistryClient, type RegistryOptions } from '@ferry/oci';
import { HelmMediaTypes, chartTag, type FetchedChart } from './types.js';
import { compareVersionsDesc, parseChartVersion, pickVersion } from './repo-index-read.js';
import { MAX_CHART_BYTES, MAX_PROV_BYTES } from './http-repo-source.js';
import { parseHelmOciManifest } from './oci-artifact.js';

/** Helm's config blob is Chart.yaml as JSON: small. */
export const MAX_CHART_CONFIG_BYTES = 1 << 20;

export interface OciChartRef {
  /** host[:port] */
  registry: string;
  /** PATH/NAME */
  repository: string;
  /** The chart name (last path component). */
  name: string;
  /** A version or range as written (`+` allowed), when given with `:`. */
  version?: string;
  digest?: string;
}

const HOST_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[A-Fa-f0-9:]+\])(?::\d+)?$/;

function invalid(ref: string, why: string): FerryError {
  return new FerryError('USAGE', `chart reference "${showReference(ref)}": ${why}`);
}

/** Parse `oci://HOST[:PORT]/PATH/NAME[:VERSION|@DIGEST]`. */
export function parseOciChartRef(ref: string): OciChartRef {
  if (!/^oci:\/\//i.test(ref)) throw invalid(ref, 'expected oci://HOST/PATH/NAME[:VERSION]');
  const rest = ref.slice('oci://'.length);
  const firstSlash = rest.indexOf('/');
  if (firstSlash <= 0) throw invalid(ref, 'no repository path after the host');
  const registry = rest.slice(0, firstSlash);
  if (registry.includes('@')) throw invalid(ref, 'credentials in a reference are refused; use --creds or an auth file');
  if (!HOST_RE.test(registry)) throw invalid(ref, `"${printable(registry)}" is not a host[:port]`);
  let path = rest.slice(firstSlash + 1);
  let digest: string | undefined;
  let version: string | undefined;
  const at = path.indexOf('@');
  if (at >= 0) {
    digest = path.slice(at + 1);
    path = path.slice(0, at);
    if (!/^sha256:[a-f0-9]{64}$/.test(digest)) throw invalid(ref, `"${printable(digest)}" is not a sha256 digest`);
  }
  const lastSlash = path.lastIndexOf('/');
  const colon = path.indexOf(':', lastSlash + 1);
  if (colon >= 0) {
    version = path.slice(colon + 1).trim();
    path = path.slice(0, colon);
    if (!version) throw invalid(ref, 'nothing after ":" (expected a version or a SemVer range)');
  }
  if (!isRepositoryPath(path)) throw invalid(ref, `"${printable(path)}" is not a repository path (lowercase a-z, 0-9, separators . _ -)`);
  const name = path.slice(path.lastIndexOf('/') + 1);
  return { registry, repository: path, name, ...(version !== undefined ? { version } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** Is `v` an exact version (as opposed to a range)? */
function isExactVersion(v: string): boolean {
  return /^v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/.test(v);
}

interface ParsedManifest {
  mediaType?: string;
  schemaVersion?: unknown;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
  annotations?: Record<string, string>;
}

function parseJson(bytes: Buffer, where: string): ParsedManifest {
  try {
    const j = JSON.parse(bytes.toString('utf8')) as unknown;
    if (j && typeof j === 'object' && !Array.isArray(j)) return j as ParsedManifest;
  } catch {
    /* below */
  }
  throw new FerryError('CHART_INVALID', `${where}: the manifest is not a JSON object`);
}

function isDescriptor(d: unknown): d is Descriptor {
  const x = d as Descriptor;
  return !!x && typeof x.mediaType === 'string' && typeof x.digest === 'string' && typeof x.size === 'number' && Number.isSafeInteger(x.size) && x.size >= 0;
}

async function blob(client: RegistryClient, repository: string, d: Descriptor, max: number, what: string, where: string): Promise<Buffer> {
  if (d.size > max) throw new FerryError('CHART_INVALID', `${where}: the ${what} blob is ${d.size} bytes, more than the ${max} allowed`, { digest: d.digest });
  // openBlob checks size and sha256 while streaming (BLOB_MISMATCH before the end otherwise).
  return collectBytes(await client.openBlob(repository, d), d.size, `${what} ${d.digest} of ${where}`);
}

export interface OciChartOptions {
  /** Shared clients (connections, tokens) for several charts; not closed here. */
  clients?: RegistryClients;
}

/** Pull one Helm chart artifact. `opts` are the registry options (auth and TLS as for images). */
export async function fetchOciChart(ref: string, opts: RegistryOptions & OciChartOptions = {}): Promise<FetchedChart> {
  const r = parseOciChartRef(ref);
  const clients = opts.clients ?? new RegistryClients(opts);
  const client = clients.get(r.registry);
  const notes: string[] = [];
  try {
    let target: string;
    if (r.digest) target = r.digest;
    else if (r.version !== undefined && isExactVersion(r.version)) target = chartTag(r.version);
    else {
      // A range, or no version: pick among the tags as helm does.
      const tags = await client.listTags(r.repository);
      const versions = tags.map((t) => t.replaceAll('_', '+')).filter((v) => parseChartVersion(v) !== undefined);
      const picked = pickVersion(versions, r.version);
      if (picked === undefined) {
        const newest = [...versions].sort(compareVersionsDesc).slice(0, 5);
        throw new FerryError('SOURCE_NOT_FOUND', `oci://${r.registry}/${r.repository}: ${r.version ? `no tag matching "${printable(r.version)}"` : 'no stable SemVer tag'}${newest.length ? `; newest available: ${newest.map(printable).join(', ')}` : ' (no SemVer tags at all)'}`, { reference: `oci://${r.registry}/${r.repository}` });
      }
      notes.push(`oci://${r.registry}/${r.repository}${r.version ? `:${r.version}` : ''} resolved to version ${picked}`);
      target = chartTag(picked);
    }
    const where = `oci://${r.registry}/${r.repository}${target.startsWith('sha256:') ? '@' : ':'}${target}`;
    let m = await client.getManifest(r.repository, target);
    let parsed = parseJson(m.bytes, where);
    if (isIndexMediaType(m.descriptor.mediaType)) {
      // Helm accepts an index: take the child that is a Helm chart (by artifactType, else by its config).
      const children = (parsed.manifests ?? []).filter(isDescriptor);
      let found: typeof m | undefined;
      for (const c of children) {
        if (c.artifactType && c.artifactType !== HelmMediaTypes.config) continue;
        if (c.mediaType !== MediaTypes.ociManifest) continue;
        const child = await client.getManifest(r.repository, c.digest);
        const p = parseJson(child.bytes, `${where} (child ${c.digest})`);
        if (p.config?.mediaType === HelmMediaTypes.config) {
          found = child;
          parsed = p;
          break;
        }
      }
      if (!found) throw new FerryError('CHART_INVALID', `${where}: an index without a Helm chart manifest among its ${children.length} children`);
      notes.push(`${where} is an index; its chart manifest ${found.descriptor.digest} is carried (the high side tags that manifest)`);
      m = found;
    } else if (m.descriptor.mediaType !== MediaTypes.ociManifest) {
      throw new FerryError('CHART_INVALID', `${where}: manifest type ${printable(m.descriptor.mediaType)}; Helm charts are OCI manifests (${MediaTypes.ociManifest}), Helm refuses other types too`);
    }
    // Helm pull's rules (oci-artifact.ts, one check for both sides); the manifest is carried
    // unchanged, so a layer Helm would skip cannot be left behind either.
    const h = parseHelmOciManifest(m.bytes, { mediaType: m.descriptor.mediaType, where });
    if (h.ignored.length) {
      throw new FerryError('CHART_INVALID', `${where}: layer(s) ${h.ignored.map((l) => `${l.digest} (${printable(l.mediaType)})`).join(', ')} are neither the chart nor its provenance; Helm would skip them, and Ferry carries the manifest unchanged, so it refuses the chart rather than publish a manifest whose layers are missing`);
    }
    const layers = { config: h.config, chart: h.chart, ...(h.provenance ? { prov: h.provenance } : {}) };
    if (layers.chart.mediaType === HelmMediaTypes.legacyChart) notes.push(`${where}: legacy chart layer type ${HelmMediaTypes.legacyChart} (pushed by Helm < 3.7); carried as is, helm pull warns about it`);
    const [config, archive, provenance] = await Promise.all([
      blob(client, r.repository, layers.config, MAX_CHART_CONFIG_BYTES, 'config', where),
      blob(client, r.repository, layers.chart, MAX_CHART_BYTES, 'chart', where),
      layers.prov ? blob(client, r.repository, layers.prov, MAX_PROV_BYTES, 'provenance', where) : Promise.resolve(undefined),
    ]);
    const out: FetchedChart = {
      source: ref,
      archive,
      oci: { manifest: m.bytes, manifestMediaType: m.descriptor.mediaType, config },
      notes,
    };
    if (provenance) out.provenance = provenance;
    const created = parsed.annotations?.['org.opencontainers.image.created'];
    if (typeof created === 'string' && created) out.created = created;
    return out;
  } finally {
    if (!opts.clients) clients.close();
  }
}
