// Referrer discovery on distribution 2.8, which has no referrers API (404): the sha256-<hex>
// tag-schema fallback (maintained by our pushReferrer, read back by skopeo), and cosign's
// .sig/.att tags written with plain fetch() in cosign's format, verified with node crypto.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verify } from 'node:crypto';
import { makeOciLayout, type WrittenImage } from '../../../../test/helpers/images.js';
import { startRegistry, type StartedRegistry } from '../../../../test/harness/registry.js';
import { seedLayout, skopeoInspectRaw, generateSigningKey, writeCosignSignature, writeCosignAttestation, writeOciReferrer } from '../../../../test/harness/seed.js';
import { RegistryClient, RegistrySource, listReferrers, fetchReferrers, referrersTag, cosignTag } from '../../src/index.js';

let reg: StartedRegistry;
let dir: string;
let signed: WrittenImage;
let plain: WrittenImage;
const key = generateSigningKey();
let sig: Awaited<ReturnType<typeof writeCosignSignature>>;
let att: Awaited<ReturnType<typeof writeCosignAttestation>>;
let sbom: { digest: string; size: number; bytes: Buffer };

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-ref-'));
  [signed, plain] = await makeOciLayout(join(dir, 'layout'), [
    { tag: 'signed', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 5000, seed: 's' }] }] },
    { tag: 'plain', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 5000, seed: 'p' }] }] },
  ]) as [WrittenImage, WrittenImage];
  reg = await startRegistry();
  await seedLayout(reg, join(dir, 'layout'), 'signed', 'ns/app:v1');
  await seedLayout(reg, join(dir, 'layout'), 'plain', 'ns/app:plain');
  sig = await writeCosignSignature(reg.url, 'ns/app', signed.root.digest, key.privatePem, `${reg.host}/ns/app`);
  att = await writeCosignAttestation(reg.url, 'ns/app', signed.root.digest, key.privatePem, 'https://spdx.dev/Document', { spdxVersion: 'SPDX-2.3' });
  const c = new RegistryClient(reg.host, { insecure: [reg.host] });
  sbom = await writeOciReferrer(c, 'ns/app', signed.root, 'application/spdx+json', Buffer.from('{"spdxVersion":"SPDX-2.3"}'));
  c.close();
});

test.after(async () => {
  await reg?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('distribution 2.8 has no referrers API: the route answers 404', async () => {
  const res = await fetch(`${reg.url}/v2/ns/app/referrers/${signed.root.digest}`);
  assert.is(res.status, 404);
});

test('pushReferrer kept the sha256-<hex> fallback index, readable by skopeo', async () => {
  const raw = await skopeoInspectRaw(reg, `ns/app:${referrersTag(signed.root.digest)}`);
  const idx = JSON.parse(raw.toString()) as { mediaType: string; manifests: Array<{ digest: string; artifactType?: string; annotations?: Record<string, string> }> };
  assert.is(idx.mediaType, 'application/vnd.oci.image.index.v1+json');
  assert.equal(idx.manifests.map((m) => m.digest), [sbom.digest]);
  assert.is(idx.manifests[0]!.artifactType, 'application/spdx+json');
  assert.is(idx.manifests[0]!.annotations?.['org.opencontainers.image.created'], '2024-01-01T00:00:00Z');
});

test('fetchReferrers falls back to the tag schema and filters by artifactType', async () => {
  const c = new RegistryClient(reg.host, { insecure: [reg.host] });
  const r = await fetchReferrers(c, 'ns/app', signed.root.digest);
  assert.is(r.via, 'tag-schema');
  assert.equal(r.descriptors.map((d) => [d.digest, d.artifactType]), [[sbom.digest, 'application/spdx+json']]);
  assert.equal((await fetchReferrers(c, 'ns/app', signed.root.digest, { artifactType: 'application/vnd.cyclonedx+json' })).descriptors, []);
  assert.equal((await fetchReferrers(c, 'ns/app', plain.root.digest)).descriptors, [], 'no fallback tag → none');
  c.close();
});

test('listReferrers: cosign .sig and .att tags plus the OCI referrer, each with its scheme', async () => {
  const src = new RegistrySource(`${reg.host}/ns/app:v1`, { insecure: [reg.host] });
  const root = await src.resolve();
  const refs = await listReferrers(src, root.descriptor);
  const byScheme = refs.map((r) => [r.scheme, r.tag ?? null, r.descriptor.digest, r.subject]);
  assert.equal(byScheme, [
    ['cosign-tag', cosignTag(signed.root.digest, 'sig'), sig.digest, signed.root.digest],
    ['cosign-tag', cosignTag(signed.root.digest, 'att'), att.digest, signed.root.digest],
    ['oci-referrer', null, sbom.digest, signed.root.digest],
  ]);
  assert.equal(refs[0]!.descriptor, { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sig.digest, size: sig.size });
  // an image with nothing attached
  const other = await listReferrers(src, plain.root.digest);
  assert.equal(other, []);
  await src.close();
});

test('the discovered .sig is a cosign signature that verifies over the payload we fetch', async () => {
  const src = new RegistrySource(`${reg.host}/ns/app:v1`, { insecure: [reg.host] });
  const [s] = await listReferrers(src, signed.root.digest);
  const m = await src.fetchManifest(s!.descriptor);
  const layer = (JSON.parse(m.bytes.toString()) as { layers: Array<{ digest: string; size: number; mediaType: string; annotations: Record<string, string> }> }).layers[0]!;
  assert.is(layer.mediaType, 'application/vnd.dev.cosign.simplesigning.v1+json');
  const chunks: Buffer[] = [];
  for await (const c of (await src.openBlob(layer)) as AsyncIterable<Buffer>) chunks.push(c);
  const payload = Buffer.concat(chunks);
  assert.ok(verify('sha256', payload, key.publicPem, Buffer.from(layer.annotations['dev.cosignproject.cosign/signature']!, 'base64')));
  const p = JSON.parse(payload.toString()) as { critical: { image: { 'docker-manifest-digest': string } } };
  assert.is(p.critical.image['docker-manifest-digest'], signed.root.digest);
  await src.close();
});

test('a second referrer is merged into the fallback index (sorted, no duplicates on re-push)', async () => {
  const c = new RegistryClient(reg.host, { insecure: [reg.host] });
  const vex = await writeOciReferrer(c, 'ns/app', signed.root, 'application/vnd.openvex+json', Buffer.from('{"@context":"https://openvex.dev/ns"}'));
  await writeOciReferrer(c, 'ns/app', signed.root, 'application/vnd.openvex+json', Buffer.from('{"@context":"https://openvex.dev/ns"}'));
  const r = await fetchReferrers(c, 'ns/app', signed.root.digest);
  assert.equal(r.descriptors.map((d) => d.digest), [sbom.digest, vex.digest].sort());
  c.close();
});

test.run();
