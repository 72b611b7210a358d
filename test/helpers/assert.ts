// uvu/assert has no async throws; this is that, with the error shown when the check fails.
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { FerryError } from '@ferry/format-spec';

export async function rejects(fn: () => Promise<unknown>, check: (e: unknown) => boolean, message?: string): Promise<void> {
  let threw = false;
  try {
    await fn();
  } catch (e) {
    threw = true;
    if (!check(e)) assert.unreachable(`${message ?? 'wrong error'}: ${e instanceof Error ? `${(e as { code?: string }).code ?? ''} ${e.message}` : String(e)}`);
  }
  if (!threw) assert.unreachable(message ?? 'expected a rejection');
}

/** Await `p`, expect a FerryError with `code` (and a message matching `re`); returns it. */
export async function rejectsCode(p: Promise<unknown>, code: string, re?: RegExp): Promise<FerryError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, FerryError, `expected FerryError, got ${String(e)}`);
    const fe = e as FerryError;
    assert.is(fe.code, code, `code ${fe.code}: ${fe.message}`);
    if (re) assert.match(fe.message, re);
    return fe;
  }
  assert.unreachable(`expected ${code}`);
  throw new Error('unreachable');
}

/** sha256 of everything a stream yields, `sha256:<hex>`. */
export async function hashStream(s: Readable): Promise<string> {
  const h = createHash('sha256');
  for await (const c of s) h.update(c as Buffer);
  return `sha256:${h.digest('hex')}`;
}
