// The last line of defence between untrusted text and the operator's terminal or a JSON
// consumer. Commands already wrap every value taken from a bundle or a source in printable();
// what passes through here is sanitised again, so a value a command forgot cannot move the
// cursor, overwrite the "Signature: NOT verified" line or reorder text with bidi controls.

import { FerryError, REPORT_VERSION, printable, printableBlock, redactCredentials, writeWhole } from '@ferry/format-spec';

/**
 * Characters JSON.stringify leaves raw but a terminal or a JavaScript consumer may act on: DEL,
 * C1 controls (U+0080–U+009F; U+009B is a one-byte CSI on some terminals), line/paragraph
 * separators, bidi and zero-width format characters. (JSON.stringify already escapes C0 and
 * lone surrogates.)
 */
const JSON_UNSAFE_RE = /[\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]/g;

/**
 * JSON text for `value` (2-space indent) in which those characters are written as \uXXXX
 * escapes. They can only occur inside string literals, so the text parses back to exactly the
 * same value: the data stays faithful, the bytes stay inert.
 */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(JSON_UNSAFE_RE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** `value` as one line of JSON (JSON Lines: logs, a startup line a script reads), escaped as jsonText() escapes. */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value).replace(JSON_UNSAFE_RE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A --json / --report document: every one carries `reportVersion` (schemas/*.schema.json describe
 * version REPORT_VERSION), first, so a consumer can check it before reading the rest.
 */
export function reportDocument(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  return { reportVersion: REPORT_VERSION, ...(value as Record<string, unknown>) };
}

/** Print a JSON document on stdout (newline-terminated), with its reportVersion, escaped by jsonText(). */
export function writeJson(value: unknown): void {
  process.stdout.write(jsonText(reportDocument(value)) + '\n');
}

/** `--report FILE`: the same document as --json, written whole or not at all (a temp file renamed). */
export async function writeReportFile(path: string, value: unknown): Promise<void> {
  try {
    await writeWhole(path, jsonText(reportDocument(value)) + '\n');
  } catch (e) {
    throw new FerryError('TARGET_ERROR', `--report ${printable(path)}: ${(e as Error).message}`);
  }
}

/**
 * Symbols for a person at a terminal; words for a log, a pipe or NO_COLOR (https://no-color.org):
 * a cron mail or a grep reads `OK` / `FAIL`, not a glyph the mailer may mangle.
 */
const SYMBOL_WORDS: ReadonlyArray<[RegExp, string]> = [
  [/✅/gu, 'OK'], [/❌/gu, 'FAIL'], [/⚠️?/gu, 'WARN'], [/⏳/gu, 'WAIT'], [/⛔/gu, 'STOP'],
];

/** Whether output to `stream` should carry no emoji or colour: not a terminal, NO_COLOR set, or TERM=dumb. */
export function wantsPlain(stream: NodeJS.WritableStream = process.stdout): boolean {
  const env = process.env;
  return !(stream as NodeJS.WriteStream).isTTY || (env.NO_COLOR !== undefined && env.NO_COLOR !== '') || env.TERM === 'dumb';
}

/** `text` with Ferry's status symbols spelled as words. */
export function plainSymbols(text: string): string {
  let out = text;
  for (const [re, word] of SYMBOL_WORDS) out = out.replace(re, word);
  return out;
}

let quiet = false;
/** `--quiet` (cron): human text is not printed; errors (reportError) and --json documents still are. */
export function setQuiet(on: boolean): void {
  quiet = on;
}
export function isQuiet(): boolean {
  return quiet;
}

/** Print human-readable text that Ferry composed: newlines kept, every other control escaped; symbols as words when plain. */
export function writeText(text: string, stream: NodeJS.WritableStream = process.stdout): void {
  if (quiet) return;
  const safe = printableBlock(text);
  stream.write(wantsPlain(stream) ? plainSymbols(safe) : safe);
}

/** One line for a log or progress display: every control, newline included, escaped; no credentials. */
export function safeLine(line: string): string {
  return printable(redactCredentials(line));
}
