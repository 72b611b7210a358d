// An inventory from `ferry-load inventory` as a baseline: what the target said it holds. With
// trusted keys (--baseline-key) the detached PATH.sig must verify with one of them over the
// exact bytes, so a delta never leaves out blobs on the word of an inventory nobody vouched for.

import type { KeyObject } from 'node:crypto';
import { FerryError, MAX_SIGNATURE_FILE_BYTES, decodeSignature, isFerryError, parseInventory, printable, readRegularFile, sha256Digest, verifyWithKey } from '@ferry/format-spec';
import type { Baseline, BaselineBlob } from './types.js';

export interface BaselineReadOptions {
  /** Keys one of which must have signed the baseline (PATH.sig); absent: signatures not required. */
  trustedKeys?: readonly KeyObject[];
}

function invalid(path: string, msg: string, cause?: unknown): FerryError {
  return new FerryError('BASELINE_INVALID', `baseline ${printable(path)}: ${msg}`, { file: path }, cause === undefined ? undefined : { cause });
}

async function checkSignature(bytes: Buffer, path: string, keys: readonly KeyObject[]): Promise<void> {
  const sigPath = `${path}.sig`;
  let text: Buffer;
  try {
    text = await readRegularFile(sigPath, 'baseline signature', MAX_SIGNATURE_FILE_BYTES);
  } catch (e) {
    if (isFerryError(e, 'INPUT_NOT_FOUND')) throw invalid(path, `no signature ${printable(sigPath)} beside it, and --baseline-key asks for one; sign it with ferry-load inventory --key (or drop --baseline-key if your policy allows an unsigned baseline)`);
    throw e;
  }
  let sig: Buffer;
  try {
    sig = decodeSignature(text, sigPath);
  } catch (e) {
    throw invalid(path, `${printable(sigPath)} is not a base64 signature`, e);
  }
  if (!keys.some((k) => verifyWithKey(bytes, sig, k))) {
    throw invalid(path, `the signature ${printable(sigPath)} does not verify with the --baseline-key key(s): the inventory was changed after signing, or signed by another key`);
  }
}

export async function readInventoryBaseline(bytes: Buffer, path: string, opts: BaselineReadOptions): Promise<Baseline> {
  if (opts.trustedKeys?.length) await checkSignature(bytes, path, opts.trustedKeys);
  const inv = parseInventory(bytes, path);
  const blobs = new Map<string, BaselineBlob>();
  for (const b of inv.blobs) blobs.set(b.digest, { size: b.size, ...(b.mediaType !== undefined ? { mediaType: b.mediaType } : {}), repositories: b.repositories });
  return { name: `inventory:${inv.target}@${inv.created}`, kind: 'inventory', digest: sha256Digest(bytes), created: inv.created, blobs };
}
