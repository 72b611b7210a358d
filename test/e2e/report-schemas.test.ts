// Every --json report is described by a schema in schemas/ and speaks one vocabulary: it starts
// with reportVersion, a digest is sha256:<hex>, and who signed the bundle is the same signer
// object in verify, inspect and push. Checked on the reports of a real bundle of the examples
// (the demo's spec), loaded into an OCI layout, and on a failure.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleCli, loadCli } from '../helpers/cli.js';
import { reportValidator } from '../helpers/report-schemas.js';

const spec = fileURLToPath(new URL('../../examples/bundle.yaml', import.meta.url));
let tmp = '';
let bundle = '';
const env = () => ({ FERRY_KEY_PASSWORD: '' });
const key = () => ['--trusted-key', join(tmp, 'k.pub')];

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-e2e-reports-'));
  assert.is((await bundleCli(['keygen', '--out', join(tmp, 'k')], { env: env() })).code, 0);
  bundle = join(tmp, 'b');
  const c = await bundleCli(['create', spec, '--key', join(tmp, 'k.key'), '--out', bundle, '--json'], { env: env() });
  assert.is(c.code, 0, c.stderr);
});

test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function valid(schema: string, text: string): Record<string, unknown> {
  const doc = JSON.parse(text) as Record<string, unknown>;
  const v = reportValidator(schema);
  assert.ok(v(doc), `${schema}: ${JSON.stringify(v.errors, null, 1)}`);
  assert.is(Object.keys(doc)[0], 'reportVersion', `${schema}: reportVersion comes first`);
  return doc;
}

test('verify, inspect, push, check: each report matches its schema; the signer is one object everywhere', async () => {
  const v = valid('verify-report', (await loadCli(['verify', bundle, ...key(), '--json', '--report', join(tmp, 'verify.json')])).stdout);
  assert.equal(valid('verify-report', await readFile(join(tmp, 'verify.json'), 'utf8')), v, '--report FILE holds the same document');
  const i = valid('inspect-report', (await loadCli(['inspect', bundle, ...key(), '--json'])).stdout);
  const out = join(tmp, 'oci');
  const p = await loadCli(['push', bundle, ...key(), '--to', `oci:${out}`, '--charts', `dir:${join(tmp, 'charts')}`, '--yes', '--json', '--report', join(tmp, 'push.json')]);
  assert.is(p.code, 0, p.stderr);
  const push = valid('push-report', p.stdout);
  valid('push-report', await readFile(join(tmp, 'push.json'), 'utf8'));
  valid('check-report', (await loadCli(['check', bundle, ...key(), '--to', `oci:${out}`, '--json'])).stdout);
  const signer = v.signer as { fingerprint: string; keyPath: string; algorithm: string };
  assert.match(signer.fingerprint, /^sha256:[0-9a-f]{64}$/);
  assert.is(signer.keyPath, join(tmp, 'k.pub'));
  assert.equal((i.signature as { signer: unknown }).signer, signer, 'inspect names the signer the same way');
  assert.equal(push.signer, signer, 'push names the signer the same way');
});

test('a failure with --json is one error document matching its schema, exit code included', async () => {
  const r = await loadCli(['verify', join(tmp, 'nowhere'), ...key(), '--json']);
  assert.is(r.code, 3);
  const doc = valid('error-report', r.stdout);
  assert.is((doc.error as { exitCode: number }).exitCode, 3);
  const bad = await loadCli(['verify', bundle, '--trusted-key', join(tmp, 'nope.pub'), '--json']);
  valid('error-report', bad.stdout);
});

test.run();
