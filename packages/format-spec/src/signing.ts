// Detached signatures over exact bytes: base64 of a DER ECDSA P-256/SHA-256 signature (the
// cosign key type, verifiable with `openssl dgst -sha256 -verify`) or of an Ed25519 signature.
// Trust comes only from keys the caller passes in; nothing here reads keys from a bundle.

import { decryptCosignKey, isCosignPrivateKey } from './cosign-key.js';
import { describeKeyPasswordSource, keyPasswordFor, KEY_PASSWORD_ENV, type EncryptedKeyFormat, type KeyPassword, type KeyPasswordOptions } from './key-password.js';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { FerryError } from './errors.js';
import type { SignatureAlgorithm } from './manifest-types.js';
import { MAX_KEY_FILE_BYTES, readRegularFile } from './safe-open.js';
import { printable } from './text.js';

export { KEY_PASSWORD_ENV };

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

/** One public key from a file holding exactly one (use loadTrustedKeys for a file of several). */
export async function loadPublicKey(path: string): Promise<KeyObject> {
  const keys = parsePublicKeyBlocks(await readRegularFile(path, 'key file', MAX_KEY_FILE_BYTES), path);
  if (keys.length > 1) throw new FerryError('KEY_INVALID', `${printable(path)} holds ${keys.length} public keys where one is expected`, { file: path });
  return keys[0]!;
}

export interface PemBlock {
  /** The label: `PUBLIC KEY`, `CERTIFICATE`, `PRIVATE KEY`... */
  label: string;
  /** The whole block, BEGIN and END lines included. */
  text: string;
}

const PEM_BLOCK_RE = /-----BEGIN ([^\r\n-]*)-----[\s\S]*?-----END ([^\r\n-]*)-----/g;

/** Every PEM block in `text` (RFC 7468), in order. Refuses an unterminated or mislabelled block. */
export function pemBlocks(text: string, where: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(PEM_BLOCK_RE)) {
    if (m[1] !== m[2]) {
      throw new FerryError('KEY_INVALID', `${printable(where)}: PEM block ${out.length + 1} begins as "${printable(m[1]!)}" but ends as "${printable(m[2]!)}"`, { file: where });
    }
    out.push({ label: m[1]!, text: m[0] });
  }
  const begins = text.split('-----BEGIN ').length - 1;
  if (begins > out.length) throw new FerryError('KEY_INVALID', `${printable(where)}: a PEM block has no matching -----END line (truncated file?)`, { file: where });
  return out;
}

/** Why a PEM block that is not a public key cannot be a trusted key, in words. */
function notAPublicKey(label: string): string {
  if (/PRIVATE KEY$/.test(label)) return 'a private key: give the public key (.pub); the private key never leaves the low side';
  if (label === 'CERTIFICATE' || label === 'TRUSTED CERTIFICATE' || label === 'X509 CERTIFICATE') {
    return 'a certificate, not a public key; extract its key with `openssl x509 -in FILE -pubkey -noout > KEY.pub` if that is the key you mean to trust';
  }
  if (label === 'RSA PUBLIC KEY') return 'a PKCS#1 RSA key; Ferry bundles are signed with ECDSA P-256 or Ed25519 keys (PEM "PUBLIC KEY")';
  return `a "${printable(label)}" block, not a "PUBLIC KEY"`;
}

/**
 * Every public key in a PEM file. Each block must be a `PUBLIC KEY`: anything else (a
 * certificate, a private key, EC parameters) is refused rather than skipped, so what a file
 * holds is never half-used. createPublicKey() alone would read only the first block (and
 * would take a certificate's key without saying so).
 */
export function parsePublicKeyBlocks(pem: string | Buffer, where: string): KeyObject[] {
  const blocks = pemBlocks(pem.toString(), where);
  if (blocks.length === 0) {
    throw new FerryError('KEY_INVALID', `${printable(where)}: no PEM block found (expected -----BEGIN PUBLIC KEY-----; a DER key converts with \`openssl pkey -pubin -inform DER -in FILE -out KEY.pub\`)`, { file: where });
  }
  return blocks.map((b, i) => {
    const which = blocks.length > 1 ? ` (block ${i + 1} of ${blocks.length})` : '';
    if (b.label !== 'PUBLIC KEY') throw new FerryError('KEY_INVALID', `${printable(where)}${which} is ${notAPublicKey(b.label)}`, { file: where, block: i + 1, found: b.label });
    try {
      return createPublicKey(b.text);
    } catch (e) {
      throw new FerryError('KEY_INVALID', `${printable(where)}${which}: not a valid PEM public key (${(e as Error).message})`, { file: where, block: i + 1 });
    }
  });
}

/** How a private key file is stored: Ferry's PKCS#8 (plain or encrypted) or cosign's format. */
export type PrivateKeyFormat = 'pkcs8' | 'pkcs8-encrypted' | 'cosign';

/** Which format a PEM private key is in; KEY_INVALID for anything else (a public key, junk). */
export function privateKeyFormat(text: string, path: string): PrivateKeyFormat {
  if (isCosignPrivateKey(text)) return 'cosign';
  if (!/-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/.test(text)) {
    if (/PUBLIC KEY/.test(text)) throw new FerryError('KEY_INVALID', `${path}: this is a public key; --key takes the private key`);
    throw new FerryError('KEY_INVALID', `${path}: not a PEM PKCS#8 private key or a cosign private key`);
  }
  return text.includes('BEGIN ENCRYPTED PRIVATE KEY') ? 'pkcs8-encrypted' : 'pkcs8';
}

/**
 * Load a private key. An encrypted one is decrypted with a passphrase from, in this order:
 * `password` as a string (the caller's), else per `password` as options (or the environment
 * when omitted): --password-file, FERRY_KEY_PASSWORD_FILE, FERRY_KEY_PASSWORD, COSIGN_PASSWORD
 * (cosign keys), the prompt callback (key-password.ts). The passphrase is asked for only when
 * the key is encrypted, and never appears in an error.
 */
export async function loadPrivateKey(path: string, password?: string | KeyPasswordOptions): Promise<KeyObject> {
  const pem = await readKeyFile(path);
  const text = pem.toString();
  const format = privateKeyFormat(text, path);
  if (format === 'pkcs8') {
    try {
      const key = createPrivateKey({ key: pem, format: 'pem' });
      keyAlgorithm(key, path);
      return key;
    } catch (e) {
      if (e instanceof FerryError) throw e;
      throw new FerryError('KEY_INVALID', `${path}: ${(e as Error).message}`);
    }
  }
  const kind: EncryptedKeyFormat = format === 'cosign' ? 'cosign' : 'pkcs8';
  const pw: KeyPassword = typeof password === 'string' ? { password, source: 'caller' } : await keyPasswordFor(kind, path, password ?? {});
  const from = describeKeyPasswordSource(pw.source, typeof password === 'object' ? password.passwordFile : undefined);
  if (format === 'cosign') {
    const key = await decryptCosignKey(text, pw.password, path, from);
    keyAlgorithm(key, path);
    return key;
  }
  // OpenSSL treats an empty passphrase as "ask for one": it never decrypts a Ferry key.
  if (pw.password === '') throw new FerryError('KEY_PASSWORD_WRONG', `${path}: could not decrypt with ${from}: it is empty`);
  try {
    const key = createPrivateKey({ key: pem, format: 'pem', passphrase: pw.password });
    keyAlgorithm(key, path);
    return key;
  } catch (e) {
    if (e instanceof FerryError) throw e;
    throw new FerryError('KEY_PASSWORD_WRONG', `${path}: could not decrypt with ${from}`);
  }
}

/**
 * The private key file, at most MAX_KEY_FILE_BYTES. Unlike bundle files it may be a pipe
 * (`--key <(pass show ferry.key)` keeps the key off the disk), so only its size is bounded.
 */
async function readKeyFile(path: string): Promise<Buffer> {
  try {
    const parts: Buffer[] = [];
    let n = 0;
    for await (const c of createReadStream(path, { highWaterMark: 16 * 1024 })) {
      n += (c as Buffer).length;
      if (n > MAX_KEY_FILE_BYTES) throw new FerryError('KEY_INVALID', `key ${path} is larger than ${MAX_KEY_FILE_BYTES} bytes: not a PEM key`, { file: path });
      parts.push(c as Buffer);
    }
    return Buffer.concat(parts, n);
  } catch (e) {
    if (e instanceof FerryError) throw e;
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
  /** How the key is named in messages: the file, or `FILE#N` for the Nth key of a file of several. */
  path: string;
  key: KeyObject;
  fingerprint: string;
}

/**
 * Read trusted keys. A file may hold several PEM public keys (a keyring): every one is
 * trusted and named `FILE#1`, `FILE#2`...; a file holding anything but public keys is refused.
 * Each file must be a regular file of at most MAX_KEY_FILE_BYTES.
 */
export async function loadTrustedKeys(paths: readonly string[]): Promise<TrustedKey[]> {
  const out: TrustedKey[] = [];
  for (const path of paths) {
    const keys = parsePublicKeyBlocks(await readRegularFile(path, 'trusted key', MAX_KEY_FILE_BYTES), path);
    keys.forEach((key, i) => {
      const name = keys.length > 1 ? `${path}#${i + 1}` : path;
      keyAlgorithm(key, name);
      out.push({ path: name, key, fingerprint: keyFingerprint(key) });
    });
  }
  return out;
}

const FINGERPRINT_RE = /^sha256:[0-9a-f]{64}$/;

/**
 * The `signer.fingerprint` a manifest claims, read from bytes that are NOT yet trusted, for
 * a refusal message only (never for a decision). null when it names none or is not JSON.
 */
export function claimedSignerFingerprint(manifestBytes: Uint8Array): string | null {
  try {
    const m = JSON.parse(Buffer.from(manifestBytes).toString('utf8')) as { signer?: { fingerprint?: unknown } } | null;
    const f = m?.signer?.fingerprint;
    return typeof f === 'string' ? f : null;
  } catch {
    return null;
  }
}

export interface VerifyDetachedOptions {
  /** The signer fingerprint the signed document claims (untrusted), named in the refusal
   *  message: a string as found, or null when it names none. Omit when there is no claim to show. */
  claimedFingerprint?: string | null;
}

/** The part of a refusal that says which key the document claims, beside the trusted ones. */
function claimText(trusted: readonly TrustedKey[], claimed: string | null): string {
  if (claimed === null) return '; the manifest names no signer';
  if (!FINGERPRINT_RE.test(claimed)) return `; the manifest's signer fingerprint "${printable(claimed.slice(0, 80))}" is not a sha256:<64 hex> fingerprint`;
  const same = trusted.find((t) => t.fingerprint === claimed);
  if (same) return `; the bundle claims key ${claimed}, which is the trusted key ${printable(same.path)}: the manifest or its signature was changed after signing`;
  return `; the bundle claims key ${claimed}, which is not a trusted key (signed by someone else, or the claim is false)`;
}

/**
 * Check a detached signature against the trusted keys. Returns the key that verified it;
 * throws SIGNATURE_INVALID naming what was checked (and, given, the claimed signer) when none does.
 */
export function verifyDetached(data: Uint8Array, sigText: string | Buffer, trusted: readonly TrustedKey[], what: string, opts: VerifyDetachedOptions = {}): TrustedKey {
  if (trusted.length === 0) throw new FerryError('TRUSTED_KEY_REQUIRED', `no trusted key given to verify ${what}`);
  const sig = decodeSignature(sigText, `${what}.sig`);
  for (const t of trusted) {
    if (verifyWithKey(data, sig, t.key)) return t;
  }
  const names = trusted.map((t) => `${printable(t.path)} (${t.fingerprint.slice(0, 19)}…)`).join(', ');
  const claimed = opts.claimedFingerprint === undefined ? '' : claimText(trusted, opts.claimedFingerprint);
  const details: Record<string, string> = { file: what };
  if (typeof opts.claimedFingerprint === 'string' && FINGERPRINT_RE.test(opts.claimedFingerprint)) details.claimedFingerprint = opts.claimedFingerprint;
  throw new FerryError('SIGNATURE_INVALID', `signature of ${what} does not verify with the trusted key${trusted.length > 1 ? 's' : ''} ${names}${claimed}`, details);
}

/**
 * Who signed something, the same object in every report (verify, inspect, push, checksum,
 * serve): the signing key's fingerprint (`sha256:` of its DER SPKI), its algorithm, and — when a
 * trusted key verified the signature — that key's file (`FILE` or `FILE#N`).
 */
export interface Signer {
  fingerprint: string;
  algorithm?: string;
  keyPath?: string;
}

/** The Signer for a signature `k` verified. */
export function signerOf(k: TrustedKey): Signer {
  return { fingerprint: k.fingerprint, algorithm: describePublicKey(k.key), keyPath: k.path };
}

/** `FILE (sha256:…)`, for text output. */
export function signerText(s: Signer): string {
  return s.keyPath ? `${s.keyPath} (${s.fingerprint})` : s.fingerprint;
}
