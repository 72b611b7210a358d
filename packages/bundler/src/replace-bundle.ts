// An existing bundle in --out: refused unless --replace (alias --force), which rebuilds it in
// place safely. The new bundle is written completely into a staging directory beside the old
// one (same filesystem, so renames are cheap); only then is the old one swapped out:
//   1. the old NAME.sha256 and its signature are removed — from here the directory is visibly
//      unfinished (the format's rule: no NAME.sha256, not finished), never a mix that looks done;
//   2. the new volumes, manifest and signature are renamed into place;
//   3. volumes of the old bundle beyond the new count are removed;
//   4. the new NAME.sha256.sig, then NAME.sha256, are renamed into place last.
// A failed build leaves the old bundle untouched (the staging directory is removed). A crash in
// the swap leaves no NAME.sha256, and `--replace` again finishes the job.

import { mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError } from '@ferry/format-spec';

const VOLUME_RE = (name: string): RegExp => new RegExp(`^${name.replace(/[.]/g, '\\.')}-\\d{3}\\.tar\\.zst$`);

/** Files of bundle NAME in `dir` (manifest, signatures, checksum list, volumes). */
export async function bundleFiles(dir: string, name: string): Promise<string[]> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  const fixed = new Set([`${name}.manifest.json`, `${name}.manifest.json.sig`, `${name}.sha256`, `${name}.sha256.sig`]);
  const vol = VOLUME_RE(name);
  return entries.filter((e) => fixed.has(e) || vol.test(e)).sort();
}

/** Whether a (finished or unfinished) bundle NAME is in `dir`: its manifest or checksum list. */
export async function bundleExists(dir: string, name: string): Promise<boolean> {
  for (const f of [`${name}.manifest.json`, `${name}.sha256`]) if (await stat(join(dir, f)).catch(() => undefined)) return true;
  return false;
}

/** Refuse an existing bundle unless `replace`. */
export async function checkOutput(dir: string, name: string, replace: boolean): Promise<'new' | 'replace'> {
  if (!(await bundleExists(dir, name))) return 'new';
  if (replace) return 'replace';
  throw new FerryError('USAGE', `a bundle ${name} already exists in ${dir}; pass --replace (or --force) to rebuild it there, or choose another --name or --out`, { dir, name });
}

export interface Built {
  dir: string;
  volumes: Array<{ file: string }>;
}

/**
 * Build into a staging directory inside `dir` with `build`, then swap the result in for the old
 * bundle NAME (see the file comment). Returns what `build` returned, with `dir` set to `dir`.
 */
export async function replaceBundle<R extends Built>(dir: string, name: string, build: (stagingDir: string) => Promise<R>): Promise<R> {
  const staging = await mkdtemp(join(dir, `.${name}.replacing-`));
  try {
    const result = await build(staging);
    const fresh = await bundleFiles(staging, name);
    const old = await bundleFiles(dir, name);
    const last = [`${name}.sha256.sig`, `${name}.sha256`];
    // 1. Unfinished from here on.
    for (const f of [`${name}.sha256`, `${name}.sha256.sig`]) await rm(join(dir, f), { force: true });
    // 2. New volumes, manifest and signature.
    for (const f of fresh.filter((x) => !last.includes(x))) await rename(join(staging, f), join(dir, f));
    // 3. What only the old bundle had (volumes beyond the new count, a signature an unsigned rebuild lacks).
    for (const f of old.filter((x) => !fresh.includes(x) && !last.includes(x))) await rm(join(dir, f), { force: true });
    // 4. The checksum list last.
    for (const f of last.filter((x) => fresh.includes(x))) await rename(join(staging, f), join(dir, f));
    return { ...result, dir };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
