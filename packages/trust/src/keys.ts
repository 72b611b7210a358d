// The high side's image keys: PEM public keys that cosign signatures and attestations are
// checked against. Trust comes only from keys the operator passes in (a file, a keyring file or
// a trust directory), never from a bundle or from the verification material a signature carries.
//
// Which signatures a key accepts is what cosign v2.6.5 itself writes and reads (sigstore
// pkg/signature LoadVerifier / LoadDefaultSignerVerifier, cosign pkg/cosign/keys.go):
// - ECDSA: ASN.1 DER signature over the SHA-256 of the message (`cosign verify`'s default hash);
//   also the curve's own hash (SHA-384 for P-384, SHA-512 for P-521), which is what `cosign sign`
//   writes with such a key (LoadDefaultSignerVerifier picks the hash from the curve);
// - Ed25519: pure Ed25519 (older cosign, `cosign sign-blob`, other tools) and Ed25519ph (RFC 8032
//   prehash, SHA-512), which cosign 2.x writes by default for every Ed25519 key (keys.go
//   GetDefaultLoadOptions). Node 20 has no Ed25519ph, so that one goes through @noble/curves;
// - RSA: PKCS#1 v1.5 with SHA-256 (cosign's default both ways), and RSASSA-PSS with SHA-256
//   (sigstore's PSS verifier, salt length auto) for signers set up for PSS.
// Accepting several hashes or both Ed25519 variants for one key adds no forgery: each variant is
// a signature by that private key over the same message, and Ed25519ph is domain-separated.

import { constants, createPublicKey, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ed25519ph } from '@noble/curves/ed25519.js';
import { FerryError, MAX_KEY_FILE_BYTES, keyFingerprint, pemBlocks, printable, readRegularFile, type PemBlock } from '@ferry/format-spec';

export type ImageKeyAlgorithm = 'ecdsa-p256' | 'ecdsa-p384' | 'ecdsa-p521' | 'ed25519' | 'rsa';

/** How a signature verified: the key type and the hash/padding that matched. */
export type SignatureAlgorithm =
  | 'ecdsa-sha256'
  | 'ecdsa-sha384'
  | 'ecdsa-sha512'
  | 'ed25519'
  | 'ed25519ph'
  | 'rsa-pkcs1v15-sha256'
  | 'rsa-pss-sha256';

export interface ImageKey {
  /** The file it came from; `FILE#N` for the Nth key of a file holding several. */
  path: string;
  /** `sha256:` + hex sha256 of the DER SubjectPublicKeyInfo (the rule of @ferry/format-spec keyFingerprint). */
  fingerprint: string;
  algorithm: ImageKeyAlgorithm;
  /** RSA modulus length in bits; undefined for the other key types. */
  bits?: number;
  key: KeyObject;
}

/** RSA keys shorter than this are refused (sigstore's goodkey refuses them too). */
export const MIN_RSA_BITS = 2048;
/** RSA keys longer than this are refused: verifying with them is slow for nothing. */
export const MAX_RSA_BITS = 8192;

/** Key files a trust directory contributes. */
const TRUST_DIR_FILE_RE = /^[^.].*\.(pub|pem)$/;

function keyError(message: string, details: Record<string, string | number> = {}): FerryError {
  return new FerryError('IMAGE_KEY_INVALID', message, details);
}

/** Why a PEM block that is not a public key cannot be an image key, in words. */
function notAPublicKey(label: string): string {
  if (/PRIVATE KEY$/.test(label)) return 'a private key: give the public key (cosign.pub); the private key stays with the signer';
  if (label === 'CERTIFICATE' || label === 'TRUSTED CERTIFICATE' || label === 'X509 CERTIFICATE') {
    return 'a certificate, not a public key (keyless signatures are not verified offline); extract its key with `openssl x509 -in FILE -pubkey -noout > KEY.pub` if that key is the one you mean to trust';
  }
  return `a "${printable(label)}" block, not a "PUBLIC KEY"`;
}

function algorithmOf(key: KeyObject, where: string): { algorithm: ImageKeyAlgorithm; bits?: number } {
  const t = key.asymmetricKeyType;
  if (t === 'ed25519') return { algorithm: 'ed25519' };
  if (t === 'ec') {
    const c = key.asymmetricKeyDetails?.namedCurve;
    if (c === 'prime256v1') return { algorithm: 'ecdsa-p256' };
    if (c === 'secp384r1') return { algorithm: 'ecdsa-p384' };
    if (c === 'secp521r1') return { algorithm: 'ecdsa-p521' };
    throw keyError(`${printable(where)}: an EC key on curve ${printable(String(c))}; cosign keys are ECDSA P-256, P-384 or P-521`, { file: where });
  }
  if (t === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) {
      throw keyError(`${printable(where)}: an RSA key of ${bits} bits; accepted are ${MIN_RSA_BITS} to ${MAX_RSA_BITS} bits`, { file: where, bits });
    }
    return { algorithm: 'rsa', bits };
  }
  throw keyError(`${printable(where)}: ${printable(String(t))} keys are not supported (ECDSA P-256/P-384/P-521, Ed25519 or RSA)`, { file: where });
}

function blocksOf(text: string, where: string): PemBlock[] {
  try {
    return pemBlocks(text, where);
  } catch (e) {
    // Same finding, reported under the image-key code (whose hint fits cosign keys).
    if (e instanceof FerryError) throw new FerryError('IMAGE_KEY_INVALID', e.message, { ...e.details });
    throw e;
  }
}

/**
 * Every public key in a PEM text: `PUBLIC KEY` (PKIX) blocks, and `RSA PUBLIC KEY` (PKCS#1),
 * which sigstore's UnmarshalPEMToPublicKey reads as well. Any other block (a private key, a
 * certificate) is refused rather than skipped, so what a file holds is never half-used.
 */
export function parseImageKeys(pem: string | Buffer, where: string): ImageKey[] {
  const blocks = blocksOf(pem.toString('utf8'), where);
  if (blocks.length === 0) {
    throw keyError(`${printable(where)}: no PEM block found (expected -----BEGIN PUBLIC KEY-----; a DER key converts with \`openssl pkey -pubin -inform DER -in FILE -out KEY.pub\`)`, { file: where });
  }
  return blocks.map((b, i) => {
    const name = blocks.length > 1 ? `${where}#${i + 1}` : where;
    if (b.label !== 'PUBLIC KEY' && b.label !== 'RSA PUBLIC KEY') {
      throw keyError(`${printable(name)} is ${notAPublicKey(b.label)}`, { file: where, block: i + 1, found: b.label });
    }
    let key: KeyObject;
    try {
      key = createPublicKey(b.text);
    } catch (e) {
      throw keyError(`${printable(name)}: not a valid PEM public key (${(e as Error).message})`, { file: where, block: i + 1 });
    }
    const { algorithm, bits } = algorithmOf(key, name);
    return { path: name, fingerprint: keyFingerprint(key), algorithm, ...(bits !== undefined ? { bits } : {}), key };
  });
}

async function keyFilesOf(path: string): Promise<string[]> {
  let isDir = false;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch {
    // Not there (or unreadable): readRegularFile says so with the usual codes.
  }
  if (!isDir) return [path];
  const names = (await readdir(path)).filter((n) => TRUST_DIR_FILE_RE.test(n)).sort();
  if (names.length === 0) throw keyError(`trust directory ${printable(path)} holds no *.pub or *.pem key file`, { file: path });
  return names.map((n) => join(path, n));
}

/**
 * Read the image keys: each path is a PEM file (one key or several) or a trust directory, whose
 * `*.pub` and `*.pem` files (not hidden ones, not recursively) are each read as a key file.
 * Every file must be a regular file of at most MAX_KEY_FILE_BYTES. A key given twice (the same
 * fingerprint) is kept once, under the first name it came with.
 */
export async function loadImageKeys(paths: readonly string[]): Promise<ImageKey[]> {
  const out: ImageKey[] = [];
  const seen = new Set<string>();
  for (const p of paths) {
    for (const file of await keyFilesOf(p)) {
      const keys = parseImageKeys(await readRegularFile(file, 'image key', MAX_KEY_FILE_BYTES), file);
      for (const k of keys) {
        if (seen.has(k.fingerprint)) continue;
        seen.add(k.fingerprint);
        out.push(k);
      }
    }
  }
  return out;
}

function tryVerify(alg: string | null, data: Uint8Array, key: KeyObject | Parameters<typeof nodeVerify>[2], sig: Uint8Array): boolean {
  try {
    return nodeVerify(alg, data, key, sig);
  } catch {
    return false; // a malformed signature (bad DER, wrong length) is simply not valid
  }
}

/** The 32 raw bytes of an Ed25519 public key (the end of its SPKI). */
function ed25519Raw(key: KeyObject): Uint8Array {
  const der = key.export({ type: 'spki', format: 'der' });
  return der.subarray(der.length - 32);
}

export interface VerifyWithKeyOptions {
  /** Also accept an ECDSA signature as raw r‖s (IEEE P1363), which DSSE allows; default DER only. */
  p1363?: boolean;
}

/**
 * Check `sig` over `data` with one image key, in the variants listed at the top of this file.
 * Returns how it verified, or null.
 */
export function verifyWithImageKey(k: ImageKey, data: Uint8Array, sig: Uint8Array, opts: VerifyWithKeyOptions = {}): SignatureAlgorithm | null {
  switch (k.algorithm) {
    case 'ecdsa-p256':
    case 'ecdsa-p384':
    case 'ecdsa-p521': {
      const hashes: Array<'sha256' | 'sha384' | 'sha512'> = k.algorithm === 'ecdsa-p384' ? ['sha256', 'sha384'] : k.algorithm === 'ecdsa-p521' ? ['sha256', 'sha512'] : ['sha256'];
      const encodings: Array<'der' | 'ieee-p1363'> = opts.p1363 ? ['der', 'ieee-p1363'] : ['der'];
      for (const h of hashes) {
        for (const dsaEncoding of encodings) {
          if (tryVerify(h, data, { key: k.key, dsaEncoding }, sig)) return `ecdsa-${h}`;
        }
      }
      return null;
    }
    case 'ed25519':
      if (sig.length !== 64) return null;
      if (tryVerify(null, data, k.key, sig)) return 'ed25519';
      try {
        // zip215: false = the strict RFC 8032 rules (canonical encodings), as Go's crypto/ed25519.
        if (ed25519ph.verify(sig, data, ed25519Raw(k.key), { zip215: false })) return 'ed25519ph';
      } catch {
        /* malformed: not valid */
      }
      return null;
    case 'rsa':
      if (tryVerify('sha256', data, { key: k.key, padding: constants.RSA_PKCS1_PADDING }, sig)) return 'rsa-pkcs1v15-sha256';
      if (tryVerify('sha256', data, { key: k.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, sig)) return 'rsa-pss-sha256';
      return null;
  }
}

/** The first trusted key that verifies `sig` over `data`, with how it verified. */
export function findVerifyingKey(keys: readonly ImageKey[], data: Uint8Array, sig: Uint8Array, opts: VerifyWithKeyOptions = {}): { key: ImageKey; algorithm: SignatureAlgorithm } | null {
  for (const key of keys) {
    const algorithm = verifyWithImageKey(key, data, sig, opts);
    if (algorithm) return { key, algorithm };
  }
  return null;
}
