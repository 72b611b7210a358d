// Image keys: PEM public keys of every type cosign signs with (made by cosign and by openssl),
// fingerprints by the SPKI rule (checked against openssl's DER), keyrings, trust directories, and
// the refusals (private keys, certificates, weak or unknown key types, non-regular or huge files).
// The signature variants each key type accepts are checked here with node:crypto and @noble's
// signers; signatures.test.ts checks them on what cosign itself wrote.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { constants, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519, ed25519ph } from '@noble/curves/ed25519.js';
import { rejectsCode } from '../../../test/helpers/assert.js';
import { cosignKeyPair } from '../../../test/harness/cosign.js';
import { loadImageKeys, parseImageKeys, verifyWithImageKey, type ImageKey } from '../src/index.js';

let dir: string;
const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });

/** A private key made by openssl, and its public PEM file. */
function opensslKey(name: string, ...genArgs: string[]): { priv: string; pub: string } {
  const priv = join(dir, `${name}.key.pem`);
  const pub = join(dir, `${name}.pub`);
  openssl('genpkey', ...genArgs, '-out', priv);
  openssl('pkey', '-in', priv, '-pubout', '-out', pub);
  return { priv, pub };
}

/** sha256 of the DER SPKI as openssl writes it: an independent computation of the fingerprint. */
function opensslFingerprint(pub: string): string {
  return 'sha256:' + createHash('sha256').update(openssl('pkey', '-pubin', '-in', pub, '-outform', 'DER')).digest('hex');
}

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-trust-keys-'));
});

test.after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a cosign generate-key-pair public key: ECDSA P-256, fingerprint = sha256 of its DER SPKI', async () => {
  const k = await cosignKeyPair(join(dir, 'cosign'), 'pw');
  const [key, ...rest] = await loadImageKeys([k.pub]);
  assert.is(rest.length, 0);
  assert.is(key!.algorithm, 'ecdsa-p256');
  assert.is(key!.path, k.pub);
  assert.is(key!.fingerprint, opensslFingerprint(k.pub));
});

test('openssl keys of each accepted type load with their algorithm (and RSA size)', async () => {
  const cases: Array<[string, string[], string, number | undefined]> = [
    ['ed', ['-algorithm', 'ed25519'], 'ed25519', undefined],
    ['p384', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'], 'ecdsa-p384', undefined],
    ['p521', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521'], 'ecdsa-p521', undefined],
    ['rsa3072', ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:3072'], 'rsa', 3072],
  ];
  for (const [name, args, alg, bits] of cases) {
    const { pub } = opensslKey(name, ...args);
    const [k] = await loadImageKeys([pub]);
    assert.is(k!.algorithm, alg, name);
    assert.is(k!.bits, bits, name);
    assert.is(k!.fingerprint, opensslFingerprint(pub), name);
  }
});

test('a PKCS#1 "RSA PUBLIC KEY" loads too (sigstore reads it), with the same fingerprint as its PKIX form', async () => {
  const { priv, pub } = opensslKey('rsa-pkcs1', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048');
  const pkcs1 = join(dir, 'rsa-pkcs1.rsapub');
  openssl('rsa', '-in', priv, '-RSAPublicKey_out', '-out', pkcs1);
  const [a] = await loadImageKeys([pkcs1]);
  const [b] = await loadImageKeys([pub]);
  assert.is(a!.fingerprint, b!.fingerprint);
});

test('a keyring file: every key, named FILE#1, FILE#2', async () => {
  const a = opensslKey('ring-a', '-algorithm', 'ed25519');
  const b = opensslKey('ring-b', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256');
  const ring = join(dir, 'ring.pem');
  await writeFile(ring, execFileSync('cat', [a.pub, b.pub]));
  const keys = await loadImageKeys([ring]);
  assert.equal(keys.map((k) => [k.path, k.algorithm]), [[`${ring}#1`, 'ed25519'], [`${ring}#2`, 'ecdsa-p256']]);
});

test('a trust directory: its *.pub and *.pem files, in name order, not hidden ones or other names; a key given twice is kept once', async () => {
  const d = join(dir, 'trust');
  await mkdir(d);
  const a = opensslKey('trust-a', '-algorithm', 'ed25519');
  const b = opensslKey('trust-b', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256');
  await symlink(a.pub, join(d, 'b-team.pub'));
  await symlink(b.pub, join(d, 'a-team.pem'));
  await writeFile(join(d, 'README'), 'not a key');
  await writeFile(join(d, '.old.pub'), 'garbage that would be refused');
  const keys = await loadImageKeys([d, a.pub]);
  assert.equal(keys.map((k) => k.path), [join(d, 'a-team.pem'), join(d, 'b-team.pub')]);
  assert.is(keys[1]!.fingerprint, opensslFingerprint(a.pub));
});

test('a trust directory without key files is refused (IMAGE_KEY_INVALID)', async () => {
  const d = join(dir, 'empty-trust');
  await mkdir(d);
  await writeFile(join(d, 'notes.txt'), 'x');
  await rejectsCode(loadImageKeys([d]), 'IMAGE_KEY_INVALID', /holds no \*\.pub or \*\.pem/);
});

test('refused, saying what it is: a private key, a certificate, a weak RSA key, a secp256k1 key, no PEM at all', async () => {
  const ed = opensslKey('refuse-ed', '-algorithm', 'ed25519');
  await rejectsCode(loadImageKeys([ed.priv]), 'IMAGE_KEY_INVALID', /private key: give the public key/);
  const cert = join(dir, 'cert.pem');
  openssl('req', '-x509', '-key', ed.priv, '-subj', '/CN=x', '-days', '1', '-out', cert);
  await rejectsCode(loadImageKeys([cert]), 'IMAGE_KEY_INVALID', /a certificate, not a public key/);
  const weak = opensslKey('weak', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024');
  await rejectsCode(loadImageKeys([weak.pub]), 'IMAGE_KEY_INVALID', /RSA key of 1024 bits/);
  const k1 = opensslKey('k1', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp256k1');
  await rejectsCode(loadImageKeys([k1.pub]), 'IMAGE_KEY_INVALID', /curve secp256k1/);
  const der = join(dir, 'key.der');
  await writeFile(der, openssl('pkey', '-pubin', '-in', ed.pub, '-outform', 'DER'));
  await rejectsCode(loadImageKeys([der]), 'IMAGE_KEY_INVALID', /no PEM block/);
  // A keyring with one bad block is refused whole, never half-used.
  const mixed = join(dir, 'mixed.pem');
  await writeFile(mixed, execFileSync('cat', [ed.pub, cert]));
  await rejectsCode(loadImageKeys([mixed]), 'IMAGE_KEY_INVALID', /#2 is a certificate/);
});

test('bounded reads: a missing file, a FIFO, a huge file', async () => {
  await rejectsCode(loadImageKeys([join(dir, 'nope.pub')]), 'INPUT_NOT_FOUND');
  const fifo = join(dir, 'fifo.pub');
  execFileSync('mkfifo', [fifo]);
  await rejectsCode(loadImageKeys([fifo]), 'INPUT_INVALID');
  const big = join(dir, 'big.pub');
  await writeFile(big, Buffer.alloc(200 * 1024, 0x41));
  await rejectsCode(loadImageKeys([big]), 'INPUT_INVALID');
});

const msg = Buffer.from('{"critical":{"type":"cosign container image signature"}}');
const one = (pem: string): ImageKey => parseImageKeys(pem, 'k.pub')[0]!;
const pemOf = (k: KeyObject) => k.export({ type: 'spki', format: 'pem' }).toString();

test('ECDSA: DER over SHA-256 (and the curve hash for P-384); raw r‖s only when asked (DSSE)', () => {
  const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const k = one(pemOf(p256.publicKey));
  assert.is(verifyWithImageKey(k, msg, sign('sha256', msg, p256.privateKey)), 'ecdsa-sha256');
  assert.is(verifyWithImageKey(k, msg, sign('sha384', msg, p256.privateKey)), null, 'P-256 with SHA-384 is nothing cosign writes');
  const p1363 = sign('sha256', msg, { key: p256.privateKey, dsaEncoding: 'ieee-p1363' });
  assert.is(verifyWithImageKey(k, msg, p1363), null);
  assert.is(verifyWithImageKey(k, msg, p1363, { p1363: true }), 'ecdsa-sha256');
  assert.is(verifyWithImageKey(k, Buffer.concat([msg, Buffer.from(' ')]), sign('sha256', msg, p256.privateKey)), null);
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const k384 = one(pemOf(p384.publicKey));
  assert.is(verifyWithImageKey(k384, msg, sign('sha384', msg, p384.privateKey)), 'ecdsa-sha384');
  assert.is(verifyWithImageKey(k384, msg, sign('sha256', msg, p384.privateKey)), 'ecdsa-sha256');
  assert.is(verifyWithImageKey(k384, msg, sign('sha512', msg, p384.privateKey)), null);
});

test('Ed25519: pure and Ed25519ph (RFC 8032 prehash) verify; another key or message does not', () => {
  const seed = Buffer.alloc(32, 7);
  const pub = ed25519.getPublicKey(seed);
  // The same key as a node KeyObject, from the raw seed (PKCS#8 prefix for Ed25519).
  const priv = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
  const k = one(pemOf(createPublicKey(priv)));
  assert.equal(Buffer.from(pub), k.key.export({ type: 'spki', format: 'der' }).subarray(-32));
  assert.is(verifyWithImageKey(k, msg, sign(null, msg, priv)), 'ed25519');
  assert.is(verifyWithImageKey(k, msg, ed25519ph.sign(msg, seed)), 'ed25519ph');
  assert.is(verifyWithImageKey(k, Buffer.from('other'), ed25519ph.sign(msg, seed)), null);
  const other = one(pemOf(generateKeyPairSync('ed25519').publicKey));
  assert.is(verifyWithImageKey(other, msg, sign(null, msg, priv)), null);
  assert.is(verifyWithImageKey(k, msg, Buffer.alloc(10)), null, 'a malformed signature is just not valid');
});

test('RSA: PKCS#1 v1.5 and PSS over SHA-256; nothing else', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const k = one(pemOf(rsa.publicKey));
  assert.is(verifyWithImageKey(k, msg, sign('sha256', msg, rsa.privateKey)), 'rsa-pkcs1v15-sha256');
  assert.is(verifyWithImageKey(k, msg, sign('sha256', msg, { key: rsa.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 20 })), 'rsa-pss-sha256');
  assert.is(verifyWithImageKey(k, msg, sign('sha1', msg, rsa.privateKey)), null);
});

test.run();
