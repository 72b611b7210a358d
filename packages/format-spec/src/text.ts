// Untrusted text on a terminal. Every string a bundle or a source carries (paths, references,
// sources, tar entry names, annotations) passes through printable() before it is shown, so a
// hostile bundle cannot move the cursor, recolour, clear or overwrite lines, or reorder text
// with bidi controls. The string is shown escaped, not dropped, so the operator sees it is odd.

/** C0 and C1 controls, DEL, line/paragraph separators, bidi and zero-width format characters. */
const UNSAFE_RE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]/gu;
/** The same without newline, for multi-line text Ferry itself composed around untrusted parts. */
const UNSAFE_KEEP_NL_RE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]/gu;

function escapeChar(c: string): string {
  const n = c.codePointAt(0)!;
  return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u{${n.toString(16)}}`;
}

/** One untrusted value, safe to put on a terminal line: every control or invisible format
 *  character becomes a visible `\xHH` / `\u{HHHH}` escape. */
export function printable(s: string): string {
  return s.replace(UNSAFE_RE, escapeChar);
}

/** A whole message or block: like printable() but newlines are kept. */
export function printableBlock(s: string): string {
  return s.replace(UNSAFE_KEEP_NL_RE, escapeChar);
}

/** True when `s` holds a control character or a line/paragraph separator (what manifests refuse). */
export function hasControlCharacters(s: string): boolean {
  return /[\p{Cc}\u2028\u2029]/u.test(s);
}
