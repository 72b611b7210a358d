// ferry-load check against an OCI layout: what push loaded is all there; a tag moved by someone
// else, a blob deleted, a signature tag gone are each named, exit 21; nothing is written.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readFile, rm, unlink, writeFile, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeOciLayout } from '../helpers/images.js';
import { bundleCli, loadCli } from '../helpers/cli.js';
import { assertReport } from '../helpers/report-schemas.js';
import type { BundleManifest } from '@ferry/format-spec';

let tmp = '';
let bundle = '';
let manifest: BundleManifest;

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-check-'));
  await makeOciLayout(join(tmp, 'src'), [
    { tag: 'a', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 3_000, seed: 'chk-a' }] }] },
    { tag: 'b', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 3_000, seed: 'chk-b' }] }] },
  ]);
  assert.is((await bundleCli(['keygen', '--no-password', '--out', join(tmp, 'k')])).code, 0);
  bundle = join(tmp, 'bundle');
  const r = await bundleCli(['create', '--name', 'chk', '--out', bundle, '--key', join(tmp, 'k.key'), '--image', `oci:${join(tmp, 'src')}:a`, '--image', `oci:${join(tmp, 'src')}:b`]);
  assert.is(r.code, 0, r.stderr);
  manifest = JSON.parse(await readFile(join(bundle, 'chk.manifest.json'), 'utf8')) as BundleManifest;
});

test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const check = (out: string) => loadCli(['check', bundle, '--trusted-key', join(tmp, 'k.pub'), '--to', `oci:${out}`, '--json']);

async function snapshot(dir: string): Promise<string> {
  const names = (await readdir(dir, { recursive: true })).sort();
  return JSON.stringify(await Promise.all(names.map(async (n) => [n, (await stat(join(dir, n))).mtimeMs])));
}

test('after a push everything is there (exit 0); nothing is written by check', async () => {
  const out = join(tmp, 'good');
  assert.is((await loadCli(['push', bundle, '--trusted-key', join(tmp, 'k.pub'), '--to', `oci:${out}`, '--yes'])).code, 0);
  const before = await snapshot(out);
  const r = await check(out);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const j = assertReport('check-report', r.stdout) as unknown as { ok: boolean; items: Array<{ status: string }> };
  assert.ok(j.ok);
  assert.is(j.items.length, 2);
  assert.is(await snapshot(out), before, 'check changed nothing');
});

test('a tag someone moved, a deleted blob, an absent target: each named, exit 21', async () => {
  const out = join(tmp, 'bad');
  assert.is((await loadCli(['push', bundle, '--trusted-key', join(tmp, 'k.pub'), '--to', `oci:${out}`, '--yes'])).code, 0);
  const [a, b] = manifest.images as [BundleManifest['images'][number], BundleManifest['images'][number]];
  // point a's tag at b's manifest
  const idx = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; size: number; annotations: Record<string, string> }> };
  const ea = idx.manifests.find((m) => m.annotations['org.opencontainers.image.ref.name'] === `${a.repository}:${a.tag}`)!;
  Object.assign(ea, { digest: b.digest, size: b.size });
  await writeFile(join(out, 'index.json'), JSON.stringify(idx));
  // and delete a layer of b
  const layer = b.blobs[0]!;
  await unlink(join(out, 'blobs', 'sha256', layer.slice(7)));
  const r = await check(out);
  assert.is(r.code, 21, r.stdout + r.stderr);
  const j = assertReport('check-report', r.stdout, 'check of a damaged target') as unknown as { ok: boolean; items: Array<{ ref: string; status: string; found?: string; missing?: string[] }>; error: { code: string } };
  assert.is(j.error.code, 'CHECK_FAILED');
  const ia = j.items.find((i) => i.ref.startsWith(`${a.repository}:${a.tag}`))!;
  assert.is(ia.status, 'different');
  assert.is(ia.found, b.digest);
  const ib = j.items.find((i) => i.ref.startsWith(`${b.repository}:${b.tag}`))!;
  assert.is(ib.status, 'incomplete');
  assert.equal(ib.missing, [layer]);
  const text = await loadCli(['check', bundle, '--trusted-key', join(tmp, 'k.pub'), '--to', `oci:${out}`]);
  assert.is(text.code, 21);
  assert.match(text.stdout, /DIFFERENT/);
  assert.match(text.stderr, /CHECK_FAILED/);
  const none = await check(join(tmp, 'nothing-here'));
  assert.is(none.code, 21);
  assert.ok((assertReport('check-report', none.stdout, 'check of an empty target') as unknown as { items: Array<{ status: string }> }).items.every((i) => i.status === 'missing'));
});

test.run();
