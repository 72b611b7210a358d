// Where credentials come from, in docker/podman's order: an explicit `--creds USER[:PASSWORD]`,
// then the auth file(s) (--authfile, else $REGISTRY_AUTH_FILE, else the containers auth.json
// locations and ~/.docker/config.json): `credHelpers`, `credsStore`, then `auths` entries.
// Credential helpers follow docker-credential-helpers' protocol (`get`, server URL on stdin).

import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { FerryError } from '@ferry/format-spec';
import { registryConfigKey, isDockerHub } from '../reference.js';
import { registerSecret } from './errors.js';

export interface Credentials {
  username?: string;
  password?: string;
  /** OAuth2 refresh token (config `identitytoken`, or a helper answering Username "<token>"). */
  identityToken?: string;
  /** Bearer token to send as-is (config `registrytoken`). */
  registryToken?: string;
  /** Where they came from, for messages (a file path or helper name; never the secret). */
  source: string;
}

export interface CredentialOptions {
  /** USER[:PASSWORD] for every registry these options are used with (skopeo --creds). */
  creds?: string;
  /** USER[:PASSWORD] per registry host[:port]. */
  credsByRegistry?: Record<string, string>;
  /** docker config.json / containers auth.json to use instead of the default locations. */
  authFile?: string;
  /** Environment to read HOME, REGISTRY_AUTH_FILE, XDG_*, DOCKER_CONFIG and PATH from. */
  env?: NodeJS.ProcessEnv;
  /** Longest a credential helper may run. */
  helperTimeoutMs?: number;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
}

interface ConfigFile {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** Parse `USER[:PASSWORD]` (split at the first colon, like skopeo). */
export function parseCredsString(s: string, source = 'the --creds option'): Credentials {
  const i = s.indexOf(':');
  const username = i < 0 ? s : s.slice(0, i);
  const password = i < 0 ? '' : s.slice(i + 1);
  if (!username) throw new FerryError('USAGE', `${source}: expected USER[:PASSWORD] with a non-empty user`);
  registerSecret(password);
  return { username, password, source };
}

/** Auth files to search, most specific first. */
export function authFileCandidates(opts: CredentialOptions): string[] {
  if (opts.authFile) return [opts.authFile];
  const env = opts.env ?? process.env;
  if (env.REGISTRY_AUTH_FILE) return [env.REGISTRY_AUTH_FILE];
  const home = env.HOME || homedir();
  const out: string[] = [];
  if (env.XDG_RUNTIME_DIR) out.push(join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  out.push(join(env.XDG_CONFIG_HOME || join(home, '.config'), 'containers', 'auth.json'));
  out.push(join(env.DOCKER_CONFIG || join(home, '.docker'), 'config.json'));
  return out;
}

async function loadConfig(path: string, explicit: boolean): Promise<ConfigFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !explicit) return undefined;
    throw new FerryError(explicit ? 'INPUT_NOT_FOUND' : 'REGISTRY_AUTH', `cannot read auth file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file: path });
  }
  try {
    const j = JSON.parse(text) as unknown;
    if (!j || typeof j !== 'object' || Array.isArray(j)) throw new Error('not a JSON object');
    return j as ConfigFile;
  } catch (e) {
    // Never echo the file's content: it holds secrets.
    throw new FerryError('REGISTRY_AUTH', `auth file ${path} is not valid JSON (${(e as Error).name})`, { file: path });
  }
}

/** Hostname[:port] of an `auths` key, which may be a legacy URL (`https://host/v1/`). */
function keyHost(key: string): string {
  let k = key;
  if (k.startsWith('http://')) k = k.slice(7);
  else if (k.startsWith('https://')) k = k.slice(8);
  return k.split('/')[0]!;
}

function normalizeHost(h: string): string {
  return isDockerHub(h) ? 'docker.io' : h;
}

/** Pick the `auths` entry: the most specific namespaced key (podman `host/ns/repo`) wins, then the host, then legacy URL keys. */
function findAuthEntry(auths: Record<string, AuthEntry>, registry: string, repository: string | undefined): AuthEntry | undefined {
  const host = normalizeHost(registry);
  if (repository) {
    const parts = repository.split('/');
    for (let n = parts.length; n >= 1; n--) {
      const key = `${host}/${parts.slice(0, n).join('/')}`;
      const e = auths[key] ?? (host === 'docker.io' ? auths[`index.docker.io/${parts.slice(0, n).join('/')}`] : undefined);
      if (e) return e;
    }
  }
  const exact = auths[registryConfigKey(registry)] ?? auths[registry] ?? (host === 'docker.io' ? auths['docker.io'] ?? auths['index.docker.io'] : undefined);
  if (exact) return exact;
  for (const [k, v] of Object.entries(auths)) {
    // legacy keys: "https://host/v1/", "http://host"; never a namespaced key here
    if ((k.startsWith('http://') || k.startsWith('https://')) && normalizeHost(keyHost(k)) === host) return v;
  }
  return undefined;
}

function entryCredentials(e: AuthEntry, source: string): Credentials | undefined {
  const out: Credentials = { source };
  if (typeof e.auth === 'string' && e.auth) {
    const dec = Buffer.from(e.auth, 'base64').toString('utf8');
    const i = dec.indexOf(':');
    if (i < 0) throw new FerryError('REGISTRY_AUTH', `${source}: an "auth" value does not decode to user:password`, { file: source });
    out.username = dec.slice(0, i);
    out.password = dec.slice(i + 1).replace(/\0+$/, '');
    registerSecret(e.auth);
  } else if (typeof e.username === 'string' && e.username) {
    out.username = e.username;
    out.password = typeof e.password === 'string' ? e.password : '';
  }
  if (typeof e.identitytoken === 'string' && e.identitytoken) out.identityToken = e.identitytoken;
  if (typeof e.registrytoken === 'string' && e.registrytoken) out.registryToken = e.registrytoken;
  registerSecret(out.password);
  registerSecret(out.identityToken);
  registerSecret(out.registryToken);
  return out.username !== undefined || out.identityToken || out.registryToken ? out : undefined;
}

/**
 * Run `docker-credential-<name> get` with the server URL on stdin. Returns undefined when the
 * helper has nothing for this server (it exits non-zero with "credentials not found").
 */
export async function runCredentialHelper(name: string, serverUrl: string, opts: CredentialOptions = {}): Promise<Credentials | undefined> {
  const program = `docker-credential-${name}`;
  const source = `credential helper ${program}`;
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new FerryError('REGISTRY_AUTH', `bad credential helper name "${name}"`);
  const env = opts.env ?? process.env;
  const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
    const child = spawn(program, ['get'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { if (out.length < 1 << 20) out += d.toString(); });
    child.stderr.resume();
    const t = setTimeout(() => child.kill('SIGKILL'), opts.helperTimeoutMs ?? 30_000);
    child.on('error', (e) => { clearTimeout(t); reject(e); });
    child.on('close', (c) => { clearTimeout(t); resolve({ code: c, stdout: out }); });
    child.stdin.on('error', () => { /* helper exited without reading: its exit code tells */ });
    child.stdin.end(serverUrl);
  }).catch((e: NodeJS.ErrnoException) => {
    throw new FerryError('REGISTRY_AUTH', `cannot run ${program} for ${serverUrl}: ${e.code === 'ENOENT' ? 'not found on PATH' : e.code ?? e.message}`, { helper: program, registry: serverUrl });
  });
  if (code !== 0) {
    if (/credentials not found/i.test(stdout)) return undefined;
    // The helper's output is not shown: it is free text and might hold secret material.
    throw new FerryError('REGISTRY_AUTH', `${program} get failed for ${serverUrl} (exit code ${code})`, { helper: program, registry: serverUrl });
  }
  let j: { Username?: unknown; Secret?: unknown };
  try {
    j = JSON.parse(stdout) as typeof j;
  } catch {
    throw new FerryError('REGISTRY_AUTH', `${program} get printed something that is not JSON for ${serverUrl}`, { helper: program, registry: serverUrl });
  }
  const username = typeof j.Username === 'string' ? j.Username : '';
  const secret = typeof j.Secret === 'string' ? j.Secret : '';
  registerSecret(secret);
  if (!username && !secret) return undefined;
  // "<token>" marks an identity (refresh) token rather than a password (docker native_store.go).
  if (username === '<token>') return { identityToken: secret, source };
  return { username, password: secret, source };
}

/**
 * Credentials for `registry` (and optionally a repository, for namespaced auth.json keys), or
 * undefined for anonymous access.
 */
export async function resolveCredentials(registry: string, repository: string | undefined, opts: CredentialOptions = {}): Promise<Credentials | undefined> {
  const explicit = opts.credsByRegistry?.[registry] ?? (isDockerHub(registry) ? opts.credsByRegistry?.['docker.io'] : undefined) ?? opts.creds;
  if (explicit !== undefined) return parseCredsString(explicit);
  const key = registryConfigKey(registry);
  for (const file of authFileCandidates(opts)) {
    const cfg = await loadConfig(file, file === opts.authFile || file === (opts.env ?? process.env).REGISTRY_AUTH_FILE);
    if (!cfg) continue;
    const helper = cfg.credHelpers?.[key] ?? (isDockerHub(registry) ? cfg.credHelpers?.['docker.io'] ?? cfg.credHelpers?.['index.docker.io'] : undefined);
    const store = helper ?? cfg.credsStore;
    if (store) {
      const c = await runCredentialHelper(store, key, opts);
      if (c) return c;
    }
    const entry = cfg.auths ? findAuthEntry(cfg.auths, registry, repository) : undefined;
    if (entry) {
      const c = entryCredentials(entry, file);
      if (c) return c;
    }
    // A `{}` entry or helper miss in this file: keep looking in the next file, as podman does.
  }
  return undefined;
}

