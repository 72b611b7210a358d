// An inventory from `ferry-load inventory` as a baseline: what the target said it holds. With
// trusted keys (--baseline-key) the detached PATH.sig must verify with one of them over the
// exact bytes, so a delta never leaves out blobs on the word of an inventory nobody vouched for.

import { parseInventory, sha256Digest } from '@ferry/format-spec';
import { checkBaselineSignature } from './signature.js';
import type { BaselineReadOptions } from './read.js';
import type { Baseline, BaselineBlob } from './types.js';

export async function readInventoryBaseline(bytes: Buffer, path: string, opts: BaselineReadOptions): Promise<Baseline> {
  if (opts.trustedKeys?.length) await checkBaselineSignature(bytes, path, opts.trustedKeys);
  const inv = parseInventory(bytes, path);
  const blobs = new Map<string, BaselineBlob>();
  for (const b of inv.blobs) blobs.set(b.digest, { size: b.size, ...(b.mediaType !== undefined ? { mediaType: b.mediaType } : {}), repositories: b.repositories });
  return { name: `inventory:${inv.target}@${inv.created}`, kind: 'inventory', digest: sha256Digest(bytes), created: inv.created, blobs };
}
