// The shapes every chart module shares: what Chart.yaml says, a chart archive once checked,
// what a chart source fetched, and the small interface every chart destination implements.
// Sources (http-repo, oci, local) fetch bytes; archive.ts checks them; sinks (oci, chartmuseum,
// artifactory, dir) write them. Nothing here does I/O.

/** One `dependencies[]` entry of Chart.yaml (v2) or requirements.yaml (v1). */
export interface ChartDependency {
  name: string;
  /** A version or SemVer range. */
  version?: string;
  /** `https://…`, `oci://…`, `file://…`, `@alias` or empty (vendored under charts/). */
  repository?: string;
  condition?: string;
  tags?: string[];
  'import-values'?: unknown[];
  alias?: string;
  /** Go's Dependency.Enabled (Helm sets it while resolving conditions; rarely in Chart.yaml). */
  enabled?: boolean;
}

export interface ChartMaintainer {
  name: string;
  email?: string;
  url?: string;
}

/** Chart.yaml, as Helm's chart.Metadata has it (pkg/chart/metadata.go). */
export interface ChartMetadata {
  apiVersion: 'v1' | 'v2';
  name: string;
  /** SemVer 2 (may carry `+build`). */
  version: string;
  appVersion?: string;
  description?: string;
  home?: string;
  sources?: string[];
  keywords?: string[];
  maintainers?: ChartMaintainer[];
  icon?: string;
  condition?: string;
  tags?: string;
  deprecated?: boolean;
  annotations?: Record<string, string>;
  kubeVersion?: string;
  dependencies?: ChartDependency[];
  type?: 'application' | 'library' | string;
}

/** Chart.lock (v2). */
export interface ChartLock {
  dependencies: Array<{ name: string; version: string; repository?: string }>;
  digest?: string;
  generated?: string;
}

/** A chart archive that passed every check of archive.ts (Helm's own loader rules). */
export interface CheckedChart {
  metadata: ChartMetadata;
  /** The exact `.tgz` bytes. */
  archive: Buffer;
  /** `sha256:<hex>` of `archive`. */
  digest: string;
  lock?: ChartLock;
  /** Names of subcharts vendored under `charts/` (directories or `.tgz`). */
  vendored: string[];
  /** Text files worth scanning for image references: values.yaml and templates/*, by path
   *  inside the chart (top directory stripped). Bounded by Helm's limits. */
  textFiles: Map<string, string>;
}

/** An image reference found in a chart's files. */
export interface FoundImage {
  reference: string;
  /** Path inside the chart, e.g. `values.yaml` or `templates/deployment.yaml`, or of a subchart. */
  file: string;
  line: number;
  /** The reference names no tag (`latest` by default) or the tag `latest`: what it points at
   *  may change between bundling and loading. */
  unpinned?: 'latest' | 'missing';
}

/** What a source fetched, before archive.ts checked it. */
export interface FetchedChart {
  /** As the user wrote it: `https://repo/name@range`, `oci://host/path/name:1.0.0`, a path. */
  source: string;
  archive: Buffer;
  provenance?: Buffer;
  /** For an OCI source: the artifact exactly as pulled, carried unchanged. */
  oci?: { manifest: Buffer; manifestMediaType: string; config: Buffer };
  /** The `created` time the repository index gave the entry (for the OCI annotation). */
  created?: string;
  /** What the source noticed and the operator should hear (a range resolved, no index digest, entries skipped). */
  notes?: string[];
}

/** One chart to deliver: the bytes any destination may need, all verified by the caller. */
export interface ChartUpload {
  name: string;
  version: string;
  archive: Buffer;
  /** `sha256:<hex>` of archive. */
  digest: string;
  provenance?: Buffer;
  /** The Helm OCI artifact as carried in the bundle. */
  oci: { manifest: Buffer; manifestDigest: string; manifestMediaType: string; config: Buffer; configDigest: string };
  /** Chart.yaml fields for an index entry. */
  metadata: ChartMetadata;
  /** The `created` the bundle recorded (for index.yaml entries). */
  created?: string;
}

/** What a destination holds for one chart version. */
export type ChartPresence =
  | { state: 'absent' }
  | { state: 'same' }
  /** The same name and version with other bytes: refused unless forced. */
  | { state: 'different'; detail: string };

export interface ChartPutOptions {
  /** Replace a different chart of the same name and version. */
  force: boolean;
}

/**
 * A chart destination: an OCI registry path, ChartMuseum, Artifactory or a static directory.
 * `check` never writes; `put` writes one chart (idempotent when the same bytes are there);
 * `finish` does what is done once after every put (the dir sink writes index.yaml).
 */
export interface ChartSink {
  /** `oci://host/path`, `chartmuseum+https://host`, … without credentials. */
  readonly description: string;
  readonly kind: 'oci' | 'chartmuseum' | 'artifactory' | 'dir';
  /**
   * Reachable, credentials work, writing allowed (before the operator is asked). `charts`, when
   * given, are the charts that will be put: a sink whose permissions are per repository (OCI:
   * one repository per chart name) checks each.
   */
  preflight(charts?: ReadonlyArray<Pick<ChartUpload, 'name' | 'version'>>): Promise<void>;
  check(chart: Pick<ChartUpload, 'name' | 'version' | 'digest'>): Promise<ChartPresence>;
  put(chart: ChartUpload, opts: ChartPutOptions): Promise<'uploaded' | 'skipped'>;
  /** Where users get it from, e.g. `oci://host/path/name` or `http://host/charts/name-1.0.0.tgz`. */
  locationOf(chart: Pick<ChartUpload, 'name' | 'version'>): string;
  finish(): Promise<void>;
  close(): Promise<void>;
  /** What the sink noticed that the operator should hear (a reindex the server refused, …). */
  readonly notes?: readonly string[];
}

/** A chart repository's index.yaml (pkg/repo/index.go IndexFile). */
export interface RepoIndex {
  apiVersion: string;
  generated?: string;
  entries: Record<string, RepoIndexEntry[]>;
  serverInfo?: Record<string, unknown>;
  annotations?: Record<string, string>;
  /** Go's IndexFile.PublicKeys (omitted when empty). */
  publicKeys?: string[];
}

/** One chart version in index.yaml: every Chart.yaml field plus urls, created, digest. */
export interface RepoIndexEntry extends Partial<ChartMetadata> {
  name: string;
  version: string;
  urls: string[];
  created?: string;
  /** Bare hex as `helm repo index` writes it (Helm 4 also accepts `sha256:<hex>`). */
  digest?: string;
  removed?: boolean;
  [extra: string]: unknown;
}

/** Helm OCI media types (defined with the bundle format, which names them). */
export { HelmMediaTypes } from '@ferry/format-spec';

/** Helm's tag for a chart version: `+` is not allowed in an OCI tag, Helm writes `_`. */
export function chartTag(version: string): string {
  return version.replaceAll('+', '_');
}

/** `name-version.tgz`, the file name every classic repository uses. */
export function chartFileName(c: { name: string; version: string }): string {
  return `${c.name}-${c.version}.tgz`;
}
