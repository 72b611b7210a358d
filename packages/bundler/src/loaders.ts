// --with-loader: the ferry-load executables (npm run build:loader) copied beside the volumes,
// so the high side can check and load the bundle with nothing installed. Each is hashed when
// the run starts (its digest goes into the signed manifest, format version 3) and hashed again
// as it is copied: a copy that differs from what was signed is never left in the bundle.

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { fileURLToPath } from 'node:url';
import {
  FerryError,
  LOADER_PLATFORMS,
  isFerryError,
  isLoaderPlatform,
  loaderFileName,
  printable,
  sha256File,
  type BundleLoader,
  type LoaderPlatform,
} from '@ferry/format-spec';

/** Where build:loader writes the executables (the repository's dist/loader/). */
export const DEFAULT_LOADER_DIR = fileURLToPath(new URL('../../../dist/loader/', import.meta.url));

/** The platform built when --with-loader has no value. */
export const DEFAULT_LOADER_PLATFORM: LoaderPlatform = 'linux-x64';

/** An executable found for the bundle, with what the manifest records about it. */
export interface LoaderSource extends BundleLoader {
  path: string;
}

/** `--with-loader` (''), `--with-loader=linux-x64,win-x64`, or absent (undefined). */
export function parseWithLoader(value: string | undefined): LoaderPlatform[] | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === '') return [DEFAULT_LOADER_PLATFORM];
  const out: LoaderPlatform[] = [];
  for (const p of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!isLoaderPlatform(p)) throw new FerryError('USAGE', `--with-loader: "${printable(p)}" is not a platform (${LOADER_PLATFORMS.join(', ')}); write --with-loader=PLATFORM[,PLATFORM…], with "="`);
    if (!out.includes(p)) out.push(p);
  }
  return out;
}

/** Find and hash each platform's executable in `dir`; a missing one says how to build it. */
export async function findLoaders(platforms: readonly LoaderPlatform[], dir: string = DEFAULT_LOADER_DIR): Promise<LoaderSource[]> {
  const out: LoaderSource[] = [];
  for (const platform of platforms) {
    const file = loaderFileName(platform);
    const path = join(dir, file);
    try {
      const { sha256, size } = await sha256File(path, undefined, { what: 'loader executable' });
      out.push({ platform, file, digest: `sha256:${sha256}`, size, path });
    } catch (e) {
      if (!isFerryError(e, 'INPUT_NOT_FOUND')) throw e;
      throw new FerryError('INPUT_NOT_FOUND', `--with-loader: ${printable(path)} not found; run \`npm run build:loader -- --platforms ${platforms.join(',')}\` in the Ferry checkout first, or give --loader-dir DIR where the ferry-load executables are`, { path });
    }
  }
  return out;
}

/** What the manifest records (the source path stays on the low side). */
export function manifestLoaders(loaders: readonly LoaderSource[]): BundleLoader[] {
  return loaders.map(({ platform, file, digest, size }) => ({ platform, file, digest, size }));
}

/** Copy each executable into `outDir`, checking the copied bytes against the recorded digest. */
export async function copyLoaders(loaders: readonly LoaderSource[], outDir: string): Promise<void> {
  for (const l of loaders) {
    const dest = join(outDir, l.file);
    const tmp = `${dest}.partial`;
    const hash = createHash('sha256');
    let size = 0;
    const tee = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    try {
      await pipeline(createReadStream(l.path, { highWaterMark: 1 << 20 }), tee, createWriteStream(tmp, { mode: 0o755 }));
      const got = `sha256:${hash.digest('hex')}`;
      if (got !== l.digest || size !== l.size) {
        throw new FerryError('BLOB_MISMATCH', `--with-loader: ${printable(l.path)} changed while the bundle was made (now ${got}, ${size} bytes; the manifest records ${l.digest}, ${l.size} bytes); run build:loader again, then create`, { path: l.path });
      }
      await rename(tmp, dest);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }
}
