// What a delta bundle (format v4) leaves out, as verify, inspect and push report it.

import { requiredOf, type BundleManifest } from '@ferry/format-spec';

export interface DeltaReport {
  carriedBytes: number;
  referencedBytes: number;
  requiredBytes: number;
  requiredBlobs: number;
  baselines: Array<{ name: string; kind: 'bundle' | 'inventory'; digest: string; created?: string; requiredBlobs: number; requiredBytes: number }>;
}

export function deltaReport(m: BundleManifest): DeltaReport | undefined {
  if (!m.delta || !m.baselines) return undefined;
  const required = requiredOf(m);
  return {
    ...m.delta,
    baselines: m.baselines.map((b) => {
      const mine = required.filter((r) => r.baseline === b.name);
      return { name: b.name, kind: b.kind, digest: b.digest, ...(b.created ? { created: b.created } : {}), requiredBlobs: mine.length, requiredBytes: mine.reduce((n, r) => n + r.size, 0) };
    }),
  };
}

/** One line for the text output: `Delta: 31 blob(s), 467 MiB not carried: required in the target (from weekly-2026-11-29)`. */
export function deltaLine(d: DeltaReport, formatBytes: (n: number) => string, show: (s: string) => string): string {
  const from = d.baselines.map((b) => `${show(b.name)}${b.requiredBlobs ? `: ${b.requiredBlobs} blob(s)` : ''}`).join(', ');
  return `Delta:     ${d.requiredBlobs} blob(s), ${formatBytes(d.requiredBytes)} not carried, required in the target (baselines ${from}); carried ${formatBytes(d.carriedBytes)}`;
}
