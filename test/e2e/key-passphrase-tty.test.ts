// Key passphrases at a real terminal (a pseudo-terminal through util-linux `script`, as
// push-interactive.test.ts drives one): keygen asks twice and a mismatch asks again, an empty
// answer asks before writing an unencrypted key, create asks once for an encrypted key, Ctrl-C
// at the prompt writes nothing, and the passphrase typed is never echoed or printed (the whole
// terminal transcript is searched for it). Off a terminal, --password-file and the environment
// work and the errors name them, again never quoting the passphrase.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleCli, sh } from '../helpers/cli.js';

const bundler = fileURLToPath(new URL('../../packages/bundler/bin/ferry-bundle.js', import.meta.url));
let tmp = '';
const SECRET = 'Tr0ub4dor-at-the-tty';
const noPasswordEnv = { FERRY_KEY_PASSWORD: undefined, FERRY_KEY_PASSWORD_FILE: undefined, COSIGN_PASSWORD: undefined };

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-key-tty-'));
  await mkdir(join(tmp, 'files'));
  await writeFile(join(tmp, 'files', 'a.txt'), 'carried\n');
});
test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

interface Step { when: string; send: string }

/** ferry-bundle ARGS on a pseudo-terminal; each step's text is typed once its prompt shows. */
function onTerminal(args: string[], steps: Step[]): Promise<{ code: number; transcript: string; unanswered: number }> {
  const cmd = [process.execPath, bundler, ...args].map((a) => `'${a}'`).join(' ');
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, CI: 'true', TERM: 'dumb' })) if (v !== undefined && !(k in noPasswordEnv)) env[k] = v;
  const child = spawn('script', ['-qec', cmd, '/dev/null'], { cwd: tmp, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let transcript = '';
  let from = 0;
  const queue = [...steps];
  child.stdout.on('data', (d: Buffer) => {
    transcript += d.toString();
    // Several prompts may arrive in one chunk: answer each in turn.
    for (let next = queue[0]; next && transcript.indexOf(next.when, from) !== -1; next = queue[0]) {
      from = transcript.indexOf(next.when, from) + next.when.length;
      queue.shift();
      if (next.send) child.stdin.write(next.send);
    }
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) => child.on('close', (code) => {
    clearTimeout(timer);
    child.stdin.destroy();
    resolve({ code: code ?? -1, transcript, unanswered: queue.length });
  }));
}

const decrypts = async (key: string, pass: string) => (await sh(`openssl pkey -in '${key}' -passin 'pass:${pass}' -noout`)).code === 0;

test('keygen asks twice without echo; the key is encrypted with what was typed', async () => {
  const r = await onTerminal(['keygen', '--out', join(tmp, 'twice')], [
    { when: 'Passphrase for the new key', send: `${SECRET}\r` },
    { when: 'Repeat the passphrase: ', send: `${SECRET}\r` },
  ]);
  assert.is(r.code, 0, r.transcript);
  assert.is(r.unanswered, 0);
  assert.not.ok(r.transcript.includes(SECRET), `the passphrase was echoed or printed: ${r.transcript}`);
  assert.match(r.transcript, /private, encrypted with the passphrase you typed/);
  assert.match(await readFile(join(tmp, 'twice.key'), 'utf8'), /BEGIN ENCRYPTED PRIVATE KEY/);
  assert.ok(await decrypts(join(tmp, 'twice.key'), SECRET));
});

test('a mismatch asks again; the second pair wins', async () => {
  const r = await onTerminal(['keygen', '--out', join(tmp, 'again')], [
    { when: 'Passphrase for the new key', send: 'first-try\r' },
    { when: 'Repeat the passphrase: ', send: 'different\r' },
    { when: 'do not match; try again', send: '' },
    { when: 'Passphrase for the new key', send: `${SECRET}\r` },
    { when: 'Repeat the passphrase: ', send: `${SECRET}\r` },
  ]);
  assert.is(r.code, 0, r.transcript);
  assert.not.ok(r.transcript.includes(SECRET) || r.transcript.includes('first-try') || r.transcript.includes('different'), r.transcript);
  assert.ok(await decrypts(join(tmp, 'again.key'), SECRET));
  assert.not.ok(await decrypts(join(tmp, 'again.key'), 'first-try'));
});

test('an empty passphrase asks before writing an unencrypted key: N asks again, y writes it', async () => {
  const declined = await onTerminal(['keygen', '--out', join(tmp, 'declined')], [
    { when: 'Passphrase for the new key', send: '\r' },
    { when: '[y/N] ', send: 'n\r' },
    { when: 'Passphrase for the new key', send: '\r' },
    { when: '[y/N] ', send: '\r' },
    { when: 'Passphrase for the new key', send: '\x03' },
  ]);
  assert.is(declined.code, 130, declined.transcript);
  assert.match(declined.transcript, /interrupted at the passphrase prompt; nothing was written/);
  assert.not.ok(existsSync(join(tmp, 'declined.key')), 'Ctrl-C writes no key');
  const yes = await onTerminal(['keygen', '--out', join(tmp, 'plain')], [
    { when: 'Passphrase for the new key', send: '\r' },
    { when: '[y/N] ', send: 'y\r' },
  ]);
  assert.is(yes.code, 0, yes.transcript);
  assert.match(yes.transcript, /NOT encrypted \(as you confirmed\)/);
  assert.match(await readFile(join(tmp, 'plain.key'), 'utf8'), /BEGIN PRIVATE KEY/);
});

test('create asks once for an encrypted key, before any work, without echo; a wrong answer is refused by name', async () => {
  await writeFile(join(tmp, 'pw'), `${SECRET}\n`);
  assert.is((await bundleCli(['keygen', '--out', join(tmp, 'enc'), '--password-file', join(tmp, 'pw')])).code, 0);
  const args = (name: string) => ['create', '--name', name, '--out', join(tmp, name), '--key', join(tmp, 'enc.key'), '--file', 'files/a.txt'];
  const r = await onTerminal(args('asked'), [{ when: `Passphrase for ${join(tmp, 'enc.key')}: `, send: `${SECRET}\r` }]);
  assert.is(r.code, 0, r.transcript);
  assert.is(r.transcript.split('Passphrase for').length - 1, 1, 'asked once');
  assert.not.ok(r.transcript.includes(SECRET), r.transcript);
  assert.ok(existsSync(join(tmp, 'asked', 'asked.sha256')));
  const wrong = await onTerminal(args('wrong'), [{ when: 'Passphrase for', send: 'not-the-one\r' }]);
  assert.is(wrong.code, 5, wrong.transcript);
  assert.match(wrong.transcript, /KEY_PASSWORD_WRONG.*could not decrypt with the passphrase typed at the prompt/);
  assert.not.ok(wrong.transcript.includes('not-the-one'));
  assert.not.ok(existsSync(join(tmp, 'wrong', 'wrong.manifest.json')));
});

test('off a terminal: --password-file, FERRY_KEY_PASSWORD_FILE and FERRY_KEY_PASSWORD in that order; errors name the options, never the passphrase', async () => {
  await writeFile(join(tmp, 'pw-file'), `${SECRET}\r\nignored second line\n`);
  await writeFile(join(tmp, 'other-file'), 'other-secret\n');
  const env = (extra: Record<string, string | undefined>) => ({ env: { ...noPasswordEnv, ...extra }, cwd: tmp });
  const nothing = await bundleCli(['keygen', '--out', join(tmp, 'none')], env({}));
  assert.is(nothing.code, 5);
  assert.match(nothing.stderr, /KEY_PASSWORD_REQUIRED.*no terminal to ask on: give --password-file FILE .*--no-password/);
  assert.not.ok(existsSync(join(tmp, 'none.key')));
  const k = await bundleCli(['keygen', '--out', join(tmp, 'cron'), '--password-file', join(tmp, 'pw-file'), '--json'], env({ FERRY_KEY_PASSWORD: 'other-secret', FERRY_KEY_PASSWORD_FILE: join(tmp, 'other-file') }));
  assert.is(k.code, 0, k.stderr);
  assert.is((JSON.parse(k.stdout) as { passwordSource: string; encrypted: boolean }).passwordSource, '--password-file');
  assert.ok(await decrypts(join(tmp, 'cron.key'), SECRET), 'the first line, CRLF stripped, is the passphrase');
  const outputs: string[] = [k.stdout, k.stderr];
  const create = (name: string, extra: string[], e: Record<string, string | undefined>) => bundleCli(['create', '--name', name, '--out', join(tmp, name), '--key', join(tmp, 'cron.key'), '--file', 'files/a.txt', '--json', ...extra], env(e));
  const viaFile = await create('c1', ['--password-file', join(tmp, 'pw-file')], { FERRY_KEY_PASSWORD: 'wrong', FERRY_KEY_PASSWORD_FILE: join(tmp, 'other-file') });
  assert.is(viaFile.code, 0, viaFile.stdout);
  const viaEnvFile = await create('c2', [], { FERRY_KEY_PASSWORD_FILE: join(tmp, 'pw-file'), FERRY_KEY_PASSWORD: 'wrong' });
  assert.is(viaEnvFile.code, 0, viaEnvFile.stdout);
  const viaEnv = await create('c3', [], { FERRY_KEY_PASSWORD: SECRET, COSIGN_PASSWORD: 'wrong' });
  assert.is(viaEnv.code, 0, viaEnv.stdout);
  const wrong = await create('c4', [], { FERRY_KEY_PASSWORD_FILE: join(tmp, 'other-file'), FERRY_KEY_PASSWORD: SECRET });
  assert.is(wrong.code, 5);
  assert.match(wrong.stdout, /KEY_PASSWORD_WRONG[\s\S]*could not decrypt with the passphrase from FERRY_KEY_PASSWORD_FILE/);
  const none = await create('c5', [], { COSIGN_PASSWORD: SECRET });
  assert.is(none.code, 5);
  assert.match(none.stdout, /KEY_PASSWORD_REQUIRED[\s\S]*--password-file FILE, FERRY_KEY_PASSWORD_FILE=FILE or FERRY_KEY_PASSWORD/);
  const missing = await create('c6', ['--password-file', join(tmp, 'no-such')], {});
  assert.is(missing.code, 3);
  assert.match(missing.stdout, /--password-file .*no-such: not found/);
  outputs.push(...[viaFile, viaEnvFile, viaEnv, wrong, none, missing].flatMap((r) => [r.stdout, r.stderr]));
  for (const o of outputs) {
    assert.not.ok(o.includes(SECRET), `passphrase in output: ${o}`);
    assert.not.ok(o.includes('other-secret'), `passphrase in output: ${o}`);
  }
});

test.run();
