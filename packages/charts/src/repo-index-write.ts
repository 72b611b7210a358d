// index.yaml written exactly as `helm repo index` writes it, and merged without losing what is
// already there (helm v3 pkg/repo/index.go, cmd/helm/repo_index.go).
//
// Helm marshals its IndexFile with sigs.k8s.io/yaml: encoding/json first (Go field names,
// omitempty, time.Time as RFC 3339 with nanoseconds), then that JSON is read back by go-yaml v2
// and written as YAML (go-yaml-emit.ts writes it the way go-yaml does).
//
// Unknown fields are not written: Helm reads YAML indexes strictly, so one extra key would make
// the whole index unreadable to it. Entries are otherwise kept as they were read.
//
// readIndexForMerge is a small private reader for the dir sink (the full one, parseRepoIndex,
// lives with the repository sources): JSON or YAML, refused without apiVersion as Helm refuses it.

import semver from 'semver';
import { FerryError, printable } from '@ferry/format-spec';
import { GoObject, decodeIndexEntry, goYamlToPlain, metadataGoObject, parseGoYaml, type GoYaml } from './metadata.js';
import { formatGoTime, goYamlMarshal, normaliseGoTime } from './go-yaml-emit.js';
import type { ChartMetadata, RepoIndex, RepoIndexEntry } from './types.js';

// ---------------------------------------------------------------------------------------------
// IndexFile and ChartVersion as encoding/json writes them.

/** Fields of repo.ChartVersion outside the embedded Metadata, in Go's order. */
function entryGoObject(e: RepoIndexEntry): GoObject {
  // Null maintainers or dependencies (Helm skips such an entry when it loads the index) are
  // left out rather than written as null.
  const clean = {
    ...e,
    ...(Array.isArray(e.maintainers) ? { maintainers: e.maintainers.filter((m) => m !== null && typeof m === 'object') } : {}),
    ...(Array.isArray(e.dependencies) ? { dependencies: e.dependencies.filter((d) => d !== null && typeof d === 'object') } : {}),
  };
  const md = metadataGoObject(clean as unknown as ChartMetadata);
  const out: Array<[string, unknown]> = [...md.entries];
  out.push(['urls', Array.isArray(e.urls) ? e.urls : null]);
  out.push(['created', normaliseGoTime(typeof e.created === 'string' ? e.created : undefined)]);
  if (e.removed === true) out.push(['removed', true]);
  if (typeof e.digest === 'string' && e.digest !== '') out.push(['digest', e.digest]);
  for (const k of ['checksum', 'engine', 'tillerVersion', 'url'] as const) {
    const x = e[k];
    if (typeof x === 'string' && x !== '') out.push([k, x]);
  }
  return new GoObject(out);
}

/** index.yaml text for `index`, as `helm repo index` writes an IndexFile. Entries are written
 *  in the order given (mergeRepoIndex sorts them as Helm does). */
export function serializeRepoIndex(index: RepoIndex): string {
  const top: Array<[string, unknown]> = [];
  if (index.serverInfo && Object.keys(index.serverInfo).length) top.push(['serverInfo', index.serverInfo]);
  top.push(['apiVersion', index.apiVersion]);
  top.push(['generated', normaliseGoTime(index.generated)]);
  top.push(['entries', new GoObject(Object.entries(index.entries).map(([name, list]) => [name, list.map(entryGoObject)]))]);
  if (index.publicKeys?.length) top.push(['publicKeys', index.publicKeys]);
  if (index.annotations && Object.keys(index.annotations).length) top.push(['annotations', index.annotations]);
  return goYamlMarshal(new GoObject(top));
}

// ---------------------------------------------------------------------------------------------
// Merging.

/** Masterminds semver.NewVersion, as Helm sorts index entries with it (v-prefix, partial versions). */
function helmVersion(v: string): semver.SemVer | undefined {
  const m = /^v?(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:\.(0|[1-9]\d*))?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/.exec(v);
  if (!m) return undefined;
  return semver.parse(`${m[1]}.${m[2] ?? '0'}.${m[3] ?? '0'}${m[4] ? `-${m[4]}` : ''}`) ?? undefined;
}

/** Newest first, as SortEntries leaves them; versions Helm cannot parse go last; ties keep their order. */
function sortVersions(list: RepoIndexEntry[]): RepoIndexEntry[] {
  return list
    .map((e, i) => ({ e, i, v: typeof e.version === 'string' ? helmVersion(e.version) : undefined }))
    .sort((a, b) => {
      if (a.v && b.v) return semver.rcompare(a.v, b.v) || a.i - b.i;
      if (a.v) return -1;
      if (b.v) return 1;
      return a.i - b.i;
    })
    .map((x) => x.e);
}

const bareDigest = (d: unknown): string | undefined => (typeof d === 'string' && d !== '' ? d.replace(/^sha256:/, '').toLowerCase() : undefined);

/** The index entry for a chart: its Chart.yaml fields, the url, created, and the bare hex digest. */
export function indexEntryFor(chart: { metadata: ChartMetadata; digest: string }, opts: { url: string; created?: string }): RepoIndexEntry {
  const hex = chart.digest.replace(/^sha256:/, '');
  return { ...chart.metadata, urls: [opts.url], ...(opts.created ? { created: opts.created } : {}), digest: hex };
}

export interface MergeOptions {
  /** Replace an entry of the same name and version whose digest differs (else CHART_CONFLICT). */
  replace?: boolean;
}

/**
 * `add` merged into `existing`: every existing entry is kept; an added entry of a name and
 * version already listed replaces it only with `replace` or when the digest is the same (then
 * the existing `created` is kept). Added entries without `created` get `now`; `generated` is
 * `now`. Each chart's versions are sorted newest first, as Helm sorts them.
 */
export function mergeRepoIndex(existing: RepoIndex | undefined, add: RepoIndexEntry[], now: Date, opts: MergeOptions = {}): RepoIndex {
  const stamp = formatGoTime(now);
  const entries: Record<string, RepoIndexEntry[]> = {};
  for (const [name, list] of Object.entries(existing?.entries ?? {})) {
    Object.defineProperty(entries, name, { value: [...list], enumerable: true, writable: true, configurable: true });
  }
  for (const e of add) {
    const list = Object.hasOwn(entries, e.name) ? entries[e.name]! : (entries[e.name] = []);
    const i = list.findIndex((x) => x.version === e.version);
    const created = typeof e.created === 'string' && e.created ? e.created : stamp;
    if (i < 0) {
      list.push({ ...e, created });
      continue;
    }
    const old = list[i]!;
    if (bareDigest(old.digest) !== undefined && bareDigest(old.digest) === bareDigest(e.digest)) {
      list[i] = { ...e, created: typeof old.created === 'string' && old.created ? old.created : created };
      continue;
    }
    if (!opts.replace) {
      throw new FerryError(
        'CHART_CONFLICT',
        `index.yaml already lists ${printable(e.name)} ${printable(e.version)} with digest ${printable(String(old.digest ?? '(none)'))}, not ${printable(String(e.digest ?? '(none)'))}`,
        { name: printable(e.name), version: printable(e.version) },
      );
    }
    list[i] = { ...e, created };
  }
  for (const name of Object.keys(entries)) entries[name] = sortVersions(entries[name]!);
  const out: RepoIndex = { apiVersion: existing?.apiVersion || 'v1', generated: stamp, entries };
  if (existing?.serverInfo) out.serverInfo = existing.serverInfo;
  if (existing?.annotations) out.annotations = existing.annotations;
  if (existing?.publicKeys) out.publicKeys = existing.publicKeys;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading an existing index for merging (private to the dir sink; see the file header).

function indexProblem(where: string, why: string): FerryError {
  return new FerryError('TARGET_ERROR', `${where}: ${why}; Helm cannot read it either: fix or move it away, then run the same command again`, {});
}

function fromJson(v: unknown): GoYaml {
  if (v === null) return { k: 'null' };
  if (typeof v === 'boolean') return { k: 'bool', v };
  if (typeof v === 'number') return Number.isInteger(v) ? { k: 'int', v: BigInt(v) } : { k: 'float', v };
  if (typeof v === 'string') return { k: 'str', v };
  if (Array.isArray(v)) return { k: 'seq', v: v.map(fromJson) };
  return { k: 'map', v: new Map(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, fromJson(x)])) };
}

/** An existing index.yaml (or index.json text), as much as merging needs. */
export function readIndexForMerge(text: string, where: string): RepoIndex {
  let doc: GoYaml | undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (json !== undefined) doc = fromJson(json);
  else {
    try {
      doc = parseGoYaml(text, 'index.yaml', where);
    } catch (e) {
      throw indexProblem(where, e instanceof Error ? e.message.replace(/^.*?index\.yaml is not YAML Helm can read: /, 'it is not YAML: ') : String(e));
    }
  }
  if (text.trim() === '' || doc === undefined) throw indexProblem(where, 'index.yaml is empty');
  if (doc.k !== 'map') throw indexProblem(where, 'index.yaml is not a YAML map');
  const apiVersion = doc.v.get('apiVersion');
  if (!apiVersion || apiVersion.k !== 'str' || apiVersion.v === '') throw indexProblem(where, 'index.yaml has no apiVersion');
  const index: RepoIndex = { apiVersion: apiVersion.v, entries: {} };
  const generated = doc.v.get('generated');
  if (generated?.k === 'str') index.generated = generated.v;
  const entries = doc.v.get('entries');
  if (entries && entries.k === 'map') {
    for (const [name, list] of entries.v) {
      if (list.k !== 'seq') continue;
      const kept: RepoIndexEntry[] = [];
      list.v.forEach((item, i) => {
        let e: Record<string, unknown> | undefined;
        try {
          e = decodeIndexEntry(item, `entries.${name}[${i}]`);
        } catch (err) {
          throw indexProblem(where, `index.yaml entries.${printable(name)}[${i}]: ${printable((err as Error).message)}`);
        }
        if (!e) return;
        kept.push({ ...e, name: typeof e.name === 'string' ? e.name : '', version: typeof e.version === 'string' ? e.version : '', urls: Array.isArray(e.urls) ? (e.urls as string[]) : [] } as RepoIndexEntry);
      });
      Object.defineProperty(index.entries, name, { value: kept, enumerable: true, writable: true, configurable: true });
    }
  }
  for (const key of ['serverInfo', 'annotations'] as const) {
    const v = doc.v.get(key);
    if (v?.k === 'map') (index as unknown as Record<string, unknown>)[key] = goYamlToPlain(v, key);
  }
  const keys = doc.v.get('publicKeys');
  if (keys?.k === 'seq') index.publicKeys = keys.v.filter((x): x is { k: 'str'; v: string } => x.k === 'str').map((x) => x.v);
  return index;
}
