// Credential lookup as docker/podman do it: explicit creds, auth file locations, credHelpers /
// credsStore helpers (real executables on a private PATH), auths entries and their key forms.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm, writeFile, mkdir, chmod, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FerryError } from '@ferry/format-spec';
import { resolveCredentials, parseCredsString, authFileCandidates, runCredentialHelper } from '../../src/registry/credentials.js';
import { redact, registerSecret } from '../../src/registry/errors.js';

let dir: string;
let bin: string;
const b64 = (s: string) => Buffer.from(s).toString('base64');

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-creds-'));
  bin = join(dir, 'bin');
  await mkdir(bin);
  // echoes back what it was asked for, so tests see the server URL the helper got
  await writeFile(join(bin, 'docker-credential-echo'), [
    '#!/bin/sh',
    'read -r url',
    `printf '%s' "$url" > '${join(dir, 'echo.stdin')}'`,
    'case "$url" in',
    '  tokenhost*) printf \'{"Username":"<token>","Secret":"refresh-abc-123"}\' ;;',
    '  missing*) echo "credentials not found in native keychain"; exit 1 ;;',
    '  *) printf \'{"ServerURL":"%s","Username":"helper-user","Secret":"helper-secret"}\' "$url" ;;',
    'esac',
    '',
  ].join('\n'));
  await chmod(join(bin, 'docker-credential-echo'), 0o755);
});

test.after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function authFile(name: string, content: unknown): Promise<string> {
  const f = join(dir, name);
  await writeFile(f, typeof content === 'string' ? content : JSON.stringify(content));
  return f;
}

const env = (extra: Record<string, string> = {}) => ({ HOME: join(dir, 'home'), PATH: `${bin}:${process.env.PATH}`, ...extra });

test('parseCredsString splits at the first colon', () => {
  assert.equal(parseCredsString('u:p:with:colons'), { username: 'u', password: 'p:with:colons', source: 'the --creds option' });
  assert.equal(parseCredsString('onlyuser'), { username: 'onlyuser', password: '', source: 'the --creds option' });
  assert.throws(() => parseCredsString(':pw'), (e: unknown) => (e as FerryError).code === 'USAGE' && !(e as Error).message.includes('pw'));
});

test('auth file locations: --authfile, else REGISTRY_AUTH_FILE, else XDG/containers then docker', () => {
  assert.equal(authFileCandidates({ authFile: '/x.json', env: { REGISTRY_AUTH_FILE: '/y.json' } }), ['/x.json']);
  assert.equal(authFileCandidates({ env: { REGISTRY_AUTH_FILE: '/y.json', HOME: '/h' } }), ['/y.json']);
  assert.equal(authFileCandidates({ env: { HOME: '/h', XDG_RUNTIME_DIR: '/run/user/1' } }), ['/run/user/1/containers/auth.json', '/h/.config/containers/auth.json', '/h/.docker/config.json']);
  assert.equal(authFileCandidates({ env: { HOME: '/h', DOCKER_CONFIG: '/dc', XDG_CONFIG_HOME: '/xc' } }), ['/xc/containers/auth.json', '/dc/config.json']);
});

test('auths: base64 auth, username/password, the first matching file wins', async () => {
  const xdg = join(dir, 'run');
  await mkdir(join(xdg, 'containers'), { recursive: true });
  await writeFile(join(xdg, 'containers', 'auth.json'), JSON.stringify({ auths: { 'reg.one:5000': { auth: b64('xdg:pw1') } } }));
  await mkdir(join(dir, 'home', '.docker'), { recursive: true });
  await writeFile(join(dir, 'home', '.docker', 'config.json'), JSON.stringify({ auths: { 'reg.one:5000': { auth: b64('docker:pw2') }, 'reg.two': { username: 'u2', password: 'p2' } } }));
  const e = env({ XDG_RUNTIME_DIR: xdg });
  assert.equal(await resolveCredentials('reg.one:5000', 'a/b', { env: e }), { username: 'xdg', password: 'pw1', source: join(xdg, 'containers', 'auth.json') });
  assert.equal(await resolveCredentials('reg.two', undefined, { env: e }), { username: 'u2', password: 'p2', source: join(dir, 'home', '.docker', 'config.json') });
  assert.is(await resolveCredentials('reg.three', undefined, { env: e }), undefined);
});

test('namespaced auth.json keys: the most specific wins; legacy URL keys match by host', async () => {
  const f = await authFile('ns.json', { auths: {
    'reg.io': { auth: b64('host:h') },
    'reg.io/team': { auth: b64('team:t') },
    'reg.io/team/app': { auth: b64('app:a') },
    'https://legacy.io/v1/': { auth: b64('legacy:l') },
  } });
  assert.is((await resolveCredentials('reg.io', 'team/app', { authFile: f, env: env() }))!.username, 'app');
  assert.is((await resolveCredentials('reg.io', 'team/other', { authFile: f, env: env() }))!.username, 'team');
  assert.is((await resolveCredentials('reg.io', 'elsewhere/x', { authFile: f, env: env() }))!.username, 'host');
  assert.is((await resolveCredentials('legacy.io', 'x', { authFile: f, env: env() }))!.username, 'legacy');
});

test('Docker Hub: every alias looks up https://index.docker.io/v1/', async () => {
  const f = await authFile('hub.json', { auths: { 'https://index.docker.io/v1/': { auth: b64('hubuser:hubpw') } } });
  for (const host of ['docker.io', 'index.docker.io', 'registry-1.docker.io']) {
    assert.is((await resolveCredentials(host, 'library/alpine', { authFile: f, env: env() }))!.username, 'hubuser', host);
  }
});

test('identitytoken, registrytoken and {} entries; NULs trimmed from the password', async () => {
  const f = await authFile('tok.json', { auths: {
    'id.io': { identitytoken: 'idtok-xyz' },
    'rt.io': { registrytoken: 'rtok-xyz' },
    'empty.io': {},
    'nul.io': { auth: b64('n:pass\0\0') },
  } });
  assert.equal(await resolveCredentials('id.io', undefined, { authFile: f, env: env() }), { identityToken: 'idtok-xyz', source: f });
  assert.equal(await resolveCredentials('rt.io', undefined, { authFile: f, env: env() }), { registryToken: 'rtok-xyz', source: f });
  assert.is(await resolveCredentials('empty.io', undefined, { authFile: f, env: env() }), undefined);
  assert.is((await resolveCredentials('nul.io', undefined, { authFile: f, env: env() }))!.password, 'pass');
});

test('credHelpers beat credsStore; the helper gets the config key on stdin', async () => {
  const f = await authFile('helpers.json', { credsStore: 'does-not-exist', credHelpers: { 'reg.io:5000': 'echo', 'https://index.docker.io/v1/': 'echo' } });
  assert.equal(await resolveCredentials('reg.io:5000', 'x', { authFile: f, env: env() }), { username: 'helper-user', password: 'helper-secret', source: 'credential helper docker-credential-echo' });
  assert.is(await readFile(join(dir, 'echo.stdin'), 'utf8'), 'reg.io:5000');
  await resolveCredentials('docker.io', 'library/alpine', { authFile: f, env: env() });
  assert.is(await readFile(join(dir, 'echo.stdin'), 'utf8'), 'https://index.docker.io/v1/');
  // a registry without a credHelpers entry goes to credsStore, which is not installed
  const e = await resolveCredentials('other.io', undefined, { authFile: f, env: env() }).catch((x: FerryError) => x);
  assert.instance(e, FerryError);
  assert.is((e as FerryError).code, 'REGISTRY_AUTH');
  assert.match((e as FerryError).message, /docker-credential-does-not-exist .*not found on PATH/);
});

test('helper "not found" → anonymous; Username <token> → identity token', async () => {
  assert.is(await runCredentialHelper('echo', 'missing.io', { env: env() }), undefined);
  assert.equal(await runCredentialHelper('echo', 'tokenhost.io', { env: env() }), { identityToken: 'refresh-abc-123', source: 'credential helper docker-credential-echo' });
  const bad = await runCredentialHelper('../evil', 'x').catch((e: FerryError) => e);
  assert.is((bad as FerryError).code, 'REGISTRY_AUTH');
  assert.match((bad as FerryError).message, /bad credential helper name/);
});

test('explicit creds win over files; per-registry creds only for that registry', async () => {
  const f = await authFile('any.json', { auths: { 'a.io': { auth: b64('file:f') } } });
  assert.is((await resolveCredentials('a.io', undefined, { authFile: f, creds: 'cli:c', env: env() }))!.username, 'cli');
  const byReg = { 'b.io': 'bee:b' };
  assert.is((await resolveCredentials('b.io', undefined, { authFile: f, credsByRegistry: byReg, env: env() }))!.username, 'bee');
  assert.is((await resolveCredentials('a.io', undefined, { authFile: f, credsByRegistry: byReg, env: env() }))!.username, 'file');
});

test('bad auth files: missing --authfile, invalid JSON (content never echoed)', async () => {
  const missing = await resolveCredentials('a.io', undefined, { authFile: join(dir, 'nope.json'), env: env() }).catch((e: FerryError) => e);
  assert.is((missing as FerryError).code, 'INPUT_NOT_FOUND');
  const f = await authFile('broken.json', '{"auths":{"a.io":{"auth":"c2VjcmV0LXZhbHVl"}');
  const bad = await resolveCredentials('a.io', undefined, { authFile: f, env: env() }).catch((e: FerryError) => e);
  assert.is((bad as FerryError).code, 'REGISTRY_AUTH');
  assert.ok((bad as FerryError).message.includes(f));
  assert.not.ok((bad as FerryError).message.includes('c2VjcmV0LXZhbHVl'));
  // a missing default location is just "no credentials"
  assert.is(await resolveCredentials('a.io', undefined, { env: env() }), undefined);
});

test('redact removes registered secrets and anything shaped like an Authorization value', () => {
  registerSecret('hunter2-long-secret');
  assert.is(redact('login failed for hunter2-long-secret at x'), 'login failed for *** at x');
  assert.is(redact('header was Bearer eyJhbGciOiJFUzI1NiJ9.abc.def'), 'header was Bearer ***');
  assert.is(redact('Basic YWxpY2U6cGFzc3dvcmQ='), 'Basic ***');
});

test.run();
