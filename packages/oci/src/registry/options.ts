// Options shared by every registry operation (CLI flags map onto these one to one).

import type { CredentialOptions } from './credentials.js';

export interface RegistryOptions extends CredentialOptions {
  /** CA file(s) trusted for every registry, on top of the system roots (--ca-file). */
  caFile?: string | string[];
  /** CA file(s) per registry host[:port]. */
  caFiles?: Record<string, string | string[]>;
  /**
   * HOST or HOST:PORT names that may be reached without TLS verification: HTTPS unverified
   * first, then plain HTTP (docker's insecure-registries). A HOST without port matches any port.
   */
  insecure?: string[];
  /** Requests in flight per registry (default 6). */
  concurrency?: number;
  /** Attempts per request including the first (default 4). */
  attempts?: number;
  /** First retry delay in ms (default 250; doubles, plus jitter). */
  backoffMs?: number;
  /** Longest Retry-After honoured, in ms (default 60000); longer answers are reported. */
  maxRetryAfterMs?: number;
  /** Socket idle timeout in ms (default 60000). */
  timeoutMs?: number;
  /** Times a dropped blob download is resumed with Range (default 5). */
  resumeAttempts?: number;
  /** Blobs up to this size are uploaded in one PUT, with retries (default 8 MiB). */
  monolithicUploadMax?: number;
  /** Larger blobs are streamed in PATCH requests of at most this many bytes (default 64 MiB). */
  uploadChunkSize?: number;
  userAgent?: string;
  onRetry?: (info: { registry: string; url: string; attempt: number; delayMs: number; reason: string }) => void;
}

export function isInsecureHost(registry: string, list: readonly string[] | undefined): boolean {
  if (!list?.length) return false;
  const host = registry.startsWith('[') ? registry.slice(0, registry.indexOf(']') + 1) : registry.split(':')[0]!;
  return list.some((x) => x === registry || x === host);
}
