// One place that turns a thrown error into a message, a hint and an exit code.

import { ERROR_CODES, toFerryError } from '@ferry/format-spec';

export interface MainOptions {
  program: string;
  json: boolean;
}

export function reportError(e: unknown, opts: MainOptions): number {
  const fe = toFerryError(e);
  if (opts.json) {
    process.stdout.write(JSON.stringify({ ok: false, error: { code: fe.code, message: fe.message, hint: fe.hint, exitCode: fe.exitCode, details: fe.details } }, null, 2) + '\n');
  } else {
    process.stderr.write(`${opts.program}: error [${fe.code}]: ${fe.message}\n  ${fe.hint}\n`);
    if (fe.code === 'INTERNAL' && process.env.FERRY_DEBUG && fe.cause instanceof Error) process.stderr.write(`${fe.cause.stack}\n`);
  }
  return fe.exitCode;
}

/** Exit-code table for --help epilogues. */
export function exitCodeHelp(): string {
  const byExit = new Map<number, string[]>();
  for (const [code, v] of Object.entries(ERROR_CODES)) byExit.set(v.exit, [...(byExit.get(v.exit) ?? []), code]);
  return ['Exit codes: 0 success', ...[...byExit.entries()].sort((a, b) => a[0] - b[0]).map(([n, codes]) => `  ${n} ${codes.join(', ')}`)].join('\n');
}

export function writeJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
