// Chart.yaml as Helm 3 reads it (go-yaml v2 + sigs.k8s.io/yaml + encoding/json + Validate),
// and chart.Metadata as encoding/json writes it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import {
  decodeChartYaml,
  decodeRequirementsOnto,
  formatGoFloat,
  goJsonMarshal,
  goJsonString,
  isStrictSemver,
  metadataGoObject,
  parseChartLock,
  parseChartYaml,
  plainScalarIsString,
  resolvePlainScalar,
  sanitizeString,
  validateChartMetadata,
} from '../src/metadata.js';
import { chartYaml } from './helpers/charts.js';

const FIXTURES = new URL('./fixtures/helm-push/', import.meta.url);
const where = 'test';
const md = (extra: string) => parseChartYaml(chartYaml('x', '1.0.0', extra), where);

// The Chart.yaml helm v3.22 pushed to produce fixtures/helm-push/config.json.
const RICH = `apiVersion: v2
name: rich
version: 1.2.3-rc.1+build.5
appVersion: 2.10
description: "A <rich> chart & friends: \\"quoted\\"\\ttab ünïcødé 😀"
home: https://example.com/rich?a=1&b=2
icon: https://example.com/icon.png
sources:
  - https://github.com/example/rich
  - https://git.example.com/rich
keywords: [db, "cache", 42]
maintainers:
  - name: Jane Doe
    email: jane@example.com
    url: https://jane.example.com
  - name: Bob
  - email: nobody@example.com
kubeVersion: ">=1.22.0-0"
deprecated: yes
type: application
condition: rich.enabled
tags: backend
annotations:
  category: Database
  artifacthub.io/license: Apache-2.0
  org.opencontainers.image.title: hijack
  org.opencontainers.image.url: https://override.example.com
  zz: 1.50
dependencies:
  - name: redis
    version: 18.x.x
    repository: https://charts.bitnami.com/bitnami
    condition: redis.enabled
    tags: [cache]
    import-values:
      - child: default.data
        parent: myimports
      - data
    alias: cache
  - name: common
    repository: ""
    version: 2.0.0
`;

test('json.Marshal(chart.Metadata) of a rich Chart.yaml is byte for byte what helm push wrote', () => {
  const got = goJsonMarshal(metadataGoObject(parseChartYaml(RICH, where)));
  assert.is(got, readFileSync(new URL('config.json', FIXTURES), 'utf8'));
  assert.is(got, '{"name":"rich","home":"https://example.com/rich?a=1\\u0026b=2","sources":["https://github.com/example/rich","https://git.example.com/rich"],"version":"1.2.3-rc.1+build.5","description":"A \\u003crich\\u003e chart \\u0026 friends: \\"quoted\\" tab ünïcødé 😀","keywords":["db","cache","42"],"maintainers":[{"name":"Jane Doe","email":"jane@example.com","url":"https://jane.example.com"},{"name":"Bob"},{"email":"nobody@example.com"}],"icon":"https://example.com/icon.png","apiVersion":"v2","condition":"rich.enabled","tags":"backend","appVersion":"2.1","deprecated":true,"annotations":{"artifacthub.io/license":"Apache-2.0","category":"Database","org.opencontainers.image.title":"hijack","org.opencontainers.image.url":"https://override.example.com","zz":"1.5"},"kubeVersion":"\\u003e=1.22.0-0","dependencies":[{"name":"redis","version":"18.x.x","repository":"https://charts.bitnami.com/bitnami","condition":"redis.enabled","tags":["cache"],"import-values":[{"child":"default.data","parent":"myimports"},"data"],"alias":"cache"},{"name":"common","version":"2.0.0","repository":""}],"type":"application"}');
});

test('YAML 1.1 as go-yaml v2 resolves plain scalars', () => {
  const k = (s: string) => resolvePlainScalar(s).k;
  assert.equal(resolvePlainScalar('010'), { k: 'int', v: 8n });
  assert.equal(resolvePlainScalar('0x1F'), { k: 'int', v: 31n });
  assert.equal(resolvePlainScalar('1_000'), { k: 'int', v: 1000n });
  assert.equal(resolvePlainScalar('0b101'), { k: 'int', v: 5n });
  assert.equal(resolvePlainScalar('18446744073709551615'), { k: 'int', v: 18446744073709551615n });
  assert.equal(resolvePlainScalar('1.0'), { k: 'float', v: 1 });
  assert.equal(resolvePlainScalar('08'), { k: 'float', v: 8 }, 'not octal, so YAML float syntax');
  assert.equal(resolvePlainScalar('.5'), { k: 'float', v: 0.5 });
  for (const s of ['yes', 'No', 'ON', 'off', 'y', 'N', 'true']) assert.is(k(s), 'bool', s);
  for (const s of ['~', 'null', '']) assert.is(k(s), 'null', s);
  for (const s of ['1.2.3', '1e400', 'v1', '2024-01-02', '2024-1-2T3:4:5Z', 'yess', '0x', '1:20']) assert.is(k(s), 'str', s);
  assert.not.ok(plainScalarIsString('2024-01-02'), 'a timestamp is not a plain string when written');
  assert.not.ok(plainScalarIsString('2024-01-02T03:04:05.123456789Z'));
  assert.not.ok(plainScalarIsString('2024-02-30'.replace('30', '29')), '2024 is a leap year');
  assert.ok(plainScalarIsString('2023-02-29'), 'not a date: a string');
  assert.ok(plainScalarIsString('1.16.0'));
});

test('strconv.FormatFloat(x, g, -1, 32/64) as sigs.k8s.io/yaml uses it', () => {
  assert.is(formatGoFloat(2.1, 32), '2.1');
  assert.is(formatGoFloat(1234567.5, 32), '1.2345675e+06');
  assert.is(formatGoFloat(1e6, 64), '1e+06');
  assert.is(formatGoFloat(123456, 64), '123456');
  assert.is(formatGoFloat(0.0001, 64), '0.0001');
  assert.is(formatGoFloat(0.00001, 64), '1e-05');
  assert.is(formatGoFloat(16777217, 32), '1.6777216e+07', 'float32 precision');
  assert.is(formatGoFloat(1e40, 32), '+Inf');
  assert.is(formatGoFloat(-0, 64), '-0');
});

test('numbers and booleans bound for string fields become strings as Helm makes them', () => {
  const m = md('appVersion: 1.10\nkeywords: [1, yes, 2.50, ~]\nkubeVersion: 1e3\n');
  assert.is(m.appVersion, '1.1');
  assert.equal(m.keywords, ['1', 'true', '2.5', '']);
  assert.is(m.kubeVersion, '1000');
  assert.is(md('deprecated: on\n').deprecated, true);
  assert.is(md('deprecated: false\n').deprecated, undefined, 'false is left out, as omitempty leaves it out');
});

test('field names match case-insensitively, exact names win, unknown keys are ignored', () => {
  const m = parseChartYaml('ApiVersion: v2\nNAME: upper\nVersion: 1.0.0\nname: lower\nunknown: [1, 2]\n', where);
  assert.is(m.name, 'lower');
  assert.is(m.version, '1.0.0');
  assert.is(m.apiVersion, 'v2');
});

test('anchors, aliases and merge keys resolve as in go-yaml v2', () => {
  const m = md('annotations:\n  <<: &base {a: "1", b: "2"}\n  b: "3"\nsources: &s [https://x]\nhome: https://h\nkeywords: *s\n');
  assert.equal(m.annotations, { a: '1', b: '3' });
  assert.equal(m.keywords, ['https://x']);
});

test('Helm sanitizes strings: spaces to " ", non-printable characters dropped', () => {
  assert.is(sanitizeString('a\tb\u00a0c\u200bd\u0007e\u2028f'), 'a b cde f');
  const m = md('description: "line1\\nline2\\u200b"\nmaintainers:\n  - name: "Jane\\tDoe"\n');
  assert.is(m.description, 'line1 line2');
  assert.equal(m.maintainers, [{ name: 'Jane Doe' }]);
});

test('a Helm 2 chart without apiVersion is v1; requirements.yaml supplies its dependencies', () => {
  const raw = decodeChartYaml('name: old\nversion: 0.1.0\n', where);
  decodeRequirementsOnto(raw, 'dependencies:\n  - name: mysql\n    version: ^1\n    repository: https://charts.example.com\n', where);
  raw.apiVersion ||= 'v1';
  const m = validateChartMetadata(raw, where);
  assert.is(m.apiVersion, 'v1');
  assert.equal(m.dependencies, [{ name: 'mysql', version: '^1', repository: 'https://charts.example.com' }]);
  // Go writes repository even when empty.
  assert.ok(goJsonMarshal(metadataGoObject(md('dependencies:\n  - name: a\n'))).includes('"dependencies":[{"name":"a","repository":""}]'));
});

test('SemVer 2, strictly: build metadata kept, v-prefix, partial and leading zeros refused', () => {
  for (const v of ['1.2.3', '0.0.1', '1.2.3-rc.1', '1.2.3+build.5', '1.2.3-alpha.1+sha.abc']) assert.ok(isStrictSemver(v), v);
  for (const v of ['v1.2.3', '=1.2.3', ' 1.2.3', '1.2', '1', '01.2.3', '1.2.3-01', 'latest', '1.2.3+']) assert.not.ok(isStrictSemver(v), v);
});

test('Chart.lock: dependencies, digest and an RFC 3339 generated time', () => {
  assert.equal(parseChartLock('dependencies:\n- name: a\n  version: 1.0.0\n  repository: oci://r/x\ndigest: sha256:1\ngenerated: 2024-01-02T03:04:05Z\n', where), {
    dependencies: [{ name: 'a', version: '1.0.0', repository: 'oci://r/x' }],
    digest: 'sha256:1',
    generated: '2024-01-02T03:04:05Z',
  });
  assert.is(parseChartLock('', where), undefined);
});

test('Go JSON string escaping: HTML characters, line separators, \\b and \\f, lone surrogates', () => {
  assert.is(goJsonString('<a href="x">&</a>'), '"\\u003ca href=\\"x\\"\\u003e\\u0026\\u003c/a\\u003e"');
  assert.is(goJsonString('\u2028\u2029\b\f\u0001\u007f'), '"\\u2028\\u2029\\b\\f\\u0001\u007f"');
  assert.is(goJsonString('x\ud800y'), '"x\ufffdy"');
  assert.is(goJsonString('😀'), '"😀"');
});

test.run();
