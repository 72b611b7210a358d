// The bundle spec file (`ferry-bundle create SPEC.yaml`): YAML or JSON, validated against
// schemas/bundle-spec.schema.json. Every complaint points at the line:column of the offending
// node, e.g. `spec.yaml:12:7: images[1].platforms[0]: must match OS/ARCH[/VARIANT] (got "linux")`.

import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, type Document, type Node as YamlNode, type Pair } from 'yaml';
import { FerryError, readSchema } from '@ferry/format-spec';
import { parseImageSource } from '@ferry/oci';
import { parseChartSpec } from '@ferry/charts';
import { closestName as closest } from '@ferry/cli-kit';

export interface SpecImage {
  /** Image source (skopeo transport syntax); local paths are absolute after loading. */
  source: string;
  /** Target REPOSITORY[:TAG] override. */
  name?: string;
  platforms?: string[];
  /** SBOM files to attach as OCI referrers; absolute after loading. */
  sboms?: string[];
}

/** A chart in the spec's mapping form (the string form is what --chart takes). */
export interface SpecChart {
  repo: string;
  name: string;
  version?: string;
}

export interface SpecFileEntry {
  /** Path or glob, absolute after loading. */
  source: string;
  /** Directory prefix inside the bundle. */
  dest?: string;
}

export interface BundleSpec {
  schemaVersion?: 1;
  name?: string;
  volumeSize?: string | number;
  platforms?: string[];
  images?: Array<string | SpecImage>;
  /** Chart strings (local paths absolute after loading) or repo/name/version mappings. */
  charts?: Array<string | SpecChart>;
  chartDependencies?: boolean;
  chartImages?: boolean;
  files?: Array<string | SpecFileEntry>;
  /** Absolute paths after loading. */
  publicKeys?: string[];
  compressionLevel?: number;
  /** Absolute path of the spec file this came from. */
  specFile: string;
}

type Segment = string | number;

let validator: ValidateFunction | undefined;

function compiled(): ValidateFunction {
  if (!validator) {
    const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true });
    // Our human wording for a schema node; an annotation, not a validation keyword.
    ajv.addKeyword({ keyword: 'x-error', schemaType: 'string' });
    const schema = readSchema('bundle-spec.schema.json');
    validator = ajv.compile(schema);
  }
  return validator;
}

/** Where things are in the source text. */
class Locator {
  constructor(
    private readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
    private readonly file: string,
  ) {}

  pos(offset: number | undefined): string {
    if (offset === undefined) return this.file;
    const { line, col } = this.lines.linePos(offset);
    return `${this.file}:${line}:${col}`;
  }

  /** The deepest node along `path` (and the pair holding it, for key positions). */
  find(path: readonly Segment[]): { node: YamlNode | null | undefined; pair?: Pair; complete: boolean } {
    let node: unknown = this.doc.contents;
    let pair: Pair | undefined;
    for (const seg of path) {
      if (isMap(node)) {
        const p = node.items.find((it) => isPair(it) && (isScalar(it.key) ? String(it.key.value) : String(it.key)) === String(seg));
        if (!p) return { node: node as YamlNode, ...(pair ? { pair } : {}), complete: false };
        pair = p as Pair;
        node = p.value;
      } else if (isSeq(node)) {
        const item = node.items[Number(seg)];
        if (item === undefined) return { node: node as YamlNode, complete: false };
        pair = undefined;
        node = item;
      } else return { node: node as YamlNode, complete: false };
    }
    return { node: node as YamlNode, ...(pair ? { pair } : {}), complete: true };
  }

  /** Position of the value at `path` (or of its key, for "unknown field" complaints). */
  at(path: readonly Segment[], key = false): string {
    const { node, pair } = this.find(path);
    if (key && pair && (pair.key as YamlNode | null)?.range) return this.pos((pair.key as YamlNode).range![0]);
    if (node && (node as YamlNode).range) return this.pos((node as YamlNode).range![0]);
    if (pair && (pair.key as YamlNode | null)?.range) return this.pos((pair.key as YamlNode).range![0]);
    return this.pos(0);
  }
}

function segments(instancePath: string): Segment[] {
  if (instancePath === '') return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9]\d*)$/.test(s) ? Number(s) : s));
}

/** `images[1].platforms[0]` */
function display(path: readonly Segment[]): string {
  let out = '';
  for (const s of path) out += typeof s === 'number' ? `[${s}]` : out === '' ? s : `.${s}`;
  return out === '' ? '(top level)' : out;
}

function got(v: unknown): string {
  if (v === undefined) return '';
  let t: string;
  if (v === null) t = 'null (an empty value)';
  else if (Array.isArray(v)) t = 'a list';
  else if (typeof v === 'object') t = 'a mapping';
  else t = JSON.stringify(v);
  return ` (got ${t.length > 80 ? `${t.slice(0, 77)}...` : t})`;
}

interface Problem {
  where: string;
  line: string;
}

/** Turn ajv's errors into one line each, most specific first, without the noise oneOf/anyOf make. */
function explain(errors: readonly ErrorObject[], loc: Locator): string[] {
  // Branch errors of the top-level "at least one of" rule say nothing the rule's own message does not.
  let errs = errors.filter((e) => !e.schemaPath.startsWith('#/anyOf/'));
  // A non-mapping top level makes every other complaint noise.
  const rootType = errs.find((e) => e.keyword === 'type' && e.instancePath === '');
  if (rootType) errs = [rootType];
  for (const one of errs.filter((e) => e.keyword === 'oneOf')) {
    // Branch errors cannot be told apart by schemaPath (a $ref branch reports the $defs path),
    // but our oneOf schemas check nothing else at that instance, so go by instancePath.
    const p = one.instancePath;
    const under = errs.filter((e) => e !== one && (e.instancePath === p || e.instancePath.startsWith(`${p}/`)));
    const wrongType = under.filter((e) => e.keyword === 'type' && e.instancePath === p);
    // "wrong type" from the branch that was not meant is noise when another branch says
    // something specific (a bad field inside the mapping, an empty string...).
    if (under.length > wrongType.length) errs = errs.filter((e) => e !== one && !wrongType.includes(e));
    else errs = errs.filter((e) => !wrongType.includes(e));
  }
  const problems: Problem[] = [];
  const seen = new Set<string>();
  for (const e of errs) {
    const path = segments(e.instancePath);
    const hint = (e.parentSchema as { 'x-error'?: string } | undefined)?.['x-error'];
    let where: string;
    let text: string;
    if (e.keyword === 'additionalProperties') {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      const allowed = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const guess = closest(extra, allowed);
      where = loc.at([...path, extra], true);
      text = `${display([...path, extra])}: unknown field${guess ? ` (did you mean "${guess}"?)` : ''}; allowed here: ${allowed.join(', ')}`;
    } else if (e.keyword === 'required') {
      where = loc.at(path);
      text = `${display(path)}: missing required field "${(e.params as { missingProperty: string }).missingProperty}"`;
    } else if (e.keyword === 'anyOf' && path.length === 0) {
      where = loc.at(path);
      text = `${display(path)}: ${hint ?? e.message ?? 'invalid'}`;
    } else if (e.keyword === 'type' && path.length === 0) {
      where = loc.at(path);
      text = 'the spec file must be a mapping of fields (name, images, charts, files, publicKeys, platforms, volumeSize, compressionLevel)';
    } else if (e.keyword === 'minItems' && (e.params as { limit: number }).limit === 1) {
      where = loc.at(path);
      text = `${display(path)}: must not be an empty list`;
    } else {
      where = loc.at(path);
      let msg = hint ?? e.message ?? e.keyword;
      const quoted = e.keyword === 'type' && (e.params as { type: string | string[] }).type === 'string' && (typeof e.data === 'number' || typeof e.data === 'boolean');
      if (quoted) msg += '; quote the value to make it a string';
      text = `${display(path)}: ${msg}${got(e.data)}`;
    }
    const line = `${where}: ${text}`;
    if (!seen.has(line)) {
      seen.add(line);
      problems.push({ where, line });
    }
  }
  const num = (w: string): number[] => (/:(\d+):(\d+)$/.exec(w) ?? [0, 0, 0]).slice(1).map(Number);
  problems.sort((a, b) => {
    const [al, ac] = num(a.where);
    const [bl, bc] = num(b.where);
    return al! - bl! || ac! - bc!;
  });
  return problems.map((p) => p.line);
}

function specError(lines: string[], file: string): FerryError {
  const shown = lines.slice(0, 10);
  if (lines.length > 10) shown.push(`... and ${lines.length - 10} more`);
  return new FerryError('SPEC_INVALID', shown.join('\n'), { file });
}

/** A chart string naming a local .tgz, chart directory or glob, as @ferry/charts reads --chart
 *  (`REPO-NAME/CHART@VERSION` names a Helm repository unless such a path exists under `dir`). */
export function isLocalChartSpec(s: string, dir = process.cwd()): boolean {
  try {
    return parseChartSpec(s, (p) => existsSync(resolve(dir, p))).kind === 'local';
  } catch {
    return false; // refused later, with the reason, when the chart is fetched
  }
}

/** Absolute path for a spec-relative path; `~` is not expanded (a shell does that). */
function fromSpec(dir: string, p: string): string {
  return resolve(dir, p);
}

/**
 * Parse and check spec `text` read from `file` (which names it in messages and anchors relative
 * paths). JSON or YAML is chosen by content: a document starting with `{` is JSON and must be
 * strict JSON; anything else is YAML (1.2, so `no` stays a string).
 */
export function parseSpecText(text: string, file: string): BundleSpec {
  const src = text.replace(/^\uFEFF/, '');
  if (src.trim() === '') throw specError([`${file}: the spec file is empty; it needs at least one of images, charts, files or publicKeys`], file);
  const lines = new LineCounter();
  const isJson = /^\s*\{/.test(src);
  if (isJson) {
    try {
      JSON.parse(src);
    } catch (e) {
      const m = /position (\d+)/.exec((e as Error).message);
      const offset = m ? Number(m[1]) : undefined;
      let where = file;
      if (offset !== undefined) {
        const before = src.slice(0, offset).split('\n');
        where = `${file}:${before.length}:${before[before.length - 1]!.length + 1}`;
      }
      throw specError([`${where}: not valid JSON: ${(e as Error).message.replace(/ in JSON at position \d+.*$/, '')}`], file);
    }
  }
  const doc = parseDocument(src, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    const out = doc.errors.map((err) => {
      const p = lines.linePos(err.pos[0]);
      return `${file}:${p.line}:${p.col}: ${isJson ? 'JSON' : 'YAML'} syntax error: ${err.message.split('\n')[0]}`;
    });
    throw specError(out, file);
  }
  const loc = new Locator(doc, lines, file);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw specError([`${file}: ${(e as Error).message}`], file);
  }
  const validate = compiled();
  if (!validate(data)) throw specError(explain(validate.errors ?? [], loc), file);
  const spec = data as Omit<BundleSpec, 'specFile'>;

  // Sources must parse as image sources; local ones are anchored to the spec's directory.
  const dir = dirname(resolve(file));
  const problems: string[] = [];
  const fixSource = (source: string, path: Segment[]): string => {
    try {
      const p = parseImageSource(source);
      if (p.transport === 'docker' || p.path === undefined) return source;
      const abs = fromSpec(dir, p.path);
      if (abs.includes(':')) {
        problems.push(`${loc.at(path)}: ${display(path)}: the path ${abs} holds a ":", which the ${p.transport}: syntax cannot express; move or link the ${p.transport === 'oci' ? 'directory' : 'file'}`);
        return source;
      }
      return `${p.transport}:${abs}${p.ref !== undefined ? `:${p.ref}` : ''}`;
    } catch (e) {
      problems.push(`${loc.at(path)}: ${display(path)}: ${(e as Error).message}`);
      return source;
    }
  };
  const images = spec.images?.map((img, i) =>
    typeof img === 'string'
      ? fixSource(img, ['images', i])
      : { ...img, source: fixSource(img.source, ['images', i, 'source']), ...(img.sboms ? { sboms: img.sboms.map((f) => fromSpec(dir, f)) } : {}) },
  );
  if (problems.length) throw specError(problems, file);
  const charts = spec.charts?.map((c) => (typeof c === 'string' && isLocalChartSpec(c, dir) ? fromSpec(dir, c) : c));
  const files = spec.files?.map((f) => (typeof f === 'string' ? fromSpec(dir, f) : { ...f, source: fromSpec(dir, f.source) }));
  const publicKeys = spec.publicKeys?.map((p) => fromSpec(dir, p));
  return {
    ...spec,
    ...(images ? { images } : {}),
    ...(charts ? { charts } : {}),
    ...(files ? { files } : {}),
    ...(publicKeys ? { publicKeys } : {}),
    specFile: resolve(file),
  };
}

/** Read, parse and validate a spec file; throws SPEC_INVALID with file:line:column, or INPUT_NOT_FOUND. */
export async function loadSpecFile(path: string): Promise<BundleSpec> {
  let text: string;
  try {
    const buf = await readFile(path);
    if (buf.length > 4 << 20) throw new FerryError('SPEC_INVALID', `${path}: ${buf.length} bytes is too large for a spec file (at most 4 MiB)`, { file: path });
    text = buf.toString('utf8');
  } catch (e) {
    if (e instanceof FerryError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FerryError('INPUT_NOT_FOUND', `spec file ${path} does not exist`, { file: path });
    if (code === 'EISDIR') throw new FerryError('SPEC_INVALID', `${path} is a directory; give the spec file (YAML or JSON)`, { file: path });
    throw new FerryError('SPEC_INVALID', `cannot read spec file ${path}: ${(e as Error).message}`, { file: path }, { cause: e });
  }
  return parseSpecText(text, path);
}
