// The chart half of a push: before the operator's yes, every destination is checked (reachable,
// credentials, allowed to write) and asked what it holds of each chart; after it, the charts that
// are missing are read from the volumes (read.ts), checked, and written through each destination's
// ChartSink; finally every destination is asked again (the post-load check). The same chart
// version with other bytes is refused before anything is written unless --force.

import { FerryError, mapLimit, toFerryError, type BundleChart } from '@ferry/format-spec';
import type { ChartSink } from '@ferry/charts';
import type { TrustedManifest } from '../bundle.js';
import { readCharts } from './read.js';
import type { CheckItem } from '../check.js';

export type ChartAction = 'upload' | 'skip' | 'replace' | 'refuse';

export interface ChartPlanItem {
  /** `name@version`. */
  chart: string;
  destination: string;
  /** Where users get it from afterwards (`oci://…/name`, a repository URL, a file). */
  location: string;
  action: ChartAction;
  /** Why it is refused or replaced: what the destination holds instead. */
  detail?: string;
}

/** `refused`: the bundle's chart failed the loader's own checks (never sent anywhere). */
export type ChartStatus = 'uploaded' | 'exists' | 'replaced' | 'pending' | 'failed' | 'refused';

export interface ChartReportItem {
  chart: string;
  destination: string;
  location: string;
  status: ChartStatus;
  reason?: string;
}

/** The chart is in its destination with the bundled bytes (written now, or there before). */
export const chartInPlace = (s: ChartStatus): boolean => s === 'uploaded' || s === 'exists' || s === 'replaced';

export type ChartEvent = { type: 'chart'; chart: string; destination: string; status: ChartStatus; reason?: string };

const key = (c: Pick<BundleChart, 'name' | 'version'>): string => `${c.name}@${c.version}`;

/** Read-only: pre-flight every destination, then ask each what it holds of every chart. */
export async function planCharts(charts: readonly BundleChart[], sinks: readonly ChartSink[], opts: { force: boolean; concurrency?: number }): Promise<ChartPlanItem[]> {
  const items: ChartPlanItem[] = [];
  for (const sink of sinks) {
    await sink.preflight(charts);
    const found: ChartPlanItem[] = [];
    await mapLimit([...charts.keys()], opts.concurrency ?? CONCURRENCY, async (i) => {
      const c = charts[i]!;
      const p = await sink.check({ name: c.name, version: c.version, digest: c.digest });
      const base = { chart: key(c), destination: sink.description, location: sink.locationOf(c) };
      if (p.state === 'absent') found[i] = { ...base, action: 'upload' };
      else if (p.state === 'same') found[i] = { ...base, action: 'skip' };
      else found[i] = { ...base, action: opts.force ? 'replace' : 'refuse', detail: p.detail };
    });
    items.push(...found);
  }
  return items;
}

/** Requests in flight per destination: its checks, and its uploads. */
const CONCURRENCY = 6;

/** Refuse before anything is written when a destination holds other bytes under a version. */
export function refuseChartConflicts(items: readonly ChartPlanItem[]): void {
  const refused = items.filter((i) => i.action === 'refuse');
  if (!refused.length) return;
  const list = refused.map((i) => `${i.chart} in ${i.destination}${i.detail ? ` (${i.detail})` : ''}`).join('; ');
  throw new FerryError('CHART_CONFLICT', `nothing was written: the chart destination already holds a different chart under the same version: ${list}`);
}

/** Write what the plan says is missing; per-item failures are reported, not thrown. */
export async function loadCharts(
  tm: TrustedManifest,
  sinks: readonly ChartSink[],
  plan: readonly ChartPlanItem[],
  opts: { force: boolean; volumeFiles?: ReadonlyMap<number, string>; signal?: AbortSignal; emit?: (e: ChartEvent) => void },
): Promise<{ items: ChartReportItem[]; volumesMissing: string[]; volumesDamaged: Array<{ file: string; code: string; message: string }> }> {
  const emit = opts.emit ?? (() => {});
  const charts = tm.manifest.charts ?? [];
  const toWrite = plan.filter((i) => i.action === 'upload' || i.action === 'replace');
  const wanted = charts.filter((c) => toWrite.some((i) => i.chart === key(c)));
  const read = wanted.length ? await readCharts(tm, wanted, { ...(opts.volumeFiles ? { volumeFiles: opts.volumeFiles } : {}), ...(opts.signal ? { signal: opts.signal } : {}) }) : undefined;
  const items: ChartReportItem[] = [];
  const missingFiles = new Set<string>();
  for (const sink of sinks) {
    const done: ChartReportItem[] = [];
    await mapLimit([...charts.keys()], CONCURRENCY, async (n) => {
      const c = charts[n]!;
      const item = plan.find((i) => i.destination === sink.description && i.chart === key(c));
      if (!item) return;
      const base = { chart: item.chart, destination: item.destination, location: item.location };
      const record = (r: ChartReportItem): void => {
        done[n] = r;
      };
      if (item.action === 'skip') {
        record({ ...base, status: 'exists' });
        return;
      }
      const upload = read?.charts.get(c);
      const refused = read?.refused.get(c);
      if (refused) {
        const reason = `[${refused.code}] ${refused.message}`;
        record({ ...base, status: 'refused', reason });
        emit({ type: 'chart', chart: item.chart, destination: item.destination, status: 'refused', reason });
        return;
      }
      if (!upload) {
        const need = read?.missing.get(c) ?? [];
        need.forEach((f) => missingFiles.add(f));
        const reason = need.length ? `needs ${need.join(', ')}` : 'not read';
        record({ ...base, status: 'pending', reason });
        emit({ type: 'chart', chart: item.chart, destination: item.destination, status: 'pending', reason });
        return;
      }
      try {
        await sink.put(upload, { force: opts.force });
        const status: ChartStatus = item.action === 'replace' ? 'replaced' : 'uploaded';
        record({ ...base, status });
        emit({ type: 'chart', chart: item.chart, destination: item.destination, status });
      } catch (e) {
        const fe = toFerryError(e);
        if (fe.code === 'INTERRUPTED' || fe.code === 'INTERNAL') throw fe;
        const reason = `[${fe.code}] ${fe.message}`;
        record({ ...base, status: 'failed', reason });
        emit({ type: 'chart', chart: item.chart, destination: item.destination, status: 'failed', reason });
      }
    });
    items.push(...done.filter(Boolean));
    await sink.finish();
  }
  return { items, volumesMissing: [...missingFiles].sort(), volumesDamaged: read?.damaged ?? [] };
}

/** Each destination holds each chart (the post-load check, and `ferry-load check --charts`). */
export async function checkCharts(charts: readonly BundleChart[], sinks: readonly ChartSink[], only?: (chart: string, destination: string) => boolean): Promise<CheckItem[]> {
  const items: CheckItem[] = [];
  for (const sink of sinks) {
    const found: CheckItem[] = [];
    await mapLimit([...charts.keys()], CONCURRENCY, async (i) => {
      const c = charts[i]!;
      if (only && !only(key(c), sink.description)) return;
      const p = await sink.check({ name: c.name, version: c.version, digest: c.digest });
      const base = { kind: 'chart' as const, ref: `${key(c)} in ${sink.description}`, expected: c.digest };
      if (p.state === 'absent') found[i] = { ...base, status: 'missing' };
      else if (p.state === 'different') found[i] = { ...base, status: 'different', detail: p.detail };
      else found[i] = { ...base, status: 'ok' };
    });
    items.push(...found.filter(Boolean));
  }
  return items;
}

/** The post-load check of a push: only the charts this run wrote, each asked of its destination again. */
export async function checkWritten(charts: readonly BundleChart[], sinks: readonly ChartSink[], items: readonly ChartReportItem[]): Promise<CheckItem[]> {
  const written = new Set(items.filter((c) => c.status === 'uploaded' || c.status === 'replaced').map((c) => `${c.chart} ${c.destination}`));
  return written.size ? checkCharts(charts, sinks, (c, d) => written.has(`${c} ${d}`)) : [];
}
