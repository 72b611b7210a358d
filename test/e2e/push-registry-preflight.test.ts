// The pre-flight asks every namespace (project) the bundle pushes into, not only the first: a
// token registry where the account may push to team/* but not to other/* is refused before a
// single byte is sent, naming the repository.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeOciLayout } from '../helpers/images.js';
import { bundleCli, loadCli } from '../helpers/cli.js';
import { startRegistry, type StartedRegistry } from '../harness/registry.js';
import { startTokenServer, type TokenServer } from '../harness/token-server.js';
import { startProxy, type Proxy } from '../harness/proxy.js';

const PASSWORD = 'Pr0ject-Pa55word-19';
let tmp = '';
let ts: TokenServer;
let reg: StartedRegistry;
let proxy: Proxy;
let bundle = '';

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-preflight-'));
  await makeOciLayout(join(tmp, 'src'), [{ tag: 'app', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 5_000, seed: 'pf-app' }] }] }]);
  await writeFile(join(tmp, 'spec.yaml'), [
    'schemaVersion: 1', 'name: pf', 'images:',
    `  - source: oci:${join(tmp, 'src')}:app`, '    name: team/app:1.0',
    `  - source: oci:${join(tmp, 'src')}:app`, '    name: other/app:1.0',
  ].join('\n') + '\n');
  assert.is((await bundleCli(['keygen', '--no-password', '--out', join(tmp, 'k')])).code, 0);
  bundle = join(tmp, 'bundle');
  const r = await bundleCli(['create', join(tmp, 'spec.yaml'), '--out', bundle, '--key', join(tmp, 'k.key')]);
  assert.is(r.code, 0, r.stderr);
  ts = await startTokenServer({ dir: join(tmp, 'ts'), service: 'pf-registry', issuer: 'pf-issuer', users: { alice: PASSWORD }, pushOnlyUnder: { alice: ['team'] } });
  reg = await startRegistry({ token: { realm: ts.realm, service: ts.service, issuer: ts.issuer, rootCertBundle: ts.certFile } });
  proxy = await startProxy(reg.host);
});

test.after(async () => {
  await proxy?.stop();
  await reg?.stop();
  await ts?.stop();
  await rm(tmp, { recursive: true, force: true });
});

test('no push permission in the second namespace: refused before any byte, naming it', async () => {
  const r = await loadCli(['push', bundle, '--trusted-key', join(tmp, 'k.pub'), '--to', proxy.host, '--insecure-registry', proxy.host, '--creds', `alice:${PASSWORD}`, '--state-dir', join(tmp, 'state'), '--yes']);
  assert.is(r.code, 13, r.stdout + r.stderr);
  assert.match(r.stderr, /REGISTRY_(AUTH|DENIED)/);
  assert.match(r.stderr, /other\/app/);
  assert.not.ok(r.stderr.includes(PASSWORD), 'the password is never printed');
  const sent = proxy.requests.filter((l) => /^(PUT|PATCH) /.test(l));
  assert.equal(sent, [], 'nothing was uploaded, not even to team/app');
});

test.run();
