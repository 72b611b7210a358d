// Charts from the local disk: a `.tgz` path, a chart directory (packaged by package-dir.ts), or
// a glob matching either. A `.tgz` brings its `<file>.prov` when one sits beside it (as
// `helm push` takes it), and its mtime as `created` (what `helm push` puts in the OCI
// `created` annotation; written here in UTC). Nothing is checked here beyond reading: the
// caller runs checkChartArchive on every result.
//
// Order is stable: patterns in the order given, each glob's matches in byte order of their
// paths; a chart matched twice (two patterns, or a glob and a path) is returned once, first
// where it was first matched. A pattern that matches no chart is SOURCE_NOT_FOUND.

import { stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import fg from 'fast-glob';
import { FerryError, isFerryError, printable, readRegularFile, statRegularFile } from '@ferry/format-spec';
import { MAX_CHART_ARCHIVE_BYTES } from './archive.js';
import { packageChartDir } from './package-dir.js';
import type { FetchedChart } from './types.js';

/** A provenance file is a clear-signed YAML block of a few KiB. */
export const MAX_PROVENANCE_BYTES = 1024 * 1024;

function asSourceError(e: unknown): unknown {
  if (isFerryError(e, 'INPUT_NOT_FOUND')) return new FerryError('SOURCE_NOT_FOUND', e.message, { ...e.details }, { cause: e });
  if (isFerryError(e, 'INPUT_INVALID')) return new FerryError('SOURCE_INVALID', e.message, { ...e.details }, { cause: e });
  return e;
}

/** RFC 3339 in UTC, whole seconds (Go's time.RFC3339 layout). */
function rfc3339Seconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

async function fromArchive(path: string, source: string): Promise<FetchedChart> {
  try {
    const archive = await readRegularFile(path, 'chart archive', MAX_CHART_ARCHIVE_BYTES);
    const { mtime } = await stat(path);
    const out: FetchedChart = { source, archive, created: rfc3339Seconds(mtime) };
    const prov = `${path}.prov`;
    if (await statRegularFile(prov, 'chart provenance file')) out.provenance = await readRegularFile(prov, 'chart provenance file', MAX_PROVENANCE_BYTES);
    return out;
  } catch (e) {
    throw asSourceError(e);
  }
}

async function hasChartYaml(dir: string): Promise<boolean> {
  return stat(join(dir, 'Chart.yaml')).then((s) => s.isFile(), () => false);
}

async function fromDir(path: string, source: string): Promise<FetchedChart> {
  const { archive } = await packageChartDir(path);
  return { source, archive };
}

const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * Read the charts `patterns` name, relative to `cwd`. Each result's `source` is the pattern as
 * written, or for a glob the matched path (relative to `cwd` as the glob was).
 */
export async function localCharts(patterns: string[], cwd: string): Promise<FetchedChart[]> {
  const out: FetchedChart[] = [];
  const seen = new Set<string>();
  for (const pattern of patterns) {
    if (pattern === '') throw new FerryError('USAGE', 'an empty chart path was given', {});
    if (fg.isDynamicPattern(pattern)) {
      const matches = (await fg(pattern, { cwd, onlyFiles: false, followSymbolicLinks: true, unique: true, suppressErrors: true })).sort(byteOrder);
      let found = 0;
      for (const m of matches) {
        const abs = isAbsolute(m) ? m : resolve(cwd, m);
        const st = await stat(abs).catch(() => undefined);
        if (!st) continue;
        const isChart = (st.isFile() && m.endsWith('.tgz')) || (st.isDirectory() && (await hasChartYaml(abs)));
        if (!isChart) continue;
        found++;
        if (seen.has(abs)) continue;
        seen.add(abs);
        out.push(st.isFile() ? await fromArchive(abs, m) : await fromDir(abs, m));
      }
      if (found === 0) {
        throw new FerryError('SOURCE_NOT_FOUND', `no chart matches "${printable(pattern)}" in ${printable(cwd)} (a chart is a .tgz file or a directory holding Chart.yaml)`, { pattern: printable(pattern) });
      }
      continue;
    }
    const abs = resolve(cwd, pattern);
    const st = await stat(abs).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return undefined;
      throw new FerryError('SOURCE_INVALID', `cannot read chart path ${printable(pattern)}: ${e.code ?? e.message}`, { path: abs }, { cause: e });
    });
    if (!st) throw new FerryError('SOURCE_NOT_FOUND', `chart path ${printable(pattern)} not found (in ${printable(cwd)})`, { path: abs });
    if (seen.has(abs)) continue;
    if (st.isDirectory()) {
      if (!(await hasChartYaml(abs))) {
        throw new FerryError('SOURCE_NOT_FOUND', `${printable(pattern)} is a directory without Chart.yaml, not a chart directory`, { path: abs });
      }
      seen.add(abs);
      out.push(await fromDir(abs, pattern));
    } else {
      seen.add(abs);
      out.push(await fromArchive(abs, pattern));
    }
  }
  return out;
}
