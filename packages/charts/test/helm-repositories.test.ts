// Helm's repositories.yaml: where it is looked for, what an entry gives (credentials, CA file,
// TLS, pass_credentials_all), lookups by URL (trailing slash insensitive) and by name, and that
// its passwords never reach an error.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  chartHttpOptionsFor, defaultRepositoryConfigPath, findRepositoryByName, findRepositoryByUrl,
  parseHelmRepositories, readHelmRepositories, resolveRepoName,
} from '../src/helm-repositories.js';
import { ChartHttp } from '../src/http.js';
import { ferryError, startServer } from './fixtures.js';

const PW = 'rep0-Passw0rd!';
const FILE = `apiVersion: ""
generated: "2024-01-02T03:04:05Z"
repositories:
- caFile: /etc/ca/internal.pem
  certFile: ""
  insecure_skip_tls_verify: false
  keyFile: ""
  name: internal
  pass_credentials_all: true
  password: ${PW}
  url: https://charts.internal.example/stable/
  username: bob
- name: public
  url: https://charts.example.com
- name: mtls
  url: https://mtls.example.com
  certFile: /c.pem
  keyFile: /k.pem
  insecure_skip_tls_verify: true
- url: https://no-name.example.com
`;

let dir: string;
test.before(async () => { dir = await mkdtemp(join(tmpdir(), 'ferry-helmrepos-')); });
test.after(async () => { await rm(dir, { recursive: true, force: true }); });

test('default path: $HELM_REPOSITORY_CONFIG, $HELM_CONFIG_HOME, $XDG_CONFIG_HOME/helm, ~/.config/helm', () => {
  assert.is(defaultRepositoryConfigPath({ HELM_REPOSITORY_CONFIG: '/x/r.yaml', HOME: '/h' }), '/x/r.yaml');
  assert.is(defaultRepositoryConfigPath({ HELM_CONFIG_HOME: '/hc', HOME: '/h' }), '/hc/repositories.yaml');
  assert.is(defaultRepositoryConfigPath({ XDG_CONFIG_HOME: '/xdg', HOME: '/h' }), '/xdg/helm/repositories.yaml');
  assert.is(defaultRepositoryConfigPath({ HOME: '/h' }), '/h/.config/helm/repositories.yaml');
});

test('entries parsed; one without a name skipped with a note', () => {
  const notes: string[] = [];
  const e = parseHelmRepositories(FILE, 'r.yaml', notes);
  assert.equal(e.map((x) => x.name), ['internal', 'public', 'mtls']);
  assert.equal(e[0], {
    name: 'internal', url: 'https://charts.internal.example/stable/', username: 'bob', password: PW, caFile: '/etc/ca/internal.pem',
    insecure_skip_tls_verify: false, pass_credentials_all: true,
  });
  assert.is(e[1]!.username, undefined);
  assert.ok(notes[0]!.includes('has no name'));
});

test('lookup by URL ignores a trailing slash and the case of the host; by name exactly', () => {
  const e = parseHelmRepositories(FILE, 'r.yaml');
  assert.is(findRepositoryByUrl(e, 'https://charts.internal.example/stable')!.name, 'internal');
  assert.is(findRepositoryByUrl(e, 'https://CHARTS.internal.example/stable//')!.name, 'internal');
  assert.is(findRepositoryByUrl(e, 'https://charts.example.com/')!.name, 'public');
  assert.is(findRepositoryByUrl(e, 'https://charts.example.com/other'), undefined);
  assert.is(findRepositoryByName(e, 'mtls')!.url, 'https://mtls.example.com');
  assert.is(findRepositoryByName(e, 'Public'), undefined);
});

test('options from an entry: credentials, CA, TLS, pass_credentials_all; --creds wins; client certs noted', () => {
  const e = parseHelmRepositories(FILE, 'r.yaml');
  const o = chartHttpOptionsFor(e[0], { caFile: '/global.pem', attempts: 2 }, 'r.yaml');
  assert.is(o.creds, `bob:${PW}`);
  assert.match(o.credsSource!, 'r.yaml (repository "internal")');
  assert.equal(o.caFile, ['/global.pem', '/etc/ca/internal.pem']);
  assert.is(o.passCredentialsAll, true);
  assert.is(o.attempts, 2);
  const mine = chartHttpOptionsFor(e[0], { creds: 'me:mine' });
  assert.is(mine.creds, 'me:mine');
  const notes: string[] = [];
  const m = chartHttpOptionsFor(e[2], {}, 'r.yaml', notes);
  assert.is(m.insecureSkipTlsVerify, true);
  assert.match(notes[0]!, 'client certificate');
  assert.equal(chartHttpOptionsFor(undefined, { attempts: 1 }), { attempts: 1 });
});

test('credentials from the file are sent, and never shown when refused', async () => {
  const srv = await startServer();
  srv.handle = (_r, res) => { res.writeHead(401); res.end(`wrong ${PW}`); };
  const entries = parseHelmRepositories(`repositories:\n- name: s\n  url: ${srv.url}/x\n  username: bob\n  password: ${PW}\n`, 'r.yaml');
  const h = new ChartHttp(entries[0]!.url, chartHttpOptionsFor(entries[0], { attempts: 1 }, 'r.yaml'));
  const err = await ferryError(h.fetch({ method: 'GET', url: 'index.yaml', accept: [200], limit: 100 }), 'REGISTRY_AUTH', [PW, Buffer.from(`bob:${PW}`).toString('base64')]);
  assert.match(err.message, 'r.yaml (repository "s")');
  assert.is(srv.seen[0]!.headers.authorization, `Basic ${Buffer.from(`bob:${PW}`).toString('base64')}`);
  h.close();
  await srv.close();
});

test('read: explicit missing file is INPUT_NOT_FOUND, a missing default is no repositories, bad YAML never echoed', async () => {
  await ferryError(readHelmRepositories(join(dir, 'missing.yaml')), 'INPUT_NOT_FOUND');
  const none = await readHelmRepositories(undefined, { HOME: join(dir, 'nohome') });
  assert.equal(none.entries, []);
  const bad = join(dir, 'bad.yaml');
  await writeFile(bad, `repositories:\n- name: x\n  password: "${PW}\n  url: [`);
  await ferryError(readHelmRepositories(bad), 'CHART_REPO_ERROR', [PW]);
  const good = join(dir, 'good.yaml');
  await writeFile(good, FILE);
  const r = await readHelmRepositories(undefined, { HELM_REPOSITORY_CONFIG: good });
  assert.is(r.file, good);
  assert.is(r.entries.length, 3);
  assert.is(r.notes.length, 1);
});

test('resolveRepoName: NAME/CHART@VERSION to the repository URL; an unknown name lists the known ones', async () => {
  const repos = { file: 'r.yaml', entries: parseHelmRepositories(FILE, 'r.yaml'), notes: [] };
  const r = resolveRepoName({ repoName: 'public', name: 'nginx', version: '^1' }, repos);
  assert.is(r.repo, 'https://charts.example.com');
  assert.is(r.version, '^1');
  const e = await ferryError(Promise.resolve().then(() => resolveRepoName({ repoName: 'nope', name: 'nginx' }, repos)), 'SOURCE_NOT_FOUND', [PW]);
  assert.match(e.message, 'it has: internal, public, mtls');
});

test.run();
