// A chart archive (.tgz) checked by Helm's own loader rules before Ferry carries it anywhere
// (helm v3 pkg/chart/loader/archive.go LoadArchiveFiles and load.go LoadFiles): gzip over tar,
// every entry under one top-level directory that the loader strips, Chart.yaml at
// <top>/Chart.yaml, at most 5 MiB per file and under 100 MiB in all, Chart.yaml, Chart.lock,
// requirements.yaml and values.yaml readable, and every subchart under charts/ loadable too.
//
// The archive is untrusted. It is inflated as a stream and the tar is parsed as the bytes
// arrive, so the per-file and total limits stop a gzip bomb at the first header that breaks
// them; the inflated bytes (headers, padding and anything after the last entry included) are
// capped as well. Stricter than Helm, on purpose: more than one top-level directory, absolute
// paths and `..` anywhere, backslashes, control characters, non-UTF-8 names, duplicate paths,
// links, devices and FIFOs are refused (Helm strips the first component whatever it is and
// reads a link as an empty file); a corrupt gzip stream, or bytes after it that are neither
// another gzip member nor zero padding, are refused even after the last entry.
// Nested .tgz subcharts share one budget with their parent (Helm gives each 100 MiB afresh).

import { createHash } from 'node:crypto';
import { createGunzip } from 'node:zlib';
import { FerryError, formatSize, hasControlCharacters, printable } from '@ferry/format-spec';
import { checkValuesYaml, decodeChartYaml, decodeRequirementsOnto, parseChartLock, validateChartMetadata } from './metadata.js';
import type { ChartLock, ChartMetadata, CheckedChart } from './types.js';

/** Helm's MaxDecompressedChartSize: the file data of one chart must stay below this. */
export const MAX_DECOMPRESSED_CHART_SIZE = 100 * 1024 * 1024;
/** Helm's MaxDecompressedFileSize: the largest file Helm loads from a chart. */
export const MAX_DECOMPRESSED_FILE_SIZE = 5 * 1024 * 1024;
/** Everything inflated from one chart archive and its nested subchart archives (tar headers,
 *  padding and trailing blocks included): twice the data limit is room for any real chart. */
export const MAX_INFLATED_CHART_BYTES = 2 * MAX_DECOMPRESSED_CHART_SIZE;
/** The largest .tgz Ferry reads: the data limit plus room for what gzip adds to stored data. */
export const MAX_CHART_ARCHIVE_BYTES = MAX_DECOMPRESSED_CHART_SIZE + 16 * 1024 * 1024;
/** Subcharts nested deeper than this are refused (Helm has no limit; no real chart comes near). */
export const MAX_SUBCHART_DEPTH = 10;
/** Go's archive/tar limit for a pax or GNU long-name record. */
const MAX_SPECIAL_FILE_SIZE = 1024 * 1024;

export interface CheckChartOptions {
  /** Where the archive came from, for messages (a path, a URL, an OCI reference). */
  where: string;
  /** What the source promised: a different name or version is CHART_INVALID naming both. */
  expect?: { name?: string; version?: string };
}

interface Budget {
  /** File data still allowed (Helm's remainingSize, shared by nested archives). */
  remaining: number;
  /** Inflated bytes so far, all archives. */
  inflated: number;
}

function bad(label: string, what: string, details: Record<string, string | number> = {}): FerryError {
  return new FerryError('CHART_INVALID', `${label}: ${what}`, details);
}

const ZERO_BLOCK = Buffer.alloc(512);
const UTF8 = new TextDecoder('utf-8', { fatal: true });

const TYPE_NAMES: Record<string, string> = {
  '1': 'a hard link', '2': 'a symbolic link', '3': 'a character device', '4': 'a block device', '6': 'a FIFO',
  S: 'a GNU sparse file', V: 'a GNU volume header', M: 'a GNU multi-volume continuation', D: 'a GNU dump directory',
};

function cstr(b: Buffer, off: number, len: number): Buffer {
  const f = b.subarray(off, off + len);
  const nul = f.indexOf(0);
  return nul === -1 ? f : f.subarray(0, nul);
}

/** A numeric header field: octal text (NUL or space terminated) or GNU base-256. */
function tarNumber(b: Buffer, off: number, len: number): number | undefined {
  const f = b.subarray(off, off + len);
  if (f[0]! & 0x80) {
    if (f[0] === 0xff) return undefined; // negative
    let v = f[0]! & 0x7f;
    for (let i = 1; i < f.length; i++) {
      v = v * 256 + f[i]!;
      if (v > Number.MAX_SAFE_INTEGER) return undefined;
    }
    return v;
  }
  const text = f.toString('latin1').replace(/[\0 ]+$/, '').replace(/^ +/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) return undefined;
  return parseInt(text, 8);
}

function headerChecksumOk(h: Buffer): boolean {
  const stored = tarNumber(h, 148, 8);
  if (stored === undefined) return false;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : h[i]!;
    unsigned += c;
    signed += c >= 0x80 ? c - 256 : c;
  }
  return stored === unsigned || stored === signed;
}

/** Pax records "<len> <key>=<value>\n", parsed as strictly as Go's archive/tar does. */
function parsePax(data: Buffer, label: string): Record<string, string> {
  const out: Record<string, string> = {};
  let rest = data;
  while (rest.length) {
    const sp = rest.indexOf(0x20);
    const len = sp > 0 ? Number(rest.subarray(0, sp).toString('latin1')) : NaN;
    if (!Number.isInteger(len) || len <= sp + 1 || len > rest.length || rest[len - 1] !== 0x0a) throw bad(label, 'the archive holds a malformed pax header');
    const rec = rest.subarray(sp + 1, len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq <= 0) throw bad(label, 'the archive holds a malformed pax record');
    out[rec.slice(0, eq)] = rec.slice(eq + 1);
    rest = rest.subarray(len);
  }
  return out;
}

interface TarState {
  top?: string;
  files: Map<string, Buffer>;
  dirs: Set<string>;
}

/**
 * Incremental tar reader: push() inflated bytes; returns true once the end-of-archive blocks
 * were read. Entries are checked as their headers arrive, before their data is inflated.
 */
class TarParser {
  private header = Buffer.alloc(512);
  private headerFill = 0;
  private zeroSeen = false;
  private ended = false;
  /** What the bytes being read belong to. */
  private mode: 'header' | 'data' | 'pad' = 'header';
  private need = 0;
  private parts: Buffer[] = [];
  private collect = false;
  private current?: { kind: 'file' | 'pax' | 'global' | 'longname' | 'longlink' | 'skip'; path?: string; size: number };
  private pendingPax?: Record<string, string>;
  private pendingLongName?: string;
  readonly state: TarState = { files: new Map(), dirs: new Set() };

  constructor(private readonly label: string, private readonly budget: Budget) {}

  get atEnd(): boolean {
    return this.ended;
  }

  /** Is the reader between entries (a stream may end there without end-of-archive blocks)? */
  get atBoundary(): boolean {
    return this.mode === 'header' && this.headerFill === 0 && this.pendingPax === undefined && this.pendingLongName === undefined;
  }

  push(chunk: Buffer): boolean {
    let off = 0;
    while (off < chunk.length && !this.ended) {
      if (this.mode === 'header') {
        const take = Math.min(512 - this.headerFill, chunk.length - off);
        chunk.copy(this.header, this.headerFill, off, off + take);
        this.headerFill += take;
        off += take;
        if (this.headerFill === 512) {
          this.headerFill = 0;
          this.onHeader(this.header);
        }
        continue;
      }
      const take = Math.min(this.need, chunk.length - off);
      if (this.mode === 'data' && this.collect) this.parts.push(Buffer.from(chunk.subarray(off, off + take)));
      this.need -= take;
      off += take;
      if (this.need === 0) {
        if (this.mode === 'data') this.onData();
        else this.mode = 'header';
      }
    }
    return this.ended;
  }

  private startData(kind: NonNullable<TarParser['current']>['kind'], size: number, path?: string): void {
    this.current = { kind, size, ...(path !== undefined ? { path } : {}) };
    this.collect = kind !== 'skip' && kind !== 'global' && kind !== 'longlink';
    this.parts = [];
    if (size === 0) {
      this.mode = 'data';
      this.need = 0;
      this.onData();
      return;
    }
    this.mode = 'data';
    this.need = size;
  }

  private onData(): void {
    const cur = this.current!;
    const data = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
    this.parts = [];
    switch (cur.kind) {
      case 'pax': {
        const pax = parsePax(data, this.label);
        if (Object.keys(pax).some((k) => k.startsWith('GNU.sparse.'))) throw bad(this.label, 'the archive holds a GNU sparse file; Helm chart packages never do', {});
        this.pendingPax = pax;
        break;
      }
      case 'longname':
        this.pendingLongName = this.decodeName(cstr(data, 0, data.length));
        break;
      case 'file': {
        this.budget.remaining -= data.length;
        if (this.budget.remaining <= 0) throw this.tooLargeTotal();
        // Helm strips a UTF-8 byte order mark from every file it loads.
        const body = data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf ? data.subarray(3) : data;
        this.state.files.set(cur.path!, body);
        break;
      }
      default:
        break;
    }
    const pad = (512 - (cur.size % 512)) % 512;
    this.current = undefined;
    if (pad) {
      this.mode = 'pad';
      this.need = pad;
    } else this.mode = 'header';
  }

  private tooLargeTotal(): FerryError {
    return bad(this.label, `the chart decompresses to ${formatSize(MAX_DECOMPRESSED_CHART_SIZE)} or more of files, Helm's limit for a chart (MaxDecompressedChartSize)`, { limit: MAX_DECOMPRESSED_CHART_SIZE });
  }

  private decodeName(raw: Buffer): string {
    try {
      return UTF8.decode(raw);
    } catch {
      throw bad(this.label, `the archive holds an entry whose name is not UTF-8 (${printable(raw.toString('latin1').slice(0, 200))})`);
    }
  }

  private onHeader(h: Buffer): void {
    if (h.equals(ZERO_BLOCK)) {
      if (this.zeroSeen) this.ended = true;
      this.zeroSeen = true;
      return;
    }
    if (this.zeroSeen) throw bad(this.label, 'the tar stream has entries after an end-of-archive block (damaged or crafted)');
    if (!headerChecksumOk(h)) throw bad(this.label, 'a tar header is damaged (checksum mismatch): the file is corrupt or not a tar archive');
    const type = String.fromCharCode(h[156]!);
    let size = tarNumber(h, 124, 12);
    if (size === undefined) throw bad(this.label, 'a tar header has an unreadable size field');
    const magic = h.subarray(257, 263).toString('latin1');
    const ustar = magic === 'ustar\0';

    if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
      if (size > MAX_SPECIAL_FILE_SIZE) throw bad(this.label, `a tar ${type === 'L' || type === 'K' ? 'long-name' : 'pax'} header is ${formatSize(size)}, more than the ${formatSize(MAX_SPECIAL_FILE_SIZE)} Go's tar reader allows`);
      this.startData(type === 'x' ? 'pax' : type === 'g' ? 'global' : type === 'L' ? 'longname' : 'longlink', size);
      return;
    }

    let name: string;
    const pax = this.pendingPax;
    if (pax?.path !== undefined) name = pax.path;
    else if (this.pendingLongName !== undefined) name = this.pendingLongName;
    else {
      const base = this.decodeName(cstr(h, 0, 100));
      const prefix = ustar ? this.decodeName(cstr(h, 345, 155)) : '';
      name = prefix ? `${prefix}/${base}` : base;
    }
    if (pax?.size !== undefined) {
      if (!/^[0-9]+$/.test(pax.size)) throw bad(this.label, 'a pax header has an unreadable size');
      size = Number(pax.size);
    }
    this.pendingPax = undefined;
    this.pendingLongName = undefined;

    let kind: 'file' | 'dir';
    if (type === '0' || type === '7') kind = 'file';
    else if (type === '\0') kind = name.endsWith('/') ? 'dir' : 'file';
    else if (type === '5') kind = 'dir';
    else {
      const what = TYPE_NAMES[type] ?? `an entry of tar type "${printable(type)}"`;
      throw bad(this.label, `the archive holds ${what} (${printable(name)}); Ferry accepts only regular files and directories in a chart`, { entry: printable(name) });
    }
    if (kind === 'dir' && size !== 0) throw bad(this.label, `the directory entry ${printable(name)} claims ${size} bytes of data`, { entry: printable(name) });

    const path = this.checkPath(name, kind);
    if (kind === 'dir') return;
    // Helm's order of checks: the remaining total first, then the per-file limit.
    if (size > this.budget.remaining) throw this.tooLargeTotal();
    if (size > MAX_DECOMPRESSED_FILE_SIZE) {
      throw bad(this.label, `${printable(name)} is ${formatSize(size)}, larger than the ${formatSize(MAX_DECOMPRESSED_FILE_SIZE)} Helm loads from a chart (MaxDecompressedFileSize)`, { entry: printable(name), size, limit: MAX_DECOMPRESSED_FILE_SIZE });
    }
    this.startData('file', size, path);
  }

  /** The entry's path inside the chart (top directory stripped), after every path rule. */
  private checkPath(name: string, kind: 'file' | 'dir'): string {
    const shown = printable(name);
    const refuse = (why: string): never => {
      throw bad(this.label, `the archive entry "${shown}" ${why}`, { entry: shown });
    };
    if (name === '') refuse('has an empty name');
    if (hasControlCharacters(name)) refuse('has control characters in its name');
    if (name.includes('\\')) refuse('has a backslash in its name (a Windows path); Ferry refuses it');
    if (name.startsWith('/')) refuse('is an absolute path');
    const clean = kind === 'dir' ? name.replace(/\/+$/, '') : name;
    const parts = clean.split('/');
    if (parts.includes('..')) refuse('has a ".." path segment');
    const top = parts[0]!;
    const rest = parts.slice(1);
    if (this.state.top === undefined) this.state.top = top;
    else if (this.state.top !== top) {
      refuse(`lies outside the archive's top-level directory "${printable(this.state.top)}"; a chart package holds exactly one top-level directory (${printable(this.state.top)}/ and ${printable(top)}/ here)`);
    }
    if (rest.length && rest[0] === '') refuse('is an absolute path once the top-level directory is stripped');
    const segs = rest.filter((s) => s !== '' && s !== '.');
    const path = segs.join('/');
    if (kind === 'dir') {
      if (path) this.noteDir(path, shown);
      return path;
    }
    if (rest.length === 0) {
      refuse(name === 'Chart.yaml' ? 'sits at the top of the archive; Helm wants Chart.yaml inside the chart directory (<name>/Chart.yaml)' : 'is a file at the top of the archive, outside the chart directory');
    }
    if (path === '') refuse('names the chart directory itself, not a file in it');
    // Helm's own checks on the cleaned path.
    if (path.startsWith('..')) refuse('starts with ".." (Helm refuses it as a reference to the parent directory)');
    if (/^[a-zA-Z]:\//.test(path)) refuse('looks like a Windows drive path');
    if (this.state.files.has(path)) refuse('appears twice in the archive');
    if (this.state.dirs.has(path)) refuse('is a file where the archive also has a directory');
    this.noteDir(segs.slice(0, -1).join('/'), shown);
    return path;
  }

  private noteDir(dir: string, shown: string): void {
    if (!dir) return;
    const segs = dir.split('/');
    for (let i = 1; i <= segs.length; i++) {
      const d = segs.slice(0, i).join('/');
      if (this.state.files.has(d)) throw bad(this.label, `the archive entry "${shown}" needs "${printable(d)}" to be a directory, but it is a file`, { entry: shown });
      this.state.dirs.add(d);
    }
  }
}

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b, 0x08]);

/** Inflate and parse one .tgz, bounded by `budget`. */
async function readTarGz(archive: Buffer, label: string, budget: Budget): Promise<TarState> {
  if (archive.length < 3 || !archive.subarray(0, 3).equals(GZIP_MAGIC)) {
    const looksYaml = /^\s*(apiVersion|name|---)/.test(archive.subarray(0, 64).toString('latin1'));
    throw bad(label, `is not a gzip-compressed tar archive (a Helm chart package is a .tgz)${looksYaml ? '; it looks like a YAML file' : ''}`);
  }
  const parser = new TarParser(label, budget);
  await new Promise<void>((resolve, reject) => {
    const gunzip = createGunzip({ chunkSize: 64 * 1024 });
    let settled = false;
    const fail = (e: unknown): void => {
      if (settled) return;
      settled = true;
      gunzip.destroy();
      reject(e);
    };
    gunzip.on('data', (chunk: Buffer) => {
      if (settled) return;
      try {
        budget.inflated += chunk.length;
        if (budget.inflated > MAX_INFLATED_CHART_BYTES) {
          throw bad(label, `inflates to more than ${formatSize(MAX_INFLATED_CHART_BYTES)} (a gzip bomb, or data hidden after the chart's files)`, { limit: MAX_INFLATED_CHART_BYTES });
        }
        if (!parser.atEnd) parser.push(chunk);
      } catch (e) {
        fail(e);
      }
    });
    gunzip.on('error', (e: Error) => {
      // Node reads on past a gzip member (as Go does); anything after it that is neither another
      // member nor zero padding fails here. Helm's tar reader would stop before noticing, but
      // such a file did not come out of `helm package`: it is refused as damaged.
      fail(bad(label, `is not a valid gzip stream (${e.message}): the file is damaged or truncated, or has bytes after its gzip data`));
    });
    gunzip.on('end', () => {
      if (settled) return;
      if (!parser.atEnd && !parser.atBoundary) return fail(bad(label, 'ends in the middle of a tar entry: the file is truncated'));
      settled = true;
      resolve();
    });
    // Feed in slices so inflation stops soon after a limit is hit.
    const SLICE = 64 * 1024;
    let at = 0;
    const feed = (): void => {
      while (at < archive.length && !settled) {
        const ok = gunzip.write(archive.subarray(at, at + SLICE));
        at += SLICE;
        if (!ok) {
          gunzip.once('drain', feed);
          return;
        }
      }
      if (!settled && at >= archive.length) gunzip.end();
    };
    feed();
  });
  return parser.state;
}

interface Loaded {
  metadata: ChartMetadata;
  lock?: ChartLock;
  vendored: string[];
  textFiles: Array<[string, string]>;
}

function utf8Text(b: Buffer): string | undefined {
  try {
    return UTF8.decode(b);
  } catch {
    return undefined;
  }
}

function textOf(files: Map<string, Buffer>, name: string, label: string): string {
  const t = utf8Text(files.get(name)!);
  if (t === undefined) throw bad(label, `${name} is not UTF-8 text`, { file: name });
  return t;
}

/** Helm's LoadFiles: the chart's own files, then each subchart under charts/. */
async function loadFiles(files: Map<string, Buffer>, label: string, budget: Budget, depth: number, prefix: string): Promise<Loaded> {
  if (files.size === 0) throw bad(label, 'holds no files');
  if (!files.has('Chart.yaml')) throw bad(label, 'has no Chart.yaml in its chart directory', { file: 'Chart.yaml' });
  const raw = decodeChartYaml(textOf(files, 'Chart.yaml', label), label);
  if (raw.apiVersion === undefined || raw.apiVersion === '') raw.apiVersion = 'v1';
  let lock: ChartLock | undefined;
  const subcharts = new Map<string, Map<string, Buffer>>();
  const textFiles: Array<[string, string]> = [];
  for (const [name, data] of files) {
    if (name === 'Chart.yaml') continue;
    if (name === 'Chart.lock' || name === 'requirements.lock') lock = parseChartLock(textOf(files, name, label), label, name);
    else if (name === 'requirements.yaml') decodeRequirementsOnto(raw, textOf(files, name, label), label, name);
    else if (name === 'values.yaml') {
      const text = textOf(files, name, label);
      checkValuesYaml(text, label, name);
      textFiles.push([`${prefix}${name}`, text]);
    } else if (name.startsWith('templates/')) {
      const text = utf8Text(data);
      if (text !== undefined) textFiles.push([`${prefix}${name}`, text]);
    } else if (name.startsWith('charts/') && !name.endsWith('.prov')) {
      const rest = name.slice('charts/'.length);
      const cname = rest.split('/')[0]!;
      let group = subcharts.get(cname);
      if (!group) subcharts.set(cname, (group = new Map()));
      group.set(rest, data);
    }
  }
  const metadata = validateChartMetadata(raw, label);

  const vendored: string[] = [];
  for (const cname of [...subcharts.keys()].sort()) {
    // Helm skips charts/_x and charts/.x.
    if (cname.startsWith('_') || cname.startsWith('.')) continue;
    const group = subcharts.get(cname)!;
    const sublabel = `${label} (subchart charts/${printable(cname)})`;
    if (depth >= MAX_SUBCHART_DEPTH) throw bad(sublabel, `subcharts are nested more than ${MAX_SUBCHART_DEPTH} levels deep`);
    let sub: Loaded;
    if (cname.endsWith('.tgz')) {
      if (group.size !== 1 || !group.has(cname)) throw bad(label, `charts/${printable(cname)} is not a single subchart archive`);
      const inner = await readTarGz(group.get(cname)!, sublabel, budget);
      sub = await loadFiles(inner.files, sublabel, budget, depth + 1, `${prefix}charts/${cname}/`);
    } else {
      const inner = new Map<string, Buffer>();
      for (const [n, d] of group) {
        const slash = n.indexOf('/');
        if (slash >= 0) inner.set(n.slice(slash + 1), d);
      }
      if (!inner.has('Chart.yaml')) throw bad(label, `charts/${printable(cname)} is not a chart: it has no Chart.yaml (Helm refuses anything in charts/ that is neither a chart directory nor a .tgz)`);
      sub = await loadFiles(inner, sublabel, budget, depth + 1, `${prefix}charts/${cname}/`);
    }
    vendored.push(sub.metadata.name);
    textFiles.push(...sub.textFiles);
  }
  return { metadata, ...(lock ? { lock } : {}), vendored: [...new Set(vendored)].sort(), textFiles };
}

/** Scan order for image references: a chart's values.yaml, then its templates, then subcharts. */
function textOrder(a: string, b: string): number {
  const depthKey = (p: string): string[] => {
    // Split "charts/x/charts/y/values.yaml" into scopes so a chart's own files come first.
    const out: string[] = [];
    let rest = p;
    for (;;) {
      const m = /^charts\/([^/]+)\/(.*)$/.exec(rest);
      if (!m) break;
      out.push(`1${m[1]!}`);
      rest = m[2]!;
    }
    out.push(rest === 'values.yaml' ? '0' : `0${rest}`);
    return out;
  };
  const ka = depthKey(a);
  const kb = depthKey(b);
  for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
    if (ka[i] !== kb[i]) return ka[i]! < kb[i]! ? -1 : 1;
  }
  return ka.length - kb.length;
}

/**
 * Check a chart archive by Helm's loader rules (and Ferry's stricter ones, above) and describe
 * it. Every failure is CHART_INVALID naming `opts.where` and what is wrong.
 */
export async function checkChartArchive(archive: Buffer, opts: CheckChartOptions): Promise<CheckedChart> {
  const label = `chart ${printable(opts.where)}`;
  const budget: Budget = { remaining: MAX_DECOMPRESSED_CHART_SIZE, inflated: 0 };
  const state = await readTarGz(archive, label, budget);
  if (state.files.size === 0) throw bad(label, 'holds no files');
  if (!state.files.has('Chart.yaml')) {
    throw bad(label, `has no ${printable(state.top ?? '<chart>')}/Chart.yaml; a chart package holds Chart.yaml directly inside its one top-level directory`, { file: 'Chart.yaml' });
  }
  const loaded = await loadFiles(state.files, label, budget, 0, '');
  const md = loaded.metadata;
  const want = opts.expect;
  if (want && ((want.name !== undefined && want.name !== md.name) || (want.version !== undefined && want.version !== md.version))) {
    const asked = `${want.name ?? md.name} ${want.version ?? md.version}`;
    throw bad(label, `holds chart ${printable(md.name)} ${printable(md.version)}, not the ${printable(asked)} it was fetched as`, {
      name: printable(md.name),
      version: printable(md.version),
      ...(want.name !== undefined ? { expectedName: printable(want.name) } : {}),
      ...(want.version !== undefined ? { expectedVersion: printable(want.version) } : {}),
    });
  }
  const textFiles = new Map(loaded.textFiles.sort(([a], [b]) => textOrder(a, b)));
  return {
    metadata: md,
    archive,
    digest: `sha256:${createHash('sha256').update(archive).digest('hex')}`,
    ...(loaded.lock ? { lock: loaded.lock } : {}),
    vendored: loaded.vendored,
    textFiles,
  };
}
