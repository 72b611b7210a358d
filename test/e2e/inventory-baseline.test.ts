// The inventory of a registry round-trips as a baseline: the high side's registry holds week 1;
// its signed inventory, carried back, makes `create --baseline inventory.json --baseline-key`
// leave out every layer and config the registry holds (required instead), carry only what is new,
// and record the inventory as the baseline. A tampered inventory stops create before anything is
// written (exit 4).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeOciLayout, type WrittenImage } from '../helpers/images.js';
import { bundleCli, loadCli, sh } from '../helpers/cli.js';
import { startRegistry, type StartedRegistry } from '../harness/registry.js';
import { seedLayout } from '../harness/seed.js';
import { reportValidator } from '../helpers/report-schemas.js';

let tmp = '';
let high: StartedRegistry;
let week2: WrittenImage[] = [];
const env = { FERRY_KEY_PASSWORD: '', HOME: '' };
const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-e2e-inv-baseline-'));
  env.HOME = tmp;
  high = await startRegistry();
  const base = { size: 200_000, seed: 'base' };
  await makeOciLayout(join(tmp, 'w1'), [{ tag: 'app', platforms: [{ os: 'linux', architecture: 'amd64', layers: [base, { size: 5000, seed: 'v1' }] }] }]);
  week2 = await makeOciLayout(join(tmp, 'w2'), [{ tag: 'app', platforms: [{ os: 'linux', architecture: 'amd64', layers: [base, { size: 7000, seed: 'v2' }] }] }]);
  await seedLayout(high, join(tmp, 'w1'), 'app', 'team/app:1');
  for (const k of ['low', 'high']) assert.is((await bundleCli(['keygen', '--out', join(tmp, k)], { env })).code, 0);
});

test.after(async () => {
  await high?.stop();
  await rm(tmp, { recursive: true, force: true });
});

test('signed inventory -> a delta carrying only the new layer, the inventory recorded as its baseline', async () => {
  const inv = join(tmp, 'inventory.json');
  const i = await loadCli(['inventory', '--to', high.host, '--tls-verify=false', '--out', inv, '--key', join(tmp, 'high.key')], { env });
  assert.is(i.code, 0, i.stderr);
  const c = await bundleCli(['create', '--name', 'week2', '--out', join(tmp, 'out'), '--key', join(tmp, 'low.key'), '--image', `oci:${join(tmp, 'w2')}:app`,
    '--baseline', inv, '--baseline-key', join(tmp, 'high.pub'), '--json'], { env });
  assert.is(c.code, 0, c.stderr + c.stdout);
  const m = JSON.parse(await readFile(join(tmp, 'out', 'week2.manifest.json'), 'utf8')) as {
    images: Array<{ repository: string }>;
    blobs: Array<{ digest: string }>; required?: Array<{ digest: string; baseline: string }>; baselines?: Array<{ name: string; kind: string; digest: string }>;
  };
  const base = week2[0]!.layers[0]![0]!;
  const fresh = week2[0]!.layers[0]![1]!;
  assert.ok(m.required?.some((r) => r.digest === base.digest), 'the layer the registry holds is required, not carried');
  assert.not.ok(m.blobs.some((b) => b.digest === base.digest));
  assert.ok(m.blobs.some((b) => b.digest === fresh.digest), 'the new layer is carried');
  const invBytes = await readFile(inv);
  assert.equal(m.baselines?.map((b) => [b.kind, b.digest]), [['inventory', sha(invBytes)]]);
  assert.match(m.baselines![0]!.name, new RegExp(`^inventory:${high.host.replace(/\./g, '\\.')}@`));
  // Every blob the delta requires is one the inventory listed, with the size it listed.
  const listed = new Map((JSON.parse(invBytes.toString()) as { blobs: Array<{ digest: string; size: number }> }).blobs.map((b) => [b.digest, b.size]));
  for (const r of m.required ?? []) assert.ok(listed.has(r.digest), r.digest);
  // The delta loads into the registry the inventory was taken of: the base layer is found where
  // the inventory says (team/app) and mounted into the bundle's repository; skopeo reads it back.
  const repo = m.images[0]!.repository;
  const p = await loadCli(['push', join(tmp, 'out'), '--trusted-key', join(tmp, 'low.pub'), '--to', high.host, '--insecure-registry', high.host, '--state-dir', join(tmp, 'load-state'), '--yes', '--json'], { env });
  assert.is(p.code, 0, p.stdout + p.stderr);
  const raw = await sh(`skopeo inspect --raw --tls-verify=false docker://${high.host}/${repo}:app | sha256sum`);
  assert.is(`sha256:${raw.stdout.split(' ')[0]}`, week2[0]!.root.digest);
  const layers = await sh(`skopeo inspect --tls-verify=false docker://${high.host}/${repo}:app`);
  assert.ok((JSON.parse(layers.stdout) as { Layers: string[] }).Layers.includes(base.digest), 'the mounted base layer is part of the loaded image');
});

test('diff of the full bundle against the delta: the same content, carried bytes against referenced (required) bytes', async () => {
  const full = await bundleCli(['create', '--name', 'full2', '--out', join(tmp, 'full'), '--key', join(tmp, 'low.key'), '--image', `oci:${join(tmp, 'w2')}:app`], { env });
  assert.is(full.code, 0, full.stderr);
  const r = await bundleCli(['diff', join(tmp, 'full'), join(tmp, 'out'), '--json']);
  assert.is(r.code, 0, r.stderr);
  const d = JSON.parse(r.stdout) as { images: { unchanged: number; retagged: unknown[] }; blobs: { added: unknown[]; removed: unknown[] }; bytes: { carried: number; required: number; referenced: number } };
  const v = reportValidator('bundle-diff');
  assert.ok(v(d), JSON.stringify(v.errors));
  const m = JSON.parse(await readFile(join(tmp, 'out', 'week2.manifest.json'), 'utf8')) as { blobs: Array<{ size: number }>; required: Array<{ size: number }> };
  assert.is(d.images.unchanged, 1);
  assert.equal([d.blobs.added, d.blobs.removed], [[], []], 'required blobs still count as referenced');
  assert.is(d.bytes.required, m.required.reduce((n, b) => n + b.size, 0));
  assert.is(d.bytes.carried, m.blobs.reduce((n, b) => n + b.size, 0));
  assert.ok(d.bytes.required > d.bytes.carried, 'the delta leaves most bytes to the target');
  const text = await loadCli(['diff', join(tmp, 'full'), join(tmp, 'out')]);
  assert.match(text.stdout, /requires .* already in the target/);
});

test('a tampered inventory is refused before anything is written (exit 4)', async () => {
  const inv = join(tmp, 'inventory.json');
  const bad = join(tmp, 'bad.json');
  const text = (await readFile(inv, 'utf8')).replace('"complete":false', '"complete":true');
  await writeFile(bad, text);
  await writeFile(`${bad}.sig`, await readFile(`${inv}.sig`));
  const c = await bundleCli(['create', '--name', 'nope', '--out', join(tmp, 'nope'), '--key', join(tmp, 'low.key'), '--image', `oci:${join(tmp, 'w2')}:app`,
    '--baseline', bad, '--baseline-key', join(tmp, 'high.pub')], { env });
  assert.is(c.code, 4, c.stderr);
  assert.match(c.stderr, /BASELINE_INVALID/);
  assert.match(c.stderr, /does not verify/);
  assert.not.ok(existsSync(join(tmp, 'nope', 'nope.manifest.json')));
});

test.run();
