// ferry-load inventory: what the target holds, as a document to carry back to the connected side
// (where policy allows) as the baseline of the next delta bundle. The inventory goes to stdout
// (`> INVENTORY.json`) or to --out FILE; progress and warnings go to stderr. With --key the file
// is signed the way bundle manifests are (FILE.sig: base64 of the signature over its exact
// bytes), so the connected side can refuse an inventory nobody vouched for.

import { rename, rm, writeFile } from 'node:fs/promises';
import { FerryError, inventoryBytes, keyFingerprint, loadPrivateKey, printable, sha256Digest, signBytes, describePublicKey, type Inventory } from '@ferry/format-spec';
import { asArray, createProgress, formatBytes, outputMode, terminalPrompt, writeJson, writeText } from '@ferry/cli-kit';
import { isRepositoryPath } from '@ferry/oci';
import { registryOptionsFrom, type RegistryArgs } from '../registry-flags.js';
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
}

/** Write `bytes` to `path` whole or not at all. */
async function writeWhole(path: string, bytes: Buffer | string): Promise<void> {
  const tmp = `${path}.ferry-tmp-${process.pid}`;
  try {
    await writeFile(tmp, bytes, { flag: 'wx' });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
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
  try {
    inv = await takeInventory(a, (m) => bar.log(`warning: ${m}`), (line) => bar.update({ bytes: 0, total: 0, detail: line }));
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
  };
  const counts = `${summary.repositories} repositories, ${summary.tags} tags, ${summary.blobs} blobs (${formatBytes(summary.bytes)})${inv.complete ? '' : ', as far as the tags reach'}`;
  if (!a.out) {
    process.stdout.write(bytes);
    if (mode !== 'json') writeText(`Inventory of ${printable(inv.target)}: ${counts}\n`, process.stderr);
    return 0;
  }
  if (key) {
    const sig = `${a.out}.sig`;
    await writeWhole(sig, signBytes(bytes, key));
    summary.signature = { file: sig, fingerprint: keyFingerprint(key), algorithm: describePublicKey(key) };
  }
  await writeWhole(a.out, bytes);
  summary.out = a.out;
  if (a.json) writeJson(summary);
  else writeText(`Inventory of ${printable(inv.target)}: ${counts}\n  -> ${printable(a.out)}${summary.signature ? `, signed by ${summary.signature.fingerprint} (${printable(summary.signature.file)})` : ''}\nCarry it to the connected side: ferry-bundle create … --baseline ${printable(a.out)}\n`);
  return 0;
}
