import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rejects } from '../../../test/helpers/assert.js';
import { quickly } from '../../../test/helpers/fifo-guard.js';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import {
  claimedSignerFingerprint, generateKeyPair, keyFingerprint, loadPrivateKey, loadPublicKey, loadTrustedKeys, signBytes, verifyDetached, isFerryError,
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

test('a PEM file with several public keys: every key is trusted, each named FILE#N', async () => {
  const a = generateKeyPair('ecdsa-p256');
  const b = generateKeyPair('ed25519');
  const c = generateKeyPair('ecdsa-p256');
  const ring = join(dir, 'ring.pub');
  await writeFile(ring, `# our keys\n${a.publicPem}\n${b.publicPem}${c.publicPem}`);
  const trusted = await loadTrustedKeys([ring]);
  assert.equal(trusted.map((t) => [t.path, t.fingerprint]), [[`${ring}#1`, a.fingerprint], [`${ring}#2`, b.fingerprint], [`${ring}#3`, c.fingerprint]]);
  const data = Buffer.from('manifest');
  // Signed by the 2nd and by the 3rd key: both verify (createPublicKey alone would see only the 1st).
  assert.is(verifyDetached(data, signBytes(data, createPrivateKey(b.privatePem)), trusted, 'm').path, `${ring}#2`);
  assert.is(verifyDetached(data, signBytes(data, createPrivateKey(c.privatePem)), trusted, 'm').path, `${ring}#3`);
  // One key in a file: named by the file alone, as before.
  await writeFile(join(dir, 'one.pub'), a.publicPem);
  assert.is((await loadTrustedKeys([join(dir, 'one.pub')]))[0]!.path, join(dir, 'one.pub'));
  // loadPublicKey wants exactly one.
  await rejects(() => loadPublicKey(ring), (e: unknown) => isFerryError(e, 'KEY_INVALID') && /holds 3 public keys/.test((e as Error).message));
});

test('a trusted key file holding anything but PEM public keys is refused, saying what was found', async () => {
  const a = generateKeyPair('ecdsa-p256');
  const cert = execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', '/dev/null', '-subj', '/CN=ferry-test', '-days', '1'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  assert.match(cert, /BEGIN CERTIFICATE/);
  const cases: Array<[string, string, RegExp]> = [
    ['cert-only.pub', cert, /is a certificate, not a public key; extract its key with `openssl x509/],
    ['key-then-cert.pub', a.publicPem + cert, /\(block 2 of 2\) is a certificate/],
    ['key-then-private.pub', a.publicPem + a.privatePem, /\(block 2 of 2\) is a private key/],
    ['rsa-pkcs1.pub', '-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----\n', /PKCS#1 RSA key/],
    ['params.pub', '-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n' + a.publicPem, /\(block 1 of 2\) is a "EC PARAMETERS" block, not a "PUBLIC KEY"/],
    ['no-pem.pub', 'ssh-ed25519 AAAAC3Nza... me@host\n', /no PEM block found/],
    ['unterminated.pub', a.publicPem.split('-----END')[0]!, /no matching -----END line/],
    ['mismatched.pub', a.publicPem.replace('END PUBLIC KEY', 'END CERTIFICATE'), /begins as "PUBLIC KEY" but ends as "CERTIFICATE"/],
    ['garbage-body.pub', '-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----\n', /not a valid PEM public key/],
  ];
  for (const [name, text, re] of cases) {
    await writeFile(join(dir, name), text);
    await rejects(() => loadTrustedKeys([join(dir, name)]), (e: unknown) => isFerryError(e, 'KEY_INVALID') && re.test((e as Error).message), name);
  }
});

test('a refused signature names the key the document claims beside the trusted ones', () => {
  const signer = generateKeyPair('ecdsa-p256');
  const other = generateKeyPair('ecdsa-p256');
  const data = Buffer.from('{"signer":{"fingerprint":"x"}}');
  const sig = signBytes(data, createPrivateKey(signer.privatePem));
  const trustOther = [{ path: 'other.pub', key: createPublicKey(other.publicPem), fingerprint: other.fingerprint }];
  const trustSigner = [{ path: 'signer.pub', key: createPublicKey(signer.publicPem), fingerprint: signer.fingerprint }];
  const msg = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      assert.ok(isFerryError(e, 'SIGNATURE_INVALID'), String(e));
      return (e as Error).message;
    }
    assert.unreachable('verified');
    return '';
  };
  // Signed by a key that is not trusted: the claim is shown in full.
  let m = msg(() => verifyDetached(data, sig, trustOther, 'b.manifest.json', { claimedFingerprint: signer.fingerprint }));
  assert.match(m, new RegExp(`claims key ${signer.fingerprint}, which is not a trusted key`));
  assert.match(m, /other\.pub \(sha256:/);
  // The claimed key IS trusted, yet the bytes do not verify: changed after signing.
  const changed = Buffer.from(data);
  changed[2] ^= 1;
  m = msg(() => verifyDetached(changed, sig, trustSigner, 'b.manifest.json', { claimedFingerprint: signer.fingerprint }));
  assert.match(m, /which is the trusted key signer\.pub: the manifest or its signature was changed after signing/);
  // No claim, a malformed claim (escaped), and no claim asked for.
  assert.match(msg(() => verifyDetached(data, sig, trustOther, 'm', { claimedFingerprint: null })), /names no signer/);
  m = msg(() => verifyDetached(data, sig, trustOther, 'm', { claimedFingerprint: 'sha256:\u001b[2Kforged' }));
  assert.match(m, /signer fingerprint "sha256:\\x1b\[2Kforged" is not a sha256:<64 hex> fingerprint/);
  assert.not.match(m, /\u001b/);
  assert.not.match(msg(() => verifyDetached(data, sig, trustOther, 'm')), /claims|signer/);
});

test('claimedSignerFingerprint reads the claim from untrusted bytes, null when there is none', () => {
  assert.is(claimedSignerFingerprint(Buffer.from('{"signer":{"fingerprint":"sha256:ab"}}')), 'sha256:ab');
  assert.is(claimedSignerFingerprint(Buffer.from('{"signer":{"fingerprint":5}}')), null);
  assert.is(claimedSignerFingerprint(Buffer.from('{}')), null);
  assert.is(claimedSignerFingerprint(Buffer.from('null')), null);
  assert.is(claimedSignerFingerprint(Buffer.from('not json')), null);
});

test('trusted key files must be regular files of at most 64 KiB', async () => {
  execFileSync('mkfifo', [join(dir, 'fifo.pub')]);
  await rejects(() => quickly(loadTrustedKeys([join(dir, 'fifo.pub')]), [join(dir, 'fifo.pub')]), (e: unknown) => isFerryError(e, 'INPUT_INVALID') && /trusted key .* is a FIFO/.test((e as Error).message));
  await symlink('/dev/zero', join(dir, 'zero.pub'));
  await rejects(() => loadTrustedKeys([join(dir, 'zero.pub')]), (e: unknown) => isFerryError(e, 'INPUT_INVALID') && /character device/.test((e as Error).message));
  await writeFile(join(dir, 'big.pub'), Buffer.alloc(64 * 1024 + 1, 0x41));
  await rejects(() => loadTrustedKeys([join(dir, 'big.pub')]), (e: unknown) => isFerryError(e, 'INPUT_INVALID') && /larger than any trusted key Ferry accepts/.test((e as Error).message));
});

test('a private key may come through a pipe (--key <(pass show ferry.key)), bounded in size', async () => {
  const kp = generateKeyPair('ed25519');
  const fifo = join(dir, 'key.fifo');
  execFileSync('mkfifo', [fifo]);
  const writer = writeFile(fifo, kp.privatePem); // blocks in the thread pool until the reader opens
  const key = await loadPrivateKey(fifo, undefined);
  await writer;
  assert.is(keyFingerprint(key), kp.fingerprint);
  await symlink('/dev/zero', join(dir, 'zero.key'));
  await rejects(() => loadPrivateKey(join(dir, 'zero.key'), undefined), (e: unknown) => isFerryError(e, 'KEY_INVALID') && /larger than 65536 bytes/.test((e as Error).message));
});

test('no trusted key at all is its own error; a garbage signature is refused', () => {
  assert.throws(() => verifyDetached(Buffer.from('x'), 'AAAA', [], 'm'), (e: unknown) => isFerryError(e, 'TRUSTED_KEY_REQUIRED'));
  const kp = generateKeyPair('ed25519');
  const trusted = [{ path: 'k.pub', key: createPublicKey(kp.publicPem), fingerprint: kp.fingerprint }];
  assert.throws(() => verifyDetached(Buffer.from('x'), '%%%not base64', trusted, 'm'), (e: unknown) => isFerryError(e, 'SIGNATURE_INVALID'));
});

test.run();
