// ferry-bundle keygen: a signing key pair, with the passphrase handled as cosign users expect.
// The passphrase for the new key comes from --password-file > FERRY_KEY_PASSWORD_FILE >
// FERRY_KEY_PASSWORD > a prompt on a terminal (asked twice; an empty answer asks whether to write
// the key unencrypted). An unencrypted key is written only when asked for: --no-password, an
// empty FERRY_KEY_PASSWORD (the long-standing "explicitly unencrypted" setting scripts use), or
// "y" at the terminal. Off a terminal with none of these the command fails, naming them.
// The passphrase never appears in output, --json or an error.

import { stat, writeFile } from 'node:fs/promises';
import {
  FerryError,
  KEY_PASSWORD_ENV,
  KEY_PASSWORD_FILE_ENV,
  configuredKeyPassword,
  generateKeyPair,
  printable,
  type KeyPasswordSource,
  type SignatureAlgorithm,
} from '@ferry/format-spec';
import { writeJson, type TerminalPrompt } from '@ferry/cli-kit';

/** Where the new key's passphrase came from, or why it has none. */
export type NewKeyPasswordSource = Exclude<KeyPasswordSource, 'COSIGN_PASSWORD' | 'caller'> | '--no-password' | 'FERRY_KEY_PASSWORD (empty)';

export interface NewKeyPassword {
  /** undefined: write the key unencrypted (asked for explicitly). */
  password?: string;
  source: NewKeyPasswordSource;
}

export interface NewKeyPasswordOptions {
  noPassword?: boolean;
  passwordFile?: string;
  env?: Readonly<Record<string, string | undefined>>;
  /** The terminal to ask on; absent off a terminal. */
  prompt?: TerminalPrompt;
}

/** Rounds of asking before giving up (a mismatch, or "no" to an unencrypted key, asks again). */
const ROUNDS = 3;

/** The passphrase for a new key at `keyPath` (never printed). */
export async function newKeyPassword(keyPath: string, o: NewKeyPasswordOptions = {}): Promise<NewKeyPassword> {
  if (o.noPassword && o.passwordFile !== undefined) throw new FerryError('USAGE', 'give --no-password or --password-file, not both');
  if (o.noPassword) return { source: '--no-password' };
  const c = await configuredKeyPassword('new', { ...(o.passwordFile !== undefined ? { passwordFile: o.passwordFile } : {}), ...(o.env ? { env: o.env } : {}) });
  if (c.found) {
    if (c.found.password === '') {
      const what = c.found.source === '--password-file' ? '--password-file' : KEY_PASSWORD_FILE_ENV;
      throw new FerryError('USAGE', `${what} ${printable(c.file ?? '')}: its first line is empty; give --no-password to write the key unencrypted`);
    }
    return { password: c.found.password, source: c.found.source as NewKeyPasswordSource };
  }
  if (c.emptyEnv) return { source: 'FERRY_KEY_PASSWORD (empty)' };
  const tty = o.prompt;
  if (!tty) {
    throw new FerryError('KEY_PASSWORD_REQUIRED', `no passphrase for the new key ${printable(keyPath)} and no terminal to ask on: give --password-file FILE (or ${KEY_PASSWORD_FILE_ENV}=FILE, ${KEY_PASSWORD_ENV}), or --no-password to write it unencrypted`, { file: keyPath });
  }
  for (let round = 1; round <= ROUNDS; round++) {
    const first = await tty.secret(`Passphrase for the new key ${printable(keyPath)} (empty for none): `);
    if (first === '') {
      const answer = (await tty.line(`Write ${printable(keyPath)} unencrypted, readable by anyone who copies the file? [y/N] `)).trim().toLowerCase();
      if (answer === 'y' || answer === 'yes') return { source: 'prompt' };
      if (round < ROUNDS) tty.say('Then give it a passphrase.');
      continue;
    }
    const again = await tty.secret('Repeat the passphrase: ');
    if (again === first) return { password: first, source: 'prompt' };
    if (round < ROUNDS) tty.say('The passphrases do not match; try again.');
  }
  throw new FerryError('USAGE', `no passphrase agreed after ${ROUNDS} tries (the two entries differed, or an unencrypted key was declined); no key was written`);
}

export interface KeygenArgs {
  out: string;
  algorithm: string;
  force: boolean;
  json: boolean;
  noPassword?: boolean;
  passwordFile?: string;
}

/** Words for the summary: how the key was protected. */
function protection(p: NewKeyPassword): string {
  if (p.password !== undefined) {
    const from = p.source === 'prompt' ? 'the passphrase you typed' : p.source === 'FERRY_KEY_PASSWORD' ? KEY_PASSWORD_ENV : p.source === 'FERRY_KEY_PASSWORD_FILE' ? `the passphrase in ${KEY_PASSWORD_FILE_ENV}` : 'the passphrase in --password-file';
    return `encrypted with ${from}`;
  }
  const why = p.source === '--no-password' ? '--no-password' : p.source === 'prompt' ? 'as you confirmed' : `${KEY_PASSWORD_ENV} is set and empty`;
  return `NOT encrypted (${why}): anyone who copies it can sign bundles`;
}

export async function keygen(argv: KeygenArgs, prompt: TerminalPrompt | undefined): Promise<void> {
  const algorithm = argv.algorithm as SignatureAlgorithm;
  const priv = `${argv.out}.key`;
  const pub = `${argv.out}.pub`;
  if (!argv.force) {
    for (const p of [priv, pub]) {
      if (await stat(p).catch(() => undefined)) throw new FerryError('USAGE', `${p} already exists; pass --force to replace it`);
    }
  }
  const pw = await newKeyPassword(priv, {
    ...(argv.noPassword ? { noPassword: true } : {}),
    ...(argv.passwordFile !== undefined ? { passwordFile: argv.passwordFile } : {}),
    ...(prompt ? { prompt } : {}),
  });
  const pair = generateKeyPair(algorithm, pw.password);
  await writeFile(priv, pair.privatePem, { mode: 0o600 });
  await writeFile(pub, pair.publicPem, { mode: 0o644 });
  if (argv.json) {
    writeJson({ ok: true, privateKey: priv, publicKey: pub, algorithm, fingerprint: pair.fingerprint, encrypted: pair.encrypted, passwordSource: pw.source });
    return;
  }
  process.stdout.write(
    `Wrote ${priv} (private, ${protection(pw)}) and ${pub}\n` +
      `Algorithm:   ${algorithm}\nFingerprint: ${pair.fingerprint}\n` +
      `Next: carry ${pub} to the high side once, by a trusted path; operators pass it as --trusted-key.\n`,
  );
}
