// The one order a key passphrase is taken in (--password-file > FERRY_KEY_PASSWORD_FILE >
// FERRY_KEY_PASSWORD > COSIGN_PASSWORD for cosign keys > the prompt > an error naming them), the
// first-line rule of password files, and that no message ever holds the passphrase.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rejectsCode } from '../../../test/helpers/assert.js';
import { configuredKeyPassword, keyPasswordFor, readPasswordFile } from '../src/key-password.js';
import { generateKeyPair, loadPrivateKey } from '../src/signing.js';

let dir = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-keypw-'));
});
test.after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a password file gives its first line, LF or CRLF stripped; the rest is never part of it', async () => {
  await writeFile(join(dir, 'lf'), 'first pass\nsecond\n');
  await writeFile(join(dir, 'crlf'), 'windows pass\r\n');
  await writeFile(join(dir, 'bare'), 'no newline');
  await writeFile(join(dir, 'spaces'), '  spaced  \n');
  assert.is(await readPasswordFile(join(dir, 'lf'), '--password-file'), 'first pass');
  assert.is(await readPasswordFile(join(dir, 'crlf'), '--password-file'), 'windows pass');
  assert.is(await readPasswordFile(join(dir, 'bare'), '--password-file'), 'no newline');
  assert.is(await readPasswordFile(join(dir, 'spaces'), '--password-file'), '  spaced  ', 'spaces are the passphrase');
  const e = await rejectsCode(readPasswordFile(join(dir, 'absent'), '--password-file'), 'INPUT_NOT_FOUND', /--password-file .*absent: not found/);
  assert.ok(e.details.file);
});

test('precedence: --password-file > FERRY_KEY_PASSWORD_FILE > FERRY_KEY_PASSWORD > COSIGN_PASSWORD (cosign keys only) > prompt', async () => {
  await writeFile(join(dir, 'flag'), 'from-flag\n');
  await writeFile(join(dir, 'envfile'), 'from-env-file\n');
  const all = { FERRY_KEY_PASSWORD_FILE: join(dir, 'envfile'), FERRY_KEY_PASSWORD: 'from-env', COSIGN_PASSWORD: 'from-cosign' };
  const prompt = async () => 'from-prompt';
  const src = async (format: 'pkcs8' | 'cosign', env: Record<string, string>, flag?: string) =>
    keyPasswordFor(format, 'k.key', { env, prompt, ...(flag ? { passwordFile: flag } : {}) });
  assert.equal(await src('cosign', all, join(dir, 'flag')), { password: 'from-flag', source: '--password-file' });
  assert.equal(await src('cosign', all), { password: 'from-env-file', source: 'FERRY_KEY_PASSWORD_FILE' });
  const { FERRY_KEY_PASSWORD_FILE: _f, ...noFile } = all;
  assert.equal(await src('cosign', noFile), { password: 'from-env', source: 'FERRY_KEY_PASSWORD' });
  assert.equal(await src('cosign', { COSIGN_PASSWORD: 'from-cosign' }), { password: 'from-cosign', source: 'COSIGN_PASSWORD' });
  assert.equal(await src('cosign', { COSIGN_PASSWORD: '' }), { password: '', source: 'COSIGN_PASSWORD' }, 'an empty COSIGN_PASSWORD is a password, as for cosign');
  assert.equal(await src('pkcs8', { COSIGN_PASSWORD: 'from-cosign' }), { password: 'from-prompt', source: 'prompt' }, 'COSIGN_PASSWORD is for cosign keys only');
  assert.equal(await src('pkcs8', { FERRY_KEY_PASSWORD: '' }), { password: 'from-prompt', source: 'prompt' }, 'an empty FERRY_KEY_PASSWORD decrypts nothing');
  assert.equal((await configuredKeyPassword('new', { env: { FERRY_KEY_PASSWORD: '' } })).emptyEnv, true);
});

test('off a terminal with nothing given: KEY_PASSWORD_REQUIRED naming every option', async () => {
  const e = await rejectsCode(keyPasswordFor('pkcs8', 'k.key', { env: {} }), 'KEY_PASSWORD_REQUIRED', /--password-file FILE, FERRY_KEY_PASSWORD_FILE=FILE or FERRY_KEY_PASSWORD, or run on a terminal/);
  assert.not.match(e.message, /COSIGN_PASSWORD/);
  await rejectsCode(keyPasswordFor('cosign', 'k.key', { env: {} }), 'KEY_PASSWORD_REQUIRED', /COSIGN_PASSWORD/);
  await rejectsCode(keyPasswordFor('pkcs8', 'k.key', { env: { FERRY_KEY_PASSWORD: '' } }), 'KEY_PASSWORD_REQUIRED', /FERRY_KEY_PASSWORD is empty/);
});

test('loadPrivateKey takes the passphrase from a password file or the prompt, asks only for an encrypted key, and never quotes it', async () => {
  const secret = 'hunter2-not-in-messages';
  const enc = generateKeyPair('ecdsa-p256', secret);
  const plain = generateKeyPair('ed25519');
  await writeFile(join(dir, 'enc.key'), enc.privatePem);
  await writeFile(join(dir, 'plain.key'), plain.privatePem);
  await writeFile(join(dir, 'pw'), `${secret}\n`);
  await writeFile(join(dir, 'bad'), 'wrong-one\n');
  let asked = 0;
  const prompt = async (q: string) => {
    asked++;
    assert.match(q, /Passphrase for .*enc\.key: $/);
    return secret;
  };
  assert.ok(await loadPrivateKey(join(dir, 'enc.key'), { passwordFile: join(dir, 'pw'), env: {} }));
  assert.ok(await loadPrivateKey(join(dir, 'enc.key'), { env: {}, prompt }));
  assert.is(asked, 1);
  assert.ok(await loadPrivateKey(join(dir, 'plain.key'), { env: {}, prompt }));
  assert.is(asked, 1, 'an unencrypted key is never asked for');
  const wrong = await rejectsCode(loadPrivateKey(join(dir, 'enc.key'), { passwordFile: join(dir, 'bad'), env: { FERRY_KEY_PASSWORD: secret } }), 'KEY_PASSWORD_WRONG', /with the passphrase from --password-file .*bad/);
  assert.not.ok(wrong.message.includes('wrong-one') || wrong.message.includes(secret));
  const typed = await rejectsCode(loadPrivateKey(join(dir, 'enc.key'), { env: {}, prompt: async () => 'typo' }), 'KEY_PASSWORD_WRONG', /typed at the prompt/);
  assert.not.ok(typed.message.includes('typo'));
});

test.run();
