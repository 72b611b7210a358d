// The one document `ferry-bundle create` reports, for --json on stdout and --report FILE alike
// (schemas/create-report.schema.json), so the two can never differ.

import { redactCredentials } from '@ferry/format-spec';
import type { CreateResult } from './create.js';
import type { CacheStats } from './cache.js';

export function createReport(result: CreateResult, cache: CacheStats | undefined): Record<string, unknown> {
  // Defence in depth: sources were refused before the run if they held credentials; hide any anyway.
  return {
    ok: result.failures.length === 0,
    ...result,
    ...(cache ? { cache } : {}),
    images: result.images.map((i) => ({ ...i, source: redactCredentials(i.source) })),
    failures: result.failures.map((f) => ({ ...f, source: redactCredentials(f.source), message: redactCredentials(f.message) })),
  };
}
