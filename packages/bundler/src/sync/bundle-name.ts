// Sync runs name their bundles by date, so the media say which week they carry and a state
// directory sorts by name. A second run on the same day gets `.2`, `.3`… rather than replacing
// the bundle that may already be on its way to the high side.

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/;

/** `YYYY-MM-DD` in UTC (cron hosts differ in time zone; the bundle name must not). */
export function utcDate(now: Date): string {
  return now.toISOString().slice(0, 10);
}

export function isSyncPrefix(prefix: string): boolean {
  return NAME_RE.test(prefix);
}

/** `PREFIX-YYYY-MM-DD`, or with `.N` (N ≥ 2) when `taken` says that name is used. */
export function datedBundleName(prefix: string, now: Date, taken: (name: string) => boolean): string {
  const base = `${prefix}-${utcDate(now)}`;
  if (!taken(base)) return base;
  for (let n = 2; ; n++) {
    const name = `${base}.${n}`;
    if (!taken(name)) return name;
  }
}
