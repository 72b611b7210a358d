import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { generateKeyPair, isFerryError } from '@ferry/format-spec';
import { collectKeys } from '../../src/sources/keys.js';
import { rejects } from '../../../../test/helpers/assert.js';

test('public keys are carried with algorithm and fingerprint; private keys and junk are refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-keys-'));
  try {
    const kp = generateKeyPair('ecdsa-p256');
    await writeFile(join(dir, 'cosign.pub'), kp.publicPem);
    await writeFile(join(dir, 'rsa.pub'), execFileSync('sh', ['-c', 'openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null | openssl pkey -pubout']));
    const keys = await collectKeys([join(dir, 'cosign.pub'), join(dir, 'rsa.pub')]);
    assert.equal(keys.map((k) => [k.path, k.algorithm]), [['keys/cosign.pub', 'ecdsa-p256'], ['keys/rsa.pub', 'rsa-2048']]);
    assert.is(keys[0]!.fingerprint, kp.fingerprint);
    await writeFile(join(dir, 'secret.pub'), kp.privatePem);
    await rejects(() => collectKeys([join(dir, 'secret.pub')]), (e) => isFerryError(e, 'KEY_INVALID') && /private/.test((e as Error).message));
    await writeFile(join(dir, 'junk.pub'), 'hello');
    await rejects(() => collectKeys([join(dir, 'junk.pub')]), (e) => isFerryError(e, 'KEY_INVALID'));
    await rejects(() => collectKeys([join(dir, 'none.pub')]), (e) => isFerryError(e, 'SOURCE_NOT_FOUND'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a key whose file name the format refuses is refused when bundling', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-keys-'));
  try {
    const kp = generateKeyPair('ecdsa-p256');
    for (const name of ['co\nsign.pub', 'co\u2028sign.pub', 'co\u001b[2Jsign.pub']) {
      await writeFile(join(dir, name), kp.publicPem);
      await rejects(() => collectKeys([join(dir, name)]), (e) => isFerryError(e, 'SPEC_INVALID') && /--public-key .*: bundle path "keys\//.test((e as Error).message), JSON.stringify(name).slice(0, 40));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
