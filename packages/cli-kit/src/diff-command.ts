// `diff OLD NEW` for both CLIs (ferry-bundle on the connected side, ferry-load on the high side):
// one computation (format-spec manifest-diff.ts), one rendering. Differences are not an error.

import { diffBundles, printable, type DiffImage, type ManifestDiff } from '@ferry/format-spec';
import type { Argv } from 'yargs';
import { formatBytes } from './format.js';
import { writeJson, writeText } from './safe-output.js';

export interface DiffArgs {
  old: string;
  new: string;
  json: boolean;
}

const ref = (i: DiffImage): string => `${printable(i.repository)}${i.tag !== undefined ? `:${printable(i.tag)}` : ''}`;
const short = (d: string): string => d.slice(0, 19);

/** The diff as text, for a terminal or a log; every value from a manifest made printable. */
export function manifestDiffText(d: ManifestDiff): string {
  const out: string[] = [`${printable(d.old.name)} (${printable(d.old.created)}) -> ${printable(d.new.name)} (${printable(d.new.created)})`];
  const i = d.images;
  out.push(`Images: ${i.added.length} added, ${i.removed.length} removed, ${i.retagged.length} re-tagged, ${i.unchanged} unchanged`);
  for (const x of i.added) out.push(`  + ${ref(x)}  ${x.digest}`);
  for (const x of i.removed) out.push(`  - ${ref(x)}  ${x.digest}`);
  for (const x of i.retagged) out.push(`  ~ ${printable(x.repository)}:${printable(x.tag)}  ${short(x.old)}… -> ${short(x.new)}…`);
  const b = d.blobs;
  out.push(`Blobs: ${b.added.length} added (${formatBytes(b.addedBytes)}), ${b.removed.length} removed (${formatBytes(b.removedBytes)})`);
  const shown = 20;
  for (const x of b.added.slice(0, shown)) out.push(`  + ${x.digest}  ${formatBytes(x.size)}${x.carried === false ? '  (required of the target, not carried)' : ''}`);
  if (b.added.length > shown) out.push(`  … and ${b.added.length - shown} more added (--json lists them all)`);
  for (const x of b.removed.slice(0, shown)) out.push(`  - ${x.digest}  ${formatBytes(x.size)}`);
  if (b.removed.length > shown) out.push(`  … and ${b.removed.length - shown} more removed`);
  const saving = d.bytes.referenced > 0 ? ` (${((1 - d.bytes.carried / d.bytes.referenced) * 100).toFixed(1)}% left to the target)` : '';
  out.push(`${printable(d.new.name)} carries ${formatBytes(d.bytes.carried)} of the ${formatBytes(d.bytes.referenced)} its content references${d.bytes.required ? `; requires ${formatBytes(d.bytes.required)} already in the target${saving}` : ''}`);
  for (const [what, c] of [['Charts', d.charts], ['Files', d.files]] as const) {
    if (!c.added.length && !c.removed.length && !c.changed.length) continue;
    out.push(`${what}: ${c.added.length} added, ${c.removed.length} removed, ${c.changed.length} changed`);
    for (const x of c.added) out.push(`  + ${printable(x.name)}  ${formatBytes(x.size)}`);
    for (const x of c.removed) out.push(`  - ${printable(x.name)}`);
    for (const x of c.changed) out.push(`  ~ ${printable(x.name)}  ${short(x.old)}… -> ${short(x.new)}…`);
  }
  return out.join('\n') + '\n';
}

/** The command: OLD and NEW are bundle directories or NAME.manifest.json files. Exit 0. */
export async function diffCmd(a: DiffArgs): Promise<number> {
  const d = await diffBundles(a.old, a.new);
  if (a.json) writeJson(d);
  else writeText(manifestDiffText(d));
  return 0;
}

/** The command as both CLIs register it:
 *  `.command(DIFF_COMMAND.command, DIFF_COMMAND.describe, DIFF_COMMAND.builder, (a) => … diffCmd(a))`
 *  (the positional form, so runCommands adds the exit-code table to its help). */
export const DIFF_COMMAND = {
  command: 'diff <old> <new>',
  describe: 'What changed between two bundles, from their manifests: images added, removed and re-tagged (old -> new digest), blobs added and removed, bytes carried against bytes referenced, charts and files (signatures are not checked: it compares what the manifests say)',
  builder: (y: Argv): Argv<DiffArgs> =>
    y
      .positional('old', { type: 'string', demandOption: true, describe: 'The earlier bundle: its directory or NAME.manifest.json' })
      .positional('new', { type: 'string', demandOption: true, describe: 'The later bundle' })
      .option('json', { type: 'boolean', default: false, describe: 'Print one JSON document (schemas/bundle-diff.schema.json) on stdout' })
      .epilog('Exit codes: 0 compared (differences are not an error); 3 a bundle not found; 4 a manifest invalid.') as unknown as Argv<DiffArgs>,
} as const;
