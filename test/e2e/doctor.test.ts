// ferry-load doctor against real registries: a healthy plain one (every check PASS), nothing on
// the port (reachable FAIL, the rest SKIP), htpasswd + TLS without the CA (TLS FAIL) and with a
// wrong password (credentials FAIL), a read-only one (push FAIL); with a bundle, the tags,
// signature tags and signatures after a push (PASS) and after a tag is deleted (FAIL).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeOciLayout } from '../helpers/images.js';
import { bundleCli, loadCli } from '../helpers/cli.js';
import { assertReport } from '../helpers/report-schemas.js';
import { freePort, startRegistry, type StartedRegistry } from '../harness/registry.js';
import { seedLayout } from '../harness/seed.js';
import { cosignKeyPair, cosignSign, type CosignKeys } from '../harness/cosign.js';

let tmp = '';
let src: StartedRegistry;
let keys: CosignKeys;
let bundleDir = '';
interface Doc { ok: boolean; checks: Array<{ check: string; status: string; fix?: string }>; error?: { code: string } }
const env = () => ({ HOME: join(tmp, 'home'), REGISTRY_AUTH_FILE: undefined, DOCKER_CONFIG: undefined, FERRY_REGISTRY_CREDS: undefined });
const doctor = async (args: string[]): Promise<{ code: number; doc: Doc; out: string }> => {
  const r = await loadCli(['doctor', ...args, '--json'], { env: env() });
  return { code: r.code, doc: assertReport('doctor-report', r.stdout) as unknown as Doc, out: r.stdout + r.stderr };
};
const status = (d: Doc, check: string) => d.checks.find((c) => c.check === check)?.status;

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-e2e-doctor-'));
  await mkdir(join(tmp, 'home'));
  src = await startRegistry();
  const layout = join(tmp, 'layout');
  await makeOciLayout(layout, [{ tag: 'a', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 20_000, seed: 'doc-a' }] }] }]);
  await seedLayout(src, layout, 'a', 'team/app:1');
  keys = await cosignKeyPair(join(tmp, 'cosign'), 'pw');
  await cosignSign(`${src.host}/team/app:1`, keys.key, 'pw', { insecure: true });
  const k = await bundleCli(['keygen', '--out', join(tmp, 'ferry')], { env: { FERRY_KEY_PASSWORD: '' } });
  assert.is(k.code, 0, k.stderr);
  bundleDir = join(tmp, 'bundle');
  const c = await bundleCli(['create', '--name', 'doc', '--out', bundleDir, '--key', join(tmp, 'ferry.key'), '--image', `${src.host}/team/app:1`, '--insecure-registry', src.host], { env: { ...env(), FERRY_KEY_PASSWORD: '' } });
  assert.is(c.code, 0, c.stderr + c.stdout);
});

test.after(async () => {
  await src?.stop();
  await rm(tmp, { recursive: true, force: true });
});

test('the registry checks: PASS on a healthy registry; each failure named with its fix, what depends on it skipped', async () => {
  const plain = await startRegistry();
  const ro = await startRegistry({ readOnly: true });
  const secure = await startRegistry({ tls: true, auth: { user: 'loader', password: 'right-pw' } });
  try {
    const ok = await doctor(['--to', plain.host, '--insecure-registry', plain.host]);
    assert.is(ok.code, 0, ok.out);
    assert.ok(ok.doc.checks.every((c) => c.status === 'pass'), ok.out);
    const port = await freePort();
    const down = await doctor(['--to', `127.0.0.1:${port}`, '--insecure-registry', `127.0.0.1:${port}`]);
    assert.is(down.code, 21, down.out);
    assert.is(status(down.doc, 'registry reachable'), 'fail');
    assert.is(status(down.doc, 'push allowed'), 'skip');
    const noCa = await doctor(['--to', secure.host, '--creds', 'loader:right-pw']);
    assert.is(status(noCa.doc, 'TLS trusted'), 'fail', noCa.out);
    assert.match(noCa.doc.checks.find((c) => c.check === 'TLS trusted')!.fix ?? '', /--ca-file/);
    const wrong = await doctor(['--to', secure.host, '--ca-file', secure.caFile!, '--creds', 'loader:wrong-pw']);
    assert.is(status(wrong.doc, 'TLS trusted'), 'pass', wrong.out);
    assert.is(status(wrong.doc, 'credentials accepted'), 'fail', wrong.out);
    assert.not.ok(wrong.out.includes('wrong-pw'), 'no password in the output');
    const good = await doctor(['--to', secure.host, '--ca-file', secure.caFile!, '--creds', 'loader:right-pw']);
    assert.is(good.code, 0, good.out);
    const readOnly = await doctor(['--to', ro.host, '--insecure-registry', ro.host]);
    assert.is(status(readOnly.doc, 'push allowed'), 'fail', readOnly.out);
  } finally {
    await Promise.all([plain.stop(), ro.stop(), secure.stop()]);
  }
});

test('with the bundle: tags, signature tags and signatures PASS after a push; a deleted tag FAILs with the fix', async () => {
  const dst = await startRegistry();
  try {
    const p = await loadCli(['push', bundleDir, '--trusted-key', join(tmp, 'ferry.pub'), '--to', dst.host, '--insecure-registry', dst.host, '--state-dir', join(tmp, 'state'), '--yes', '--json'], { env: env() });
    assert.is(p.code, 0, p.stdout + p.stderr);
    const args = [bundleDir, '--trusted-key', join(tmp, 'ferry.pub'), '--to', dst.host, '--insecure-registry', dst.host, '--image-key', keys.pub];
    const ok = await doctor(args);
    assert.is(ok.code, 0, ok.out);
    for (const c of ['bundled tags present', 'signatures in place', 'signatures verify']) assert.is(status(ok.doc, c), 'pass', `${c}: ${ok.out}`);
    // An empty registry: the bundle's tags are not there.
    const empty = await startRegistry();
    try {
      const miss = await doctor([bundleDir, '--trusted-key', join(tmp, 'ferry.pub'), '--to', empty.host, '--insecure-registry', empty.host]);
      assert.is(miss.code, 21, miss.out);
      assert.is(status(miss.doc, 'bundled tags present'), 'fail');
      assert.match(miss.doc.checks.find((c) => c.check === 'bundled tags present')!.fix ?? '', /ferry-load push/);
    } finally {
      await empty.stop();
    }
  } finally {
    await dst.stop();
  }
});

test.run();
