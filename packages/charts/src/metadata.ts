// Chart.yaml, requirements.yaml and Chart.lock read the way Helm 3 reads them, and checked by
// Helm's own rules (pkg/chart/metadata.go Validate, dependency.go, chart.go).
//
// Helm reads YAML with sigs.k8s.io/yaml: go-yaml v2 (YAML 1.1: `yes` is true, `010` is 8, an
// unquoted `2.10` is the float 2.1) turned into JSON, then decoded with encoding/json into Go
// structs. The conversion knows the target type: a number or a boolean bound for a string field
// becomes a string there (`appVersion: 2.10` is "2.1", float32 formatting), keys match fields
// case-insensitively, unknown keys are ignored, and a NaN anywhere fails the load. Then Validate
// strips non-printable characters from most strings. We mirror each step, because what comes out
// is what `helm push` marshals into the OCI config blob and `helm repo index` writes into
// index.yaml: a chart read any other way would get other bytes there.
//
// Where Ferry is stricter than Helm, it says so: a version must be SemVer 2 (Helm's Masterminds
// NewVersion also takes `v1.2`, `1.2` or `1`), apiVersion must be v1 or v2 (what `helm lint`
// requires; the loader takes any non-empty value), a name may not hold a backslash or anything
// Helm would strip, and every dependency needs a name. Custom YAML tags are refused.

import { isAlias, isMap, isScalar, isSeq, parseAllDocuments, type Document, type Node as YamlNode } from 'yaml';
import semver from 'semver';
import { FerryError, hasControlCharacters, printable } from '@ferry/format-spec';
import type { ChartDependency, ChartLock, ChartMaintainer, ChartMetadata } from './types.js';

// ---------------------------------------------------------------------------------------------
// go-yaml v2 scalar resolution (resolve.go). Plain scalars only; quoted ones are strings.

/** A YAML value as go-yaml v2 decodes it into interface{}, map keys already turned into strings
 *  the way sigs.k8s.io/yaml does (ints in decimal, floats as float32 %g, bools as true/false). */
export type GoYaml =
  | { k: 'null' }
  | { k: 'bool'; v: boolean }
  | { k: 'int'; v: bigint }
  | { k: 'float'; v: number }
  | { k: 'str'; v: string }
  | { k: 'map'; v: Map<string, GoYaml> }
  | { k: 'seq'; v: GoYaml[] };

export const YAML_TAG_PREFIX = 'tag:yaml.org,2002:';

const BOOL_TRUE = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON']);
const BOOL_FALSE = new Set(['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF']);
const NULLS = new Set(['', '~', 'null', 'Null', 'NULL']);
const FLOAT_SPECIAL: Record<string, number> = {
  '.nan': NaN, '.NaN': NaN, '.NAN': NaN,
  '.inf': Infinity, '.Inf': Infinity, '.INF': Infinity,
  '+.inf': Infinity, '+.Inf': Infinity, '+.INF': Infinity,
  '-.inf': -Infinity, '-.Inf': -Infinity, '-.INF': -Infinity,
};
const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const UINT64_MAX = (1n << 64n) - 1n;

/** strconv.ParseInt(s, 0, 64) (signed) or ParseUint (unsigned): base prefixes, no underscores. */
function goParseInt(s: string, signed: boolean): bigint | undefined {
  let i = 0;
  let neg = false;
  if (signed && (s[0] === '+' || s[0] === '-')) {
    neg = s[0] === '-';
    i = 1;
  }
  let body = s.slice(i);
  let digits: RegExp;
  let prefix = '';
  if (/^0[xX]/.test(body)) [prefix, body, digits] = ['0x', body.slice(2), /^[0-9a-fA-F]+$/];
  else if (/^0[oO]/.test(body)) [prefix, body, digits] = ['0o', body.slice(2), /^[0-7]+$/];
  else if (/^0[bB]/.test(body)) [prefix, body, digits] = ['0b', body.slice(2), /^[01]+$/];
  else if (/^0[0-9]/.test(body)) [prefix, body, digits] = ['0o', body.slice(1), /^[0-7]+$/];
  else digits = /^[0-9]+$/;
  if (!digits.test(body)) return undefined;
  let v = BigInt(prefix + body);
  if (neg) v = -v;
  if (signed ? v < INT64_MIN || v > INT64_MAX : v > UINT64_MAX) return undefined;
  return v;
}

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
function validDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  return d <= (m === 2 && leap ? 29 : DAYS[m - 1]!);
}
function validClock(h: string, mi: string, s: string): boolean {
  return Number(h) < 24 && Number(mi) < 60 && Number(s) < 60;
}

/** go-yaml v2 parseTimestamp: the four layouts it tries with time.Parse. */
function isGoYamlTimestamp(s: string): boolean {
  let m = /^(\d{4})-(\d{1,2})-(\d{1,2})[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,]\d+)?(?:Z|[+-](\d{2}):(\d{2}))$/.exec(s);
  if (m) return validDate(+m[1]!, +m[2]!, +m[3]!) && validClock(m[4]!, m[5]!, m[6]!) && (m[7] === undefined || (+m[7] <= 24 && +m[8]! <= 60));
  m = /^(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,]\d+)?$/.exec(s);
  if (m) return validDate(+m[1]!, +m[2]!, +m[3]!) && validClock(m[4]!, m[5]!, m[6]!);
  m = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(s);
  return m !== null && validDate(+m[1]!, +m[2]!, +m[3]!);
}

/** What go-yaml v2 makes of the plain (unquoted, untagged) scalar `s`. Timestamps stay text:
 *  v2 hands them to interface{} targets as strings. */
export function resolvePlainScalar(s: string): Exclude<GoYaml, { k: 'map' } | { k: 'seq' }> {
  if (s === '') return { k: 'null' };
  const c = s[0]!;
  const hint = c === '+' || c === '-' ? 'S' : c >= '0' && c <= '9' ? 'D' : 'yYnNtTfFoO~'.includes(c) ? 'M' : c === '.' ? '.' : '';
  if (hint === '') return { k: 'str', v: s };
  if (BOOL_TRUE.has(s)) return { k: 'bool', v: true };
  if (BOOL_FALSE.has(s)) return { k: 'bool', v: false };
  if (NULLS.has(s)) return { k: 'null' };
  if (s in FLOAT_SPECIAL) return { k: 'float', v: FLOAT_SPECIAL[s]! };
  if (hint === '.') {
    // strconv.ParseFloat on ".5", ".5e3" (digits may be separated by single underscores).
    if (/^\.[0-9]+(?:_[0-9]+)*(?:[eE][-+]?[0-9]+(?:_[0-9]+)*)?$/.test(s)) {
      const f = Number(s.replaceAll('_', ''));
      if (Number.isFinite(f)) return { k: 'float', v: f };
    }
    return { k: 'str', v: s };
  }
  if (hint === 'D' || hint === 'S') {
    if (isGoYamlTimestamp(s)) return { k: 'str', v: s };
    const plain = s.replaceAll('_', '');
    const i = goParseInt(plain, true) ?? goParseInt(plain, false);
    if (i !== undefined) return { k: 'int', v: i };
    if (YAML_STYLE_FLOAT.test(plain)) {
      const f = Number(plain);
      if (Number.isFinite(f)) return { k: 'float', v: f };
    }
    if (plain.startsWith('0b')) {
      const b = goParseInt(plain, true);
      if (b !== undefined) return { k: 'int', v: b };
    } else if (plain.startsWith('-0b')) {
      const b = goParseInt(plain, true);
      if (b !== undefined) return { k: 'int', v: b };
    }
  }
  return { k: 'str', v: s };
}

/** The tag go-yaml v2 gives the plain scalar `s` (`str` when it stays a string); the emitter
 *  quotes a string whose plain form would read back as anything else. */
export function plainScalarIsString(s: string): boolean {
  if (s !== '' && /^\d{4}-/.test(s) && isGoYamlTimestamp(s)) return false;
  return resolvePlainScalar(s).k === 'str';
}

// ---------------------------------------------------------------------------------------------
// Go number formatting.

/** Shortest decimal digits of `x` that read back as the same float (32- or 64-bit):
 *  value = 0.DIGITS × 10^dp. */
function shortestDigits(x: number, bits: 32 | 64): { digits: string; dp: number } {
  let e = x.toExponential();
  if (bits === 32) {
    for (let p = 0; p < 9; p++) {
      const t = x.toExponential(p);
      if (Math.fround(Number(t)) === x) {
        e = t;
        break;
      }
    }
  }
  const [mant, exp] = e.split('e') as [string, string];
  let digits = mant.replace('.', '').replace(/^-/, '');
  digits = digits.replace(/0+$/, '') || '0';
  return { digits, dp: Number(exp) + 1 };
}

/** strconv.FormatFloat(x, 'g', -1, bits). */
export function formatGoFloat(x: number, bits: 32 | 64): string {
  if (bits === 32) x = Math.fround(x);
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return '+Inf';
  if (x === -Infinity) return '-Inf';
  const neg = x < 0 || Object.is(x, -0);
  const sign = neg ? '-' : '';
  if (x === 0) return `${sign}0`;
  const { digits, dp } = shortestDigits(Math.abs(x), bits);
  const exp = dp - 1;
  // 'g' with the shortest precision switches to %e outside 1e-4 <= |x| < 1e6 (ftoa.go: eprec = 6).
  if (exp < -4 || exp >= 6) {
    const e = Math.abs(exp);
    return `${sign}${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ''}e${exp < 0 ? '-' : '+'}${e < 10 ? `0${e}` : e}`;
  }
  // %f with just the digits needed.
  if (dp <= 0) return `${sign}0.${'0'.repeat(-dp)}${digits}`;
  if (dp >= digits.length) return `${sign}${digits}${'0'.repeat(dp - digits.length)}`;
  return `${sign}${digits.slice(0, dp)}.${digits.slice(dp)}`;
}

/** How sigs.k8s.io/yaml turns a scalar into a string when the target (or a map key) is one. */
function scalarAsGoString(v: GoYaml): string | undefined {
  switch (v.k) {
    case 'str': return v.v;
    case 'int': return v.v.toString();
    case 'float': return formatGoFloat(v.v, 32);
    case 'bool': return v.v ? 'true' : 'false';
    default: return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// YAML text -> GoYaml.

class YamlProblem extends Error {}

/** More nodes than this (aliases expanded) is a billion-laughs document, not a chart file. */
const MAX_YAML_NODES = 2_000_000;

function keyString(v: GoYaml): string {
  if (v.k === 'float') {
    if (Number.isNaN(v.v)) return '.nan';
    if (v.v === Infinity) return '.inf';
    if (v.v === -Infinity) return '-.inf';
  }
  const s = scalarAsGoString(v);
  if (s === undefined) throw new YamlProblem(v.k === 'null' ? 'a map key is null (Helm cannot read such a key)' : 'a map key is a map or a list (Helm cannot read such a key)');
  return s;
}

function tagged(tag: string, text: string): GoYaml {
  const short = tag.startsWith(YAML_TAG_PREFIX) ? tag.slice(YAML_TAG_PREFIX.length) : undefined;
  const bad = (): never => {
    throw new YamlProblem(`cannot decode "${text.slice(0, 60)}" as !!${short}`);
  };
  if (tag === '!' || short === 'str') return { k: 'str', v: text };
  if (short === 'int' || short === 'float' || short === 'bool' || short === 'null' || short === 'timestamp') {
    if (short === 'timestamp') return isGoYamlTimestamp(text) ? { k: 'str', v: text } : bad();
    const r = resolvePlainScalar(text);
    if (short === 'float' && r.k === 'int') return { k: 'float', v: Number(r.v) };
    if (r.k !== short) return bad();
    return r;
  }
  throw new YamlProblem(`the custom YAML tag ${tag.slice(0, 60)} is not allowed (Ferry reads chart files with the standard tags only)`);
}

function toGoYaml(doc: Document, node: YamlNode | null | undefined, budget: { n: number }): GoYaml {
  if (++budget.n > MAX_YAML_NODES) throw new YamlProblem(`more than ${MAX_YAML_NODES} nodes once aliases are expanded (excessive aliasing)`);
  if (node === null || node === undefined) return { k: 'null' };
  if (isAlias(node)) {
    const target = node.resolve(doc);
    if (!target) throw new YamlProblem(`unknown anchor ${node.source}`);
    return toGoYaml(doc, target, budget);
  }
  if (isScalar(node)) {
    const text = typeof node.value === 'string' ? node.value : String(node.value);
    if (node.tag) return tagged(node.tag, text);
    if (node.type === 'PLAIN') return resolvePlainScalar(text);
    return { k: 'str', v: text };
  }
  if (isMap(node)) {
    if (node.tag && node.tag !== `${YAML_TAG_PREFIX}map`) throw new YamlProblem(`the YAML tag ${node.tag.slice(0, 60)} is not allowed on a map`);
    const out = new Map<string, GoYaml>();
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode | null;
      if (isScalar(keyNode) && keyNode.type === 'PLAIN' && keyNode.value === '<<' && (!keyNode.tag || keyNode.tag === `${YAML_TAG_PREFIX}merge`)) {
        mergeInto(doc, out, pair.value as YamlNode | null, budget);
        continue;
      }
      const k = keyString(toGoYaml(doc, keyNode, budget));
      out.set(k, toGoYaml(doc, pair.value as YamlNode | null, budget));
    }
    return { k: 'map', v: out };
  }
  if (isSeq(node)) {
    if (node.tag && node.tag !== `${YAML_TAG_PREFIX}seq`) throw new YamlProblem(`the YAML tag ${node.tag.slice(0, 60)} is not allowed on a list`);
    return { k: 'seq', v: node.items.map((n) => toGoYaml(doc, n as YamlNode | null, budget)) };
  }
  throw new YamlProblem('unexpected YAML node');
}

/** `<<: *base` / `<<: [*a, *b]`: go-yaml v2 decodes the merged maps into the map being built
 *  (earlier ones in a list win), so later explicit keys override them. */
function mergeInto(doc: Document, out: Map<string, GoYaml>, value: YamlNode | null, budget: { n: number }): void {
  const one = (n: YamlNode | null): void => {
    const v = toGoYaml(doc, n, budget);
    if (v.k !== 'map') throw new YamlProblem('a merge key (<<) must point at a map or a list of maps');
    for (const [k, x] of v.v) out.set(k, x);
  };
  const target = isAlias(value) ? value.resolve(doc) : value;
  if (isSeq(target)) {
    for (let i = target.items.length - 1; i >= 0; i--) one(target.items[i] as YamlNode | null);
  } else one(value);
}

/**
 * Parse YAML as Helm does (the first document only; an empty one is `undefined`). Throws a
 * CHART_INVALID naming `file` in `where` for anything Helm could not read either.
 */
export function parseGoYaml(text: string, file: string, where: string): GoYaml | undefined {
  try {
    const docs = parseAllDocuments(text, { version: '1.1', schema: 'failsafe', uniqueKeys: false, merge: false, strict: false });
    const list = Array.isArray(docs) ? docs : [];
    const doc = list[0];
    if (!doc) {
      // parseAllDocuments returns an EmptyStream (no documents) for blank text.
      return undefined;
    }
    if (doc.errors.length) throw new YamlProblem(doc.errors[0]!.message.split('\n')[0]!);
    if (doc.contents === null) return undefined;
    return toGoYaml(doc, doc.contents as YamlNode, { n: 0 });
  } catch (e) {
    if (e instanceof YamlProblem || (e instanceof Error && e.name.startsWith('YAML'))) {
      throw new FerryError('CHART_INVALID', `${printable(where)}: ${file} is not YAML Helm can read: ${printable(e.message)}`, { file });
    }
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// GoYaml -> Go structs (encoding/json semantics after sigs.k8s.io/yaml's conversion).

type Shape =
  | { t: 'string' }
  | { t: 'bool' }
  | { t: 'time' }
  | { t: 'any' }
  | { t: 'slice'; of: Shape }
  | { t: 'map'; of: Shape }
  | { t: 'struct'; fields: Record<string, Shape>; ptr: boolean };

const S: Shape = { t: 'string' };
const B: Shape = { t: 'bool' };
const strings: Shape = { t: 'slice', of: S };
const MAINTAINER: Shape = { t: 'struct', ptr: true, fields: { name: S, email: S, url: S } };
const DEPENDENCY: Shape = {
  t: 'struct',
  ptr: true,
  fields: { name: S, version: S, repository: S, condition: S, tags: strings, enabled: B, 'import-values': { t: 'slice', of: { t: 'any' } }, alias: S },
};
const METADATA: Shape = {
  t: 'struct',
  ptr: false,
  fields: {
    name: S, home: S, sources: strings, version: S, description: S, keywords: strings,
    maintainers: { t: 'slice', of: MAINTAINER }, icon: S, apiVersion: S, condition: S, tags: S,
    appVersion: S, deprecated: B, annotations: { t: 'map', of: S }, kubeVersion: S,
    dependencies: { t: 'slice', of: DEPENDENCY }, type: S,
  },
};
/** repo.ChartVersion: the embedded Metadata plus what the index adds (pkg/repo/index.go). */
const CHART_VERSION: Shape = {
  t: 'struct',
  ptr: true,
  fields: {
    ...(METADATA as { fields: Record<string, Shape> }).fields,
    urls: strings, created: { t: 'time' }, removed: B, digest: S, checksum: S, engine: S, tillerVersion: S, url: S,
  },
};
const LOCK: Shape = { t: 'struct', ptr: true, fields: { generated: { t: 'time' }, digest: S, dependencies: { t: 'slice', of: DEPENDENCY } } };

const RFC3339_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;

/** Byte order of the UTF-8 encodings (how Go sorts map keys and strings). */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

const kindName = (v: GoYaml): string => (v.k === 'map' ? 'object' : v.k === 'seq' ? 'array' : v.k === 'str' ? 'string' : v.k === 'int' || v.k === 'float' ? 'number' : v.k);

/** A value json.Marshal can write (the whole document is marshalled before it is decoded). */
function checkMarshalable(v: GoYaml, path: string): void {
  if (v.k === 'float' && !Number.isFinite(v.v)) throw new YamlProblem(`${path} is ${formatGoFloat(v.v, 64)}, which Helm cannot turn into JSON`);
  if (v.k === 'map') for (const [k, x] of v.v) checkMarshalable(x, `${path}.${k}`);
  if (v.k === 'seq') v.v.forEach((x, i) => checkMarshalable(x, `${path}[${i}]`));
}

/** interface{} after a JSON round trip: numbers are float64, maps have string keys. */
function toAny(v: GoYaml, path: string): unknown {
  switch (v.k) {
    case 'null': return null;
    case 'bool': return v.v;
    case 'str': return v.v;
    case 'int': return Number(v.v);
    case 'float':
      if (!Number.isFinite(v.v)) throw new YamlProblem(`${path} is ${formatGoFloat(v.v, 64)}, which Helm cannot turn into JSON`);
      return v.v;
    case 'seq': return v.v.map((x, i) => toAny(x, `${path}[${i}]`));
    case 'map': {
      const o: Record<string, unknown> = {};
      for (const [k, x] of v.v) Object.defineProperty(o, k, { value: toAny(x, `${path}.${k}`), enumerable: true, writable: true, configurable: true });
      return o;
    }
  }
}

/** Sentinel: JSON null decoded into a slice, map or pointer (Go sets it to nil). */
const NIL = Symbol('nil');
type Decoded = unknown | typeof NIL | undefined;

function decode(v: GoYaml, shape: Shape, path: string, into?: Record<string, unknown>): Decoded {
  const mismatch = (): never => {
    throw new YamlProblem(`${path} is ${kindName(v) === 'object' ? 'a map' : kindName(v) === 'array' ? 'a list' : `a ${kindName(v)}`}, where Helm expects ${shape.t === 'string' ? 'a string' : shape.t === 'bool' ? 'true or false' : shape.t === 'time' ? 'an RFC 3339 time' : shape.t === 'slice' ? 'a list' : 'a map'}`);
  };
  switch (shape.t) {
    case 'string': {
      if (v.k === 'null') return undefined;
      const s = scalarAsGoString(v);
      return s === undefined ? mismatch() : s;
    }
    case 'bool':
      if (v.k === 'null') return undefined;
      return v.k === 'bool' ? v.v : mismatch();
    case 'time':
      if (v.k === 'null') return undefined;
      if (v.k !== 'str') return mismatch();
      if (!RFC3339_RE.test(v.v)) throw new YamlProblem(`${path} "${v.v.slice(0, 60)}" is not an RFC 3339 time`);
      return v.v;
    case 'any':
      return toAny(v, path);
    case 'slice':
      if (v.k === 'null') return NIL;
      if (v.k !== 'seq') return mismatch();
      return v.v.map((x, i) => {
        const d = decode(x, shape.of, `${path}[${i}]`);
        if (d === undefined) return shape.of.t === 'string' ? '' : shape.of.t === 'bool' ? false : null;
        return d === NIL ? null : d;
      });
    case 'map': {
      if (v.k === 'null') return NIL;
      if (v.k !== 'map') return mismatch();
      const o: Record<string, unknown> = into ?? {};
      for (const k of [...v.v.keys()].sort(compareUtf8)) {
        const d = decode(v.v.get(k)!, shape.of, `${path}.${k}`);
        Object.defineProperty(o, k, { value: d === undefined || d === NIL ? '' : d, enumerable: true, writable: true, configurable: true });
      }
      return o;
    }
    case 'struct': {
      if (v.k === 'null') return shape.ptr ? NIL : undefined;
      if (v.k !== 'map') return mismatch();
      const o: Record<string, unknown> = into ?? {};
      const names = Object.keys(shape.fields);
      // encoding/json walks the object in key order (sigs marshals a Go map: sorted); a key
      // matches a field exactly, else case-insensitively; a later key overwrites.
      for (const k of [...v.v.keys()].sort(compareUtf8)) {
        const value = v.v.get(k)!;
        const field = names.find((n) => n === k) ?? names.find((n) => n.toLowerCase() === k.toLowerCase());
        if (field === undefined) {
          checkMarshalable(value, `${path}.${k}`);
          continue;
        }
        const fshape = shape.fields[field]!;
        const existing = o[field];
        const d = decode(value, fshape, `${path}.${field}`, fshape.t === 'map' && existing && typeof existing === 'object' ? (existing as Record<string, unknown>) : undefined);
        if (d === NIL) delete o[field];
        else if (d !== undefined) o[field] = d;
      }
      return o;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Helm's sanitizeString and Validate.

function isGoSpace(cp: number): boolean {
  return (cp >= 0x09 && cp <= 0x0d) || cp === 0x20 || cp === 0x85 || cp === 0xa0 || cp === 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp === 0x2028 || cp === 0x2029 || cp === 0x202f || cp === 0x205f || cp === 0x3000;
}
const GO_PRINT_RE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

/** Helm's sanitizeString: every Unicode space becomes ' ', anything not printable is dropped. */
export function sanitizeString(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (isGoSpace(cp)) out += ' ';
    else if (GO_PRINT_RE.test(ch)) out += ch;
  }
  return out;
}

/** strings.TrimSpace (Unicode White_Space, not U+FEFF as String.prototype.trim has it). */
export function goTrimSpace(s: string): string {
  const cps = [...s];
  let a = 0;
  let b = cps.length;
  while (a < b && isGoSpace(cps[a]!.codePointAt(0)!)) a++;
  while (b > a && isGoSpace(cps[b - 1]!.codePointAt(0)!)) b--;
  return cps.slice(a, b).join('');
}

const ALIAS_RE = /^[a-zA-Z0-9_-]+$/;

/** Is `v` a version Ferry takes: strict SemVer 2, written in its canonical form. */
export function isStrictSemver(v: string): boolean {
  const p = semver.parse(v, { loose: false });
  // node-semver also takes "v1.2.3", "=1.2.3" and surrounding blanks, and drops build
  // metadata from .version: rebuild the canonical form and compare.
  return p !== null && `${p.version}${p.build.length ? `+${p.build.join('.')}` : ''}` === v;
}

/** `where` may be untrusted (a URL, a path); printable() leaves already escaped text as it is. */
function invalid(where: string, what: string, details: Record<string, string> = {}): FerryError {
  return new FerryError('CHART_INVALID', `${printable(where)}: ${what}`, { ...details });
}

type Raw = Record<string, unknown>;
const str = (o: Raw, k: string): string => (typeof o[k] === 'string' ? (o[k] as string) : '');
const strs = (o: Raw, k: string): string[] | undefined => (Array.isArray(o[k]) ? (o[k] as string[]) : undefined);

function setIf<T extends object, K extends keyof T>(o: T, k: K, v: T[K] | undefined | '' | false): void {
  if (v !== undefined && v !== '' && v !== false && !(Array.isArray(v) && v.length === 0)) o[k] = v as T[K];
}

function dependencyFrom(raw: unknown, where: string, i: number, file: string): ChartDependency {
  if (raw === null || typeof raw !== 'object') throw invalid(where, `${file}: dependencies[${i}] is empty; Helm refuses empty or null dependency entries`, { file });
  const d = raw as Raw;
  const dep: ChartDependency = { name: sanitizeString(str(d, 'name')) };
  setIf(dep, 'version', sanitizeString(str(d, 'version')));
  // Go writes `repository` even when empty (no omitempty); keep it when Chart.yaml had it.
  if (typeof d.repository === 'string') dep.repository = sanitizeString(d.repository);
  setIf(dep, 'condition', sanitizeString(str(d, 'condition')));
  const tags = strs(d, 'tags');
  if (tags && tags.length) dep.tags = tags.map(sanitizeString);
  if (d.enabled === true) dep.enabled = true;
  if (Array.isArray(d['import-values']) && (d['import-values'] as unknown[]).length) dep['import-values'] = d['import-values'] as unknown[];
  setIf(dep, 'alias', str(d, 'alias'));
  if (dep.name === '') throw invalid(where, `${file}: dependencies[${i}] has no name (Ferry needs it to match the dependency to its chart)`, { file });
  if (dep.alias !== undefined && !ALIAS_RE.test(dep.alias)) throw invalid(where, `${file}: dependency "${printable(dep.name)}" has disallowed characters in its alias "${printable(dep.alias)}" (Helm allows a-z, A-Z, 0-9, _ and -)`, { file });
  return dep;
}

/**
 * What Helm's decoded chart.Metadata is after Validate, as a ChartMetadata (empty fields left
 * out, as Go's omitempty leaves them out of JSON), or CHART_INVALID for what Helm refuses.
 */
function metadataFrom(raw: Raw, where: string, file: string): ChartMetadata {
  let apiVersion = str(raw, 'apiVersion');
  // Helm 2 charts may lack apiVersion; Helm's loader takes them as v1.
  if (apiVersion === '') apiVersion = 'v1';
  const rawName = str(raw, 'name');
  const name = sanitizeString(rawName);
  const version = str(raw, 'version');
  if (name === '') throw invalid(where, `${file} has no name`, { file });
  if (name === '.' || name === '..' || name.includes('/') || name.includes('\\')) {
    throw invalid(where, `${file}: the chart name "${printable(name)}" is not allowed (no ".", ".." or path separators; Helm uses it as a file and directory name)`, { file, name });
  }
  if (hasControlCharacters(rawName) || rawName !== name) {
    throw invalid(where, `${file}: the chart name "${printable(rawName)}" holds control, format or non-ASCII space characters (Helm would silently drop or change them)`, { file, name: printable(rawName) });
  }
  if (version === '') throw invalid(where, `${file} has no version`, { file });
  if (!isStrictSemver(version)) {
    const clean = semver.valid(semver.coerce(version, { loose: true, includePrerelease: true }) ?? '');
    throw invalid(
      where,
      `${file}: version "${printable(version)}" is not a SemVer 2 version${clean ? ` (write it as ${clean}${version.startsWith('v') ? ', without the leading v' : ''})` : ''}; Ferry carries only charts whose version Helm can resolve in every repository type (OCI tags are matched as strict SemVer)`,
      { file, version: printable(version) },
    );
  }
  if (apiVersion !== 'v1' && apiVersion !== 'v2') throw invalid(where, `${file}: apiVersion "${printable(apiVersion)}" is neither v1 nor v2`, { file });
  const type = str(raw, 'type');
  if (type !== '' && type !== 'application' && type !== 'library') throw invalid(where, `${file}: type "${printable(type)}" must be application or library`, { file });

  const md: ChartMetadata = { apiVersion: apiVersion as 'v1' | 'v2', name, version };
  setIf(md, 'home', sanitizeString(str(raw, 'home')));
  const sources = strs(raw, 'sources');
  if (sources && sources.length) md.sources = sources.map(sanitizeString);
  setIf(md, 'description', sanitizeString(str(raw, 'description')));
  const keywords = strs(raw, 'keywords');
  if (keywords && keywords.length) md.keywords = keywords.map(sanitizeString);
  const maint = raw.maintainers;
  if (Array.isArray(maint) && maint.length) {
    md.maintainers = maint.map((m, i): ChartMaintainer => {
      if (m === null || typeof m !== 'object') throw invalid(where, `${file}: maintainers[${i}] is empty; Helm refuses empty or null maintainer entries`, { file });
      const r = m as Raw;
      const out: ChartMaintainer = { name: sanitizeString(str(r, 'name')) };
      setIf(out, 'email', sanitizeString(str(r, 'email')));
      setIf(out, 'url', sanitizeString(str(r, 'url')));
      return out;
    });
  }
  setIf(md, 'icon', sanitizeString(str(raw, 'icon')));
  setIf(md, 'condition', sanitizeString(str(raw, 'condition')));
  setIf(md, 'tags', sanitizeString(str(raw, 'tags')));
  setIf(md, 'appVersion', sanitizeString(str(raw, 'appVersion')));
  if (raw.deprecated === true) md.deprecated = true;
  const ann = raw.annotations;
  if (ann && typeof ann === 'object' && Object.keys(ann).length) md.annotations = ann as Record<string, string>;
  setIf(md, 'kubeVersion', sanitizeString(str(raw, 'kubeVersion')));
  const deps = raw.dependencies;
  if (Array.isArray(deps) && deps.length) {
    md.dependencies = deps.map((d, i) => dependencyFrom(d, where, i, file));
    const seen = new Set<string>();
    for (const d of md.dependencies) {
      const key = d.alias ?? d.name;
      if (seen.has(key)) throw invalid(where, `${file}: more than one dependency with name or alias "${printable(key)}"`, { file });
      seen.add(key);
    }
  }
  setIf(md, 'type', type);
  return md;
}

function wrap<T>(where: string, file: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof YamlProblem) throw invalid(where, `${file}: ${printable(e.message)}`, { file });
    throw e;
  }
}

/** The raw decoded fields of Chart.yaml, before requirements.yaml and Validate. */
export function decodeChartYaml(text: string, where: string, file = 'Chart.yaml'): Raw {
  const doc = parseGoYaml(text, file, where);
  if (doc === undefined || doc.k === 'null') throw invalid(where, `${file} is empty`, { file });
  if (doc.k !== 'map') throw invalid(where, `${file} is not a YAML map of fields`, { file });
  return wrap(where, file, () => decode(doc, METADATA, file) as Raw);
}

/** requirements.yaml (apiVersion v1) decoded onto the Chart.yaml fields, as Helm's loader does. */
export function decodeRequirementsOnto(raw: Raw, text: string, where: string, file = 'requirements.yaml'): void {
  const doc = parseGoYaml(text, file, where);
  if (doc === undefined || doc.k === 'null') return;
  if (doc.k !== 'map') throw invalid(where, `${file} is not a YAML map`, { file });
  wrap(where, file, () => decode(doc, METADATA, file, raw));
}

/** Validate (and sanitize) decoded Chart.yaml fields as Helm's Metadata.Validate does. */
export function validateChartMetadata(raw: Raw, where: string, file = 'Chart.yaml'): ChartMetadata {
  return metadataFrom(raw, where, file);
}

/** Chart.yaml text to checked metadata (no requirements.yaml). */
export function parseChartYaml(text: string, where: string, file = 'Chart.yaml'): ChartMetadata {
  return validateChartMetadata(decodeChartYaml(text, where, file), where, file);
}

/** Chart.lock / requirements.lock; `undefined` for an empty (null) document, as Helm has it. */
export function parseChartLock(text: string, where: string, file = 'Chart.lock'): ChartLock | undefined {
  const doc = parseGoYaml(text, file, where);
  if (doc === undefined || doc.k === 'null') return undefined;
  if (doc.k !== 'map') throw invalid(where, `${file} is not a YAML map`, { file });
  const raw = wrap(where, file, () => decode(doc, LOCK, file)) as Raw;
  const deps = Array.isArray(raw.dependencies) ? (raw.dependencies as unknown[]) : [];
  const lock: ChartLock = {
    dependencies: deps.map((d, i) => {
      if (d === null || typeof d !== 'object') throw invalid(where, `${file}: dependencies[${i}] is empty`, { file });
      const r = d as Raw;
      return { name: str(r, 'name'), version: str(r, 'version'), ...(typeof r.repository === 'string' ? { repository: r.repository } : {}) };
    }),
  };
  if (typeof raw.digest === 'string' && raw.digest !== '') lock.digest = raw.digest;
  if (typeof raw.generated === 'string') lock.generated = raw.generated;
  return lock;
}

/**
 * One index.yaml entry decoded as Helm decodes a repo.ChartVersion (strings stay strings, a
 * number in a string field becomes one, unknown keys are dropped). `undefined` for a null
 * entry (Helm skips those); throws a plain Error naming the field for what Helm cannot read.
 */
export function decodeIndexEntry(v: GoYaml, path: string): Record<string, unknown> | undefined {
  try {
    const d = decode(v, CHART_VERSION, path);
    return d === NIL || d === undefined ? undefined : (d as Record<string, unknown>);
  } catch (e) {
    if (e instanceof YamlProblem) throw new Error(e.message);
    throw e;
  }
}

/** A GoYaml value as plain JSON-like data (interface{} after a JSON round trip). */
export function goYamlToPlain(v: GoYaml, path: string): unknown {
  try {
    return toAny(v, path);
  } catch (e) {
    if (e instanceof YamlProblem) throw new Error(e.message);
    throw e;
  }
}

/** values.yaml must decode into map[string]interface{} for Helm to load the chart. */
export function checkValuesYaml(text: string, where: string, file = 'values.yaml'): void {
  const doc = parseGoYaml(text, file, where);
  if (doc === undefined || doc.k === 'null') return;
  if (doc.k !== 'map') throw invalid(where, `${file} is not a YAML map (Helm reads values as a map)`, { file });
  wrap(where, file, () => toAny(doc, file));
}

// ---------------------------------------------------------------------------------------------
// chart.Metadata as encoding/json writes it: the Go struct's field order, omitempty.

/** A Go struct or sorted map for JSON/YAML writing: entries in the order Go writes them. */
export class GoObject {
  constructor(readonly entries: Array<[string, unknown]>) {}
}

function sortedObject(o: Record<string, unknown>): GoObject {
  return new GoObject(Object.keys(o).sort(compareUtf8).map((k) => [k, anyForGo(o[k])]));
}
function anyForGo(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(anyForGo);
  if (v !== null && typeof v === 'object' && !(v instanceof GoObject)) return sortedObject(v as Record<string, unknown>);
  return v;
}

/** json.Marshal(chart.Metadata) field by field. */
export function metadataGoObject(md: ChartMetadata): GoObject {
  const e: Array<[string, unknown]> = [];
  const put = (k: string, v: unknown): void => {
    if (v === undefined || v === '' || v === false || (Array.isArray(v) && v.length === 0)) return;
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof GoObject) && Object.keys(v).length === 0) return;
    e.push([k, v]);
  };
  put('name', md.name);
  put('home', md.home);
  put('sources', md.sources);
  put('version', md.version);
  put('description', md.description);
  put('keywords', md.keywords);
  put('maintainers', md.maintainers?.map((m) => {
    const me: Array<[string, unknown]> = [];
    if (m.name) me.push(['name', m.name]);
    if (m.email) me.push(['email', m.email]);
    if (m.url) me.push(['url', m.url]);
    return new GoObject(me);
  }));
  put('icon', md.icon);
  put('apiVersion', md.apiVersion);
  put('condition', md.condition);
  put('tags', md.tags);
  put('appVersion', md.appVersion);
  put('deprecated', md.deprecated);
  put('annotations', md.annotations && Object.keys(md.annotations).length ? sortedObject(md.annotations) : undefined);
  put('kubeVersion', md.kubeVersion);
  put('dependencies', md.dependencies?.map((d) => {
    const de: Array<[string, unknown]> = [['name', d.name]];
    if (d.version) de.push(['version', d.version]);
    de.push(['repository', d.repository ?? '']);
    if (d.condition) de.push(['condition', d.condition]);
    if (d.tags?.length) de.push(['tags', d.tags]);
    if (d.enabled) de.push(['enabled', true]);
    if (d['import-values']?.length) de.push(['import-values', anyForGo(d['import-values'])]);
    if (d.alias) de.push(['alias', d.alias]);
    return new GoObject(de);
  }));
  put('type', md.type);
  return new GoObject(e);
}

/** Turn any JSON-like value into GoObjects with sorted keys (Go maps). */
export function goValue(v: unknown): unknown {
  return anyForGo(v);
}

const GO_JSON_ESCAPES: Record<string, string> = {
  '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f',
  '<': '\\u003c', '>': '\\u003e', '&': '\\u0026', '\u2028': '\\u2028', '\u2029': '\\u2029',
};

/** A string as Go's encoding/json writes it (HTML-safe: <, > and & escaped; lone surrogates,
 *  which Go would meet as invalid UTF-8, become U+FFFD). */
export function goJsonString(s: string): string {
  // eslint-disable-next-line no-control-regex
  return `"${s.replace(/[\u0000-\u001f"\\<>&\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, (c) => {
    const known = GO_JSON_ESCAPES[c];
    if (known) return known;
    if (c.charCodeAt(0) >= 0xd800) return '\ufffd';
    return `\\u00${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  })}"`;
}

/** json.Marshal of GoObjects, arrays, strings, numbers (float64), booleans and null. */
export function goJsonMarshal(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return goJsonString(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new FerryError('INTERNAL', `json: unsupported value ${v}`);
    // Go's float64 encoding picks the same forms as JavaScript's shortest round trip.
    return JSON.stringify(v);
  }
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return `[${v.map(goJsonMarshal).join(',')}]`;
  if (v instanceof GoObject) return `{${v.entries.map(([k, x]) => `${goJsonString(k)}:${goJsonMarshal(x)}`).join(',')}}`;
  if (typeof v === 'object') return goJsonMarshal(sortedObject(v as Record<string, unknown>));
  throw new FerryError('INTERNAL', `json: unsupported type ${typeof v}`);
}
