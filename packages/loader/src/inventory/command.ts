// ferry-load inventory: what the target holds, as a document to carry back to the connected side
// (where policy allows) as the baseline of the next delta bundle. The inventory goes to stdout
// (`> INVENTORY.json`) or to --out FILE; progress and warnings go to stderr. With --key the file
// is signed the way bundle manifests are (FILE.sig: base64 of the signature over its exact
// bytes), so the connected side can refuse an inventory nobody vouched for.

import { FerryError, writeWhole, inventoryBytes, keyFingerprint, loadPrivateKey, printable, sha256Digest, signBytes, describePublicKey, type Inventory } from '@ferry/format-spec';
import { asArray, createProgress, formatBytes, outputMode, terminalPrompt, writeJson, writeText } from '@ferry/cli-kit';
import { isRepositoryPath } from '@ferry/oci';
import type { Argv } from 'yargs';
import { registryFlags, registryOptionsFrom, type RegistryArgs } from '../registry-flags.js';
import { parseRegistryTarget } from '../push/target.js';
import { layoutInventory } from './layout.js';
import { registryInventory } from './registry.js';

export interface InventoryArgs extends RegistryArgs {
  to: string;
  repos?: string[];
  out?: string;
  key?: string;
  passwordFile?: string;
  json: boolean;
}

/** What --out writes besides the inventory, for the summary and the --json report. */
export interface InventorySummary {
  target: string;
  complete: boolean;
  repositories: number;
  tags: number;
  blobs: number;
  bytes: number;
  out?: string;
  digest: string;
  signature?: { file: string; fingerprint: string; algorithm: string };
  /** What was skipped or left out, and why (the inventory says less, never more). */
  warnings: string[];
}

/** Write `bytes` to `path` whole or not at all, or say which file could not be written. */
async function writeOutput(path: string, bytes: Buffer | string): Promise<void> {
  try {
    await writeWhole(path, bytes);
  } catch (e) {
    throw new FerryError('TARGET_ERROR', `cannot write ${printable(path)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file: path });
  }
}

export async function takeInventory(a: InventoryArgs, warn: (m: string) => void, progress: (line: string) => void): Promise<Inventory> {
  const repos = asArray(a.repos).flatMap((r) => r.split(',')).map((r) => r.trim()).filter(Boolean);
  if (a.to.startsWith('oci:')) {
    if (repos.length) throw new FerryError('USAGE', '--repos is for a registry; an OCI layout is listed whole');
    if (!a.to.slice(4)) throw new FerryError('USAGE', '--to oci:DIR needs a directory');
    return layoutInventory(a.to.slice(4), warn);
  }
  const { registry, prefix } = parseRegistryTarget(a.to);
  for (const r of repos) if (!isRepositoryPath(r)) throw new FerryError('USAGE', `--repos ${printable(r)}: not a repository path (lowercase letters, digits, . _ - separators, / between parts)`);
  return registryInventory({
    registry,
    prefix,
    ...(repos.length ? { repos } : {}),
    options: registryOptionsFrom(a),
    concurrency: a.concurrency ?? 6,
    warn,
    onProgress: (p) => progress(`${p.repositories}/${p.of} repositories, ${p.tags} tags, ${p.blobs} blobs`),
  });
}

export async function inventoryCmd(a: InventoryArgs): Promise<number> {
  if (a.key && !a.out) throw new FerryError('USAGE', '--key signs the file given with --out (the signature goes to FILE.sig beside it): give --out FILE');
  // The key is opened (and its passphrase asked) before the walk, not after minutes of it.
  const prompt = terminalPrompt();
  const key = a.key ? await loadPrivateKey(a.key, { ...(a.passwordFile !== undefined ? { passwordFile: a.passwordFile } : {}), ...(prompt ? { prompt: (q) => prompt.secret(q) } : {}) }) : undefined;
  const mode = outputMode(a.json);
  const bar = await createProgress(mode, 'inventory');
  let inv: Inventory;
  const warnings: string[] = [];
  try {
    // A line every few seconds (a byte bar means nothing here: the walk reads manifests only).
    let last = 0;
    inv = await takeInventory(a, (m) => {
      warnings.push(m);
      bar.log(`warning: ${m}`);
    }, (line) => {
      if (Date.now() - last < 3000) return;
      last = Date.now();
      bar.log(`inventory: ${line}`);
    });
  } finally {
    await bar.finish();
  }
  const bytes = inventoryBytes(inv);
  const summary: InventorySummary = {
    target: inv.target,
    complete: inv.complete,
    repositories: inv.repositories.length,
    tags: inv.repositories.reduce((n, r) => n + Object.keys(r.tags).length, 0),
    blobs: inv.blobs.length,
    bytes: inv.blobs.reduce((n, b) => n + b.size, 0),
    digest: sha256Digest(bytes),
    warnings,
  };
  const counts = `${summary.repositories} repositories, ${summary.tags} tags, ${summary.blobs} blobs (${formatBytes(summary.bytes)})${inv.complete ? '' : ', as far as the tags reach'}`;
  if (!a.out) {
    process.stdout.write(bytes);
    // --json: no progress, but what was left out is still said (stdout holds the inventory).
    if (mode !== 'json') writeText(`Inventory of ${printable(inv.target)}: ${counts}\n`, process.stderr);
    else if (warnings.length) writeText(warnings.map((w) => `warning: ${w}\n`).join(''), process.stderr);
    return 0;
  }
  if (key) {
    const sig = `${a.out}.sig`;
    await writeOutput(sig, signBytes(bytes, key));
    summary.signature = { file: sig, fingerprint: keyFingerprint(key), algorithm: describePublicKey(key) };
  }
  await writeOutput(a.out, bytes);
  summary.out = a.out;
  if (a.json) writeJson(summary);
  else writeText(`Inventory of ${printable(inv.target)}: ${counts}\n  -> ${printable(a.out)}${summary.signature ? `, signed by ${summary.signature.fingerprint} (${printable(summary.signature.file)})` : ''}\nCarry it to the connected side: ferry-bundle create … --baseline ${printable(a.out)}${summary.signature ? ' --baseline-key PUBLIC.pem (the public half of --key)' : ''}\n`);
  return 0;
}

export const INVENTORY_DESCRIBE = 'What the target holds (repositories, tags -> digests, blobs with sizes and the repositories holding them), as an inventory to carry back to the connected side as the baseline of a delta bundle (where policy allows); read-only';

/** The command's flags: the target, --repos, --out, --key, and push's registry flags. */
export function inventoryOptions(y: Argv): Argv {
  return registryFlags(y
    .option('to', { type: 'string', demandOption: true, describe: 'The target: HOST[:PORT][/PREFIX] (a registry; only repositories under PREFIX) or oci:DIR (an OCI layout, listed whole)' })
    .option('repos', { type: 'string', array: true, describe: 'Only these repositories (full paths in the registry; repeatable or comma-separated); needed when the registry refuses /v2/_catalog' })
    .option('out', { type: 'string', describe: 'Write the inventory to FILE (default: stdout, e.g. > INVENTORY.json)' })
    .option('key', { type: 'string', describe: 'Sign it with this private key (ferry-bundle keygen / cosign): FILE.sig beside --out, checked on the connected side with --baseline-key' })
    .option('password-file', { type: 'string', describe: 'Read the key passphrase from the first line of FILE (or FERRY_KEY_PASSWORD_FILE, FERRY_KEY_PASSWORD, COSIGN_PASSWORD; else asked on a terminal)' })
    .option('json', { type: 'boolean', default: false, describe: 'No progress; with --out, print a JSON summary (schemas/inventory-report.schema.json) on stdout' }))
    .epilog('The inventory format is schemas/inventory.schema.json. A registry tells only what its tags reach (complete: false); an OCI layout is listed whole (complete: true). Exit codes: 0 written; 2 usage; 5 key or passphrase; 12 a repository named with --repos is not there; 13 registry unreachable, TLS, credentials, or the catalog refused (give --repos); 14 the layout is unreadable or holds a link in blobs/.')
    .example('$0 inventory --to registry.local:5000 --ca-file ca.pem > inventory.json', 'every repository the catalog lists')
    .example('$0 inventory --to registry.local:5000 --repos team/app,team/db --out inv.json --key high.key', 'named repositories, signed (inv.json.sig)')
    .example('$0 inventory --to oci:/srv/images --out inv.json', 'an OCI layout');
}
