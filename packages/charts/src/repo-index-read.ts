// Reading a chart repository's index.yaml the way Helm does (pkg/repo/index.go loadIndex, Get):
// YAML or JSON; a missing top-level apiVersion is refused (ErrNoAPIVersion); entries that are
// empty or invalid (no name, a version that is not SemVer, no list of URLs) are skipped with a
// note rather than failing the whole index; the deprecated keys checksum, engine,
// tillerVersion and url are tolerated; each chart's versions are sorted newest first.
//
// Picking a version mirrors Helm's IndexFile.Get on Masterminds/semver 3.4: an exact string
// match first, else the newest version satisfying the range; a prerelease only satisfies an
// AND-group of the range that itself names a prerelease (`>=1.0.0-0 <2`); no version means the
// newest stable. Helm's range syntax is mapped onto the `semver` package (commas are ANDs, `=>`
// and `=<` are `>=` and `<=`).

import semver from 'semver';
import { parse as parseYaml } from 'yaml';
import { FerryError, printable } from '@ferry/format-spec';
import type { RepoIndex, RepoIndexEntry } from './types.js';

type SemVer = semver.SemVer;

/** Largest index.yaml read (the biggest public repositories' are tens of MiB). */
export const MAX_INDEX_BYTES = 128 << 20;

const DEPRECATED_KEYS = new Set(['checksum', 'engine', 'tillerVersion', 'url']);

function bad(where: string, why: string): FerryError {
  return new FerryError('CHART_REPO_ERROR', `index ${printable(where)}: ${why}`, { index: printable(where) });
}

/**
 * A version as Masterminds' NewVersion reads it: SemVer with an optional `v`, and the short
 * forms `1` and `1.2` (as 1.0.0 and 1.2.0). Undefined if it is none of these.
 */
export function parseChartVersion(s: string): SemVer | undefined {
  const v = semver.parse(s, { loose: true });
  if (v) return v;
  const m = /^v?(\d+)(?:\.(\d+))?(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.exec(s);
  return m ? semver.parse(`${m[1]}.${m[2] ?? '0'}.0${m[3] ?? ''}${m[4] ?? ''}`) ?? undefined : undefined;
}

/** Newest first; versions that do not parse go last (Helm's ChartVersions.Less, reversed). */
export function compareVersionsDesc(a: string, b: string): number {
  const va = parseChartVersion(a);
  const vb = parseChartVersion(b);
  if (!va && !vb) return 0;
  if (!va) return 1;
  if (!vb) return -1;
  return semver.rcompare(va, vb);
}

/** An AND-group that names a prerelease version (`1.2.3-0`, `>=2.0.0-rc.1`). */
const PRERELEASE_IN_RANGE = /(?:^|[^\w.])v?\d+(?:\.(?:\d+|[xX*])){0,2}-[0-9A-Za-z]/;

/** A Helm (Masterminds) range as `semver` ranges, one per OR-group, each with its prerelease rule. */
export function parseHelmRange(range: string): Array<{ range: semver.Range; prerelease: boolean }> {
  if (/!=/.test(range)) throw new FerryError('USAGE', `version range "${printable(range)}": "!=" is not supported; use an explicit range such as ">=1.2.0 <1.3.0 || >1.3.0"`);
  return range.split('||').map((group) => {
    const g = group.replace(/,/g, ' ').replace(/=>/g, '>=').replace(/=</g, '<=').trim();
    const prerelease = PRERELEASE_IN_RANGE.test(` ${g}`);
    let r: semver.Range;
    try {
      r = new semver.Range(g === '' ? '*' : g, { includePrerelease: prerelease });
    } catch {
      throw new FerryError('USAGE', `"${printable(range)}" is neither a chart version nor a SemVer range (e.g. 1.2.3, ^1.2, ~1.2.3, ">=1.0.0 <2.0.0")`);
    }
    return { range: r, prerelease };
  });
}

/** Does `version` satisfy the (Helm) range? Prereleases only where the range names one. */
export function satisfiesHelmRange(version: SemVer, groups: ReturnType<typeof parseHelmRange>): boolean {
  return groups.some((g) => (version.prerelease.length === 0 || g.prerelease) && g.range.test(version));
}

/**
 * Helm's choice among `versions` (any order): an exact string match, else the newest that
 * satisfies `versionOrRange`, else (no version given) the newest stable. Undefined when none.
 */
export function pickVersion(versions: readonly string[], versionOrRange?: string): string | undefined {
  const v = versionOrRange?.trim();
  if (v) {
    const exact = versions.find((x) => x === v);
    if (exact !== undefined) return exact;
  }
  const groups = parseHelmRange(v || '*');
  const sorted = [...versions].sort(compareVersionsDesc);
  for (const s of sorted) {
    const sv = parseChartVersion(s);
    if (sv && satisfiesHelmRange(sv, groups)) return s;
  }
  return undefined;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function stringMap(x: unknown): Record<string, string> | undefined {
  if (!isRecord(x)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(x)) if (typeof v === 'string') out[k] = v;
  return out;
}

function entryProblem(e: Record<string, unknown>): string | undefined {
  if (typeof e.name !== 'string' || e.name === '') return 'no name';
  if (e.name === '.' || e.name === '..' || /[/\\]/.test(e.name)) return `chart name "${printable(e.name)}" is not a plain name`;
  if (typeof e.version !== 'string' || e.version === '') return typeof e.version === 'number' ? `version ${e.version} is a YAML number, not a string` : 'no version';
  if (!parseChartVersion(e.version)) return `version "${printable(e.version)}" is not SemVer`;
  if (e.urls !== undefined && e.urls !== null && (!Array.isArray(e.urls) || !e.urls.every((u) => typeof u === 'string'))) return '"urls" is not a list of strings';
  if (e.digest !== undefined && e.digest !== null && typeof e.digest !== 'string') return '"digest" is not a string';
  if (e.apiVersion !== undefined && e.apiVersion !== null && typeof e.apiVersion !== 'string') return '"apiVersion" is not a string';
  return undefined;
}

/**
 * Parse index.yaml (or its JSON form). `where` names it in messages (the index URL); notes
 * about skipped entries are pushed to `notes`.
 */
export function parseRepoIndex(bytes: Buffer, where: string, notes: string[] = []): RepoIndex {
  if (bytes.length === 0) throw bad(where, 'empty index.yaml file');
  if (bytes.length > MAX_INDEX_BYTES) throw bad(where, `larger than ${MAX_INDEX_BYTES} bytes`);
  const text = bytes.toString('utf8');
  let doc: unknown;
  let json = false;
  try {
    doc = JSON.parse(text);
    json = true;
  } catch {
    /* YAML then */
  }
  if (!json) {
    try {
      // maxAliasCount bounds alias expansion (a "billion laughs" index).
      doc = parseYaml(text, { maxAliasCount: 1000 });
    } catch (e) {
      throw bad(where, `not valid YAML or JSON (${printable(String((e as Error).message).split('\n')[0]!.slice(0, 200))})`);
    }
  }
  if (!isRecord(doc)) throw bad(where, 'not a YAML mapping');
  const apiVersion = doc.apiVersion;
  if (typeof apiVersion !== 'string' || apiVersion === '') {
    throw bad(where, 'no API version specified (top-level apiVersion is missing; Helm refuses such an index too)');
  }
  const rawEntries = doc.entries ?? {};
  if (!isRecord(rawEntries)) throw bad(where, '"entries" is not a mapping');
  const entries: Record<string, RepoIndexEntry[]> = {};
  let deprecatedSeen = false;
  for (const [chart, list] of Object.entries(rawEntries)) {
    if (list === null || list === undefined) {
      entries[chart] = [];
      continue;
    }
    if (!Array.isArray(list)) {
      notes.push(`index ${where}: entries.${printable(chart)} is not a list; skipped`);
      continue;
    }
    const kept: RepoIndexEntry[] = [];
    list.forEach((raw: unknown, i) => {
      if (!isRecord(raw)) {
        notes.push(`index ${where}: skipping an invalid entry for chart "${printable(chart)}" (#${i}): empty entry`);
        return;
      }
      const problem = entryProblem(raw);
      if (problem) {
        const v = typeof raw.version === 'string' ? ` ${printable(raw.version)}` : '';
        notes.push(`index ${where}: skipping an invalid entry for chart "${printable(chart)}"${v}: ${problem}`);
        return;
      }
      for (const k of Object.keys(raw)) if (DEPRECATED_KEYS.has(k)) deprecatedSeen = true;
      const e = { ...raw } as RepoIndexEntry;
      e.urls = Array.isArray(raw.urls) ? (raw.urls as string[]) : [];
      if (typeof raw.apiVersion !== 'string' || raw.apiVersion === '') (e as { apiVersion?: string }).apiVersion = 'v1';
      if (raw.created instanceof Date) e.created = raw.created.toISOString();
      else if (raw.created !== undefined && typeof raw.created !== 'string') delete e.created;
      if (raw.digest === null) delete e.digest;
      kept.push(e);
    });
    kept.sort((a, b) => compareVersionsDesc(a.version, b.version));
    entries[chart] = kept;
  }
  if (deprecatedSeen) notes.push(`index ${where}: deprecated keys (checksum, engine, tillerVersion, url) ignored`);
  const out: RepoIndex = { apiVersion, entries };
  if (typeof doc.generated === 'string') out.generated = doc.generated;
  else if (doc.generated instanceof Date) out.generated = doc.generated.toISOString();
  if (isRecord(doc.serverInfo)) out.serverInfo = doc.serverInfo;
  const ann = stringMap(doc.annotations);
  if (ann) out.annotations = ann;
  return out;
}

/** The newest versions of a list, for messages. */
function newest(versions: string[], n = 5): string {
  const sorted = [...versions].sort(compareVersionsDesc);
  return sorted.slice(0, n).map(printable).join(', ') + (sorted.length > n ? `, … (${sorted.length} in all)` : '');
}

/**
 * The index entry Helm would install for `name` and `versionOrRange` (see pickVersion).
 * A miss is SOURCE_NOT_FOUND listing the newest versions available.
 */
export function resolveChartVersion(index: RepoIndex, name: string, versionOrRange?: string, where = 'the repository'): RepoIndexEntry {
  const list = Object.prototype.hasOwnProperty.call(index.entries, name) ? index.entries[name]! : undefined;
  if (!list) {
    const names = Object.keys(index.entries);
    throw new FerryError('SOURCE_NOT_FOUND', `chart "${printable(name)}" not found in ${printable(where)} (its index lists ${names.length} chart${names.length === 1 ? '' : 's'}${names.length ? `: ${names.slice(0, 8).map(printable).join(', ')}${names.length > 8 ? ', …' : ''}` : ''})`, { chart: printable(name), repository: printable(where) });
  }
  if (list.length === 0) throw new FerryError('SOURCE_NOT_FOUND', `chart "${printable(name)}" in ${printable(where)} has no versions`, { chart: printable(name), repository: printable(where) });
  const picked = pickVersion(list.map((e) => e.version), versionOrRange);
  if (picked !== undefined) return list.find((e) => e.version === picked)!;
  const all = list.map((e) => e.version);
  const stable = all.filter((v) => (parseChartVersion(v)?.prerelease.length ?? 1) === 0);
  const what = versionOrRange?.trim() ? `no version matching "${printable(versionOrRange.trim())}"` : 'no stable version (only prereleases; name one exactly, or a range with a prerelease such as >=0.0.0-0)';
  throw new FerryError('SOURCE_NOT_FOUND', `chart "${printable(name)}" in ${printable(where)}: ${what}; newest available: ${newest(all)}${stable.length !== all.length && stable.length ? ` (newest stable: ${newest(stable, 3)})` : ''}`, { chart: printable(name), repository: printable(where), version: printable(versionOrRange ?? '') });
}
