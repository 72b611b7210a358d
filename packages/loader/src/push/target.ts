// Where a push writes: `--to oci:DIR` (an OCI image layout) and the files directory beside it.
// The two must not overlap (a carried `index.json` or `blobs/…` would replace the layout's own
// files and drop its tags), and neither may be or lie inside the bundle's directory (the loader
// never writes into what it reads).

import { realpath } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { FerryError, printable } from '@ferry/format-spec';
import { isInside } from '@ferry/oci';

export interface PushTargets {
  /** `oci:DIR` as given, for messages. */
  description: string;
  layoutDir: string;
  filesDir: string;
}

/** The real path of `p`, resolving links in the part that exists (the rest is not created yet). */
async function realish(p: string): Promise<string> {
  const abs = resolve(p);
  try {
    return await realpath(abs);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return abs;
    const parent = dirname(abs);
    if (parent === abs) return abs;
    return join(await realish(parent), basename(abs));
  }
}

function overlapping(a: string, b: string): boolean {
  return isInside(a, b) || isInside(b, a);
}

export async function resolveTargets(to: string, filesDir: string | undefined, bundleDir: string): Promise<PushTargets> {
  if (!to.startsWith('oci:')) {
    // The value is not echoed: a registry reference typed here may carry credentials.
    throw new FerryError('USAGE', `--to: this build loads into an OCI layout directory (--to oci:DIR); registry targets come with the registry loader`);
  }
  const dir = to.slice(4);
  if (!dir) throw new FerryError('USAGE', '--to oci:DIR needs a directory');
  const layoutDir = await realish(dir);
  const files = await realish(filesDir ?? `${resolve(dir)}-files`);
  const bundle = await realish(bundleDir);
  if (overlapping(layoutDir, files)) {
    throw new FerryError('USAGE', `--files-dir ${printable(files)} overlaps the image layout ${printable(layoutDir)}: a carried file could replace the layout's index.json or blobs; give a files directory outside the layout (the default is DIR-files beside it)`);
  }
  for (const [flag, p] of [['--to', layoutDir], ['--files-dir', files]] as const) {
    if (isInside(p, bundle) || isInside(bundle, p)) {
      throw new FerryError('USAGE', `${flag} ${printable(p)} overlaps the bundle directory ${printable(bundle)}: the loader never writes where the bundle is read from; choose a directory outside it`);
    }
  }
  return { description: `oci:${layoutDir}`, layoutDir, filesDir: files };
}
