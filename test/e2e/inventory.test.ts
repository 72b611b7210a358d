// `ferry-load inventory --to HOST:PORT` against a real registry (distribution 2.8) seeded with
// skopeo (a single-platform image, a two-platform index, the same image in a second repository)
// and, over plain HTTP, two dozen small repositories, with the catalog cut to 5 entries a page so
// pagination is exercised. Checked: every tag's digest is what `skopeo inspect --raw` hashes to,
// every layer and config is listed with its size and repositories, --repos limits the walk, and a
// signed inventory verifies as a baseline while a tampered, unsigned or wrongly signed one is
// refused by readInventoryBaseline.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, createPublicKey } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isFerryError, parseInventory, type Inventory } from '@ferry/format-spec';
import { readInventoryBaseline } from '../../packages/bundler/src/baseline/inventory.js';
import { makeOciLayout, type WrittenImage } from '../helpers/images.js';
import { bundleCli, loadCli } from '../helpers/cli.js';
import { startRegistry, type StartedRegistry } from '../harness/registry.js';
import { rawPushBlob, rawPutManifest, seedLayout, skopeoInspectRaw } from '../harness/seed.js';
import { reportValidator } from '../helpers/report-schemas.js';

const MANY = 24;
let tmp = '';
let reg: StartedRegistry;
let single: WrittenImage;
let multi: WrittenImage;
let shared = { digest: '', size: 0 };

const env = (extra: Record<string, string> = {}): Record<string, string | undefined> => ({
  HOME: tmp, REGISTRY_AUTH_FILE: undefined, XDG_RUNTIME_DIR: undefined, XDG_CONFIG_HOME: undefined, DOCKER_CONFIG: undefined,
  FERRY_REGISTRY_CREDS: undefined, FERRY_KEY_PASSWORD: '', ...extra,
});
const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-e2e-inventory-'));
  reg = await startRegistry({ catalogMaxEntries: 5 });
  const layout = join(tmp, 'src');
  [single, multi] = await makeOciLayout(layout, [
    { tag: 'app-1', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 40_000, seed: 'base' }, { size: 5000, seed: 'app' }] }] },
    { tag: 'multi-2', platforms: [
      { os: 'linux', architecture: 'amd64', layers: [{ size: 40_000, seed: 'base' }] },
      { os: 'linux', architecture: 'arm64', layers: [{ size: 30_000, seed: 'arm' }] },
    ] },
  ]);
  await seedLayout(reg, layout, 'app-1', 'team/app:1');
  await seedLayout(reg, layout, 'app-1', 'mirror/app:1');
  await seedLayout(reg, layout, 'multi-2', 'team/multi:2');
  await seedLayout(reg, layout, 'multi-2', 'team/multi:latest');
  // Many small repositories sharing one layer: the catalog comes in pages of 5.
  shared = await rawPushBlob(reg.url, 'many/r00', Buffer.from('one shared layer'));
  for (let i = 0; i < MANY; i++) {
    const repo = `many/r${String(i).padStart(2, '0')}`;
    await rawPushBlob(reg.url, repo, Buffer.from('one shared layer'));
    const config = await rawPushBlob(reg.url, repo, Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', n: i, rootfs: { type: 'layers', diff_ids: [] } })));
    const m = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...shared }],
    }));
    await rawPutManifest(reg.url, repo, 'v1', m, 'application/vnd.oci.image.manifest.v1+json');
  }
  assert.is((await bundleCli(['keygen', '--out', join(tmp, 'high')], { env: env() })).code, 0);
  assert.is((await bundleCli(['keygen', '--out', join(tmp, 'other')], { env: env() })).code, 0);
});

test.after(async () => {
  await reg?.stop();
  await rm(tmp, { recursive: true, force: true });
});

function blobsOf(inv: Inventory): Map<string, Inventory['blobs'][number]> {
  return new Map(inv.blobs.map((b) => [b.digest, b]));
}

test('the whole registry: every repository across catalog pages, tags -> the digests skopeo reads, every layer listed', async () => {
  const r = await loadCli(['inventory', '--to', reg.host, '--tls-verify=false'], { env: env() });
  assert.is(r.code, 0, r.stderr);
  const inv = parseInventory(Buffer.from(r.stdout), 'stdout');
  assert.ok(reportValidator('inventory')(JSON.parse(r.stdout)), 'matches schemas/inventory.schema.json');
  assert.is(inv.target, reg.host);
  assert.is(inv.complete, false, 'a registry tells only what its tags reach');
  const names = inv.repositories.map((x) => x.name);
  assert.is(names.filter((n) => n.startsWith('many/')).length, MANY, `all ${MANY} repositories behind 5-entry catalog pages`);
  for (const n of ['team/app', 'mirror/app', 'team/multi']) assert.ok(names.includes(n), n);
  const tags = Object.fromEntries(inv.repositories.map((x) => [x.name, x.tags]));
  for (const [repo, tag] of [['team/app', '1'], ['mirror/app', '1'], ['team/multi', '2'], ['team/multi', 'latest'], ['many/r07', 'v1']] as const) {
    assert.is(tags[repo]?.[tag], sha(await skopeoInspectRaw(reg, `${repo}:${tag}`)), `${repo}:${tag}`);
  }
  const blobs = blobsOf(inv);
  for (const d of [...single.layers.flat(), ...single.configs, ...multi.layers.flat(), ...multi.configs, ...multi.manifests]) {
    assert.is(blobs.get(d.digest)?.size, d.size, d.digest);
    assert.is(blobs.get(d.digest)?.mediaType, d.mediaType);
  }
  // The base layer is in all three image repositories; the arm layer only below the index.
  assert.equal(blobs.get(single.layers[0]![0]!.digest)?.repositories, ['mirror/app', 'team/app', 'team/multi']);
  assert.equal(blobs.get(multi.layers[1]![0]!.digest)?.repositories, ['team/multi']);
  assert.is(blobs.get(shared.digest)?.repositories.length, MANY);
  assert.match(r.stderr, /Inventory of 127\.0\.0\.1:\d+: \d+ repositories/);
  // Taken twice, the same content gives the same bytes but for the time it was taken.
  const again = await loadCli(['inventory', '--to', reg.host, '--tls-verify=false', '--json'], { env: env() });
  const strip = (s: string) => s.replace(/"created":"[^"]*"/, '');
  assert.is(strip(again.stdout), strip(r.stdout));
  assert.is(again.stderr, '', '--json: no progress');
});

test('--repos: only those repositories, no catalog; a repository that does not exist is an error', async () => {
  const r = await loadCli(['inventory', '--to', reg.host, '--tls-verify=false', '--repos', 'team/multi,many/r03'], { env: env() });
  assert.is(r.code, 0, r.stderr);
  const inv = parseInventory(Buffer.from(r.stdout), 'stdout');
  assert.equal(inv.repositories.map((x) => x.name), ['many/r03', 'team/multi']);
  assert.ok(!blobsOf(inv).has(single.layers[0]![1]!.digest), 'the app-only layer is not in these repositories');
  const missing = await loadCli(['inventory', '--to', reg.host, '--tls-verify=false', '--repos', 'no/such'], { env: env() });
  assert.is(missing.code, 12, missing.stderr);
  assert.match(missing.stderr, /no\/such/);
  const bad = await loadCli(['inventory', '--to', reg.host, '--tls-verify=false', '--repos', 'Bad/Name'], { env: env() });
  assert.is(bad.code, 2);
  const creds = await loadCli(['inventory', '--to', `alice:s3cret@${reg.host}`], { env: env() });
  assert.is(creds.code, 2);
  assert.not.match(creds.stderr + creds.stdout, /s3cret/);
});

test('a prefix lists only the repositories under it', async () => {
  const r = await loadCli(['inventory', '--to', `${reg.host}/team`, '--tls-verify=false'], { env: env() });
  assert.is(r.code, 0, r.stderr);
  const inv = parseInventory(Buffer.from(r.stdout), 'stdout');
  assert.is(inv.target, `${reg.host}/team`);
  assert.equal(inv.repositories.map((x) => x.name), ['team/app', 'team/multi']);
});

test('signed with --key: the baseline verifies with the public key; tampered, unsigned or other-key inventories are refused', async () => {
  const out = join(tmp, 'inv.json');
  const r = await loadCli(['inventory', '--to', reg.host, '--tls-verify=false', '--repos', 'team/app', '--out', out, '--key', join(tmp, 'high.key'), '--json'], { env: env() });
  assert.is(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { digest: string; signature: { file: string } };
  const v = reportValidator('inventory-report');
  assert.ok(v(report), JSON.stringify(v.errors));
  assert.is(report.signature.file, `${out}.sig`);
  const bytes = await readFile(out);
  assert.is(report.digest, sha(bytes));
  const pub = createPublicKey(await readFile(join(tmp, 'high.pub')));
  const other = createPublicKey(await readFile(join(tmp, 'other.pub')));
  const baseline = await readInventoryBaseline(bytes, out, { trustedKeys: [pub] });
  assert.is(baseline.kind, 'inventory');
  assert.is(baseline.digest, sha(bytes));
  const inv = parseInventory(bytes, out);
  assert.is(baseline.name, `inventory:${reg.host}@${inv.created}`);
  for (const l of single.layers.flat()) assert.equal(baseline.blobs.get(l.digest), { size: l.size, mediaType: l.mediaType, repositories: ['team/app'] });
  // `openssl dgst -verify` style check is format-spec's; here: one byte changed is refused.
  const tampered = Buffer.from(bytes.toString().replace(`"size":${single.layers[0]![0]!.size}`, `"size":${single.layers[0]![0]!.size + 1}`));
  assert.ok(!tampered.equals(bytes));
  const tamperedPath = join(tmp, 'tampered.json');
  await writeFile(tamperedPath, tampered);
  await writeFile(`${tamperedPath}.sig`, await readFile(`${out}.sig`));
  await refused(readInventoryBaseline(tampered, tamperedPath, { trustedKeys: [pub] }), /does not verify/);
  await refused(readInventoryBaseline(bytes, out, { trustedKeys: [other] }), /does not verify/);
  const unsigned = join(tmp, 'unsigned.json');
  await writeFile(unsigned, bytes);
  await refused(readInventoryBaseline(bytes, unsigned, { trustedKeys: [pub] }), /no signature/);
  // Without keys the same unsigned file is accepted (policy decides; create asks with --baseline-key).
  assert.is((await readInventoryBaseline(bytes, unsigned, {})).blobs.size, baseline.blobs.size);
  // Not an inventory at all.
  await refused(readInventoryBaseline(Buffer.from('{"schemaVersion":1}'), unsigned, {}), /not a Ferry inventory/);
  // --key needs --out (the signature goes beside a file).
  const noOut = await loadCli(['inventory', '--to', reg.host, '--tls-verify=false', '--key', join(tmp, 'high.key')], { env: env() });
  assert.is(noOut.code, 2);
  assert.match(noOut.stderr, /--out/);
});

test('behind htpasswd + TLS: the same credentials and CA flags as push; without credentials the refusal says what to give', async () => {
  const user = 'inventory-bot';
  const password = 'Inv-Pa55word-77c1';
  const b = await startRegistry({ tls: true, auth: { user, password } });
  try {
    const none = await loadCli(['inventory', '--to', b.host, '--ca-file', b.caFile!], { env: env() });
    assert.is(none.code, 13, none.stderr);
    assert.match(none.stderr, /does not list its repositories.*--repos/);
    const noCa = await loadCli(['inventory', '--to', b.host, '--creds', `${user}:${password}`], { env: env() });
    assert.is(noCa.code, 13);
    assert.match(noCa.stderr, /--ca-file/);
    const ok = await loadCli(['inventory', '--to', b.host, '--ca-file', b.caFile!, '--creds', `${user}:${password}`, '--json'], { env: env() });
    assert.is(ok.code, 0, ok.stderr);
    assert.equal(parseInventory(Buffer.from(ok.stdout), 'stdout').repositories, []);
    assert.not.match(ok.stdout + ok.stderr + none.stderr + noCa.stderr, new RegExp(password));
  } finally {
    await b.stop();
  }
});

test('an OCI layout as ferry-load push writes it: complete, every blob file, tags as pushed', async () => {
  const spec = join(tmp, 'layout-bundle.yaml');
  await writeFile(spec, ['schemaVersion: 1', 'name: lb', 'images:', `  - source: oci:${join(tmp, 'src')}:app-1`, '    name: team/app:1', `  - source: oci:${join(tmp, 'src')}:multi-2`, '    name: team/multi:2'].join('\n'));
  const c = await bundleCli(['create', spec, '--key', join(tmp, 'high.key'), '--out', join(tmp, 'lb')], { env: env() });
  assert.is(c.code, 0, c.stderr);
  const dir = join(tmp, 'pushed');
  const p = await loadCli(['push', join(tmp, 'lb'), '--trusted-key', join(tmp, 'high.pub'), '--to', `oci:${dir}`, '--yes'], { env: env() });
  assert.is(p.code, 0, p.stderr);
  const r = await loadCli(['inventory', '--to', `oci:${dir}`, '--out', join(tmp, 'layout-inv.json'), '--json'], { env: env() });
  assert.is(r.code, 0, r.stderr);
  const inv = parseInventory(await readFile(join(tmp, 'layout-inv.json')), 'layout-inv.json');
  assert.is(inv.complete, true);
  assert.is(inv.target, `oci:${dir}`);
  const files = (await readdir(join(dir, 'blobs', 'sha256'))).map((f) => `sha256:${f}`).sort();
  assert.equal(inv.blobs.map((b) => b.digest), files);
  assert.equal(inv.repositories, [{ name: 'team/app', tags: { '1': single.root.digest } }, { name: 'team/multi', tags: { '2': multi.root.digest } }]);
  const blobs = blobsOf(inv);
  for (const l of multi.layers.flat()) assert.ok(blobs.get(l.digest)?.repositories.includes('team/multi'), l.digest);
  const usage = await loadCli(['inventory', '--to', `oci:${dir}`, '--repos', 'team/app'], { env: env() });
  assert.is(usage.code, 2);
});

async function refused(p: Promise<unknown>, re: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.ok(isFerryError(e, 'BASELINE_INVALID'), String(e));
    assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable('accepted');
}

test.run();
