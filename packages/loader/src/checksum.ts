// ferry-load checksum: the transfer officer's check. Every file in NAME.sha256 is hashed and
// compared; missing and unexpected bundle files are named. No registry, no trusted key needed
// (with --key, the list's own signature is checked first).

import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
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
  verifyDetached,
} from '@ferry/format-spec';
import { locateBundle } from './bundle.js';

/** ABSENT: a listed ferry-load executable (ferry-load-PLATFORM) that is not here. The
 *  executables are optional cargo (the high side may have its own loader): not a failure. */
export type ChecksumStatus = 'PASS' | 'FAIL' | 'MISSING' | 'UNEXPECTED' | 'ABSENT';

export interface ChecksumLine {
  file: string;
  status: ChecksumStatus;
  expected?: string;
  actual?: string;
  size?: number;
  /** Why a FAIL could not be hashed: not a regular file (a FIFO, device, directory), too large, unreadable. */
  reason?: string;
}

export interface ChecksumReport {
  bundle: string;
  dir: string;
  listSignature: 'verified' | 'not-checked' | 'missing';
  signedBy?: string;
  files: ChecksumLine[];
  passed: boolean;
  bytes: number;
  seconds: number;
}

export interface ChecksumOptions {
  keys?: string[];
  onFile?: (line: ChecksumLine) => void;
  onBytes?: (n: number) => void;
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
  let listSignature: ChecksumReport['listSignature'] = 'not-checked';
  let signedBy: string | undefined;
  if (opts.keys?.length) {
    const sig = await readRegularFile(`${listPath}.sig`, 'checksum list signature', MAX_SIGNATURE_FILE_BYTES).catch((e: unknown) => {
      if (isFerryError(e, 'INPUT_NOT_FOUND')) throw new FerryError('SIGNATURE_MISSING', `${printable(listPath)}.sig: not found, so the checksum list cannot be checked against the key`, { file: `${listPath}.sig` });
      throw e;
    });
    const trusted = await loadTrustedKeys(opts.keys);
    signedBy = verifyDetached(listBytes, sig, trusted, `${loc.name}.sha256`).fingerprint;
    listSignature = 'verified';
  }
  const entries = parseChecksums(listBytes.toString('utf8'), listPath);
  const lines: ChecksumLine[] = [];
  let bytes = 0;
  for (const e of entries) {
    let line = await checkOne(join(loc.dir, e.file), e.file, e.sha256, loc.name, (n) => {
      bytes += n;
      opts.onBytes?.(n);
    });
    if (line.status === 'MISSING' && loaderPlatformOfFile(e.file)) line = { ...line, status: 'ABSENT' };
    lines.push(line);
    opts.onFile?.(line);
  }
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
    files: lines,
    passed: lines.every((l) => l.status === 'PASS' || l.status === 'ABSENT'),
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

/** The receipt text a transfer officer files: one line per file, then the verdict. */
export function formatReceipt(r: ChecksumReport, when = new Date()): string {
  const out: string[] = [];
  out.push(`Ferry checksum receipt — bundle ${r.bundle}`);
  out.push(`Directory: ${printable(r.dir)}`);
  out.push(`Checked:   ${when.toISOString()}`);
  out.push(`List signature: ${r.listSignature === 'verified' ? `verified (key ${r.signedBy})` : 'not checked (no --key given)'}`);
  out.push('');
  for (const l of r.files) {
    const detail =
      l.status === 'PASS' ? `sha256:${l.actual}` :
      l.status === 'FAIL' ? (l.reason ? `NOT CHECKED: ${printable(l.reason)}` : `expected sha256:${l.expected}, got sha256:${l.actual}`) :
      l.status === 'MISSING' ? 'listed in the checksum list but not present' :
      l.status === 'ABSENT' ? 'optional ferry-load executable, listed but not carried here' :
      'present but not in the checksum list';
    out.push(`${l.status.padEnd(10)} ${printable(l.file)}  ${detail}`);
  }
  const counts = (s: ChecksumStatus) => r.files.filter((l) => l.status === s).length;
  out.push('');
  out.push(`RESULT: ${r.passed ? 'PASS' : 'FAIL'} — ${counts('PASS')} passed, ${counts('FAIL')} failed, ${counts('MISSING')} missing, ${counts('UNEXPECTED')} unexpected${counts('ABSENT') ? `, ${counts('ABSENT')} optional executable(s) not carried` : ''}; ${(r.bytes / 2 ** 20).toFixed(1)} MiB in ${r.seconds.toFixed(1)} s`);
  return out.join('\n') + '\n';
}
