// go-yaml v2's emitter, as far as `helm repo index` output needs it: sigs.k8s.io/yaml turns
// encoding/json output into YAML through go-yaml v2, so every map's keys come out sorted (go-yaml's
// "natural" order, where digits compare as numbers), sequences are block style at the parent
// key's indentation, and each string is written plain, single-quoted, double-quoted or as a
// literal block by go-yaml's rules, long ones folded at column 80. A port of the parts of
// go-yaml v2.4's emitterc.go such a document uses (block maps and sequences, empty flow
// collections, the four scalar styles, `? ` keys over 128 bytes), written against helm v3.22's
// output (test/fixtures/helm-index). Also Go's time.Time text, which those documents carry.

import { GoObject, formatGoFloat, plainScalarIsString, resolvePlainScalar } from './metadata.js';
// ---------------------------------------------------------------------------------------------
// Go time formatting.

/** Go's zero time.Time, which encoding/json writes for an unset `created`/`generated`. */
export const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

/** time.Time.MarshalJSON for a UTC instant: RFC 3339, fraction without trailing zeros. */
export function formatGoTime(d: Date): string {
  return d.toISOString().replace(/\.(\d*?)0*Z$/, (_, f: string) => (f ? `.${f}Z` : 'Z'));
}

/** An RFC 3339 string as Go re-marshals it after parsing: fraction cut to 9 digits, trailing zeros dropped. */
export function normaliseGoTime(s: string | undefined): string {
  if (!s) return GO_ZERO_TIME;
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:[.,](\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) return s;
  const frac = (m[2] ?? '').slice(0, 9).replace(/0+$/, '');
  return `${m[1]}${frac ? `.${frac}` : ''}${m[3]}`;
}

// ---------------------------------------------------------------------------------------------
// The document model: what JSON -> go-yaml v2 hands the encoder.

type YValue =
  | { t: 'str'; v: string }
  | { t: 'plain'; v: string } // numbers, booleans, null: always written plain
  | { t: 'map'; v: Array<[string, YValue]> }
  | { t: 'seq'; v: YValue[] };

const isLetter = (cp: number): boolean => /\p{L}/u.test(String.fromCodePoint(cp));
const isDigit = (cp: number): boolean => /\p{Nd}/u.test(String.fromCodePoint(cp));

/** go-yaml v2 sorter.go keyList.Less for two string keys. */
export function goYamlKeyLess(a: string, b: string): boolean {
  const ar = [...a].map((c) => c.codePointAt(0)!);
  const br = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < ar.length && i < br.length; i++) {
    if (ar[i] === br[i]) continue;
    const al = isLetter(ar[i]!);
    const bl = isLetter(br[i]!);
    if (al && bl) return ar[i]! < br[i]!;
    if (al || bl) return bl;
    let an = 0n;
    let bn = 0n;
    if (ar[i] === 0x30 || br[i] === 0x30) {
      for (let j = i - 1; j >= 0 && isDigit(ar[j]!); j--) {
        if (ar[j] !== 0x30) {
          an = 1n;
          bn = 1n;
          break;
        }
      }
    }
    let ai = i;
    let bi = i;
    for (; ai < ar.length && isDigit(ar[ai]!); ai++) an = an * 10n + BigInt(ar[ai]! - 0x30);
    for (; bi < br.length && isDigit(br[bi]!); bi++) bn = bn * 10n + BigInt(br[bi]! - 0x30);
    if (an !== bn) return an < bn;
    if (ai !== bi) return ai < bi;
    return ar[i]! < br[i]!;
  }
  return ar.length < br.length;
}

function sortKeys(entries: Array<[string, YValue]>): Array<[string, YValue]> {
  return [...entries].sort(([a], [b]) => (goYamlKeyLess(a, b) ? -1 : goYamlKeyLess(b, a) ? 1 : 0));
}

/** JSON-like data (GoObjects, plain objects, arrays, scalars) as go-yaml v2 would hold it. */
function toY(v: unknown): YValue {
  if (v === null || v === undefined) return { t: 'plain', v: 'null' };
  // encoding/json leaves U+0085 (NEL) unescaped, and go-yaml, reading that JSON back as YAML
  // 1.1, takes it for a line break inside a double-quoted scalar and folds it: one becomes a
  // space, n in a row n-1 newlines, spaces around them dropped.
  if (typeof v === 'string') return { t: 'str', v: v.includes('\u0085') ? v.replace(/ *\u0085(?: *\u0085)* */g, (m) => { const n = m.split('\u0085').length - 1; return n === 1 ? ' ' : '\n'.repeat(n - 1); }) : v };
  if (typeof v === 'boolean') return { t: 'plain', v: v ? 'true' : 'false' };
  if (typeof v === 'number' || typeof v === 'bigint') {
    // encoding/json's text for the number, read back by go-yaml: an int or a float64.
    const text = typeof v === 'bigint' ? v.toString() : JSON.stringify(v);
    const r = resolvePlainScalar(text);
    return { t: 'plain', v: r.k === 'int' ? r.v.toString() : r.k === 'float' ? formatGoFloat(r.v, 64) : text };
  }
  if (Array.isArray(v)) return { t: 'seq', v: v.map(toY) };
  if (v instanceof GoObject) return { t: 'map', v: sortKeys(v.entries.map(([k, x]) => [k, toY(x)])) };
  if (typeof v === 'object') return { t: 'map', v: sortKeys(Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).map(([k, x]) => [k, toY(x)])) };
  return { t: 'str', v: String(v) };
}

// ---------------------------------------------------------------------------------------------
// go-yaml v2 emitter (emitterc.go), for the events a JSON-derived document produces.

type Style = 'plain' | 'single' | 'double' | 'literal';

interface Analysis {
  multiline: boolean;
  /** Kept for fidelity to emitterc.go; flow context never holds a scalar here. */
  flowPlain: boolean;
  blockPlain: boolean;
  singleQuoted: boolean;
  block: boolean;
}

const at = (b: Buffer, i: number): number => (i < b.length ? b[i]! : 0);
function width(c: number): number {
  if ((c & 0x80) === 0) return 1;
  if ((c & 0xe0) === 0xc0) return 2;
  if ((c & 0xf0) === 0xe0) return 3;
  if ((c & 0xf8) === 0xf0) return 4;
  return 0;
}
function isPrintable(b: Buffer, i: number): boolean {
  const c = at(b, i);
  const n = at(b, i + 1);
  return c === 0x0a || (c >= 0x20 && c <= 0x7e) || (c === 0xc2 && n >= 0xa0) || (c > 0xc2 && c < 0xed) || (c === 0xed && n < 0xa0) || c === 0xee ||
    (c === 0xef && !(n === 0xbb && at(b, i + 2) === 0xbf) && !(n === 0xbf && (at(b, i + 2) === 0xbe || at(b, i + 2) === 0xbf)));
}
const isSpace = (b: Buffer, i: number): boolean => at(b, i) === 0x20;
const isBlank = (b: Buffer, i: number): boolean => at(b, i) === 0x20 || at(b, i) === 0x09;
function isBreak(b: Buffer, i: number): boolean {
  const c = at(b, i);
  return c === 0x0d || c === 0x0a || (c === 0xc2 && at(b, i + 1) === 0x85) || (c === 0xe2 && at(b, i + 1) === 0x80 && (at(b, i + 2) === 0xa8 || at(b, i + 2) === 0xa9));
}
const isBlankz = (b: Buffer, i: number): boolean => i >= b.length || isBlank(b, i) || isBreak(b, i) || at(b, i) === 0;

function analyze(value: Buffer): Analysis {
  if (value.length === 0) return { multiline: false, flowPlain: false, blockPlain: true, singleQuoted: true, block: false };
  let blockIndicators = false;
  let flowIndicators = false;
  let lineBreaks = false;
  let special = false;
  let leadingSpace = false;
  let leadingBreak = false;
  let trailingSpace = false;
  let trailingBreak = false;
  let breakSpace = false;
  let spaceBreak = false;
  let previousSpace = false;
  let previousBreak = false;
  if (value.length >= 3 && ((value[0] === 0x2d && value[1] === 0x2d && value[2] === 0x2d) || (value[0] === 0x2e && value[1] === 0x2e && value[2] === 0x2e))) {
    blockIndicators = true;
    flowIndicators = true;
  }
  let precededByWhitespace = true;
  for (let i = 0, w = 0; i < value.length; i += w) {
    w = width(value[i]!) || 1;
    const followedByWhitespace = i + w >= value.length || isBlank(value, i + w);
    const c = String.fromCharCode(value[i]!);
    if (i === 0) {
      if ('#,[]{}&*!|>\'"%@`'.includes(c)) {
        flowIndicators = true;
        blockIndicators = true;
      } else if (c === '?' || c === ':') {
        flowIndicators = true;
        if (followedByWhitespace) blockIndicators = true;
      } else if (c === '-' && followedByWhitespace) {
        flowIndicators = true;
        blockIndicators = true;
      }
    } else if (',?[]{}'.includes(c)) {
      flowIndicators = true;
    } else if (c === ':') {
      flowIndicators = true;
      if (followedByWhitespace) blockIndicators = true;
    } else if (c === '#' && precededByWhitespace) {
      flowIndicators = true;
      blockIndicators = true;
    }
    // The emitter runs with unicode on, so only non-printable characters are special.
    if (!isPrintable(value, i)) special = true;
    if (isSpace(value, i)) {
      if (i === 0) leadingSpace = true;
      if (i + w === value.length) trailingSpace = true;
      if (previousBreak) breakSpace = true;
      previousSpace = true;
      previousBreak = false;
    } else if (isBreak(value, i)) {
      lineBreaks = true;
      if (i === 0) leadingBreak = true;
      if (i + w === value.length) trailingBreak = true;
      if (previousSpace) spaceBreak = true;
      previousSpace = false;
      previousBreak = true;
    } else {
      previousSpace = false;
      previousBreak = false;
    }
    precededByWhitespace = isBlankz(value, i);
  }
  const a: Analysis = { multiline: lineBreaks, flowPlain: true, blockPlain: true, singleQuoted: true, block: true };
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) a.flowPlain = a.blockPlain = false;
  if (trailingSpace) a.block = false;
  if (breakSpace) a.flowPlain = a.blockPlain = a.singleQuoted = false;
  if (spaceBreak || special) a.flowPlain = a.blockPlain = a.singleQuoted = a.block = false;
  if (lineBreaks) a.flowPlain = a.blockPlain = false;
  if (flowIndicators) a.flowPlain = false;
  if (blockIndicators) a.blockPlain = false;
  return a;
}

const BEST_INDENT = 2;
const BEST_WIDTH = 80;

class Emitter {
  private out: number[] = [];
  private column = 0;
  private indent = -1;
  private indents: number[] = [];
  private whitespace = true;
  private indention = true;
  private openEnded = false;
  private rootContext = false;
  private mappingContext = false;
  private simpleKeyContext = false;

  text(): string {
    return Buffer.from(this.out).toString('utf8');
  }

  private put(c: number): void {
    this.out.push(c);
    this.column++;
  }
  private putBreak(): void {
    this.out.push(0x0a);
    this.column = 0;
  }
  /** Copy one UTF-8 character of `s` at `i`; returns the next index. */
  private write(s: Buffer, i: number): number {
    const w = width(s[i]!) || 1;
    for (let k = 0; k < w; k++) this.out.push(s[i + k]!);
    this.column++;
    return i + w;
  }
  private writeAll(s: string): void {
    const b = Buffer.from(s);
    for (let i = 0; i < b.length;) i = this.write(b, i);
  }
  private writeBreak(s: Buffer, i: number): number {
    if (s[i] === 0x0a) {
      this.putBreak();
      return i + 1;
    }
    const n = this.write(s, i);
    this.column = 0;
    return n;
  }
  private increaseIndent(flow: boolean, indentless: boolean): void {
    this.indents.push(this.indent);
    if (this.indent < 0) this.indent = flow ? BEST_INDENT : 0;
    else if (!indentless) this.indent += BEST_INDENT;
  }
  private popIndent(): void {
    this.indent = this.indents.pop()!;
  }
  writeIndent(): void {
    const indent = this.indent < 0 ? 0 : this.indent;
    if (!this.indention || this.column > indent || (this.column === indent && !this.whitespace)) this.putBreak();
    while (this.column < indent) this.put(0x20);
    this.whitespace = true;
    this.indention = true;
  }
  private writeIndicator(ind: string, needWhitespace: boolean, isWhitespace: boolean, isIndention: boolean): void {
    if (needWhitespace && !this.whitespace) this.put(0x20);
    this.writeAll(ind);
    this.whitespace = isWhitespace;
    this.indention = this.indention && isIndention;
    this.openEnded = false;
  }

  private setContext(root: boolean, mapping: boolean, simpleKey: boolean): void {
    this.rootContext = root;
    this.mappingContext = mapping;
    this.simpleKeyContext = simpleKey;
  }

  node(v: YValue, ctx: { root?: boolean; mapping?: boolean; simpleKey?: boolean } = {}): void {
    this.setContext(ctx.root ?? false, ctx.mapping ?? false, ctx.simpleKey ?? false);
    if (v.t === 'str' || v.t === 'plain') return this.scalar(v);
    if (v.t === 'seq') {
      if (v.v.length === 0) return this.flowCollection('[', ']');
      this.increaseIndent(false, this.mappingContext && !this.indention);
      for (const item of v.v) {
        this.writeIndent();
        this.writeIndicator('-', true, false, true);
        this.node(item, {});
      }
      this.popIndent();
      return;
    }
    if (v.v.length === 0) return this.flowCollection('{', '}');
    this.increaseIndent(false, false);
    for (const [k, x] of v.v) {
      this.writeIndent();
      const key = Buffer.from(k);
      const a = analyze(key);
      if (!a.multiline && key.length <= 128) {
        this.node({ t: 'str', v: k }, { mapping: true, simpleKey: true });
        this.writeIndicator(':', false, false, false);
      } else {
        this.writeIndicator('?', true, false, true);
        this.node({ t: 'str', v: k }, { mapping: true });
        this.writeIndent();
        this.writeIndicator(':', true, false, true);
      }
      this.node(x, { mapping: true });
    }
    this.popIndent();
  }

  /** go-yaml writes an empty sequence or map in flow style; nothing else in a JSON-derived
   *  document is flow, so the flow level is never above 0 where a scalar is written. */
  private flowCollection(open: string, close: string): void {
    this.writeIndicator(open, true, true, false);
    this.writeIndicator(close, false, false, false);
  }

  private scalar(v: { t: 'str' | 'plain'; v: string }): void {
    const value = Buffer.from(v.v, 'utf8');
    // encode.go stringv: the style asked for.
    let style: Style = 'plain';
    if (v.t === 'str') {
      const canUsePlain = plainScalarIsString(v.v) && !isBase60Float(v.v);
      style = v.v.includes('\n') ? 'literal' : canUsePlain ? 'plain' : 'double';
    }
    // yaml_emitter_select_scalar_style.
    const a = analyze(value);
    if (this.simpleKeyContext && a.multiline) style = 'double';
    if (style === 'plain') {
      if (!a.blockPlain) style = 'single';
      if (value.length === 0 && this.simpleKeyContext) style = 'single';
    }
    if (style === 'single' && !a.singleQuoted) style = 'double';
    if (style === 'literal' && (!a.block || this.simpleKeyContext)) style = 'double';

    this.increaseIndent(true, false);
    const breaks = !this.simpleKeyContext;
    if (style === 'plain') this.writePlain(value, breaks);
    else if (style === 'single') this.writeSingle(value, breaks);
    else if (style === 'double') this.writeDouble(value, breaks);
    else this.writeLiteral(value);
    this.popIndent();
  }

  private writePlain(value: Buffer, allowBreaks: boolean): void {
    if (!this.whitespace) this.put(0x20);
    let spaces = false;
    let brk = false;
    for (let i = 0; i < value.length;) {
      if (isSpace(value, i)) {
        if (allowBreaks && !spaces && this.column > BEST_WIDTH && !isSpace(value, i + 1)) {
          this.writeIndent();
          i += 1;
        } else i = this.write(value, i);
        spaces = true;
      } else if (isBreak(value, i)) {
        if (!brk && value[i] === 0x0a) this.putBreak();
        i = this.writeBreak(value, i);
        this.indention = true;
        brk = true;
      } else {
        if (brk) this.writeIndent();
        i = this.write(value, i);
        this.indention = false;
        spaces = false;
        brk = false;
      }
    }
    this.whitespace = false;
    this.indention = false;
    if (this.rootContext) this.openEnded = true;
  }

  private writeSingle(value: Buffer, allowBreaks: boolean): void {
    this.writeIndicator("'", true, false, false);
    let spaces = false;
    let brk = false;
    for (let i = 0; i < value.length;) {
      if (isSpace(value, i)) {
        if (allowBreaks && !spaces && this.column > BEST_WIDTH && i > 0 && i < value.length - 1 && !isSpace(value, i + 1)) {
          this.writeIndent();
          i += 1;
        } else i = this.write(value, i);
        spaces = true;
      } else if (isBreak(value, i)) {
        if (!brk && value[i] === 0x0a) this.putBreak();
        i = this.writeBreak(value, i);
        this.indention = true;
        brk = true;
      } else {
        if (brk) this.writeIndent();
        if (value[i] === 0x27) this.put(0x27);
        i = this.write(value, i);
        this.indention = false;
        spaces = false;
        brk = false;
      }
    }
    this.writeIndicator("'", false, false, false);
    this.whitespace = false;
    this.indention = false;
  }

  private writeDouble(value: Buffer, allowBreaks: boolean): void {
    let spaces = false;
    this.writeIndicator('"', true, false, false);
    // is_bom looks at the start of the value whatever the position (a quirk kept as is).
    const bom = value[0] === 0xef && value[1] === 0xbb && value[2] === 0xbf;
    for (let i = 0; i < value.length;) {
      const c = value[i]!;
      if (!isPrintable(value, i) || bom || isBreak(value, i) || c === 0x22 || c === 0x5c) {
        const w = width(c) || 1;
        const cp = w === 1 ? c & 0x7f : value.subarray(i, i + w).toString('utf8').codePointAt(0)!;
        i += w;
        this.put(0x5c);
        const simple: Record<number, string> = { 0x00: '0', 0x07: 'a', 0x08: 'b', 0x09: 't', 0x0a: 'n', 0x0b: 'v', 0x0c: 'f', 0x0d: 'r', 0x1b: 'e', 0x22: '"', 0x5c: '\\', 0x85: 'N', 0xa0: '_', 0x2028: 'L', 0x2029: 'P' };
        const s = simple[cp];
        if (s !== undefined) this.put(s.charCodeAt(0));
        else {
          const [letter, digits] = cp <= 0xff ? ['x', 2] : cp <= 0xffff ? ['u', 4] : ['U', 8];
          this.put(letter.charCodeAt(0));
          for (const d of cp.toString(16).toUpperCase().padStart(digits, '0')) this.put(d.charCodeAt(0));
        }
        spaces = false;
      } else if (isSpace(value, i)) {
        if (allowBreaks && !spaces && this.column > BEST_WIDTH && i > 0 && i < value.length - 1) {
          this.writeIndent();
          if (isSpace(value, i + 1)) this.put(0x5c);
          i += 1;
        } else i = this.write(value, i);
        spaces = true;
      } else {
        i = this.write(value, i);
        spaces = false;
      }
    }
    this.writeIndicator('"', false, false, false);
    this.whitespace = false;
    this.indention = false;
  }

  private writeLiteral(value: Buffer): void {
    this.writeIndicator('|', true, false, false);
    // yaml_emitter_write_block_scalar_hints
    if (isSpace(value, 0) || isBreak(value, 0)) this.writeIndicator(String(BEST_INDENT), false, false, false);
    this.openEnded = false;
    let chomp = '';
    if (value.length === 0) chomp = '-';
    else {
      let i = value.length - 1;
      while ((value[i]! & 0xc0) === 0x80) i--;
      if (!isBreak(value, i)) chomp = '-';
      else if (i === 0) {
        chomp = '+';
        this.openEnded = true;
      } else {
        i--;
        while ((value[i]! & 0xc0) === 0x80) i--;
        if (isBreak(value, i)) {
          chomp = '+';
          this.openEnded = true;
        }
      }
    }
    if (chomp) this.writeIndicator(chomp, false, false, false);
    this.putBreak();
    this.indention = true;
    this.whitespace = true;
    let brk = true;
    for (let i = 0; i < value.length;) {
      if (isBreak(value, i)) {
        i = this.writeBreak(value, i);
        this.indention = true;
        brk = true;
      } else {
        if (brk) this.writeIndent();
        i = this.write(value, i);
        this.indention = false;
        brk = false;
      }
    }
  }

  /** Document end (implicit) and stream end. */
  finish(): void {
    this.writeIndent();
    if (this.openEnded) {
      this.writeIndicator('...', true, false, false);
      this.writeIndent();
    }
  }
}

const BASE60_FLOAT = /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/;
function isBase60Float(s: string): boolean {
  if (s === '') return false;
  const c = s[0]!;
  if (!(c === '+' || c === '-' || (c >= '0' && c <= '9')) || !s.includes(':')) return false;
  return BASE60_FLOAT.test(s);
}

/** yaml.Marshal of JSON-like data, as go-yaml v2 writes it. */
export function goYamlMarshal(v: unknown): string {
  const e = new Emitter();
  e.node(toY(v), { root: true });
  e.finish();
  return e.text();
}

