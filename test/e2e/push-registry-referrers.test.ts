// An OCI 1.1 referrer (an SBOM with `subject`) from registry A through a bundle into registry B,
// both distribution 2.8, which has no referrers API: the referrer lands by digest with its exact
// bytes, the `sha256-<hex>` fallback tag index lists it (what oras and cosign 3 read), `check`
// finds it, and a second push does not list it twice.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeOciLayout, type WrittenImage } from '../helpers/images.js';
import { bundleCli, loadCli } from '../helpers/cli.js';
import { startRegistry, type StartedRegistry } from '../harness/registry.js';
import { seedLayout, skopeo, writeOciReferrer } from '../harness/seed.js';
import { RegistryClient } from '../../packages/oci/src/index.js';
import type { BundleManifest } from '@ferry/format-spec';

let tmp = '';
let a: StartedRegistry;
let b: StartedRegistry;
let sbom: { digest: string; size: number; bytes: Buffer };
let subject = '';

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-push-ref-'));
  const [img] = (await makeOciLayout(join(tmp, 'layout'), [{ tag: 'app', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 20_000, seed: 'ref-app' }] }] }])) as [WrittenImage];
  [a, b] = await Promise.all([startRegistry(), startRegistry()]);
  ({ digest: subject } = await seedLayout(a, join(tmp, 'layout'), 'app', 'team/app:1.0'));
  const client = new RegistryClient(a.host, { insecure: [a.host] });
  sbom = await writeOciReferrer(client, 'team/app', img.root, 'application/spdx+json', Buffer.from('{"spdxVersion":"SPDX-2.3","name":"app"}'));
  client.close();
  assert.is((await bundleCli(['keygen', '--no-password', '--out', join(tmp, 'k')])).code, 0);
  const r = await bundleCli(['create', '--name', 'ref', '--out', join(tmp, 'bundle'), '--key', join(tmp, 'k.key'), '--image', `${a.host}/team/app:1.0`, '--insecure-registry', a.host]);
  assert.is(r.code, 0, r.stderr);
});

test.after(async () => {
  await a?.stop();
  await b?.stop();
  await rm(tmp, { recursive: true, force: true });
});

const push = () => loadCli(['push', join(tmp, 'bundle'), '--trusted-key', join(tmp, 'k.pub'), '--to', `${b.host}/mirror`, '--insecure-registry', b.host, '--state-dir', join(tmp, 'state'), '--yes', '--json']);

async function fallbackIndex(): Promise<{ manifests: Array<{ digest: string; artifactType?: string }> }> {
  const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${b.host}/mirror/team/app:sha256-${subject.slice(7)}`]);
  return JSON.parse(raw.toString()) as { manifests: Array<{ digest: string; artifactType?: string }> };
}

test('the referrer lands by digest, exact bytes, listed in the fallback tag index; check finds it; a re-push does not list it twice', async () => {
  const m = JSON.parse(await readFile(join(tmp, 'bundle', 'ref.manifest.json'), 'utf8')) as BundleManifest;
  const refs = m.images[0]!.referrers ?? [];
  assert.ok(refs.some((r) => r.scheme === 'oci-referrer' && r.digest === sbom.digest), 'the bundle carries the SBOM referrer');

  const r1 = await push();
  assert.is(r1.code, 0, r1.stdout + r1.stderr);
  const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${b.host}/mirror/team/app@${sbom.digest}`]);
  assert.ok(raw.equals(sbom.bytes), 'the referrer has its exact bytes in the target');
  const idx = await fallbackIndex();
  const listed = idx.manifests.filter((d) => d.digest === sbom.digest);
  assert.is(listed.length, 1);
  assert.is(listed[0]!.artifactType, 'application/spdx+json');

  const chk = await loadCli(['check', join(tmp, 'bundle'), '--trusted-key', join(tmp, 'k.pub'), '--to', `${b.host}/mirror`, '--insecure-registry', b.host, '--json']);
  assert.is(chk.code, 0, chk.stdout + chk.stderr);
  const items = (JSON.parse(chk.stdout) as { items: Array<{ kind: string; status: string }> }).items;
  assert.ok(items.some((i) => i.kind === 'referrer' && i.status === 'ok'));

  const r2 = await push();
  assert.is(r2.code, 0, r2.stderr);
  assert.is((await fallbackIndex()).manifests.filter((d) => d.digest === sbom.digest).length, 1, 'listed once after a second push');
});

test.run();
