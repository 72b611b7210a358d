// A file written whole or not at all: the bytes go to a fresh temp name beside it (created
// exclusively, so nothing planted there is followed or reused) and are renamed over it. Reports,
// receipts, inventories and state records use it, so a crash never leaves half a document.

import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';

export async function writeWhole(path: string, data: string | Uint8Array, opts: { mode?: number } = {}): Promise<void> {
  const tmp = `${path}.ferry-tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    await writeFile(tmp, data, { flag: 'wx', ...(opts.mode !== undefined ? { mode: opts.mode } : {}) });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
}
