// cosign's encrypted private keys (`cosign generate-key-pair`), so a team that already signs with
// cosign signs its bundles with the same key: PEM `ENCRYPTED SIGSTORE PRIVATE KEY` (or the older
// `ENCRYPTED COSIGN PRIVATE KEY`) whose body is JSON — scrypt over the password, then a NaCl
// secretbox (XSalsa20-Poly1305) around the PKCS#8 DER key (cosign pkg/cosign/keys.go,
// sigstore/sigstore pkg/encrypted). Node's crypto has scrypt but no XSalsa20: @noble/ciphers.

import { createPrivateKey, scrypt, type KeyObject } from 'node:crypto';
import { secretbox } from '@noble/ciphers/salsa.js';
import { FerryError } from './errors.js';
import { COSIGN_PASSWORD_ENV } from './key-password.js';

export { COSIGN_PASSWORD_ENV };

const PEM_RE = /-----BEGIN (ENCRYPTED SIGSTORE PRIVATE KEY|ENCRYPTED COSIGN PRIVATE KEY)-----\r?\n([\s\S]*?)-----END \1-----/;
/** The only scrypt costs cosign's decrypt accepts (legacy, default, high). */
const SCRYPT_N = new Set([32768, 65536, 131072]);

export function isCosignPrivateKey(pem: string): boolean {
  return PEM_RE.test(pem);
}

interface Envelope {
  kdf?: { name?: unknown; params?: { N?: unknown; r?: unknown; p?: unknown }; salt?: unknown };
  cipher?: { name?: unknown; nonce?: unknown };
  ciphertext?: unknown;
}

function b64(v: unknown, what: string, path: string, length?: number): Buffer {
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw new FerryError('KEY_INVALID', `${path}: the cosign key's ${what} is not base64`);
  const b = Buffer.from(v, 'base64');
  if (length !== undefined && b.length !== length) throw new FerryError('KEY_INVALID', `${path}: the cosign key's ${what} has ${b.length} bytes, not ${length}`);
  return b;
}

function scryptKey(password: string, salt: Buffer, N: number): Promise<Buffer> {
  // 128·N·r bytes: 64 MiB at the default N, above Node's default maxmem of 32 MiB.
  return new Promise((resolve, reject) => scrypt(password, salt, 32, { N, r: 8, p: 1, maxmem: 256 * 1024 * 1024 }, (e, k) => (e ? reject(e) : resolve(k))));
}

/** Decrypt a cosign private key with `password` (empty is allowed, as cosign does); `from` says
 *  where the password came from, for the message when it is wrong (never the password). */
export async function decryptCosignKey(pem: string, password: string, path: string, from: string = COSIGN_PASSWORD_ENV): Promise<KeyObject> {
  const m = PEM_RE.exec(pem);
  if (!m) throw new FerryError('KEY_INVALID', `${path}: not a cosign private key`);
  let env: Envelope;
  try {
    env = JSON.parse(Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64').toString('utf8')) as Envelope;
  } catch {
    throw new FerryError('KEY_INVALID', `${path}: the cosign key's body is not the JSON cosign writes`);
  }
  const { kdf, cipher } = env;
  if (kdf?.name !== 'scrypt' || cipher?.name !== 'nacl/secretbox') {
    throw new FerryError('KEY_INVALID', `${path}: cosign key with kdf ${JSON.stringify(kdf?.name ?? null)} and cipher ${JSON.stringify(cipher?.name ?? null)}; cosign writes scrypt and nacl/secretbox`);
  }
  const N = kdf.params?.N;
  if (typeof N !== 'number' || !SCRYPT_N.has(N) || kdf.params?.r !== 8 || kdf.params?.p !== 1) {
    throw new FerryError('KEY_INVALID', `${path}: scrypt parameters ${JSON.stringify(kdf.params ?? null)} are not ones cosign accepts (N 32768, 65536 or 131072; r 8; p 1)`);
  }
  const salt = b64(kdf.salt, 'salt', path, 32);
  const nonce = b64(cipher.nonce, 'nonce', path, 24);
  const sealed = b64(env.ciphertext, 'ciphertext', path);
  const key = await scryptKey(password, salt, N);
  let der: Uint8Array;
  try {
    der = secretbox(key, nonce).open(sealed);
  } catch {
    throw new FerryError('KEY_PASSWORD_WRONG', `${path}: could not decrypt the cosign key with ${from}`);
  }
  try {
    return createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
  } catch (e) {
    throw new FerryError('KEY_INVALID', `${path}: the decrypted cosign key is not PKCS#8 (${(e as Error).message})`);
  }
}
