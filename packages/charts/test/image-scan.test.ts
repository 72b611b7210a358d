// findChartImages on realistic charts: bitnami-style image maps, plain strings, sibling keys,
// templates, subcharts; invalid references dropped, duplicates reported once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkChartArchive } from '../src/archive.js';
import { findChartImages } from '../src/image-scan.js';
import { chartTgz, chartYaml, realisticChart } from './helpers/charts.js';

const scan = async (files: Record<string, string | Buffer>) => findChartImages(await checkChartArchive(chartTgz(files), { where: 'test' }));

const BITNAMI_VALUES = `global:
  imageRegistry: ""
image:
  registry: docker.io
  repository: bitnami/redis
  tag: 7.2.4-debian-12-r9
  digest: ""
  pullPolicy: IfNotPresent
sentinel:
  image:
    registry: docker.io
    repository: bitnami/redis-sentinel
    tag: 7.2.4
    digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
metrics:
  enabled: false
  image:
    registry: docker.io
    repository: bitnami/redis-exporter
    tag: "1.58.0"
volumePermissions:
  image:
    registry: docker.io
    repository: bitnami/os-shell
    tag: latest
kubectl:
  image:
    repository: bitnami/kubectl
`;

test('bitnami-style image maps: registry/repository/tag/digest composed, with lines', async () => {
  const found = await scan({ 'Chart.yaml': chartYaml('redis', '18.19.4'), 'values.yaml': BITNAMI_VALUES });
  assert.equal(found, [
    { reference: 'docker.io/bitnami/redis:7.2.4-debian-12-r9', file: 'values.yaml', line: 5 },
    { reference: 'docker.io/bitnami/redis-sentinel:7.2.4@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef', file: 'values.yaml', line: 12 },
    { reference: 'docker.io/bitnami/redis-exporter:1.58.0', file: 'values.yaml', line: 19 },
    { reference: 'docker.io/bitnami/os-shell:latest', file: 'values.yaml', line: 24, unpinned: 'latest' },
    { reference: 'bitnami/kubectl', file: 'values.yaml', line: 28, unpinned: 'missing' },
  ]);
});

test('string values, sibling repository+tag keys, *Image keys; tags kept as written', async () => {
  const values = [
    'image: "nginx:1.25.3"',
    'initImage: busybox:1.36',
    'proxy:',
    '  repository: quay.io/oauth2-proxy/oauth2-proxy',
    '  tag: 7.10',
    'containers:',
    '  - name: a',
    '    image: ghcr.io/org/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
    'registryCache:',
    '  image: localhost:5000/cache',
    '',
  ].join('\n');
  const found = await scan({ 'Chart.yaml': chartYaml(), 'values.yaml': values });
  assert.equal(found.map((f) => [f.reference, f.line, f.unpinned]), [
    ['nginx:1.25.3', 1, undefined],
    ['busybox:1.36', 2, undefined],
    ['quay.io/oauth2-proxy/oauth2-proxy:7.10', 4, undefined],
    ['ghcr.io/org/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef', 8, undefined],
    ['localhost:5000/cache', 10, 'missing'],
  ]);
});

test('templates: plain image lines only, never ones with {{', async () => {
  const found = await scan(realisticChart());
  assert.equal(found, [
    { reference: 'docker.io/bitnami/redis:7.2.4-debian-12-r0', file: 'values.yaml', line: 4 },
    { reference: 'docker.io/library/busybox:1.36', file: 'templates/deployment.yaml', line: 10 },
  ]);
});

test('invalid references are dropped; one image is reported once, first place first', async () => {
  const values = [
    'image: "{{ .Values.global.registry }}/x:1"',
    'other:',
    '  image: Not A Reference',
    'dup1:',
    '  image: nginx:1.25',
    'dup2:',
    '  image: docker.io/library/nginx:1.25',
    'git:',
    '  repository: https://github.com/org/repo',
    '  tag: v1',
    'empty:',
    '  image: ""',
    '',
  ].join('\n');
  const found = await scan({ 'Chart.yaml': chartYaml(), 'values.yaml': values, 'templates/a.yaml': 'spec:\n  image: nginx:1.25\n  - image: "bad//path:1"\n  - image: Capital:1\n' });
  assert.equal(found, [{ reference: 'nginx:1.25', file: 'values.yaml', line: 5 }]);
});

test('vendored subcharts (directory and .tgz) are scanned too, after the chart itself', async () => {
  const sub = chartTgz({ 'Chart.yaml': chartYaml('postgresql', '15.0.0'), 'values.yaml': 'image:\n  registry: docker.io\n  repository: bitnami/postgresql\n  tag: 16.2.0\n' }, 'postgresql');
  const found = await scan({
    'Chart.yaml': chartYaml('app', '1.0.0'),
    'values.yaml': 'image: registry.example.com/app:2.0\n',
    'charts/postgresql-15.0.0.tgz': sub,
    'charts/cache/Chart.yaml': chartYaml('cache', '1.0.0'),
    'charts/cache/templates/sts.yaml': '      containers:\n        - image: "memcached:1.6"\n',
  });
  assert.equal(found, [
    { reference: 'registry.example.com/app:2.0', file: 'values.yaml', line: 1 },
    { reference: 'memcached:1.6', file: 'charts/cache/templates/sts.yaml', line: 2 },
    { reference: 'docker.io/bitnami/postgresql:16.2.0', file: 'charts/postgresql-15.0.0.tgz/values.yaml', line: 3 },
  ]);
});

test.run();
