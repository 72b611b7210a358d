// Detached signatures over exact bytes: base64 of a DER ECDSA P-256/SHA-256 signature (the
// cosign key type, verifiable with `openssl dgst -sha256 -verify`) or of an Ed25519 signature.
// Trust comes only from keys the caller passes in; nothing here reads keys from a bundle.

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { FerryError } from './errors.js';
import type { SignatureAlgorithm } from './manifest-types.js';

export const KEY_PASSWORD_ENV = 'FERRY_KEY_PASSWORD';

export interface GeneratedKeyPair {
  algorithm: SignatureAlgorithm;
  privatePem: string;
  publicPem: string;
  fingerprint: string;
  encrypted: boolean;
}

/** Make a key pair; the private key is encrypted (PKCS#8, AES-256-CBC) when a password is given. */
export function generateKeyPair(algorithm: SignatureAlgorithm, password?: string): GeneratedKeyPair {
  const privateKeyEncoding = password
    ? ({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: password } as const)
    : ({ type: 'pkcs8', format: 'pem' } as const);
  const publicKeyEncoding = { type: 'spki', format: 'pem' } as const;
  const pair =
    algorithm === 'ed25519'
      ? generateKeyPairSync('ed25519', { privateKeyEncoding, publicKeyEncoding })
      : generateKeyPairSync('ec', { namedCurve: 'prime256v1', privateKeyEncoding, publicKeyEncoding });
  return {
    algorithm,
    privatePem: pair.privateKey,
    publicPem: pair.publicKey,
    fingerprint: keyFingerprint(createPublicKey(pair.publicKey)),
    encrypted: Boolean(password),
  };
}

/** `sha256:<hex>` of the DER SubjectPublicKeyInfo: stable whatever the PEM wrapping. */
export function keyFingerprint(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return 'sha256:' + createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex');
}

/** Which signature algorithm a key is for; refuses keys Ferry does not sign with. */
export function keyAlgorithm(key: KeyObject, where: string): SignatureAlgorithm {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ecdsa-p256';
  const kind = key.asymmetricKeyType === 'ec' ? `ec ${key.asymmetricKeyDetails?.namedCurve ?? ''}` : key.asymmetricKeyType;
  throw new FerryError('KEY_INVALID', `${where}: ${kind} keys are not supported (use ECDSA P-256 or Ed25519)`);
}

/** Describe any public key (also ones Ferry only carries, like RSA cosign keys). */
export function describePublicKey(key: KeyObject): string {
  if (key.asymmetricKeyType === 'ec') {
    const c = key.asymmetricKeyDetails?.namedCurve;
    return c === 'prime256v1' ? 'ecdsa-p256' : c === 'secp384r1' ? 'ecdsa-p384' : c === 'secp521r1' ? 'ecdsa-p521' : `ec-${c}`;
  }
  if (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') {
    return `${key.asymmetricKeyType}-${key.asymmetricKeyDetails?.modulusLength ?? '?'}`;
  }
  return String(key.asymmetricKeyType);
}

export function parsePublicKey(pem: string | Buffer, where: string): KeyObject {
  try {
    const text = pem.toString();
    if (/PRIVATE KEY/.test(text)) {
      throw new FerryError('KEY_INVALID', `${where}: this is a private key; give the public key (.pub)`);
    }
    return createPublicKey(pem);
  } catch (e) {
    if (e instanceof FerryError) throw e;
    throw new FerryError('KEY_INVALID', `${where}: not a PEM public key (${(e as Error).message})`);
  }
}

export async function loadPublicKey(path: string): Promise<KeyObject> {
  return parsePublicKey(await readKeyFile(path), path);
}

/** Load a private key, decrypting with FERRY_KEY_PASSWORD (or the given password) when it is encrypted. */
export async function loadPrivateKey(path: string, password: string | undefined = process.env[KEY_PASSWORD_ENV]): Promise<KeyObject> {
  const pem = await readKeyFile(path);
  const text = pem.toString();
  if (!/-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/.test(text)) {
    if (/PUBLIC KEY/.test(text)) throw new FerryError('KEY_INVALID', `${path}: this is a public key; --key takes the private key`);
    throw new FerryError('KEY_INVALID', `${path}: not a PEM PKCS#8 private key`);
  }
  const encrypted = text.includes('BEGIN ENCRYPTED PRIVATE KEY');
  if (encrypted && !password) {
    throw new FerryError('KEY_PASSWORD_REQUIRED', `${path} is encrypted and ${KEY_PASSWORD_ENV} is not set`);
  }
  try {
    const key = createPrivateKey(encrypted ? { key: pem, format: 'pem', passphrase: password } : { key: pem, format: 'pem' });
    keyAlgorithm(key, path);
    return key;
  } catch (e) {
    if (e instanceof FerryError) throw e;
    if (encrypted) throw new FerryError('KEY_PASSWORD_WRONG', `${path}: could not decrypt with ${KEY_PASSWORD_ENV}`);
    throw new FerryError('KEY_INVALID', `${path}: ${(e as Error).message}`);
  }
}

async function readKeyFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FerryError(code === 'ENOENT' ? 'INPUT_NOT_FOUND' : 'KEY_INVALID', `cannot read key ${path}: ${code ?? (e as Error).message}`);
  }
}

/** Sign exact bytes; returns the base64 text written to the .sig file (no newline, as cosign writes). */
export function signBytes(data: Uint8Array, key: KeyObject): string {
  const alg = keyAlgorithm(key, 'signing key');
  const sig = alg === 'ed25519' ? sign(null, data, key) : sign('sha256', data, { key, dsaEncoding: 'der' });
  return sig.toString('base64');
}

/** Decode a .sig file: base64 (standard or URL-safe, surrounding whitespace allowed). */
export function decodeSignature(text: string | Buffer, where: string): Buffer {
  const s = text.toString().trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(s)) throw new FerryError('SIGNATURE_INVALID', `${where}: not a base64 signature`);
  return Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

export function verifyWithKey(data: Uint8Array, signature: Buffer, key: KeyObject): boolean {
  try {
    const alg = keyAlgorithm(key, 'trusted key');
    return alg === 'ed25519' ? verify(null, data, key, signature) : verify('sha256', data, { key, dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
}

export interface TrustedKey {
  path: string;
  key: KeyObject;
  fingerprint: string;
}

export async function loadTrustedKeys(paths: readonly string[]): Promise<TrustedKey[]> {
  const out: TrustedKey[] = [];
  for (const path of paths) {
    const key = await loadPublicKey(path);
    keyAlgorithm(key, path);
    out.push({ path, key, fingerprint: keyFingerprint(key) });
  }
  return out;
}

/**
 * Check a detached signature against the trusted keys. Returns the key that verified it;
 * throws SIGNATURE_INVALID naming what was checked when none does.
 */
export function verifyDetached(data: Uint8Array, sigText: string | Buffer, trusted: readonly TrustedKey[], what: string): TrustedKey {
  if (trusted.length === 0) throw new FerryError('TRUSTED_KEY_REQUIRED', `no trusted key given to verify ${what}`);
  const sig = decodeSignature(sigText, `${what}.sig`);
  for (const t of trusted) {
    if (verifyWithKey(data, sig, t.key)) return t;
  }
  const names = trusted.map((t) => `${t.path} (${t.fingerprint.slice(0, 19)}…)`).join(', ');
  throw new FerryError('SIGNATURE_INVALID', `signature of ${what} does not verify with the trusted key${trusted.length > 1 ? 's' : ''} ${names}`, { file: what });
}
