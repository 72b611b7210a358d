// ferry-bundle sync SPEC --state-dir DIR --out DIR: the weekly cron run (sync/run.ts does the
// work). Everything a create flag means it means here; sync adds the state directory, the dated
// name, the per-image log and the run report, and bundles what works by default (--no-keep-going
// stops at the first failing image and writes nothing).

import { appendFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { FerryError, printable } from '@ferry/format-spec';
import { createProgress, formatBytes, outputMode, writeJson, writeReportFile, writeText } from '@ferry/cli-kit';
import { createBundle } from './create.js';
import { createRequest, openSigningKey, type CreateArgv } from './create-request.js';
import { isSyncPrefix } from './sync/bundle-name.js';
import { runSync, type SyncReport } from './sync/run.js';

export interface SyncArgv extends CreateArgv {
  stateDir: string;
  keep: number;
  skipIfUnchanged: boolean;
  full: boolean;
  log?: string;
  report?: string;
}

export async function syncCmd(argv: SyncArgv): Promise<number> {
  if (!argv.spec) throw new FerryError('USAGE', 'sync needs the spec file: ferry-bundle sync SPEC.yaml --state-dir DIR --out DIR');
  if (!argv.out) throw new FerryError('USAGE', 'sync needs --out DIR: each run writes its bundle into DIR/NAME-YYYY-MM-DD/');
  if (!Number.isInteger(argv.keep) || argv.keep < 1) throw new FerryError('USAGE', `--keep must be a whole number of bundles, at least 1 (got ${printable(String(argv.keep))})`);
  // Every flag and the spec are checked, and the key opened, before the state directory is touched.
  const req = await createRequest(argv);
  const prefix = req.options.name;
  if (!isSyncPrefix(prefix)) throw new FerryError('USAGE', `the bundle name prefix ${printable(prefix)} (--name or name: in the spec) must be letters, digits, '.', '_' or '-', at most 80, starting with a letter or digit`);
  const key = await openSigningKey(argv);
  const mode = outputMode(argv.json);
  const progress = await createProgress(mode, 'syncing');
  const logFile = argv.log ? resolve(argv.log) : undefined;
  // Appends in order, one at a time; a log that cannot be written does not fail the run.
  let logged = Promise.resolve();
  let report: SyncReport;
  try {
    report = await runSync({
      stateDir: resolve(argv.stateDir),
      outDir: resolve(argv.out),
      prefix,
      keep: argv.keep,
      skipIfUnchanged: argv.skipIfUnchanged,
      keepGoing: argv.keepGoing,
      full: argv.full,
      build: (b) =>
        createBundle({
          // The run records its manifest itself (sync/state-dir.ts), after deciding whether to keep it.
          ...withoutStateDir(req.options),
          name: b.name,
          outDir: b.dir,
          keepGoing: argv.keepGoing,
          baselines: b.baselines,
          ...(key ? { key } : {}),
          onEvent: (e) => {
            if (e.type === 'progress') progress.update({ bytes: e.bytes, total: e.total, detail: `volume ${e.volume} · images written ${e.images.done}/${e.images.total}` });
          },
        }),
      onLine: (line) => {
        progress.log(line);
        // The log keeps the seed's ✅/❌ lines whatever the terminal: it is what ops grep for.
        if (logFile) logged = logged.then(() => appendFile(logFile, line + '\n')).catch(() => undefined);
      },
    });
  } finally {
    await progress.finish();
    await logged;
    req.close();
  }
  if (argv.report) await writeReportFile(argv.report, report);
  if (argv.json) writeJson(report);
  else {
    const lines = report.bundle
      ? [
          `Bundle ${report.bundle.name} in ${report.bundle.dir}: ${report.bundle.volumes} volume(s), ${formatBytes(report.bundle.bytes)}${report.delta ? `, carried ${formatBytes(report.delta.carriedBytes)} of ${formatBytes(report.delta.referencedBytes)} (${report.delta.requiredBlobs} blob(s) the high side has from ${report.baseline?.name ?? 'the baseline'})` : ' (full bundle)'}`,
          report.baseline
            ? `Next: carry ${report.bundle.dir} to the high side; it loads after ${report.baseline.name} (deltas load in date order, none skipped).`
            : `Next: carry ${report.bundle.dir} to the high side; a full bundle, it needs nothing loaded before it.`,
        ]
      : report.skipped
        ? ['Nothing changed upstream since the last bundle: nothing to carry this time.']
        : [`No bundle written${report.error ? `: [${report.error.code}] ${report.error.message}` : ''}`];
    const failed = report.images.filter((i) => i.status === 'failed');
    if (failed.length) lines.push(`${failed.length} image(s) FAILED${report.bundle ? ' and are not in the bundle' : ''}:`, ...failed.map((f) => `  ❌ ${printable(f.source)}: [${f.code}] ${printable(f.message ?? '')}`));
    writeText(lines.join('\n') + '\n');
  }
  return report.exitCode;
}

function withoutStateDir<T extends { stateDir?: string }>(o: T): Omit<T, 'stateDir'> {
  const { stateDir: _recordedBySync, ...rest } = o;
  return rest;
}
