// ferry-load checksum: the transfer officer's check. Every file in NAME.sha256 is hashed and
// compared; missing and unexpected bundle files are named. No registry, no trusted key needed
// (with --trusted-key, the list's own signature is checked first).
//
// One disc of a multi-disc set: every disc carries the whole NAME.sha256 (and its .sig, the
// manifest and its .sig) beside its own volumes, so `--ignore-missing` checks the volumes that
// are present (as `sha256sum -c --ignore-missing` does) and `--volumes 2,3` the ones named. The
// verdict then says which volumes of how many it covers: never a PASS for a set not all seen.

import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import {
  FERRY_VERSION,
  FerryError,
  MAX_BUNDLE_MANIFEST_BYTES,
  MAX_CHECKSUM_LIST_BYTES,
  MAX_SIGNATURE_FILE_BYTES,
  isFerryError,
  loadTrustedKeys,
  loaderPlatformOfFile,
  parseChecksums,
  printable,
  readRegularFile,
  sha256File,
  statRegularFile,
  verifyDetached, signerOf, type Signer } from '@ferry/format-spec';
import { locateBundle } from './bundle.js';

/** SKIPPED: not checked on this disc (--ignore-missing, --volumes). ABSENT: a listed ferry-load
 *  executable (ferry-load-PLATFORM) that is not here: optional cargo, not a failure. */
export type ChecksumStatus = 'PASS' | 'FAIL' | 'MISSING' | 'UNEXPECTED' | 'SKIPPED' | 'ABSENT';

export interface ChecksumLine {
  file: string;
  status: ChecksumStatus;
  expected?: string;
  actual?: string;
  size?: number;
  /** Why a FAIL could not be hashed: not a regular file (a FIFO, device, directory), too large, unreadable. */
  reason?: string;
  /** Why a SKIPPED file was not checked: absent with --ignore-missing, or a volume --volumes leaves out. */
  skipped?: 'not-present' | 'not-selected';
}

/** Which volumes of the set the run covered (a PASS speaks for these only). */
export interface ChecksumScope {
  /** Every volume was checked: the verdict is for the whole bundle. */
  complete: boolean;
  /** Volumes listed in NAME.sha256. */
  totalVolumes: number;
  /** Volume numbers hashed. */
  checked: number[];
  /** Listed volumes absent here, skipped by --ignore-missing. */
  notPresent: number[];
  /** Listed volumes left out by --volumes. */
  notSelected: number[];
}

export interface ChecksumReport {
  bundle: string;
  dir: string;
  listSignature: 'verified' | 'not-checked' | 'missing';
  /** Fingerprint of the trusted key that signed NAME.sha256 (with --trusted-key). */
  signedBy?: string;
  /** The trusted key file it verified with. */
  signedByKey?: string;
  /** Who signed the list: the same signer object as every other report. */
  signer?: Signer;
  /** sha256 of the NAME.sha256 bytes checked: which list the receipt speaks for. */
  listDigest: string;
  scope: ChecksumScope;
  files: ChecksumLine[];
  passed: boolean;
  bytes: number;
  seconds: number;
}

export interface ChecksumOptions {
  keys?: string[];
  /** Listed files that are absent are SKIPPED, not MISSING (one disc of a set). */
  ignoreMissing?: boolean;
  /** Check only these volume numbers (1-based); the other listed volumes are SKIPPED. */
  volumes?: number[];
  onFile?: (line: ChecksumLine) => void;
  onBytes?: (n: number) => void;
  /** Before the first byte is read: the bytes of the listed files that are here and will be hashed (a progress bar's total). */
  onTotal?: (bytes: number) => void;
}

const VOLUME_FILE_RE = /^(.+)-(\d{3})\.tar\.zst$/;

/** "2,3" / "1-5": volume numbers as the officer writes them on the receipt. */
export function rangeText(vols: readonly number[]): string {
  return vols.length ? [...vols].sort((a, b) => a - b).join(',') : 'none';
}

/** `--volumes 2,3` (also "2-4", "2 3"): the volume numbers, or USAGE naming what is wrong. */
export function parseVolumeList(text: string): number[] {
  const out = new Set<number>();
  for (const part of text.split(/[\s,]+/).filter(Boolean)) {
    const m = /^(\d{1,3})(?:-(\d{1,3}))?$/.exec(part);
    const a = m ? Number(m[1]) : NaN;
    const b = m?.[2] !== undefined ? Number(m[2]) : a;
    if (!m || a < 1 || b < a) throw new FerryError('USAGE', `--volumes "${printable(text.slice(0, 60))}": give volume numbers like 2,3 or 2-4 (the NNN of NAME-NNN.tar.zst)`);
    for (let v = a; v <= b; v++) out.add(v);
  }
  if (out.size === 0) throw new FerryError('USAGE', '--volumes: give at least one volume number');
  return [...out].sort((x, y) => x - y);
}

export async function checksumBundle(path: string, opts: ChecksumOptions = {}): Promise<ChecksumReport> {
  const started = Date.now();
  const loc = await locateBundle(path);
  const listPath = join(loc.dir, `${loc.name}.sha256`);
  // Every file is opened only if it is a regular file of bounded size (safe-open.ts): a FIFO
  // or a link to /dev/zero in the bundle directory fails at once instead of hanging or eating memory.
  const listBytes = await readRegularFile(listPath, 'checksum list', MAX_CHECKSUM_LIST_BYTES).catch((e: unknown) => {
    if (isFerryError(e, 'INPUT_NOT_FOUND')) throw new FerryError('INPUT_NOT_FOUND', `${printable(listPath)}: not found; the checksum list travels with the volumes`, { file: listPath });
    throw e;
  });
  const listDigest = createHash('sha256').update(listBytes).digest('hex');
  let listSignature: ChecksumReport['listSignature'] = 'not-checked';
  let signedBy: string | undefined;
  let signedByKey: string | undefined;
  let signer: Signer | undefined;
  if (opts.keys?.length) {
    const sig = await readRegularFile(`${listPath}.sig`, 'checksum list signature', MAX_SIGNATURE_FILE_BYTES).catch((e: unknown) => {
      if (isFerryError(e, 'INPUT_NOT_FOUND')) throw new FerryError('SIGNATURE_MISSING', `${printable(listPath)}.sig: not found, so the checksum list cannot be checked against the key`, { file: `${listPath}.sig` });
      throw e;
    });
    const trusted = await loadTrustedKeys(opts.keys);
    const by = verifyDetached(listBytes, sig, trusted, `${loc.name}.sha256`);
    signedBy = by.fingerprint;
    signedByKey = by.path;
    signer = signerOf(by);
    listSignature = 'verified';
  }
  const entries = parseChecksums(listBytes.toString('utf8'), listPath);
  const volumeOf = (file: string): number | undefined => {
    const m = VOLUME_FILE_RE.exec(file);
    return m && m[1] === loc.name ? Number(m[2]) : undefined;
  };
  const listedVolumes = entries.map((e) => volumeOf(e.file)).filter((v): v is number => v !== undefined);
  const selected = opts.volumes ? new Set(opts.volumes) : undefined;
  if (selected) {
    const unknown = [...selected].filter((v) => !listedVolumes.includes(v));
    if (unknown.length) throw new FerryError('USAGE', `--volumes ${unknown.join(',')}: ${printable(loc.name)}.sha256 lists volume${listedVolumes.length === 1 ? '' : 's'} ${rangeText(listedVolumes)} only`);
  }
  if (opts.onTotal) {
    // Only regular files count: a missing one is reported MISSING, anything else FAIL, unread.
    let planned = 0;
    for (const e of entries) {
      const vol = volumeOf(e.file);
      if (selected && vol !== undefined && !selected.has(vol)) continue;
      const st = await stat(join(loc.dir, e.file)).catch(() => undefined);
      if (st?.isFile()) planned += st.size;
    }
    opts.onTotal(planned);
  }
  const lines: ChecksumLine[] = [];
  let bytes = 0;
  for (const e of entries) {
    const vol = volumeOf(e.file);
    let line: ChecksumLine;
    if (selected && vol !== undefined && !selected.has(vol)) {
      line = { file: e.file, status: 'SKIPPED', expected: e.sha256, skipped: 'not-selected' };
    } else {
      line = await checkOne(join(loc.dir, e.file), e.file, e.sha256, loc.name, (n) => {
        bytes += n;
        opts.onBytes?.(n);
      });
      if (line.status === 'MISSING' && loaderPlatformOfFile(e.file)) line = { ...line, status: 'ABSENT' };
      if (line.status === 'MISSING' && opts.ignoreMissing) line = { file: e.file, status: 'SKIPPED', expected: e.sha256, skipped: 'not-present' };
    }
    lines.push(line);
    opts.onFile?.(line);
  }
  const volumeLines = lines.map((l) => ({ l, v: volumeOf(l.file) })).filter((x): x is { l: ChecksumLine; v: number } => x.v !== undefined && listedVolumes.includes(x.v));
  const scope: ChecksumScope = {
    complete: !lines.some((l) => l.status === 'SKIPPED'),
    totalVolumes: listedVolumes.length,
    checked: volumeLines.filter((x) => x.l.status !== 'SKIPPED').map((x) => x.v),
    notPresent: volumeLines.filter((x) => x.l.skipped === 'not-present').map((x) => x.v),
    notSelected: volumeLines.filter((x) => x.l.skipped === 'not-selected').map((x) => x.v),
  };
  // As `sha256sum -c --ignore-missing`: a run that verified nothing is no PASS.
  const nothingChecked = !lines.some((l) => l.status !== 'SKIPPED' && l.status !== 'UNEXPECTED' && l.status !== 'ABSENT');
  // Files that look like part of this bundle but are not in the list: a stray or substituted volume.
  const listed = new Set(entries.map((e) => e.file));
  const own = new RegExp(`^${loc.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(-\\d{3}\\.tar\\.zst|\\.manifest\\.json(\\.sig)?)$`);
  for (const f of (await readdir(loc.dir)).sort()) {
    if (own.test(f) && !listed.has(f)) {
      const line: ChecksumLine = { file: f, status: 'UNEXPECTED' };
      lines.push(line);
      opts.onFile?.(line);
    }
  }
  return {
    bundle: loc.name,
    dir: loc.dir,
    listSignature,
    ...(signedBy ? { signedBy } : {}),
    ...(signedByKey ? { signedByKey } : {}),
    ...(signer ? { signer } : {}),
    listDigest,
    scope,
    files: lines,
    passed: !nothingChecked && lines.every((l) => l.status === 'PASS' || l.status === 'SKIPPED' || l.status === 'ABSENT'),
    bytes,
    seconds: (Date.now() - started) / 1000,
  };
}

/** Side files have the caps the loader reads them with; volumes are capped by nothing the officer holds. */
function capFor(file: string, name: string): { what: string; maxBytes?: number } {
  if (file === `${name}.manifest.json`) return { what: 'manifest', maxBytes: MAX_BUNDLE_MANIFEST_BYTES };
  if (file.endsWith('.sig')) return { what: 'signature', maxBytes: MAX_SIGNATURE_FILE_BYTES };
  return { what: 'volume' };
}

/** One listed file: PASS/FAIL by its hash, MISSING when absent, FAIL with the reason when it is no file to hash. */
async function checkOne(path: string, file: string, expected: string, name: string, onBytes: (n: number) => void): Promise<ChecksumLine> {
  const cap = capFor(file, name);
  try {
    if (!(await statRegularFile(path, cap.what))) return { file, status: 'MISSING', expected };
    const got = await sha256File(path, onBytes, cap);
    return { file, status: got.sha256 === expected ? 'PASS' : 'FAIL', expected, actual: got.sha256, size: got.size };
  } catch (err) {
    if (isFerryError(err, 'INPUT_NOT_FOUND')) return { file, status: 'MISSING', expected };
    if (isFerryError(err, 'INPUT_INVALID')) return { file, status: 'FAIL', expected, reason: err.message };
    throw err;
  }
}

/** Who checked, where and when: the receipt's header beside what was checked. */
export interface ReceiptContext {
  /** When the check ran (printed as UTC ISO 8601). */
  when?: Date;
  host?: string;
  version?: string;
}

function headerLines(ctx: ReceiptContext): string[] {
  return [
    `Checked:   ${(ctx.when ?? new Date()).toISOString()} (UTC)`,
    `Host:      ${printable(ctx.host ?? hostname())}`,
    `Ferry:     ferry-load ${ctx.version ?? FERRY_VERSION}`,
  ];
}

const volumesWord = (v: readonly number[]): string => (v.length === 1 ? 'volume' : 'volumes');

/** "for volumes 2,3 of 5" when the run did not cover the whole set, else "". */
export function scopeText(r: ChecksumReport): string {
  return r.scope.complete ? '' : ` for ${volumesWord(r.scope.checked)} ${rangeText(r.scope.checked)} of ${r.scope.totalVolumes}`;
}

/** The receipt text a transfer officer files: who, where, when, which list; one line per file, then the verdict. */
export function formatReceipt(r: ChecksumReport, ctx: ReceiptContext | Date = {}): string {
  const c: ReceiptContext = ctx instanceof Date ? { when: ctx } : ctx;
  const out: string[] = [];
  out.push(`Ferry checksum receipt — bundle ${printable(r.bundle)}`);
  out.push(`Directory: ${printable(r.dir)}`);
  out.push(...headerLines(c));
  out.push(`List:      ${printable(r.bundle)}.sha256 sha256:${r.listDigest}`);
  out.push(`List signature: ${r.listSignature === 'verified' ? `verified (key ${r.signedBy})` : 'not checked (no --trusted-key given)'}`);
  if (r.signedByKey) out.push(`Signed by: ${printable(r.signedByKey)}`);
  if (!r.scope.complete) {
    out.push(`Scope:     ${volumesWord(r.scope.checked)} ${rangeText(r.scope.checked)} of ${r.scope.totalVolumes} checked` +
      (r.scope.notPresent.length ? `; not present: ${rangeText(r.scope.notPresent)}` : '') +
      (r.scope.notSelected.length ? `; not selected (--volumes): ${rangeText(r.scope.notSelected)}` : ''));
  }
  out.push('');
  for (const l of r.files) {
    const detail =
      l.status === 'PASS' ? `sha256:${l.actual}` :
      l.status === 'FAIL' ? (l.reason ? `NOT CHECKED: ${printable(l.reason)}` : `expected sha256:${l.expected}, got sha256:${l.actual}`) :
      l.status === 'MISSING' ? 'listed in the checksum list but not present' :
      l.status === 'SKIPPED' ? (l.skipped === 'not-selected' ? 'not checked: not in --volumes' : 'not checked: not present here (--ignore-missing)') :
      l.status === 'ABSENT' ? 'optional ferry-load executable, listed but not carried here' :
      'present but not in the checksum list';
    out.push(`${l.status.padEnd(10)} ${printable(l.file)}  ${detail}`);
  }
  const counts = (s: ChecksumStatus) => r.files.filter((l) => l.status === s).length;
  const skipped = counts('SKIPPED');
  out.push('');
  out.push(`RESULT: ${r.passed ? 'PASS' : 'FAIL'}${scopeText(r)} — ${counts('PASS')} passed, ${counts('FAIL')} failed, ${counts('MISSING')} missing, ${counts('UNEXPECTED')} unexpected${skipped ? `, ${skipped} not checked` : ''}${counts('ABSENT') ? `, ${counts('ABSENT')} optional executable(s) not carried` : ''}; ${(r.bytes / 2 ** 20).toFixed(1)} MiB in ${r.seconds.toFixed(1)} s`);
  if (!r.passed && !r.files.some((l) => l.status !== 'SKIPPED' && l.status !== 'UNEXPECTED' && l.status !== 'ABSENT')) out.push('No listed file was present to check.');
  return out.join('\n') + '\n';
}

/**
 * The receipt for a run that stopped before any file could be checked (the list or its signature
 * missing, replaced, not signed by the trusted key, hostile): still a FAIL the officer files,
 * naming the error. `listDigest` when the list itself could be read.
 */
export function formatFailureReceipt(path: string, error: { code: string; message: string }, ctx: ReceiptContext & { listDigest?: string; keys?: readonly string[] } = {}): string {
  const out = [
    `Ferry checksum receipt — ${printable(path)}`,
    ...headerLines(ctx),
    ...(ctx.listDigest ? [`List:      sha256:${ctx.listDigest}`] : []),
    `List signature: ${ctx.keys?.length ? `checked against ${ctx.keys.map(printable).join(', ')}` : 'not checked (no --trusted-key given)'}`,
    '',
    `RESULT: FAIL — nothing could be checked: [${error.code}] ${printable(error.message)}`,
  ];
  return out.join('\n') + '\n';
}

/** sha256 of the checksum list at PATH, if it can be read safely (for a failure receipt); else undefined. */
export async function listDigestOf(path: string): Promise<string | undefined> {
  try {
    const loc = await locateBundle(path);
    const bytes = await readRegularFile(join(loc.dir, `${loc.name}.sha256`), 'checksum list', MAX_CHECKSUM_LIST_BYTES);
    return createHash('sha256').update(bytes).digest('hex');
  } catch {
    return undefined;
  }
}
