// One place that turns a thrown error into a message, a hint and an exit code.

import { ERROR_CODES, printable, printableBlock, redactCredentials, toFerryError, type FerryError } from '@ferry/format-spec';
import { jsonText, reportDocument } from './safe-output.js';

export interface MainOptions {
  program: string;
  json: boolean;
}

/** Error details with every string made printable (they often hold a path or a name from a bundle) and credential-free. */
function printableDetails(details: FerryError['details']): Record<string, string | number | boolean | null> {
  const out: Record<string, string | number | boolean | null> = {};
  for (const [k, v] of Object.entries(details)) out[printable(k)] = typeof v === 'string' ? printable(redactCredentials(v)) : v;
  return out;
}

/**
 * Report a failure: on stderr as `PROGRAM: error [CODE]: message` and the hint, or as one JSON
 * document on stdout. Messages are human text that may quote untrusted input, so both forms
 * are sanitised (printableBlock/printable) and any `user:password@` typed into a quoted
 * reference is hidden (redactCredentials), whatever the thrower did.
 */
export function reportError(e: unknown, opts: MainOptions): number {
  const fe = toFerryError(e);
  const message = printableBlock(redactCredentials(fe.message));
  if (opts.json) {
    process.stdout.write(jsonText(errorDocument(fe)) + '\n');
  } else {
    process.stderr.write(`${opts.program}: error [${fe.code}]: ${message}\n  ${fe.hint}\n`);
    if (fe.code === 'INTERNAL' && process.env.FERRY_DEBUG && fe.cause instanceof Error) process.stderr.write(`${fe.cause.stack}\n`);
  }
  return fe.exitCode;
}

/** The document a failed command writes for --json and --report (schemas/error-report.schema.json). */
export function errorDocument(e: unknown): unknown {
  const fe = toFerryError(e);
  return reportDocument({ ok: false, error: { code: fe.code, message: printableBlock(redactCredentials(fe.message)), hint: fe.hint, exitCode: fe.exitCode, details: printableDetails(fe.details) } });
}

/** Exit-code table for --help epilogues. */
export function exitCodeHelp(): string {
  const byExit = new Map<number, string[]>();
  for (const [code, v] of Object.entries(ERROR_CODES)) byExit.set(v.exit, [...(byExit.get(v.exit) ?? []), code]);
  return [
    'Exit codes: 0 success',
    ...[...byExit.entries()].sort((a, b) => a[0] - b[0]).map(([n, codes]) => `  ${n} ${codes.join(', ')}${n === 130 ? ' (Ctrl-C or SIGTERM: nothing incomplete is tagged)' : ''}`),
    'Usage, input, key and signature failures (2-6, 17) stop a command at once. A run that collects',
    'several failures exits with one of them, in a fixed order per command (README, "Exit codes");',
    '--json reports every failure.',
  ].join('\n');
}
