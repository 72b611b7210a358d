// --public-key FILE: public keys carried for the high side to import (cosign.pub and the like).
// They are cargo, never trust: the loader only trusts keys it is given on its own side.

import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { FerryError, describePublicKey, keyFingerprint, parsePublicKey, sha256Digest } from '@ferry/format-spec';
import { bundlePath } from './files.js';

export interface CollectedKey {
  absPath: string;
  path: string;
  size: number;
  digest: string;
  algorithm: string;
  fingerprint: string;
  bytes: Buffer;
}

export async function collectKeys(paths: readonly string[]): Promise<CollectedKey[]> {
  const out: CollectedKey[] = [];
  for (const p of paths) {
    const st = await stat(p).catch(() => undefined);
    if (!st?.isFile()) throw new FerryError('SOURCE_NOT_FOUND', `--public-key ${p}: no such file`);
    if (st.size > 64 * 1024) throw new FerryError('KEY_INVALID', `--public-key ${p}: ${st.size} bytes is too large for a PEM public key`);
    const bytes = await readFile(p);
    const key = parsePublicKey(bytes, `--public-key ${p}`);
    const path = bundlePath(`keys/${basename(p)}`, `--public-key ${p}`);
    if (out.some((k) => k.path === path)) throw new FerryError('SPEC_INVALID', `two public keys are named ${basename(p)}; rename one`);
    out.push({ absPath: p, path, size: bytes.length, digest: sha256Digest(bytes), algorithm: describePublicKey(key), fingerprint: keyFingerprint(key), bytes });
  }
  return out;
}
