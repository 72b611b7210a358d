// The OCI chart source and sink against a real CNCF distribution registry (test/harness/
// registry.ts): plain HTTP, and htpasswd Basic auth over TLS with a CA file. Charts are pushed
// here the way `helm push` lays them out (Helm config type, chart + provenance layers sorted by
// digest, the OCI annotations); helm-oci.test.ts does the same with the real helm client.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MediaTypes, sha256Digest, type Descriptor } from '@ferry/format-spec';
import { RegistryClient, pushBlob, putManifest, type RegistryOptions } from '@ferry/oci';
import { startRegistry, type StartedRegistry } from '../../../test/harness/registry.js';
import { fetchOciChart, parseOciChartRef } from '../src/oci-source.js';
import { OciChartSink, parseOciDestination } from '../src/sinks/oci.js';
import { HelmMediaTypes, chartTag, type ChartUpload, type FetchedChart } from '../src/types.js';
import { ferryError, packChart } from './fixtures.js';

const USER = 'helmer';
const PASSWORD = 'Oci-Ch4rt-pw!';
const SECRETS = [PASSWORD, Buffer.from(`${USER}:${PASSWORD}`).toString('base64')];

let plain: StartedRegistry;
let secure: StartedRegistry;
const fast = { attempts: 2, backoffMs: 1 };

function desc(mediaType: string, bytes: Buffer): Descriptor {
  return { mediaType, digest: sha256Digest(bytes), size: bytes.length };
}

interface Pushed { manifest: Buffer; digest: string; archive: Buffer; config: Buffer; prov?: Buffer }

/** What `helm push` writes: config = Chart.yaml as JSON, layers sorted by digest, OCI annotations. */
async function helmLikePush(reg: StartedRegistry, opts: RegistryOptions, repository: string, name: string, version: string, o: { prov?: boolean; layerType?: string; extraLayer?: boolean; salt?: string } = {}): Promise<Pushed> {
  const client = new RegistryClient(reg.host, opts);
  const archive = await packChart(name, version, o.salt ?? '');
  const config = Buffer.from(JSON.stringify({ name, version, description: 'test chart', apiVersion: 'v2' }));
  const prov = o.prov ? Buffer.from(`-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nname: ${name}\n`) : undefined;
  const layers: Array<{ d: Descriptor; b: Buffer }> = [{ d: desc(o.layerType ?? HelmMediaTypes.chart, archive), b: archive }];
  if (prov) layers.push({ d: desc(HelmMediaTypes.provenance, prov), b: prov });
  if (o.extraLayer) {
    const x = Buffer.from('surprise');
    layers.push({ d: desc('application/vnd.example.other', x), b: x });
  }
  layers.sort((a, b) => (a.d.digest < b.d.digest ? -1 : 1));
  const cd = desc(HelmMediaTypes.config, config);
  await pushBlob(client, repository, cd, config);
  for (const l of layers) await pushBlob(client, repository, l.d, l.b);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: cd, layers: layers.map((l) => l.d),
    annotations: { 'org.opencontainers.image.created': '2024-03-04T05:06:07Z', 'org.opencontainers.image.title': name, 'org.opencontainers.image.version': version },
  }));
  await putManifest(client, repository, chartTag(version), manifest, MediaTypes.ociManifest);
  client.close();
  return { manifest, digest: sha256Digest(manifest), archive, config, ...(prov ? { prov } : {}) };
}

function upload(f: FetchedChart, name: string, version: string): ChartUpload {
  const o = f.oci!;
  return {
    name, version, archive: f.archive, digest: sha256Digest(f.archive), ...(f.provenance ? { provenance: f.provenance } : {}),
    oci: { manifest: o.manifest, manifestDigest: sha256Digest(o.manifest), manifestMediaType: o.manifestMediaType, config: o.config, configDigest: sha256Digest(o.config) },
    metadata: { apiVersion: 'v2', name, version },
  };
}

let plainPushed: Record<string, Pushed> = {};

test.before(async () => {
  [plain, secure] = await Promise.all([startRegistry(), startRegistry({ tls: true, auth: { user: USER, password: PASSWORD } })]);
  const o = { insecure: [plain.host], ...fast };
  plainPushed = {
    '1.2.3': await helmLikePush(plain, o, 'charts/app', 'app', '1.2.3', { prov: true }),
    '1.2.4': await helmLikePush(plain, o, 'charts/app', 'app', '1.2.4'),
    '1.3.0+build.5': await helmLikePush(plain, o, 'charts/app', 'app', '1.3.0+build.5'),
    '2.0.0-rc.1': await helmLikePush(plain, o, 'charts/app', 'app', '2.0.0-rc.1'),
  };
});

test.after(async () => {
  await Promise.all([plain?.stop(), secure?.stop()]);
});

test('parse refs and destinations', async () => {
  assert.equal(parseOciChartRef('oci://localhost:5000/a/b/app:1.0.0+x'), { registry: 'localhost:5000', repository: 'a/b/app', name: 'app', version: '1.0.0+x' });
  assert.equal(parseOciChartRef(`oci://r.io/app@sha256:${'a'.repeat(64)}`), { registry: 'r.io', repository: 'app', name: 'app', digest: `sha256:${'a'.repeat(64)}` });
  assert.equal(parseOciChartRef('oci://r.io/c/app:^1.2'), { registry: 'r.io', repository: 'c/app', name: 'app', version: '^1.2' });
  assert.equal(parseOciChartRef('oci://r.io/c/app'), { registry: 'r.io', repository: 'c/app', name: 'app' });
  await ferryError(Promise.resolve().then(() => parseOciChartRef(`oci://u:${PASSWORD}@r.io/app:1`)), 'USAGE', SECRETS);
  await ferryError(Promise.resolve().then(() => parseOciChartRef('oci://r.io/App:1.0.0')), 'USAGE');
  assert.equal(parseOciDestination('oci://r.io:5000/charts/'), { registry: 'r.io:5000', path: 'charts' });
  assert.equal(parseOciDestination('oci://r.io'), { registry: 'r.io', path: '' });
});

test('exact version: manifest, config, chart and provenance exactly as pushed', async () => {
  const c = await fetchOciChart(`oci://${plain.host}/charts/app:1.2.3`, { insecure: [plain.host], ...fast });
  const p = plainPushed['1.2.3']!;
  assert.ok(c.oci!.manifest.equals(p.manifest));
  assert.is(c.oci!.manifestMediaType, MediaTypes.ociManifest);
  assert.ok(c.oci!.config.equals(p.config));
  assert.ok(c.archive.equals(p.archive));
  assert.ok(c.provenance!.equals(p.prov!));
  assert.is(c.created, '2024-03-04T05:06:07Z');
});

test('by digest, by range (tags with _ read as +), newest stable without a version', async () => {
  const o = { insecure: [plain.host], ...fast };
  const d = await fetchOciChart(`oci://${plain.host}/charts/app@${plainPushed['1.2.4']!.digest}`, o);
  assert.ok(d.archive.equals(plainPushed['1.2.4']!.archive));
  const r = await fetchOciChart(`oci://${plain.host}/charts/app:~1.2`, o);
  assert.ok(r.archive.equals(plainPushed['1.2.4']!.archive));
  assert.ok(r.notes!.some((n) => n.includes('resolved to version 1.2.4')));
  const n = await fetchOciChart(`oci://${plain.host}/charts/app`, o);
  assert.ok(n.archive.equals(plainPushed['1.3.0+build.5']!.archive));
  const b = await fetchOciChart(`oci://${plain.host}/charts/app:1.3.0+build.5`, o);
  assert.ok(b.archive.equals(plainPushed['1.3.0+build.5']!.archive));
  const pre = await fetchOciChart(`oci://${plain.host}/charts/app:>=2.0.0-0`, o);
  assert.ok(pre.archive.equals(plainPushed['2.0.0-rc.1']!.archive));
  const e = await ferryError(fetchOciChart(`oci://${plain.host}/charts/app:^3`, o), 'SOURCE_NOT_FOUND');
  assert.match(e.message, 'newest available: 2.0.0-rc.1, 1.3.0+build.5, 1.2.4, 1.2.3');
});

test('refused as Helm refuses: not the Helm config, an unknown layer, a legacy layer noted', async () => {
  const o = { insecure: [plain.host], ...fast };
  await helmLikePush(plain, o, 'odd/extra', 'extra', '1.0.0', { extraLayer: true });
  const e1 = await ferryError(fetchOciChart(`oci://${plain.host}/odd/extra:1.0.0`, o), 'CHART_INVALID');
  assert.match(e1.message, 'application/vnd.example.other');
  // An image, not a chart.
  const client = new RegistryClient(plain.host, o);
  const cfg = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
  await pushBlob(client, 'odd/image', desc(MediaTypes.ociConfig, cfg), cfg);
  const m = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: desc(MediaTypes.ociConfig, cfg), layers: [] }));
  await putManifest(client, 'odd/image', '1.0.0', m, MediaTypes.ociManifest);
  client.close();
  const e2 = await ferryError(fetchOciChart(`oci://${plain.host}/odd/image:1.0.0`, o), 'CHART_INVALID');
  assert.match(e2.message, 'not a Helm chart');
  await helmLikePush(plain, o, 'odd/legacy', 'legacy', '0.1.0', { layerType: HelmMediaTypes.legacyChart });
  const l = await fetchOciChart(`oci://${plain.host}/odd/legacy:0.1.0`, o);
  assert.ok(l.notes!.some((n) => n.includes('legacy chart layer')));
});

test('an index: its Helm child manifest is taken', async () => {
  const o = { insecure: [plain.host], ...fast };
  const p = await helmLikePush(plain, o, 'odd/indexed', 'indexed', '0.2.0');
  const client = new RegistryClient(plain.host, o);
  const idx = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [{ mediaType: MediaTypes.ociManifest, digest: p.digest, size: p.manifest.length, artifactType: HelmMediaTypes.config }] }));
  await putManifest(client, 'odd/indexed', '0.3.0', idx, MediaTypes.ociIndex);
  client.close();
  const c = await fetchOciChart(`oci://${plain.host}/odd/indexed:0.3.0`, o);
  assert.ok(c.oci!.manifest.equals(p.manifest));
  assert.ok(c.notes!.some((n) => n.includes('is an index')));
});

test('sink: push exactly as carried, check same, skip, conflict, force', async () => {
  const o = { insecure: [plain.host], ...fast };
  const fetched = await fetchOciChart(`oci://${plain.host}/charts/app:1.2.3`, o);
  const up = upload(fetched, 'app', '1.2.3');
  const sink = new OciChartSink(`oci://${plain.host}/mirror/helm`, o);
  assert.is(sink.kind, 'oci');
  assert.is(sink.description, `oci://${plain.host}/mirror/helm`);
  assert.is(sink.locationOf(up), `oci://${plain.host}/mirror/helm/app`);
  await sink.preflight([up]);
  assert.equal(await sink.check(up), { state: 'absent' });
  assert.is(await sink.put(up, { force: false }), 'uploaded');
  assert.equal(await sink.check(up), { state: 'same' });
  assert.equal(await sink.check({ name: 'app', version: '1.2.3', digest: up.digest }), { state: 'same' });
  assert.is(await sink.put(up, { force: false }), 'skipped');
  const back = await fetchOciChart(`oci://${plain.host}/mirror/helm/app:1.2.3`, o);
  assert.is(sha256Digest(back.oci!.manifest), plainPushed['1.2.3']!.digest);
  assert.ok(back.provenance!.equals(plainPushed['1.2.3']!.prov!));
  // Another chart under the same version.
  await helmLikePush(plain, o, 'other/app', 'app', '1.2.3', { salt: ' (rebuilt)' });
  const other = upload(await fetchOciChart(`oci://${plain.host}/other/app:1.2.3`, o), 'app', '1.2.3');
  const st = await sink.check(other);
  assert.is(st.state, 'different');
  assert.match((st as { detail: string }).detail, plainPushed['1.2.3']!.digest);
  assert.match((st as { detail: string }).detail, other.oci.manifestDigest);
  const e = await ferryError(sink.put(other, { force: false }), 'CHART_CONFLICT');
  assert.match(e.message, 'already names another chart');
  assert.is(await sink.put(other, { force: true }), 'uploaded');
  assert.equal(await sink.check(other), { state: 'same' });
  await sink.finish();
  await sink.close();
});

test('sink: + in the version becomes _ in the tag; a manifest naming an uncarried blob is refused', async () => {
  const o = { insecure: [plain.host], ...fast };
  const up = upload(await fetchOciChart(`oci://${plain.host}/charts/app:1.3.0+build.5`, o), 'app', '1.3.0+build.5');
  const sink = new OciChartSink(`oci://${plain.host}/plus`, o);
  assert.is(await sink.put(up, { force: false }), 'uploaded');
  const c = new RegistryClient(plain.host, o);
  assert.ok(await c.headManifest('plus/app', '1.3.0_build.5'));
  c.close();
  const bad = { ...up, version: '9.9.9', archive: await packChart('app', '9.9.9') };
  bad.digest = sha256Digest(bad.archive);
  const e = await ferryError(sink.put(bad, { force: false }), 'CHART_INVALID');
  assert.match(e.message, 'neither the chart archive nor its provenance');
  await sink.close();
});

test('Basic auth over TLS with a CA file: pull, preflight, push; wrong password REGISTRY_AUTH without the secret', async () => {
  const good = { caFile: secure.caFile!, creds: `${USER}:${PASSWORD}`, ...fast };
  const p = await helmLikePush(secure, good, 'team/charts/web', 'web', '0.5.0', { prov: true });
  const c = await fetchOciChart(`oci://${secure.host}/team/charts/web:0.5.0`, good);
  assert.ok(c.oci!.manifest.equals(p.manifest));
  const sink = new OciChartSink(`oci://${secure.host}/prod`, good);
  const up = upload(c, 'web', '0.5.0');
  await sink.preflight([up]);
  assert.is(await sink.put(up, { force: false }), 'uploaded');
  const back = await fetchOciChart(`oci://${secure.host}/prod/web:0.5.0`, good);
  assert.is(sha256Digest(back.oci!.manifest), p.digest);
  await sink.close();
  const wrong = { caFile: secure.caFile!, creds: `${USER}:wrong-${PASSWORD}x`, ...fast };
  await ferryError(fetchOciChart(`oci://${secure.host}/team/charts/web:0.5.0`, wrong), 'REGISTRY_AUTH', [...SECRETS, `wrong-${PASSWORD}x`]);
  const bad = new OciChartSink(`oci://${secure.host}/prod`, wrong);
  await ferryError(bad.preflight([up]), 'REGISTRY_AUTH', [...SECRETS, `wrong-${PASSWORD}x`]);
  await bad.close();
  const noCa = new OciChartSink(`oci://${secure.host}/prod`, { creds: `${USER}:${PASSWORD}`, ...fast });
  await ferryError(noCa.preflight(), 'REGISTRY_TLS', SECRETS);
  await noCa.close();
});

test.run();
