// Where the passphrase of a signing key comes from. One order for every command that opens a
// private key (documented in docs/engineer.md):
//
//   --password-file FILE > FERRY_KEY_PASSWORD_FILE > FERRY_KEY_PASSWORD > COSIGN_PASSWORD (cosign
//   keys only) > a prompt on a terminal > an error naming these.
//
// A password file holds the passphrase on its first line (a trailing newline, LF or CRLF, is not
// part of it): what cron jobs and secret stores write. An empty FERRY_KEY_PASSWORD means "no
// passphrase" (keygen: write the key unencrypted); it never decrypts a key, so for loading it is
// as if unset. The passphrase itself never appears in a message, a report or a log: messages name
// where it came from, never what it is.

import { createReadStream } from 'node:fs';
import { FerryError } from './errors.js';
import { printable } from './text.js';

export const KEY_PASSWORD_ENV = 'FERRY_KEY_PASSWORD';
export const KEY_PASSWORD_FILE_ENV = 'FERRY_KEY_PASSWORD_FILE';
/** Where cosign reads the key's password from (it may be empty). */
export const COSIGN_PASSWORD_ENV = 'COSIGN_PASSWORD';

/** Longest password file read: a passphrase is a line, not a document. */
export const MAX_PASSWORD_FILE_BYTES = 64 * 1024;

/** Where a passphrase came from, for messages and reports (never the passphrase). */
export type KeyPasswordSource = '--password-file' | 'FERRY_KEY_PASSWORD_FILE' | 'FERRY_KEY_PASSWORD' | 'COSIGN_PASSWORD' | 'prompt' | 'caller';

export interface KeyPassword {
  password: string;
  source: KeyPasswordSource;
}

export interface KeyPasswordOptions {
  /** --password-file: the passphrase is the file's first line. */
  passwordFile?: string;
  /** The environment to read (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Ask on the terminal; given only when there is one. Returns what was typed. */
  prompt?: (question: string) => Promise<string>;
}

/** The kind of private key being opened: cosign's own format also takes COSIGN_PASSWORD. */
export type EncryptedKeyFormat = 'pkcs8' | 'cosign';

/** Words for a source in a message: "the passphrase from --password-file /run/pw". */
export function describeKeyPasswordSource(source: KeyPasswordSource, file?: string): string {
  switch (source) {
    case '--password-file': return `the passphrase from --password-file${file ? ` ${printable(file)}` : ''}`;
    case 'FERRY_KEY_PASSWORD_FILE': return `the passphrase from ${KEY_PASSWORD_FILE_ENV}${file ? ` (${printable(file)})` : ''}`;
    case 'FERRY_KEY_PASSWORD': return KEY_PASSWORD_ENV;
    case 'COSIGN_PASSWORD': return COSIGN_PASSWORD_ENV;
    case 'prompt': return 'the passphrase typed at the prompt';
    case 'caller': return 'the given passphrase';
  }
}

/**
 * The passphrase on the first line of `path` (a trailing "\n" or "\r\n" stripped). The file may be
 * a pipe (`--password-file <(pass show ferry)`), so only its size is bounded. `what` names the
 * option in messages; the content never appears in one.
 */
export async function readPasswordFile(path: string, what: string): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of createReadStream(path, { highWaterMark: 16 * 1024 })) {
      const chunk = c as Buffer;
      n += chunk.length;
      parts.push(chunk);
      if (chunk.includes(0x0a)) break; // the first line is complete: the rest is never read
      if (n > MAX_PASSWORD_FILE_BYTES) throw new FerryError('INPUT_INVALID', `${what} ${printable(path)}: no line ends within the first ${MAX_PASSWORD_FILE_BYTES} bytes; it is not a password file`, { file: path });
    }
  } catch (e) {
    if (e instanceof FerryError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FerryError('INPUT_NOT_FOUND', `${what} ${printable(path)}: not found`, { file: path });
    throw new FerryError('INPUT_INVALID', `${what} ${printable(path)}: cannot be read (${code ?? 'error'})`, { file: path });
  }
  const text = Buffer.concat(parts, n).toString('utf8');
  const nl = text.indexOf('\n');
  const line = nl === -1 ? text : text.slice(0, nl);
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/**
 * The passphrase set up without asking (flag, file, environment), in the documented order, or
 * undefined when none is. An empty FERRY_KEY_PASSWORD is reported as `emptyEnv` (it means "no
 * passphrase") and not returned.
 */
export async function configuredKeyPassword(format: EncryptedKeyFormat | 'new', opts: KeyPasswordOptions = {}): Promise<{ found?: KeyPassword; file?: string; emptyEnv: boolean }> {
  const env = opts.env ?? process.env;
  if (opts.passwordFile !== undefined) {
    return { found: { password: await readPasswordFile(opts.passwordFile, '--password-file'), source: '--password-file' }, file: opts.passwordFile, emptyEnv: false };
  }
  const file = env[KEY_PASSWORD_FILE_ENV];
  if (file) return { found: { password: await readPasswordFile(file, KEY_PASSWORD_FILE_ENV), source: 'FERRY_KEY_PASSWORD_FILE' }, file, emptyEnv: false };
  const direct = env[KEY_PASSWORD_ENV];
  if (direct) return { found: { password: direct, source: 'FERRY_KEY_PASSWORD' }, emptyEnv: false };
  const emptyEnv = direct === '';
  const cosign = env[COSIGN_PASSWORD_ENV];
  if (format === 'cosign' && cosign !== undefined) return { found: { password: cosign, source: 'COSIGN_PASSWORD' }, emptyEnv };
  return { emptyEnv };
}

/** The options a user has when a passphrase is needed and there is no terminal to ask on. */
export function keyPasswordOptionsText(format: EncryptedKeyFormat): string {
  return `give --password-file FILE, ${KEY_PASSWORD_FILE_ENV}=FILE or ${KEY_PASSWORD_ENV}${format === 'cosign' ? ` (or ${COSIGN_PASSWORD_ENV}, as cosign reads it)` : ''}, or run on a terminal to be asked`;
}

/**
 * The passphrase to decrypt the key at `path`: configured (flag, file, environment), else asked
 * on the terminal, else KEY_PASSWORD_REQUIRED naming every way to give one.
 */
export async function keyPasswordFor(format: EncryptedKeyFormat, path: string, opts: KeyPasswordOptions = {}): Promise<KeyPassword> {
  const c = await configuredKeyPassword(format, opts);
  if (c.found) return c.found;
  if (opts.prompt) return { password: await opts.prompt(`Passphrase for ${printable(path)}: `), source: 'prompt' };
  const why = c.emptyEnv ? `${KEY_PASSWORD_ENV} is empty` : 'no passphrase was given';
  throw new FerryError('KEY_PASSWORD_REQUIRED', `${printable(path)} is encrypted and ${why}, with no terminal to ask on: ${keyPasswordOptionsText(format)}`, { file: path });
}
