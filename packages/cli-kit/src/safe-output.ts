// The last line of defence between untrusted text and the operator's terminal or a JSON
// consumer. Commands already wrap every value taken from a bundle or a source in printable();
// what passes through here is sanitised again, so a value a command forgot cannot move the
// cursor, overwrite the "Signature: NOT verified" line or reorder text with bidi controls.

import { printable, printableBlock, redactCredentials } from '@ferry/format-spec';

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

/** Print JSON on stdout (one document, newline-terminated), escaped by jsonText(). */
export function writeJson(value: unknown): void {
  process.stdout.write(jsonText(value) + '\n');
}

/** Print human-readable text that Ferry composed: newlines kept, every other control escaped. */
export function writeText(text: string, stream: NodeJS.WritableStream = process.stdout): void {
  stream.write(printableBlock(text));
}

/** One line for a log or progress display: every control, newline included, escaped; no credentials. */
export function safeLine(line: string): string {
  return printable(redactCredentials(line));
}
