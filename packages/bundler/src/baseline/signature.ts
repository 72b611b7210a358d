// The detached signature of a baseline (FILE.sig beside it, as Ferry signs manifests and
// inventories), checked with --baseline-key: a delta never leaves out blobs on the word of a
// baseline nobody vouched for.

import type { KeyObject } from 'node:crypto';
import { FerryError, MAX_SIGNATURE_FILE_BYTES, decodeSignature, isFerryError, printable, readRegularFile, verifyWithKey } from '@ferry/format-spec';

function invalid(path: string, msg: string, cause?: unknown): FerryError {
  return new FerryError('BASELINE_INVALID', `baseline ${printable(path)}: ${msg}`, { file: path }, cause === undefined ? undefined : { cause });
}

/** PATH.sig must be there, be a signature, and verify over `bytes` with one of `keys`. */
export async function checkBaselineSignature(bytes: Buffer, path: string, keys: readonly KeyObject[]): Promise<void> {
  const sigPath = `${path}.sig`;
  let text: Buffer;
  try {
    text = await readRegularFile(sigPath, 'baseline signature', MAX_SIGNATURE_FILE_BYTES);
  } catch (e) {
    if (isFerryError(e, 'INPUT_NOT_FOUND')) throw invalid(path, `no signature ${printable(sigPath)} beside it, and --baseline-key asks for one; bring it with the file (an inventory is signed by ferry-load inventory --key, a manifest by create), or drop --baseline-key if your policy allows an unsigned baseline`);
    throw e;
  }
  let sig: Buffer;
  try {
    sig = decodeSignature(text, sigPath);
  } catch (e) {
    throw invalid(path, `${printable(sigPath)} is not a base64 signature`, e);
  }
  if (!keys.some((k) => verifyWithKey(bytes, sig, k))) {
    throw invalid(path, `the signature ${printable(sigPath)} does not verify with the --baseline-key key(s): the file was changed after signing, or signed by another key`);
  }
}
