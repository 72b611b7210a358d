// ferry-load checksum: the transfer officer's check. Every file in NAME.sha256 is hashed and
// compared; missing and unexpected bundle files are named. No registry, no trusted key needed
// (with --key, the list's own signature is checked first).

import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  FerryError,
  loadTrustedKeys,
  parseChecksums,
  sha256File,
  verifyDetached,
} from '@ferry/format-spec';
import { locateBundle } from './bundle.js';

export type ChecksumStatus = 'PASS' | 'FAIL' | 'MISSING' | 'UNEXPECTED';

export interface ChecksumLine {
  file: string;
  status: ChecksumStatus;
  expected?: string;
  actual?: string;
  size?: number;
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
  const listBytes = await readFile(listPath).catch(() => {
    throw new FerryError('INPUT_NOT_FOUND', `${listPath}: not found; the checksum list travels with the volumes`);
  });
  let listSignature: ChecksumReport['listSignature'] = 'not-checked';
  let signedBy: string | undefined;
  if (opts.keys?.length) {
    const sig = await readFile(`${listPath}.sig`).catch(() => undefined);
    if (!sig) throw new FerryError('SIGNATURE_MISSING', `${listPath}.sig: not found, so the checksum list cannot be checked against the key`);
    const trusted = await loadTrustedKeys(opts.keys);
    signedBy = verifyDetached(listBytes, sig, trusted, `${loc.name}.sha256`).fingerprint;
    listSignature = 'verified';
  }
  const entries = parseChecksums(listBytes.toString('utf8'), listPath);
  const lines: ChecksumLine[] = [];
  let bytes = 0;
  for (const e of entries) {
    const p = join(loc.dir, e.file);
    const st = await stat(p).catch(() => undefined);
    let line: ChecksumLine;
    if (!st?.isFile()) {
      line = { file: e.file, status: 'MISSING', expected: e.sha256 };
    } else {
      const got = await sha256File(p, opts.onBytes);
      bytes += got.size;
      line = { file: e.file, status: got.sha256 === e.sha256 ? 'PASS' : 'FAIL', expected: e.sha256, actual: got.sha256, size: got.size };
    }
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
    passed: lines.every((l) => l.status === 'PASS'),
    bytes,
    seconds: (Date.now() - started) / 1000,
  };
}

/** The receipt text a transfer officer files: one line per file, then the verdict. */
export function formatReceipt(r: ChecksumReport, when = new Date()): string {
  const out: string[] = [];
  out.push(`Ferry checksum receipt — bundle ${r.bundle}`);
  out.push(`Directory: ${r.dir}`);
  out.push(`Checked:   ${when.toISOString()}`);
  out.push(`List signature: ${r.listSignature === 'verified' ? `verified (key ${r.signedBy})` : 'not checked (no --key given)'}`);
  out.push('');
  for (const l of r.files) {
    const detail =
      l.status === 'PASS' ? `sha256:${l.actual}` :
      l.status === 'FAIL' ? `expected sha256:${l.expected}, got sha256:${l.actual}` :
      l.status === 'MISSING' ? 'listed in the checksum list but not present' :
      'present but not in the checksum list';
    out.push(`${l.status.padEnd(10)} ${l.file}  ${detail}`);
  }
  const counts = (s: ChecksumStatus) => r.files.filter((l) => l.status === s).length;
  out.push('');
  out.push(`RESULT: ${r.passed ? 'PASS' : 'FAIL'} — ${counts('PASS')} passed, ${counts('FAIL')} failed, ${counts('MISSING')} missing, ${counts('UNEXPECTED')} unexpected; ${(r.bytes / 2 ** 20).toFixed(1)} MiB in ${r.seconds.toFixed(1)} s`);
  return out.join('\n') + '\n';
}
