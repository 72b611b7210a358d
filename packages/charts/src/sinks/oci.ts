// Charts into an OCI registry as Helm OCI artifacts, exactly as carried: config, chart and
// provenance blobs, then the manifest bytes (unchanged, so the same digest) under the tag
// `chartTag(version)` in `PATH/<name>` — what `helm push CHART oci://HOST/PATH` produces and
// `helm install oci://HOST/PATH/<name> --version X` reads. Everything goes through @ferry/oci's
// RegistrySink and upload functions, so auth, TLS, retries and blob verification are the
// image push's own. A tag that already points at another manifest is a conflict unless forced.

import { FerryError, MediaTypes, printable, sha256Digest, verifyBytes, type Descriptor } from '@ferry/format-spec';
import { RegistryClients, RegistrySink, isRepositoryPath, pushBlob, putManifest, type RegistryOptions } from '@ferry/oci';
import { HelmMediaTypes, chartTag, type ChartPresence, type ChartPutOptions, type ChartSink, type ChartUpload } from '../types.js';

const HOST_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[A-Fa-f0-9:]+\])(?::\d+)?$/;

/** `oci://HOST[:PORT][/PATH]` → host and path (no trailing slash; may be empty). */
export function parseOciDestination(url: string): { registry: string; path: string } {
  const m = /^oci:\/\/([^/]+)(?:\/(.*))?$/i.exec(url.trim());
  if (!m) throw new FerryError('USAGE', `chart destination "${printable(url)}": expected oci://HOST[:PORT]/PATH`);
  const registry = m[1]!;
  if (registry.includes('@')) throw new FerryError('USAGE', 'chart destination: credentials in the URL are refused; use --creds or an auth file');
  if (!HOST_RE.test(registry)) throw new FerryError('USAGE', `chart destination "${printable(url)}": "${printable(registry)}" is not a host[:port]`);
  const path = (m[2] ?? '').replace(/\/+$/, '');
  if (path && !isRepositoryPath(path)) throw new FerryError('USAGE', `chart destination "${printable(url)}": "${printable(path)}" is not a repository path (lowercase a-z, 0-9, separators . _ -)`);
  return { registry, path };
}

interface ChartManifest {
  config?: Descriptor;
  layers?: Descriptor[];
}

export class OciChartSink implements ChartSink {
  readonly kind = 'oci' as const;
  readonly description: string;
  readonly registry: string;
  readonly path: string;
  readonly notes: string[] = [];
  private readonly sink: RegistrySink;
  private readonly owned: RegistryClients | undefined;
  private pinged = false;

  /** `dest` is `oci://HOST[:PORT][/PATH]`; `opts` the registry options (auth, TLS) or shared clients. */
  constructor(dest: string, opts: RegistryOptions | RegistryClients = {}) {
    const d = parseOciDestination(dest);
    this.registry = d.registry;
    this.path = d.path;
    this.description = `oci://${d.registry}${d.path ? `/${d.path}` : ''}`;
    const clients = opts instanceof RegistryClients ? opts : new RegistryClients(opts);
    this.owned = opts instanceof RegistryClients ? undefined : clients;
    this.sink = new RegistrySink(d.registry, clients);
  }

  /** `PATH/<name>`: where helm push puts a chart named `name`. */
  repositoryOf(name: string): string {
    const repo = this.path ? `${this.path}/${name}` : name;
    if (!isRepositoryPath(repo)) {
      throw new FerryError('TARGET_ERROR', `chart "${printable(name)}" cannot be stored under ${this.description}: "${printable(repo)}" is not an OCI repository name (charts with uppercase letters cannot be pushed to an OCI registry; helm push refuses them too)`);
    }
    return repo;
  }

  /** Reachable, TLS trusted, credentials accepted; with `charts`, push allowed to each `PATH/<name>`. */
  async preflight(charts?: ReadonlyArray<Pick<ChartUpload, 'name' | 'version'>>): Promise<void> {
    if (!this.pinged) {
      await this.sink.ping();
      this.pinged = true;
    }
    const names = [...new Set((charts ?? []).map((c) => c.name))];
    for (const n of names) await this.sink.preflight(this.repositoryOf(n));
  }

  /**
   * HEAD the tag. `same` when it names the manifest carried (`oci.manifestDigest`, when the
   * caller passes the whole ChartUpload); without it, when the manifest's chart layer is the
   * archive `digest`.
   */
  async check(chart: Pick<ChartUpload, 'name' | 'version' | 'digest'> & { oci?: Pick<ChartUpload['oci'], 'manifestDigest'> }): Promise<ChartPresence> {
    const repo = this.repositoryOf(chart.name);
    const tag = chartTag(chart.version);
    const have = await this.sink.tagged(repo, tag);
    if (!have) return { state: 'absent' };
    const want = chart.oci?.manifestDigest;
    if (want !== undefined && have.digest === want) return { state: 'same' };
    // Look inside: is it the same chart archive under another manifest (annotations, a re-push)?
    const layer = await this.chartLayerOf(repo, have);
    if (want === undefined && layer === chart.digest) return { state: 'same' };
    const where = `${this.description}/${chart.name}:${tag}`;
    const detail = want !== undefined
      ? `${where} is manifest ${have.digest}, the bundle carries ${want}${layer === chart.digest ? ` (the same chart archive ${chart.digest}; only the manifest differs, e.g. its annotations)` : layer ? ` (its chart archive is ${layer}, the bundle's ${chart.digest})` : ''}`
      : `${where} holds chart archive ${layer ?? `(none found in manifest ${have.digest})`}, the bundle carries ${chart.digest}`;
    return { state: 'different', detail };
  }

  private async chartLayerOf(repo: string, desc: Descriptor): Promise<string | undefined> {
    if (desc.mediaType !== MediaTypes.ociManifest) return undefined;
    try {
      const m = JSON.parse((await this.sink.getManifest(repo, desc)).toString('utf8')) as ChartManifest;
      return m.layers?.find((l) => l.mediaType === HelmMediaTypes.chart || l.mediaType === HelmMediaTypes.legacyChart)?.digest;
    } catch (e) {
      if (e instanceof FerryError && e.code !== 'SOURCE_INVALID' && e.code !== 'TARGET_ERROR') throw e;
      return undefined;
    }
  }

  async put(chart: ChartUpload, opts: ChartPutOptions): Promise<'uploaded' | 'skipped'> {
    const repo = this.repositoryOf(chart.name);
    const tag = chartTag(chart.version);
    const where = `${this.description}/${chart.name}:${tag}`;
    const o = chart.oci;
    verifyBytes(o.manifest, o.manifestDigest, o.manifest.length, { where: `the carried manifest of ${where}` });
    verifyBytes(o.config, o.configDigest, o.config.length, { where: `the carried config of ${where}` });
    verifyBytes(chart.archive, chart.digest, chart.archive.length, { where: `the carried chart archive of ${where}` });
    const present = await this.check(chart);
    if (present.state === 'same') return 'skipped';
    if (present.state === 'different' && !opts.force) {
      throw new FerryError('CHART_CONFLICT', `${where}: the tag already names another chart: ${present.detail}`, { destination: this.description, chart: chart.name, version: chart.version });
    }
    // Every blob the manifest names must be one the bundle carries.
    let m: ChartManifest;
    try {
      m = JSON.parse(o.manifest.toString('utf8')) as ChartManifest;
    } catch {
      throw new FerryError('CHART_INVALID', `${where}: the carried manifest is not JSON`);
    }
    const provDigest = chart.provenance ? sha256Digest(chart.provenance) : undefined;
    const blobs: Array<{ desc: Descriptor; bytes: Buffer }> = [];
    if (!m.config || m.config.digest !== o.configDigest) throw new FerryError('CHART_INVALID', `${where}: the carried manifest's config is not the carried config ${o.configDigest}`);
    blobs.push({ desc: m.config, bytes: o.config });
    for (const l of m.layers ?? []) {
      const bytes = l.digest === chart.digest ? chart.archive : l.digest === provDigest ? chart.provenance : undefined;
      if (!bytes) throw new FerryError('CHART_INVALID', `${where}: the carried manifest names layer ${l.digest} (${printable(l.mediaType)}), which is neither the chart archive nor its provenance`);
      blobs.push({ desc: l, bytes });
    }
    const client = this.sink.client;
    // Small blobs: one at a time keeps the order simple; each is HEADed first and skipped if present.
    for (const b of blobs) await pushBlob(client, repo, b.desc, b.bytes, { skipIfExists: true });
    await putManifest(client, repo, tag, o.manifest, o.manifestMediaType);
    return 'uploaded';
  }

  /** `oci://HOST/PATH/<name>` (helm install … --version X). */
  locationOf(chart: Pick<ChartUpload, 'name' | 'version'>): string {
    return `${this.description}/${chart.name}`;
  }

  async finish(): Promise<void> {
    /* nothing to do once: the registry needs no index */
  }

  async close(): Promise<void> {
    await this.sink.close();
    this.owned?.close();
  }
}
