// uvu/assert has no async throws; this is that, with the error shown when the check fails.
import * as assert from 'uvu/assert';

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
