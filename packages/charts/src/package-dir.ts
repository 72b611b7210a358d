// A chart directory packaged as `helm package` lays it out, reproducibly: one top-level
// directory named after the chart, Chart.yaml first and then every file in path order, no
// directory entries, uid/gid 0, mode 0644 (0755 when the file has an execute bit), and every
// mtime PACKAGE_MTIME. The same directory gives the same bytes every time with the same
// Node.js (zlib) version: the gzip header carries no time, name or OS (mtime 0, OS 255 as Go
// writes it) and deflate runs at level 9.
//
// Differences from `helm package`, on purpose: files are carried byte for byte (Helm
// re-serialises Chart.yaml and Chart.lock, strips byte order marks, sets mode 0644 and unpacks
// .tgz subcharts into directories); a symbolic link in the chart directory is refused (Helm
// follows it); the mtime is fixed (Helm writes the time of packaging).
//
// `.helmignore` follows Helm's pkg/ignore exactly: blank lines and `#` comments are skipped,
// a pattern is Go's filepath.Match syntax (`**` is refused, as Helm refuses it), a trailing
// `/` matches directories only, a leading `/` anchors at the chart root, a pattern without `/`
// matches the base name, and `templates/.?*` is always added. A `!pattern` line does what it
// does in Helm, which is not what it does in git: Helm ignores every path the pattern does NOT
// match from that line on. `.git` is always skipped. The result is checked by checkChartArchive
// and, as `helm package` does, every dependency in Chart.yaml must be vendored under charts/.

import { constants, type Stats } from 'node:fs';
import { lstat, open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { FerryError, formatSize, printable } from '@ferry/format-spec';
import { MAX_DECOMPRESSED_CHART_SIZE, MAX_DECOMPRESSED_FILE_SIZE, checkChartArchive } from './archive.js';
import { decodeChartYaml, decodeRequirementsOnto, validateChartMetadata } from './metadata.js';
import type { ChartMetadata } from './types.js';

/** The mtime of every entry: 1980-01-01T00:00:00Z, the usual floor of reproducible builds
 *  (the zip epoch; tools that reject 1970 dates accept it). */
export const PACKAGE_MTIME = new Date(Date.UTC(1980, 0, 1));

// ---------------------------------------------------------------------------------------------
// Go's path/filepath.Match, as a regular expression.

class BadPattern extends Error {}

/** A literal character outside a character class. */
function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
/** A literal character inside a character class. */
function escapeClass(c: string): string {
  return c.replace(/[\]\\^-]/g, '\\$&');
}

/** Compile a filepath.Match pattern (Unix: `/` separates, `\` escapes); BadPattern if malformed. */
function compileGoPattern(pattern: string): RegExp {
  const chars = [...pattern];
  let re = '';
  let i = 0;
  const esc = (): string => {
    // getEsc: a class member, maybe escaped; '-' and ']' must be escaped.
    const c = chars[i];
    if (c === undefined || c === '-' || c === ']') throw new BadPattern(pattern);
    if (c === '\\') {
      i++;
      if (chars[i] === undefined) throw new BadPattern(pattern);
    }
    return chars[i++]!;
  };
  while (i < chars.length) {
    const c = chars[i]!;
    if (c === '*') {
      re += '[^/]*';
      i++;
    } else if (c === '?') {
      re += '[^/]';
      i++;
    } else if (c === '\\') {
      if (i + 1 >= chars.length) throw new BadPattern(pattern);
      re += escapeRe(chars[i + 1]!);
      i += 2;
    } else if (c === '[') {
      i++;
      let negate = false;
      if (chars[i] === '^') {
        negate = true;
        i++;
      }
      const items: string[] = [];
      let n = 0;
      for (;;) {
        if (chars[i] === ']' && n > 0) {
          i++;
          break;
        }
        if (i >= chars.length) throw new BadPattern(pattern);
        const lo = esc();
        let hi = lo;
        if (chars[i] === '-') {
          i++;
          hi = esc();
        }
        n++;
        // A range whose ends are out of order matches nothing (Go does not reject it); an
        // empty class is valid in a JavaScript RegExp and matches nothing too ([^] anything).
        if (lo.codePointAt(0)! <= hi.codePointAt(0)!) items.push(lo === hi ? escapeClass(lo) : `${escapeClass(lo)}-${escapeClass(hi)}`);
      }
      re += `[${negate ? '^' : ''}${items.join('')}]`;
    } else {
      re += escapeRe(c);
      i++;
    }
  }
  return new RegExp(`^${re}$`, 'u');
}

interface IgnoreRule {
  raw: string;
  negate: boolean;
  mustDir: boolean;
  match: (path: string) => boolean;
}

function parseRule(line: string, lineNo: number, where: string): IgnoreRule | undefined {
  let rule = line.trim();
  if (rule === '' || rule.startsWith('#')) return undefined;
  const fail = (why: string): never => {
    throw new FerryError('CHART_INVALID', `${where}: .helmignore line ${lineNo} ("${printable(rule)}"): ${why}`, { file: '.helmignore', line: lineNo });
  };
  if (rule.includes('**')) fail('double-star (**) syntax is not supported (Helm refuses it too)');
  try {
    compileGoPattern(rule);
  } catch {
    fail('not a valid pattern (Go filepath.Match syntax)');
  }
  const raw = rule;
  let negate = false;
  let mustDir = false;
  if (rule.startsWith('!')) {
    negate = true;
    rule = rule.slice(1);
  }
  if (rule.endsWith('/')) {
    mustDir = true;
    rule = rule.slice(0, -1);
  }
  let match: (p: string) => boolean;
  try {
    if (rule.startsWith('/')) {
      const re = compileGoPattern(rule.slice(1));
      match = (p) => re.test(p);
    } else if (rule.includes('/')) {
      const re = compileGoPattern(rule);
      match = (p) => re.test(p);
    } else {
      const re = compileGoPattern(rule);
      match = (p) => re.test(p.slice(p.lastIndexOf('/') + 1));
    }
  } catch {
    // Helm logs "Failed to compile" and treats the rule as not matching.
    match = () => false;
  }
  return { raw, negate, mustDir, match };
}

/** Helm's ignore.Rules: parse the text of a .helmignore (plus Helm's default rule). */
export function parseHelmIgnore(text: string, where: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  const lines = text.replace(/^\ufeff/, '').split(/\r?\n/);
  lines.forEach((l, i) => {
    const r = parseRule(l, i + 1, where);
    if (r) rules.push(r);
  });
  rules.push(parseRule('templates/.?*', 0, where)!);
  return rules;
}

/** Helm's Rules.Ignore, quirks included (see the file header about `!`). */
export function helmIgnores(rules: IgnoreRule[], path: string, isDir: boolean): boolean {
  if (path === '' || path === '.' || path === './') return false;
  for (const r of rules) {
    if (r.negate) {
      if (r.mustDir && !isDir) return true;
      if (!r.match(path)) return true;
      continue;
    }
    if (r.mustDir && !isDir) continue;
    if (r.match(path)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------

interface DirFile {
  path: string;
  data: Buffer;
  mode: number;
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

async function readNoFollow(path: string, size: number): Promise<Buffer> {
  const fh = await open(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Error('not a regular file any more');
    const buf = Buffer.alloc(Math.min(st.size, size + 1));
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}

async function walkChartDir(root: string, where: string, rules: IgnoreRule[]): Promise<DirFile[]> {
  const out: DirFile[] = [];
  let total = 0;
  const visit = async (rel: string): Promise<void> => {
    const abs = rel ? join(root, rel) : root;
    let names: string[];
    try {
      names = await readdir(abs);
    } catch (e) {
      throw new FerryError('SOURCE_NOT_FOUND', `${where}: cannot read the directory ${printable(abs)}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { path: abs }, { cause: e });
    }
    for (const name of names.sort(byteOrder)) {
      if (name === '.git') continue;
      const p = rel ? `${rel}/${name}` : name;
      const full = join(root, p);
      let st: Stats;
      try {
        st = await lstat(full);
      } catch (e) {
        throw new FerryError('SOURCE_NOT_FOUND', `${where}: cannot read ${printable(full)}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { path: full }, { cause: e });
      }
      if (helmIgnores(rules, p, st.isDirectory())) continue;
      if (st.isDirectory()) {
        await visit(p);
        continue;
      }
      if (st.isSymbolicLink()) {
        throw new FerryError('SOURCE_INVALID', `${where}: ${printable(p)} is a symbolic link; Ferry does not follow links when it packages a chart directory: replace it with the file it points at, or list it in .helmignore`, { path: full });
      }
      if (!st.isFile()) {
        throw new FerryError('CHART_INVALID', `${where}: ${printable(p)} is not a regular file (a device, FIFO or socket); Helm refuses to package it too`, { path: full });
      }
      if (st.size > MAX_DECOMPRESSED_FILE_SIZE) {
        throw new FerryError('CHART_INVALID', `${where}: ${printable(p)} is ${formatSize(st.size)}, larger than the ${formatSize(MAX_DECOMPRESSED_FILE_SIZE)} Helm loads from a chart; list it in .helmignore or make it smaller`, { path: full, size: st.size });
      }
      total += st.size;
      if (total >= MAX_DECOMPRESSED_CHART_SIZE) {
        throw new FerryError('CHART_INVALID', `${where}: the files come to ${formatSize(MAX_DECOMPRESSED_CHART_SIZE)} or more, Helm's limit for a chart`, { path: root });
      }
      let data: Buffer;
      try {
        data = await readNoFollow(full, MAX_DECOMPRESSED_FILE_SIZE);
      } catch (e) {
        throw new FerryError('SOURCE_INVALID', `${where}: cannot read ${printable(p)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { path: full }, { cause: e });
      }
      if (data.length > MAX_DECOMPRESSED_FILE_SIZE) throw new FerryError('CHART_INVALID', `${where}: ${printable(p)} grew past ${formatSize(MAX_DECOMPRESSED_FILE_SIZE)} while it was read`, { path: full });
      out.push({ path: p, data, mode: st.mode & 0o111 ? 0o755 : 0o644 });
    }
  };
  await visit('');
  return out;
}

/** gzip as Go's compress/gzip frames it with no header fields set: mtime 0, OS 255. */
function gzipDeterministic(data: Buffer): Buffer {
  const header = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x02, 0xff]);
  const body = deflateRawSync(data, { level: 9 });
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(data) >>> 0, 0);
  trailer.writeUInt32LE(data.length % 2 ** 32, 4);
  return Buffer.concat([header, body, trailer]);
}

async function tarFiles(top: string, files: DirFile[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const f of files) {
    await new Promise<void>((resolve, reject) => {
      pack.entry({ name: `${top}/${f.path}`, size: f.data.length, mode: f.mode, mtime: PACKAGE_MTIME, uid: 0, gid: 0, uname: '', gname: '', type: 'file' }, f.data, (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}

/**
 * Package the chart directory `dir` (see the file header for the exact layout). Throws
 * CHART_INVALID for what Helm would refuse, SOURCE_INVALID for a link in the directory and
 * SOURCE_NOT_FOUND when `dir` is not a chart directory.
 */
export async function packageChartDir(dir: string): Promise<{ archive: Buffer; metadata: ChartMetadata }> {
  const where = `chart directory ${printable(dir)}`;
  let st: Stats;
  try {
    st = await stat(dir);
  } catch (e) {
    throw new FerryError('SOURCE_NOT_FOUND', `${where}: not found`, { path: dir }, { cause: e });
  }
  if (!st.isDirectory()) throw new FerryError('SOURCE_NOT_FOUND', `${where}: not a directory`, { path: dir });

  let rules = parseHelmIgnore('', where);
  const ignorePath = join(dir, '.helmignore');
  const ist = await lstat(ignorePath).catch(() => undefined);
  if (ist) {
    if (ist.isSymbolicLink()) throw new FerryError('SOURCE_INVALID', `${where}: .helmignore is a symbolic link; Ferry does not follow links when it packages a chart directory`, { path: ignorePath });
    if (!ist.isFile()) throw new FerryError('CHART_INVALID', `${where}: .helmignore is not a regular file`, { path: ignorePath });
    rules = parseHelmIgnore((await readNoFollow(ignorePath, MAX_DECOMPRESSED_FILE_SIZE)).toString('utf8'), where);
  }

  const files = await walkChartDir(dir, where, rules);
  const chartYaml = files.find((f) => f.path === 'Chart.yaml');
  if (!chartYaml) throw new FerryError('SOURCE_NOT_FOUND', `${where}: no Chart.yaml (or .helmignore leaves it out); a chart directory holds Chart.yaml at its top`, { path: dir });
  // Read the name first: it names the top-level directory.
  const raw = decodeChartYaml(chartYaml.data.toString('utf8').replace(/^\ufeff/, ''), where);
  const req = files.find((f) => f.path === 'requirements.yaml');
  if (req) decodeRequirementsOnto(raw, req.data.toString('utf8').replace(/^\ufeff/, ''), where);
  const metadata = validateChartMetadata(raw, where);

  const ordered = [chartYaml, ...files.filter((f) => f !== chartYaml)];
  const archive = gzipDeterministic(await tarFiles(metadata.name, ordered));
  const checked = await checkChartArchive(archive, { where: dir });

  const missing = (checked.metadata.dependencies ?? []).map((d) => d.name).filter((n) => !checked.vendored.includes(n));
  if (missing.length) {
    throw new FerryError(
      'CHART_INVALID',
      `${where}: ${missing.map(printable).join(', ')} ${missing.length === 1 ? 'is' : 'are'} listed in Chart.yaml but missing from charts/; run \`helm dependency build ${printable(dir)}\` first (helm package refuses it too)`,
      { path: dir, missing: missing.join(',') },
    );
  }
  return { archive, metadata: checked.metadata };
}
