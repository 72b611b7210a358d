// The ferry-load executables a bundle carries beside its volumes (format version 3, loaders[]):
// each one present is hashed and compared with the signed manifest, so `verify` says whether
// the loader an operator is about to use (or carry on) is the one the low side signed. They are
// optional: an absent one is reported, never a failure. A name that is there but is no
// regular file (a FIFO, a device, a directory) is bad, with the reason.

import { join } from 'node:path';
import { isFerryError, loadersOf, sha256File, statRegularFile, type BundleLoader, type BundleManifest } from '@ferry/format-spec';

export interface LoaderCheck {
  file: string;
  platform: BundleLoader['platform'];
  status: 'ok' | 'absent' | 'bad';
  expected: string;
  actual?: string;
  reason?: string;
}

export async function checkCarriedLoaders(manifest: BundleManifest, dir: string, onBytes?: (n: number) => void): Promise<LoaderCheck[]> {
  const out: LoaderCheck[] = [];
  for (const l of loadersOf(manifest)) {
    const base = { file: l.file, platform: l.platform, expected: l.digest };
    const path = join(dir, l.file);
    try {
      if (!(await statRegularFile(path, 'loader executable'))) {
        out.push({ ...base, status: 'absent' });
        continue;
      }
      const got = await sha256File(path, onBytes, { what: 'loader executable' });
      const actual = `sha256:${got.sha256}`;
      out.push(actual === l.digest && got.size === l.size ? { ...base, status: 'ok', actual } : { ...base, status: 'bad', actual, reason: `expected ${l.digest} (${l.size} bytes), got ${actual} (${got.size} bytes)` });
    } catch (e) {
      if (isFerryError(e, 'INPUT_NOT_FOUND')) out.push({ ...base, status: 'absent' });
      else if (isFerryError(e, 'INPUT_INVALID')) out.push({ ...base, status: 'bad', reason: e.message });
      else throw e;
    }
  }
  return out;
}
