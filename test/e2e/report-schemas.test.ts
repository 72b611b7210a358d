// Every --json report is described by a schema in schemas/ and speaks one vocabulary: it starts
// with reportVersion, a digest is sha256:<hex>, and who signed the bundle is the same signer
// object in verify, inspect, push, checksum, serve and create. Checked on the real output of
// every command of both CLIs that has --json (the list is read from their --help, so a new one
// without a schema fails here), on a bundle of the examples (the demo's spec) loaded into an OCI
// layout and a real registry, and on failures: each failing run's document matches its schema
// too. --report FILE holds the same document as --json.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleCli, loadCli, type RunResult } from '../helpers/cli.js';
import { assertReport, reportErrors, reportSchemaNames } from '../helpers/report-schemas.js';
import { startRegistry, type StartedRegistry } from '../harness/registry.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const examples = fileURLToPath(new URL('../../examples/', import.meta.url));
const spec = join(examples, 'bundle.yaml');
const DEMO = `oci:${join(examples, 'oci-layout')}:demo-1.0`;
let tmp = '';
let bundle = '';
let registry: StartedRegistry;
const env = () => ({ FERRY_KEY_PASSWORD: '' });
const key = () => ['--trusted-key', join(tmp, 'k.pub')];

/** Which schema each command's --json output follows (attestations prints JSON always). */
const SCHEMA_OF: Record<string, string> = {
  'ferry-bundle keygen': 'keygen-report',
  'ferry-bundle create': 'create-report',
  'ferry-bundle plan-media': 'plan-media-report',
  'ferry-bundle version': 'version-report',
  'ferry-bundle diff': 'bundle-diff',
  'ferry-bundle sync': 'sync-report',
  'ferry-load checksum': 'checksum-report',
  'ferry-load verify': 'verify-report',
  'ferry-load inspect': 'inspect-report',
  'ferry-load check': 'check-report',
  'ferry-load push': 'push-report',
  'ferry-load k8s': 'k8s-report',
  'ferry-load serve': 'serve-report',
  'ferry-load sbom': 'sbom-report',
  'ferry-load attestations': 'attestations-report',
  'ferry-load doctor': 'doctor-report',
  'ferry-load version': 'version-report',
  'ferry-load diff': 'bundle-diff',
  'ferry-load inventory': 'inventory-report',
};

/** Schemas some real output was checked against in this file. */
const seen = new Set<string>();
function valid(schema: string, text: string, what = schema): Record<string, unknown> {
  seen.add(schema);
  return assertReport(schema, text, what);
}
/** A failing run: its exit code, and its one document matching `schema` (error-report when it stopped before a report). */
function failed(r: RunResult, code: number, schema = 'error-report'): Record<string, unknown> {
  assert.is(r.code, code, r.stdout + r.stderr);
  const doc = valid(schema, r.stdout, `${schema} (exit ${code})`);
  assert.is(doc.ok, false);
  const error = doc.error as { exitCode: number } | undefined;
  if (error) assert.is(error.exitCode, code, 'the document names the exit code');
  return doc;
}

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-e2e-reports-'));
  registry = await startRegistry();
  const k = await bundleCli(['keygen', '--out', join(tmp, 'k'), '--json'], { env: env() });
  assert.is(k.code, 0, k.stderr);
  valid('keygen-report', k.stdout);
  bundle = join(tmp, 'b');
  const c = await bundleCli(['create', spec, '--key', join(tmp, 'k.key'), '--out', bundle, '--json', '--report', join(tmp, 'create.json')], { env: env() });
  assert.is(c.code, 0, c.stderr);
  const doc = valid('create-report', c.stdout);
  assert.equal(valid('create-report', await readFile(join(tmp, 'create.json'), 'utf8'), 'create --report'), doc, '--report FILE holds the same document');
});

test.after(async () => {
  await registry?.stop();
  await rm(tmp, { recursive: true, force: true });
});

test('every command with --json (read from --help) has its schema, and each schema here is a report', async () => {
  for (const [cli, program] of [[bundleCli, 'ferry-bundle'], [loadCli, 'ferry-load']] as const) {
    const top = await cli(['--help']);
    const commands = [...top.stdout.matchAll(new RegExp(`^  ${program} ([a-z0-9-]+)`, 'gm'))].map((m) => m[1]!);
    assert.ok(commands.length >= 4, top.stdout);
    for (const c of commands) {
      const h = await cli([c, '--help']);
      if (/^ +--json +\S/m.test(h.stdout) || c === 'attestations') assert.ok(SCHEMA_OF[`${program} ${c}`], `${program} ${c} has --json: give it a schema in schemas/ and a case here`);
    }
  }
  for (const s of Object.values(SCHEMA_OF)) assert.ok(existsSync(join(root, 'schemas', `${s}.schema.json`)), `schemas/${s}.schema.json exists`);
});

test('verify, inspect (--charts), push, check (--charts): each report matches its schema; the signer is one object everywhere', async () => {
  const v = valid('verify-report', (await loadCli(['verify', bundle, ...key(), '--json', '--report', join(tmp, 'verify.json')])).stdout);
  assert.equal(valid('verify-report', await readFile(join(tmp, 'verify.json'), 'utf8')), v, '--report FILE holds the same document');
  const i = valid('inspect-report', (await loadCli(['inspect', bundle, ...key(), '--json'])).stdout);
  const charts = `dir:${join(tmp, 'charts')}`;
  valid('inspect-report', (await loadCli(['inspect', bundle, ...key(), '--charts', charts, '--json'])).stdout, 'inspect --charts');
  const out = join(tmp, 'oci');
  const p = await loadCli(['push', bundle, ...key(), '--to', `oci:${out}`, '--charts', charts, '--yes', '--json', '--report', join(tmp, 'push.json')]);
  assert.is(p.code, 0, p.stderr);
  const push = valid('push-report', p.stdout);
  valid('push-report', await readFile(join(tmp, 'push.json'), 'utf8'));
  valid('check-report', (await loadCli(['check', bundle, ...key(), '--to', `oci:${out}`, '--json'])).stdout);
  const ch = await loadCli(['check', bundle, ...key(), '--to', `oci:${out}`, '--charts', charts, '--json']);
  assert.is(ch.code, 0, ch.stdout + ch.stderr);
  valid('check-report', ch.stdout, 'check --charts');
  const signer = v.signer as { fingerprint: string; keyPath: string; algorithm: string };
  assert.match(signer.fingerprint, /^sha256:[0-9a-f]{64}$/);
  assert.is(signer.keyPath, join(tmp, 'k.pub'));
  assert.equal((i.signature as { signer: unknown }).signer, signer, 'inspect names the signer the same way');
  assert.equal(push.signer, signer, 'push names the signer the same way');
  const created = JSON.parse(await readFile(join(tmp, 'create.json'), 'utf8')) as { signer: { fingerprint: string } };
  assert.is(created.signer.fingerprint, signer.fingerprint, 'create names the same fingerprint');
});

test('push with a volume missing, check of a target that lacks it: the failing reports match their schemas', async () => {
  const part = join(tmp, 'part');
  await mkdir(part);
  for (const f of await readdir(bundle)) if (f !== 'demo-002.tar.zst') await copyFile(join(bundle, f), join(part, f));
  const p = await loadCli(['push', part, ...key(), '--to', `oci:${join(tmp, 'oci-part')}`, '--yes', '--json', '--report', join(tmp, 'push-part.json')]);
  const doc = failed(p, 15, 'push-report');
  assert.equal(doc.volumesMissing, ['demo-002.tar.zst']);
  assert.equal(valid('push-report', await readFile(join(tmp, 'push-part.json'), 'utf8')), doc);
  failed(await loadCli(['check', bundle, ...key(), '--to', `oci:${join(tmp, 'oci-part')}`, '--json']), 21, 'check-report');
});

test('a failure with --json is one error document matching its schema, exit code included', async () => {
  failed(await loadCli(['verify', join(tmp, 'nowhere'), ...key(), '--json']), 3);
  failed(await loadCli(['verify', bundle, '--trusted-key', join(tmp, 'nope.pub'), '--json']), 3);
  failed(await loadCli(['inspect', bundle, '--trusted-key', join(examples, 'keys', 'cosign.pub'), '--json']), 6);
  failed(await bundleCli(['keygen', '--out', join(tmp, 'k'), '--json'], { env: env() }), 2);
  failed(await bundleCli(['plan-media', bundle, '--media-size', '100KB', '--json']), 2);
});

test('create: a partial bundle (--keep-going) and images that cannot be resolved, each with --report', async () => {
  const bad = `oci:${join(tmp, 'no-layout')}:x`;
  const part = await bundleCli(['create', '--name', 'part', '--out', join(tmp, 'cp'), '--key', join(tmp, 'k.key'), '--image', DEMO, '--image', bad, '--keep-going', '--json', '--report', join(tmp, 'cp.json')], { env: env() });
  const doc = failed(part, 16, 'create-report');
  assert.is((doc.failures as unknown[]).length, 1);
  assert.equal(valid('create-report', await readFile(join(tmp, 'cp.json'), 'utf8')), doc);
  const none = await bundleCli(['create', '--name', 'none', '--out', join(tmp, 'cn'), '--key', join(tmp, 'k.key'), '--image', bad, '--json', '--report', join(tmp, 'cn.json')], { env: env() });
  const err = failed(none, 12, 'create-report');
  assert.equal(valid('create-report', await readFile(join(tmp, 'cn.json'), 'utf8')), err, 'written when nothing could be bundled too');
  // Without --json the report file is still written, and the text goes to the terminal.
  const plain = await bundleCli(['create', '--name', 'none', '--out', join(tmp, 'cn'), '--key', join(tmp, 'k.key'), '--image', bad, '--report', join(tmp, 'cn2.json')], { env: env() });
  assert.is(plain.code, 12);
  assert.is(plain.stdout, '');
  assert.match(plain.stderr, /error \[SOURCE_NOT_FOUND\]/);
  assert.is((valid('create-report', await readFile(join(tmp, 'cn2.json'), 'utf8')).failures as unknown[]).length, 1, 'with every failure listed');
});

test('deltas: create --baseline, diff (both CLIs), inventory of a target, sync', async () => {
  const d = await bundleCli(['create', '--name', 'd2', '--out', join(tmp, 'd2'), '--key', join(tmp, 'k.key'), '--image', DEMO, '--baseline', join(bundle, 'demo.manifest.json'), '--json'], { env: env() });
  assert.is(d.code, 0, d.stdout + d.stderr);
  const delta = valid('create-report', d.stdout, 'create --baseline').delta as { baselines: Array<{ digest: string }> };
  assert.match(delta.baselines[0]!.digest, /^sha256:[0-9a-f]{64}$/, 'a baseline is named by its digest, as in push, verify and inspect');
  for (const cli of [bundleCli, loadCli]) valid('bundle-diff', (await cli(['diff', bundle, join(tmp, 'd2'), '--json'])).stdout);
  const target = join(tmp, 'oci-inv');
  assert.is((await loadCli(['push', bundle, ...key(), '--to', `oci:${target}`, '--yes'])).code, 0);
  const inv = await loadCli(['inventory', '--to', `oci:${target}`, '--out', join(tmp, 'inv.json'), '--json']);
  assert.is(inv.code, 0, inv.stderr);
  valid('inventory-report', inv.stdout);
  const sync = await bundleCli(['sync', spec, '--state-dir', join(tmp, 'state'), '--out', join(tmp, 'sync'), '--key', join(tmp, 'k.key'), '--json'], { env: env() });
  assert.is(sync.code, 0, sync.stdout + sync.stderr);
  valid('sync-report', sync.stdout);
});

test('plan-media and version (both CLIs)', async () => {
  const plan = valid('plan-media-report', (await bundleCli(['plan-media', bundle, '--media-size', '200K', '--json'])).stdout);
  assert.ok((plan.discs as unknown[]).length >= 2);
  for (const cli of [bundleCli, loadCli]) valid('version-report', (await cli(['version', '--json'])).stdout);
});

test('checksum: a PASS with the list signature, a FAIL, one disc of a set; --report holds the same document', async () => {
  const ok = await loadCli(['checksum', bundle, ...key(), '--json', '--report', join(tmp, 'sum.json')]);
  assert.is(ok.code, 0, ok.stderr);
  const doc = valid('checksum-report', ok.stdout);
  assert.equal(valid('checksum-report', await readFile(join(tmp, 'sum.json'), 'utf8')), doc);
  assert.match(doc.listDigest as string, /^sha256:[0-9a-f]{64}$/);
  assert.is((doc.signer as { fingerprint: string }).fingerprint, (doc.signer as { fingerprint: string }).fingerprint);
  const bad = join(tmp, 'damaged');
  await mkdir(bad);
  for (const f of await readdir(bundle)) await copyFile(join(bundle, f), join(bad, f));
  const vol = await readFile(join(bad, 'demo-003.tar.zst'));
  vol[vol.length >> 1] ^= 0xff;
  await writeFile(join(bad, 'demo-003.tar.zst'), vol);
  await rm(join(bad, 'demo-004.tar.zst'));
  const fail = failed(await loadCli(['checksum', bad, '--json']), 8, 'checksum-report');
  assert.ok((fail.files as Array<{ status: string }>).some((f) => f.status === 'FAIL'));
  valid('checksum-report', (await loadCli(['checksum', bad, '--volumes', '1,2', '--json'])).stdout, 'checksum --volumes');
  failed(await loadCli(['checksum', bad, '--volumes', '9', '--json']), 2);
});

test('sbom and attestations: a bundle with an SBOM attached; a missing image; attestations no key verifies', async () => {
  const sbomFile = join(tmp, 'demo.spdx.json');
  await writeFile(sbomFile, JSON.stringify({ spdxVersion: 'SPDX-2.3', SPDXID: 'SPDXRef-DOCUMENT', name: 'demo', dataLicense: 'CC0-1.0', documentNamespace: 'https://ferry.test/demo', creationInfo: { created: '2026-12-01T00:00:00Z', creators: ['Tool: test'] }, packages: [] }));
  const sb = join(tmp, 'sb');
  const c = await bundleCli(['create', '--name', 'sb', '--out', sb, '--key', join(tmp, 'k.key'), '--image', DEMO, '--sbom-file', `${DEMO}=${sbomFile}`, '--json'], { env: env() });
  assert.is(c.code, 0, c.stdout + c.stderr);
  assert.is((valid('create-report', c.stdout, 'create --sbom-file').sboms as unknown[]).length, 1);
  const s = valid('sbom-report', (await loadCli(['sbom', sb, ...key(), '--out', join(tmp, 'sboms'), '--json'])).stdout);
  assert.is((s.sboms as Array<{ file?: string }>).filter((x) => x.file).length, 1, 'the SBOM is listed and written');
  failed(await loadCli(['sbom', sb, ...key(), '--image', 'nope/nothing:1', '--json']), 2);
  const a = await loadCli(['attestations', sb, ...key(), '--image', 'oci-layout:demo-1.0', '--image-key', join(examples, 'keys', 'cosign.pub')]);
  assert.is(a.code, 24, a.stdout + a.stderr);
  const att = valid('attestations-report', a.stdout);
  assert.is(att.ok, false);
});

test('k8s: the files with their content on stdout, the files written under --out, and a refusal', async () => {
  const cosign = join(examples, 'keys', 'cosign.pub');
  const s = valid('k8s-report', (await loadCli(['k8s', bundle, ...key(), '--to', 'registry.local:5000', '--image-key', cosign, '--json'])).stdout);
  assert.ok((s.files as Array<{ content?: string }>).every((f) => typeof f.content === 'string'));
  const out = join(tmp, 'k8s');
  const w = valid('k8s-report', (await loadCli(['k8s', bundle, ...key(), '--to', 'registry.local:5000', '--image-key', cosign, '--out', out, '--json'])).stdout, 'k8s --out');
  const first = (w.files as Array<{ path: string; sha256: string }>)[0]!;
  assert.match(first.sha256, /^sha256:[0-9a-f]{64}$/);
  await writeFile(join(out, first.path), 'someone else\'s\n');
  failed(await loadCli(['k8s', bundle, ...key(), '--to', 'registry.local:5000', '--image-key', cosign, '--out', out, '--json']), 2);
});

test('serve: the startup line and a request line match the schema; a refused start is an error document', async () => {
  const proc = spawn(process.execPath, [`${root}packages/loader/bin/ferry-load.js`, 'serve', bundle, ...key(), '--listen', '127.0.0.1:0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number>((r) => proc.once('exit', (code) => r(code ?? -1)));
  try {
    const line = await new Promise<string>((resolve, reject) => {
      proc.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
      });
      void exited.then((code) => reject(new Error(`serve exited ${code}: ${err}`)));
    });
    const start = valid('serve-report', line, 'serve startup line');
    assert.equal((start.signer as { fingerprint: string }).fingerprint.length, 71);
    assert.is((await fetch(`${start.url as string}/v2/`)).status, 200);
    for (let i = 0; i < 50 && !err.includes('\n'); i++) await new Promise((r) => setTimeout(r, 50));
    const request = JSON.parse(err.split('\n')[0]!) as Record<string, unknown>;
    assert.is(request.event, 'request');
    // A log line, not a report: no reportVersion, but its shape is in the same schema.
    assert.is(reportErrors('serve-report', request), undefined, JSON.stringify(request));
  } finally {
    proc.kill('SIGTERM');
  }
  assert.is(await exited, 0, err);
  failed(await loadCli(['serve', bundle, '--trusted-key', join(examples, 'keys', 'cosign.pub'), '--listen', '127.0.0.1:0', '--json']), 6);
});

test('doctor: every check passing against a real registry, and failing against a closed port', async () => {
  const ok = await loadCli(['doctor', '--to', registry.host, '--insecure-registry', registry.host, '--json']);
  assert.is(ok.code, 0, ok.stdout + ok.stderr);
  assert.is(valid('doctor-report', ok.stdout).ok, true);
  const doc = failed(await loadCli(['doctor', '--to', '127.0.0.1:1', '--insecure-registry', '127.0.0.1:1', '--json']), 21, 'doctor-report');
  assert.ok((doc.checks as Array<{ status: string; fix?: string }>).some((c) => c.status === 'fail' && c.fix));
});

test('every report schema in schemas/ was checked against real output above', () => {
  for (const s of reportSchemaNames()) assert.ok(seen.has(s), `schemas/${s}.schema.json: no real output was checked against it`);
});

test.run();
