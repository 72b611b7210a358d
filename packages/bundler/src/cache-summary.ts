// The create summary's --cache line: what came from the cache, what was fetched into it, and
// what was done with leftovers of interrupted runs.

import { formatBytes } from '@ferry/cli-kit';
import type { CacheStats } from './cache.js';

export function cacheSummary(c: CacheStats): string {
  const parts = [
    `Cache: ${c.hits.blobs} blob(s), ${formatBytes(c.hits.bytes)} read from --cache`,
    `${c.stored.blobs} blob(s), ${formatBytes(c.stored.bytes)} fetched and stored`,
  ];
  if (c.partials.reused || c.partials.removed) parts.push(`leftovers of interrupted runs: ${c.partials.reused} complete one(s) reused, ${c.partials.removed} removed`);
  return parts.join('; ');
}
