// One --baseline FILE: an earlier bundle's NAME.manifest.json or a target inventory, told apart
// by the document's mediaType, never by the file name.

import type { KeyObject } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { FerryError, INVENTORY_MEDIA_TYPE, MAX_BUNDLE_MANIFEST_BYTES, isFerryError, printable, readRegularFile } from '@ferry/format-spec';
import { checkBaselineSignature } from './signature.js';
import { readInventoryBaseline } from './inventory.js';
import { readManifestBaseline } from './manifest.js';
import type { Baseline } from './types.js';

export interface BaselineReadOptions {
  /** Keys a signed baseline (FILE.sig beside it) must verify with (--baseline-key). */
  trustedKeys?: readonly KeyObject[];
}

const BUNDLE_MEDIA_TYPE_PREFIX = 'application/vnd.ferry.bundle.manifest.';

const invalid = (path: string, why: string): FerryError =>
  new FerryError('BASELINE_INVALID', `--baseline ${printable(path)}: ${why}`, { file: path });

export async function readBaseline(path: string, opts: BaselineReadOptions): Promise<Baseline> {
  const st = await stat(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') throw new FerryError('INPUT_NOT_FOUND', `--baseline ${printable(path)}: no such file`, { file: path });
    throw e;
  });
  if (st.isDirectory()) throw invalid(path, 'is a directory; give the NAME.manifest.json of the earlier bundle in it');
  let bytes: Buffer;
  try {
    bytes = await readRegularFile(path, 'baseline', MAX_BUNDLE_MANIFEST_BYTES);
  } catch (e) {
    if (isFerryError(e, 'INPUT_INVALID')) throw new FerryError('BASELINE_INVALID', e.message, { file: path }, { cause: e });
    throw e;
  }
  let mediaType: unknown;
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as unknown;
    mediaType = typeof doc === 'object' && doc !== null && !Array.isArray(doc) ? (doc as { mediaType?: unknown }).mediaType : undefined;
  } catch {
    throw invalid(path, 'is not JSON, so neither a Ferry bundle manifest nor an inventory');
  }
  if (mediaType === INVENTORY_MEDIA_TYPE) return readInventoryBaseline(bytes, path, opts);
  if (typeof mediaType === 'string' && mediaType.startsWith(BUNDLE_MEDIA_TYPE_PREFIX)) {
    if (opts.trustedKeys?.length) await checkBaselineSignature(bytes, path, opts.trustedKeys);
    return readManifestBaseline(bytes, path);
  }
  throw invalid(path, `has mediaType ${typeof mediaType === 'string' ? `"${printable(mediaType.slice(0, 100))}"` : 'none'}: neither a Ferry bundle manifest (${BUNDLE_MEDIA_TYPE_PREFIX}vN+json) nor an inventory (${INVENTORY_MEDIA_TYPE})`);
}
