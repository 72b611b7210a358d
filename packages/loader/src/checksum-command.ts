// `ferry-load checksum` on the command line: flags -> checksumBundle -> the receipt on screen,
// in --receipt FILE (for a FAIL too, and for a run that stopped before any file was checked)
// and as --json; the exit code from the one error table.

import { writeFile } from 'node:fs/promises';
import { ERROR_CODES, FERRY_VERSION, printable, printableBlock, toFerryError } from '@ferry/format-spec';
import { asArray, createProgress, isQuiet, outputMode, writeJson, writeReportFile, writeText } from '@ferry/cli-kit';
import { hostname } from 'node:os';
import { checksumBundle, formatFailureReceipt, formatReceipt, listDigestOf, parseVolumeList, type ChecksumReport } from './checksum.js';

export interface ChecksumArgs {
  path: string;
  /** --trusted-key (alias --key). */
  trustedKey?: string[];
  ignoreMissing: boolean;
  volumes?: string;
  receipt?: string;
  /** --report FILE: the JSON document, for the record. */
  report?: string;
  json: boolean;
}

/** Exit code of a failed checksum run: missing files first, then bad hashes, then files that could not be hashed. */
export function checksumExit(r: ChecksumReport): number {
  const code =
    r.files.some((f) => f.status === 'MISSING') ? 'VOLUME_MISSING' :
    r.files.some((f) => f.status === 'FAIL' && !f.reason) ? 'CHECKSUM_MISMATCH' :
    r.files.some((f) => f.status === 'FAIL') ? 'INPUT_INVALID' :
    r.files.some((f) => f.status === 'UNEXPECTED') ? 'VOLUME_UNEXPECTED' :
    'VOLUME_MISSING'; // --ignore-missing and nothing listed was here
  return ERROR_CODES[code].exit;
}

export async function checksumCmd(a: ChecksumArgs): Promise<number> {
  const mode = outputMode(a.json);
  const keys = asArray(a.trustedKey);
  const volumes = a.volumes !== undefined ? parseVolumeList(a.volumes) : undefined;
  const ctx = { when: new Date(), host: hostname(), version: FERRY_VERSION };
  const progress = await createProgress(mode, 'checking');
  let done = 0;
  let planned = 0;
  let report: ChecksumReport;
  try {
    report = await checksumBundle(a.path, {
      keys,
      ignoreMissing: a.ignoreMissing,
      ...(volumes ? { volumes } : {}),
      onFile: (l) => progress.log(`${l.status.padEnd(10)} ${printable(l.file)}${l.reason ? `  ${printable(l.reason)}` : ''}`),
      onTotal: (n) => {
        planned = n;
        progress.update({ bytes: 0, total: planned });
      },
      // A file that grows while it is read never shows more than 100%.
      onBytes: (n) => {
        done += n;
        progress.update({ bytes: done, total: Math.max(planned, done) });
      },
    });
  } catch (e) {
    await progress.finish();
    // A run that could not check anything is still a FAIL to file; usage mistakes are not.
    const fe = toFerryError(e);
    if (a.receipt && fe.code !== 'USAGE') {
      const listDigest = await listDigestOf(a.path);
      await writeFile(a.receipt, formatFailureReceipt(a.path, fe, { ...ctx, keys, ...(listDigest ? { listDigest } : {}) }));
    }
    throw e;
  }
  await progress.finish();
  const receipt = formatReceipt(report, ctx);
  if (a.receipt) await writeFile(a.receipt, receipt);
  const doc = {
    ok: report.passed,
    ...report,
    checkedAt: ctx.when.toISOString(),
    host: ctx.host,
    ferryVersion: ctx.version,
    // A digest in every report is sha256:<hex> (the receipt prints it so too).
    listDigest: `sha256:${report.listDigest}`,
    files: report.files.map((f) => (f.reason ? { ...f, reason: printableBlock(f.reason) } : f)),
  };
  if (a.report) await writeReportFile(a.report, doc);
  if (a.json) writeJson(doc);
  else writeText(receipt);
  // --quiet prints no receipt: a failure still says itself on stderr (cron mails stderr).
  if (!report.passed && !a.json && isQuiet()) process.stderr.write(`ferry-load: checksum FAIL: ${printable(report.files.filter((f) => f.status !== 'PASS' && f.status !== 'SKIPPED').map((f) => `${f.file} ${f.status}`).slice(0, 5).join(', '))}\n`);
  return report.passed ? 0 : checksumExit(report);
}
