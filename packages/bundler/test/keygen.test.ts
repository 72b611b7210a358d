// The new key's passphrase: asked twice on a terminal (a mismatch asks again, three tries), an
// empty answer asks whether to write the key unencrypted, --no-password and an empty
// FERRY_KEY_PASSWORD say so explicitly, and off a terminal with none given it is an error that
// names the options. (The real terminal is exercised in test/e2e/key-passphrase-tty.test.ts.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TerminalPrompt } from '@ferry/cli-kit';
import { rejectsCode } from '../../../test/helpers/assert.js';
import { newKeyPassword } from '../src/keygen.js';

/** A terminal that answers from a script and records what it was asked. */
function scripted(answers: string[]): TerminalPrompt & { asked: string[]; said: string[] } {
  const asked: string[] = [];
  const said: string[] = [];
  const next = async (q: string) => {
    asked.push(q);
    if (!answers.length) throw new Error(`unexpected question: ${q}`);
    return answers.shift()!;
  };
  return { asked, said, secret: next, line: next, say: (t) => void said.push(t) };
}

test('asked twice: matching answers give the passphrase', async () => {
  const t = scripted(['s3cret', 's3cret']);
  assert.equal(await newKeyPassword('k.key', { env: {}, prompt: t }), { password: 's3cret', source: 'prompt' });
  assert.equal(t.asked, ['Passphrase for the new key k.key (empty for none): ', 'Repeat the passphrase: ']);
});

test('a mismatch asks again; three mismatches fail and no passphrase is in the message', async () => {
  const t = scripted(['one', 'two', 'three', 'three']);
  assert.equal(await newKeyPassword('k.key', { env: {}, prompt: t }), { password: 'three', source: 'prompt' });
  assert.equal(t.said, ['The passphrases do not match; try again.']);
  const bad = scripted(['a1', 'b1', 'a2', 'b2', 'a3', 'b3']);
  const e = await rejectsCode(newKeyPassword('k.key', { env: {}, prompt: bad }), 'USAGE', /no passphrase agreed after 3 tries.*no key was written/);
  assert.not.match(e.message, /a1|b1|a3|b3/);
});

test('an empty answer asks to confirm an unencrypted key: N asks again, y writes it unencrypted', async () => {
  const t = scripted(['', 'n', '', 'y']);
  assert.equal(await newKeyPassword('k.key', { env: {}, prompt: t }), { source: 'prompt' });
  assert.match(t.asked[1]!, /Write k\.key unencrypted, .*\[y\/N\] $/);
  assert.equal(t.said, ['Then give it a passphrase.']);
  const enter = scripted(['', '', 'pw', 'pw']);
  assert.equal(await newKeyPassword('k.key', { env: {}, prompt: enter }), { password: 'pw', source: 'prompt' }, 'Enter at [y/N] is no');
});

test('--no-password, an empty FERRY_KEY_PASSWORD, files and the environment need no terminal', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-keygen-'));
  try {
    await writeFile(join(dir, 'pw'), 'from file\r\n');
    await writeFile(join(dir, 'empty'), '\n');
    assert.equal(await newKeyPassword('k.key', { noPassword: true, env: { FERRY_KEY_PASSWORD: 'x' } }), { source: '--no-password' });
    assert.equal(await newKeyPassword('k.key', { env: { FERRY_KEY_PASSWORD: '' } }), { source: 'FERRY_KEY_PASSWORD (empty)' });
    assert.equal(await newKeyPassword('k.key', { env: { FERRY_KEY_PASSWORD: 'env pw' } }), { password: 'env pw', source: 'FERRY_KEY_PASSWORD' });
    assert.equal(await newKeyPassword('k.key', { passwordFile: join(dir, 'pw'), env: { FERRY_KEY_PASSWORD: 'env pw' } }), { password: 'from file', source: '--password-file' });
    assert.equal(await newKeyPassword('k.key', { env: { FERRY_KEY_PASSWORD_FILE: join(dir, 'pw'), FERRY_KEY_PASSWORD: 'env pw' } }), { password: 'from file', source: 'FERRY_KEY_PASSWORD_FILE' });
    assert.equal(await newKeyPassword('k.key', { env: { COSIGN_PASSWORD: 'c' }, prompt: scripted(['p', 'p']) }), { password: 'p', source: 'prompt' }, 'COSIGN_PASSWORD is not for new Ferry keys');
    await rejectsCode(newKeyPassword('k.key', { passwordFile: join(dir, 'empty'), env: {} }), 'USAGE', /first line is empty; give --no-password/);
    await rejectsCode(newKeyPassword('k.key', { noPassword: true, passwordFile: join(dir, 'pw'), env: {} }), 'USAGE', /--no-password or --password-file, not both/);
    await rejectsCode(newKeyPassword('k.key', { env: {} }), 'KEY_PASSWORD_REQUIRED', /no terminal to ask on: give --password-file FILE .*--no-password/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
