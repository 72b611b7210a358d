// helmOciArtifact against what helm v3.22 pushed into a distribution registry
// (fixtures/helm-push: the .tgz and .prov it pushed, the manifests and config it wrote), and
// parseHelmOciManifest against what helm pull accepts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { checkChartArchive } from '../src/archive.js';
import { helmOciAnnotations, helmOciArtifact, parseHelmOciManifest } from '../src/oci-artifact.js';
import { parseChartYaml } from '../src/metadata.js';
import { HelmMediaTypes } from '../src/types.js';
import { rejectsCode } from '../../../test/helpers/assert.js';
import { chartTgz, chartYaml } from './helpers/charts.js';

const F = (name: string): Buffer => readFileSync(new URL(`./fixtures/helm-push/${name}`, import.meta.url));
const TGZ = 'rich-1.2.3-rc.1+build.5.tgz';
const sync = (fn: () => unknown) => rejectsCode(Promise.resolve().then(fn), 'CHART_INVALID');

test('manifest and config are byte for byte what helm push wrote (created = the .tgz mtime it used)', async () => {
  const chart = await checkChartArchive(F(TGZ), { where: TGZ });
  const a = helmOciArtifact(chart, { created: '2026-12-02T03:14:47Z' });
  assert.is(a.config.toString(), F('config.json').toString());
  assert.is(a.manifest.toString(), F('manifest.json').toString());
  assert.is(a.manifestDigest, 'sha256:549bee66edbb5044a810eff2bc43d32aec2776859beb1b3bf4ff5a72dafb4851', 'the digest helm push printed');
  assert.is(a.manifestMediaType, 'application/vnd.oci.image.manifest.v1+json');
  assert.is(a.configDigest, 'sha256:1e379236119a9034682452bf5fcd6f19d2e8dbbe14046091391fda640c5ad386');
  assert.equal(a.layers, [{ mediaType: HelmMediaTypes.chart, digest: 'sha256:b6ca11d570f904e5a54de26ea22015d9b7e81bbd5f2733b6eae4bbc31f72f7a0', size: 827 }]);
  assert.not.ok('mediaType' in JSON.parse(a.manifest.toString()), 'helm sets no mediaType field in the manifest');
});

test('with a .prov: layers sorted by digest, as helm push sorts them', async () => {
  const chart = await checkChartArchive(F(TGZ), { where: TGZ });
  const a = helmOciArtifact(chart, { created: '2024-01-02T03:04:05Z', provenance: F(`${TGZ}.prov`) });
  assert.is(a.manifest.toString(), F('manifest-prov.json').toString());
  assert.is(a.manifestDigest, 'sha256:cd77f3a8550a4b4d5bd6487d7b2015e570c07f4d114bb6b352bfd64ee8382480');
  assert.equal(a.layers.map((l) => l.mediaType), [HelmMediaTypes.provenance, HelmMediaTypes.chart]);
});

test('without created the annotation is left out, so the same chart gives the same manifest', async () => {
  const chart = await checkChartArchive(chartTgz({ 'Chart.yaml': chartYaml('x', '1.0.0') }, 'x'), { where: 'x' });
  const a = helmOciArtifact(chart);
  const b = helmOciArtifact(chart);
  assert.is(a.manifestDigest, b.manifestDigest);
  assert.equal(JSON.parse(a.manifest.toString()).annotations, { 'org.opencontainers.image.title': 'x', 'org.opencontainers.image.version': '1.0.0' });
});

test('annotations: blank values left out, chart annotations override all but title and version, keys in Go order', () => {
  const md = parseChartYaml(chartYaml('x', '1.0.0', 'description: "   "\nhome: https://h\nmaintainers:\n  - name: A\n  - email: b@x\n  - name: C\n    email: c@x\nannotations:\n  org.opencontainers.image.version: 9.9.9\n  org.opencontainers.image.created: "2020-01-01T00:00:00Z"\n  "10": ten\n  "9": nine\n'), 't');
  const a = helmOciAnnotations(md, '2024-01-01T00:00:00Z');
  assert.equal(Object.keys(a).sort(), ['10', '9', 'org.opencontainers.image.authors', 'org.opencontainers.image.created', 'org.opencontainers.image.title', 'org.opencontainers.image.url', 'org.opencontainers.image.version']);
  assert.is(a['org.opencontainers.image.version'], '1.0.0');
  assert.is(a['org.opencontainers.image.created'], '2020-01-01T00:00:00Z');
  assert.is(a['org.opencontainers.image.authors'], 'A,  (b@x), C (c@x)');
});

test('annotation keys that look like numbers are still sorted as Go sorts strings', async () => {
  const chart = await checkChartArchive(chartTgz({ 'Chart.yaml': chartYaml('x', '1.0.0', 'annotations:\n  "10": a\n  "9": b\n  A: c\n') }, 'x'), { where: 'x' });
  const text = helmOciArtifact(chart).manifest.toString();
  assert.ok(text.includes('"annotations":{"10":"a","9":"b","A":"c","org.opencontainers.image.title"'), text);
});

test('parseHelmOciManifest: what helm pull accepts', () => {
  const m = parseHelmOciManifest(F('manifest-prov.json'), { mediaType: 'application/vnd.oci.image.manifest.v1+json' });
  assert.is(m.chart.size, 827);
  assert.is(m.provenance?.mediaType, HelmMediaTypes.provenance);
  assert.is(m.legacyChartLayer, false);
  assert.is(m.annotations['org.opencontainers.image.title'], 'rich');
  const base = JSON.parse(F('manifest.json').toString());
  const legacy = { ...base, layers: [{ ...base.layers[0], mediaType: 'application/tar+gzip' }, { mediaType: 'application/x-other', digest: base.layers[0].digest, size: 1 }] };
  const l = parseHelmOciManifest(Buffer.from(JSON.stringify(legacy)));
  assert.ok(l.legacyChartLayer);
  assert.is(l.ignored.length, 1, 'other layer types are skipped, as helm pull skips them');
});

test('parseHelmOciManifest refuses what helm pull refuses', async () => {
  const base = JSON.parse(F('manifest.json').toString());
  const bytes = (o: unknown) => Buffer.from(JSON.stringify(o));
  await sync(() => parseHelmOciManifest(bytes({ ...base, config: { ...base.config, mediaType: 'application/vnd.oci.image.config.v1+json' } })));
  await sync(() => parseHelmOciManifest(bytes({ ...base, layers: [] })));
  await sync(() => parseHelmOciManifest(bytes({ ...base, layers: [base.layers[0], base.layers[0]] })));
  await sync(() => parseHelmOciManifest(bytes({ ...base, mediaType: 'application/vnd.docker.distribution.manifest.v2+json' })));
  await sync(() => parseHelmOciManifest(F('manifest.json'), { mediaType: 'application/vnd.oci.image.index.v1+json' }));
  await sync(() => parseHelmOciManifest(bytes({ schemaVersion: 2, manifests: [] })));
  await sync(() => parseHelmOciManifest(bytes({ ...base, schemaVersion: 1 })));
  await sync(() => parseHelmOciManifest(bytes({ ...base, layers: [{ ...base.layers[0], digest: 'sha256:xyz' }] })));
  await sync(() => parseHelmOciManifest(Buffer.from('not json')));
});

test.run();
