import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rejects } from '../../../test/helpers/assert.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import {
  generateKeyPair, keyFingerprint, loadPrivateKey, loadPublicKey, loadTrustedKeys, signBytes, verifyDetached, isFerryError,
} from '../src/index.js';

let dir = '';
test.before(async () => { dir = await mkdtemp(join(tmpdir(), 'ferry-sign-')); });
test.after(async () => { await rm(dir, { recursive: true, force: true }); });

for (const alg of ['ecdsa-p256', 'ed25519'] as const) {
  test(`${alg}: sign, verify, and a changed byte fails`, async () => {
    const kp = generateKeyPair(alg);
    await writeFile(join(dir, `${alg}.key`), kp.privatePem);
    await writeFile(join(dir, `${alg}.pub`), kp.publicPem);
    const key = await loadPrivateKey(join(dir, `${alg}.key`), undefined);
    const data = Buffer.from('{"exact":"bytes"}\n');
    const sig = signBytes(data, key);
    const trusted = await loadTrustedKeys([join(dir, `${alg}.pub`)]);
    assert.is(verifyDetached(data, sig, trusted, 'x').fingerprint, kp.fingerprint);
    const changed = Buffer.from(data);
    changed[3] ^= 1;
    assert.throws(() => verifyDetached(changed, sig, trusted, 'x'), (e: unknown) => isFerryError(e, 'SIGNATURE_INVALID'));
  });
}

test('ECDSA signatures verify with stock openssl (the documented check)', async () => {
  const kp = generateKeyPair('ecdsa-p256');
  await writeFile(join(dir, 'o.key'), kp.privatePem);
  await writeFile(join(dir, 'o.pub'), kp.publicPem);
  const data = Buffer.from('manifest bytes');
  await writeFile(join(dir, 'm.json'), data);
  const sig = signBytes(data, await loadPrivateKey(join(dir, 'o.key'), undefined));
  await writeFile(join(dir, 'm.json.sig.der'), Buffer.from(sig, 'base64'));
  const out = execFileSync('openssl', ['dgst', '-sha256', '-verify', join(dir, 'o.pub'), '-signature', join(dir, 'm.json.sig.der'), join(dir, 'm.json')]).toString();
  assert.match(out, /Verified OK/);
});

test('encrypted keys need the password; a wrong one is named as such', async () => {
  const kp = generateKeyPair('ecdsa-p256', 's3cret');
  assert.match(kp.privatePem, /ENCRYPTED PRIVATE KEY/);
  const p = join(dir, 'enc.key');
  await writeFile(p, kp.privatePem);
  await rejects(() => loadPrivateKey(p, undefined), (e: unknown) => isFerryError(e, 'KEY_PASSWORD_REQUIRED'));
  await rejects(() => loadPrivateKey(p, 'wrong'), (e: unknown) => isFerryError(e, 'KEY_PASSWORD_WRONG'));
  const k = await loadPrivateKey(p, 's3cret');
  assert.is(keyFingerprint(k), kp.fingerprint);
});

test('public and private keys are not confused, and unsupported keys are refused', async () => {
  const kp = generateKeyPair('ecdsa-p256');
  await writeFile(join(dir, 'swap.pub'), kp.privatePem);
  await rejects(() => loadPublicKey(join(dir, 'swap.pub')), (e: unknown) => isFerryError(e, 'KEY_INVALID') && /private key/.test((e as Error).message));
  await writeFile(join(dir, 'swap.key'), kp.publicPem);
  await rejects(() => loadPrivateKey(join(dir, 'swap.key'), undefined), (e: unknown) => isFerryError(e, 'KEY_INVALID'));
  const rsa = execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  await writeFile(join(dir, 'rsa.key'), rsa);
  await rejects(() => loadPrivateKey(join(dir, 'rsa.key'), undefined), (e: unknown) => isFerryError(e, 'KEY_INVALID') && /rsa/.test((e as Error).message));
  await writeFile(join(dir, 'junk.pub'), 'not a key');
  await rejects(() => loadTrustedKeys([join(dir, 'junk.pub')]), (e: unknown) => isFerryError(e, 'KEY_INVALID'));
  await rejects(() => loadTrustedKeys([join(dir, 'absent.pub')]), (e: unknown) => isFerryError(e, 'INPUT_NOT_FOUND'));
});

test('no trusted key at all is its own error; a garbage signature is refused', () => {
  assert.throws(() => verifyDetached(Buffer.from('x'), 'AAAA', [], 'm'), (e: unknown) => isFerryError(e, 'TRUSTED_KEY_REQUIRED'));
  const kp = generateKeyPair('ed25519');
  const trusted = [{ path: 'k.pub', key: createPublicKey(kp.publicPem), fingerprint: kp.fingerprint }];
  assert.throws(() => verifyDetached(Buffer.from('x'), '%%%not base64', trusted, 'm'), (e: unknown) => isFerryError(e, 'SIGNATURE_INVALID'));
});

test.run();
