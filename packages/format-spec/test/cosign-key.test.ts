// A key made by the real `cosign generate-key-pair` (v2.6.5) signs a bundle: decrypted with
// COSIGN_PASSWORD, its signature verifies with the cosign.pub cosign wrote; a wrong password and
// a tampered envelope are refused with their own codes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cosignKeyPair, type CosignKeys } from '../../../test/harness/cosign.js';
import { rejectsCode } from '../../../test/helpers/assert.js';
import { loadPrivateKey, loadTrustedKeys, signBytes, verifyDetached } from '../src/signing.js';

let dir = '';
let keys: CosignKeys;
const PW = 'cosign-pass 42';

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-cosign-key-'));
  keys = await cosignKeyPair(dir, PW);
});
test.after(async () => {
  delete process.env.COSIGN_PASSWORD;
  await rm(dir, { recursive: true, force: true });
});

test('a cosign key decrypts with COSIGN_PASSWORD and its signature verifies with cosign.pub', async () => {
  assert.match(await readFile(keys.key, 'utf8'), /BEGIN ENCRYPTED SIGSTORE PRIVATE KEY/);
  process.env.COSIGN_PASSWORD = PW;
  const key = await loadPrivateKey(keys.key, undefined);
  const data = Buffer.from('{"name":"bundle"}\n');
  const sig = Buffer.from(signBytes(data, key));
  const trusted = await loadTrustedKeys([keys.pub]);
  assert.is(verifyDetached(data, sig, trusted, 'b.manifest.json').path, keys.pub);
});

test('wrong password, changed parameters and a broken body are refused with a clear code', async () => {
  process.env.COSIGN_PASSWORD = 'not it';
  const wrong = await rejectsCode(loadPrivateKey(keys.key, undefined), 'KEY_PASSWORD_WRONG', /COSIGN_PASSWORD/);
  assert.not.ok(wrong.message.includes('not it'), 'the password is not in the message');
  process.env.COSIGN_PASSWORD = PW;
  const pem = await readFile(keys.key, 'utf8');
  const body = pem.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
  const env = JSON.parse(Buffer.from(body, 'base64').toString()) as { kdf: { params: { N: number } }; cipher: { name: string } };
  const write = async (name: string, e: unknown): Promise<string> => {
    const p = join(dir, name);
    await writeFile(p, `-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n${Buffer.from(JSON.stringify(e)).toString('base64')}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n`);
    return p;
  };
  const cheap = await write('cheap.key', { ...env, kdf: { ...env.kdf, params: { ...env.kdf.params, N: 1024 } } });
  await rejectsCode(loadPrivateKey(cheap, undefined), 'KEY_INVALID', /scrypt parameters/);
  const aes = await write('aes.key', { ...env, cipher: { ...env.cipher, name: 'aes-gcm' } });
  await rejectsCode(loadPrivateKey(aes, undefined), 'KEY_INVALID', /nacl\/secretbox/);
  const junk = join(dir, 'junk.key');
  await writeFile(junk, '-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nbm90IGpzb24=\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n');
  await rejectsCode(loadPrivateKey(junk, undefined), 'KEY_INVALID', /JSON/);
});

test.run();
