// checkChartArchive: Helm's loader rules on real and hostile archives. Every hostile case
// must be refused with CHART_INVALID and a message naming what is wrong.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { checkChartArchive, MAX_DECOMPRESSED_CHART_SIZE } from '../src/archive.js';
import { rejectsCode } from '../../../test/helpers/assert.js';
import { chartTgz, chartYaml, gz, rawTar, realisticChart, tarHeader, type RawEntry } from './helpers/charts.js';

const FIXTURE = new URL('./fixtures/helm-push/rich-1.2.3-rc.1+build.5.tgz', import.meta.url);
const where = 'test.tgz';
const check = (b: Buffer, expect?: { name?: string; version?: string }) => checkChartArchive(b, { where, ...(expect ? { expect } : {}) });
const refused = (b: Buffer, re: RegExp) => rejectsCode(check(b), 'CHART_INVALID', re);
const withChart = (entries: RawEntry[], top = 'mychart'): Buffer => gz(rawTar([{ name: `${top}/Chart.yaml`, data: chartYaml() }, ...entries]));

test('a chart helm itself packaged and pushed: metadata, digest, text files', async () => {
  const bytes = readFileSync(FIXTURE);
  const c = await check(bytes);
  assert.is(c.metadata.name, 'rich');
  assert.is(c.metadata.version, '1.2.3-rc.1+build.5');
  assert.is(c.metadata.appVersion, '2.1', 'YAML 1.1 float 2.10, as Helm reads it');
  assert.is(c.digest, `sha256:${createHash('sha256').update(bytes).digest('hex')}`);
  assert.ok(c.archive === bytes);
  assert.equal([...c.textFiles.keys()], ['values.yaml', 'templates/cm.yaml']);
  assert.equal(c.vendored, []);
});

test('subcharts as a directory and as a .tgz: vendored names, prefixed text files, Chart.lock', async () => {
  const redis = chartTgz({ 'Chart.yaml': chartYaml('redis', '18.1.0'), 'values.yaml': 'image:\n  repository: bitnami/redis\n', 'templates/sts.yaml': 'kind: StatefulSet\n' }, 'redis');
  const archive = gz(rawTar([
    { name: 'app/Chart.yaml', data: chartYaml('app', '1.0.0', 'dependencies:\n  - name: redis\n    version: 18.x\n    repository: https://charts.bitnami.com/bitnami\n  - name: common\n    version: 2.x\n    repository: file://../common\n') },
    { name: 'app/Chart.lock', data: 'dependencies:\n- name: redis\n  repository: https://charts.bitnami.com/bitnami\n  version: 18.1.0\ndigest: sha256:abc\ngenerated: "2024-01-02T03:04:05.123456789Z"\n' },
    { name: 'app/values.yaml', data: '\ufeffimage: nginx:1.25\n' },
    { name: 'app/templates/a.yaml', data: 'kind: ConfigMap\n' },
    { name: 'app/charts/redis-18.1.0.tgz', data: redis },
    { name: 'app/charts/common/Chart.yaml', data: chartYaml('common', '2.0.0', 'type: library\n') },
    { name: 'app/charts/common/templates/_h.tpl', data: '{{- define "x" }}{{ end }}\n' },
    { name: 'app/charts/common-2.0.0.tgz.prov', data: 'not a subchart' },
    { name: 'app/charts/_skipped/whatever', data: 'Helm skips charts/_x' },
  ]));
  const c = await check(archive);
  assert.equal(c.vendored, ['common', 'redis']);
  assert.equal(c.lock, { dependencies: [{ name: 'redis', version: '18.1.0', repository: 'https://charts.bitnami.com/bitnami' }], digest: 'sha256:abc', generated: '2024-01-02T03:04:05.123456789Z' });
  assert.equal([...c.textFiles.keys()], [
    'values.yaml',
    'templates/a.yaml',
    'charts/common/templates/_h.tpl',
    'charts/redis-18.1.0.tgz/values.yaml',
    'charts/redis-18.1.0.tgz/templates/sts.yaml',
  ]);
  assert.is(c.textFiles.get('values.yaml'), 'image: nginx:1.25\n', 'the byte order mark is stripped, as Helm strips it');
});

test('long names through pax headers and ./-prefixed entries load', async () => {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => { for await (const c of pack) chunks.push(c as Buffer); })();
  const long = `mychart/templates/${'d'.repeat(120)}/${'f'.repeat(120)}.yaml`;
  pack.entry({ name: 'mychart/Chart.yaml' }, chartYaml());
  pack.entry({ name: long }, 'kind: X\n');
  pack.finalize();
  await done;
  const c = await check(gz(Buffer.concat(chunks)));
  assert.ok(c.textFiles.has(long.slice('mychart/'.length)));
  const dotted = gz(rawTar([{ name: './', type: '5' }, { name: './Chart.yaml', data: chartYaml() }, { name: './values.yaml', data: 'a: 1\n' }]));
  assert.is((await check(dotted)).metadata.name, 'mychart');
});

test('what Go accepts and so do we: no end-of-archive blocks, zero padding, concatenated members', async () => {
  const t = rawTar([{ name: 'mychart/Chart.yaml', data: chartYaml() }], { end: false });
  assert.is((await check(gz(t))).metadata.name, 'mychart');
  const full = gz(rawTar([{ name: 'mychart/Chart.yaml', data: chartYaml() }]));
  assert.is((await check(Buffer.concat([full, Buffer.alloc(4096)]))).metadata.name, 'mychart');
  await refused(Buffer.concat([full, Buffer.from('trailing junk')]), /has bytes after its gzip data/);
  const tarBytes = rawTar([{ name: 'mychart/Chart.yaml', data: chartYaml() }]);
  assert.is((await check(Buffer.concat([gz(tarBytes.subarray(0, 700)), gz(tarBytes.subarray(700))]))).metadata.name, 'mychart');
});

// --- hostile and broken archives --------------------------------------------------------------

test('a ".." segment is refused', async () => {
  await refused(withChart([{ name: 'mychart/templates/../../etc/passwd', data: 'x' }]), /"mychart\/templates\/..\/..\/etc\/passwd" has a "\.\." path segment/);
  await refused(withChart([{ name: 'mychart/..data', data: 'x' }]), /starts with "\.\."/);
});

test('absolute paths are refused, also after the top directory is stripped', async () => {
  await refused(gz(rawTar([{ name: '/mychart/Chart.yaml', data: chartYaml() }])), /is an absolute path/);
  await refused(withChart([{ name: 'mychart//etc/passwd', data: 'x' }]), /absolute path once the top-level directory is stripped/);
});

test('symlinks, hard links, devices and FIFOs are refused', async () => {
  await refused(withChart([{ name: 'mychart/values.yaml', type: '2', linkname: '/etc/passwd' }]), /a symbolic link \(mychart\/values\.yaml\)/);
  await refused(withChart([{ name: 'mychart/x', type: '1', linkname: 'mychart/Chart.yaml' }]), /a hard link/);
  await refused(withChart([{ name: 'mychart/null', type: '3' }]), /a character device/);
  await refused(withChart([{ name: 'mychart/blk', type: '4' }]), /a block device/);
  await refused(withChart([{ name: 'mychart/pipe', type: '6' }]), /a FIFO/);
});

test('two top-level directories are refused, naming both', async () => {
  await refused(withChart([{ name: 'other/values.yaml', data: 'a: 1\n' }]), /exactly one top-level directory \(mychart\/ and other\/ here\)/);
});

test('Chart.yaml at the archive root or missing is refused', async () => {
  await refused(gz(rawTar([{ name: 'Chart.yaml', data: chartYaml() }])), /sits at the top of the archive/);
  await refused(gz(rawTar([{ name: 'mychart/values.yaml', data: 'a: 1\n' }])), /has no mychart\/Chart\.yaml/);
  await refused(gz(rawTar([{ name: 'mychart/sub/Chart.yaml', data: chartYaml() }])), /has no mychart\/Chart\.yaml/);
  await refused(gz(rawTar([])), /holds no files/);
});

test('duplicate paths, a file that is also a directory, backslashes and control characters are refused', async () => {
  await refused(withChart([{ name: 'mychart/values.yaml', data: 'a: 1\n' }, { name: 'mychart/./values.yaml', data: 'a: 2\n' }]), /appears twice/);
  await refused(withChart([{ name: 'mychart/templates', data: 'x' }, { name: 'mychart/templates/a.yaml', data: 'y' }]), /needs "templates" to be a directory/);
  await refused(withChart([{ name: 'mychart\\templates\\a.yaml', data: 'x' }]), /backslash/);
  await refused(withChart([{ name: 'mychart/templates/\u001b[2Ja.yaml', data: 'x' }]), /\\x1b\[2Ja\.yaml" has control characters in its name/);
});

test('a file over 5 MiB is refused from its header, before its data', async () => {
  await refused(withChart([{ name: 'mychart/big.bin', data: Buffer.alloc(5 * 1024 * 1024 + 1) }]), /mychart\/big\.bin is 5\.00 MiB \(5242881 bytes\), larger than the 5\.00 MiB \(5242880 bytes\) Helm loads from a chart/);
  // A header that claims 3 GiB with no data behind it: refused at the header.
  const lying = gzipSync(Buffer.concat([tarHeader({ name: 'mychart/Chart.yaml', data: chartYaml() }), Buffer.from(chartYaml().padEnd(512, '\0')), tarHeader({ name: 'mychart/huge', size: 3 * 1024 ** 3 })]));
  await refused(lying, /MaxDecompressedChartSize/);
  const exactly = withChart([{ name: 'mychart/ok.bin', data: Buffer.alloc(5 * 1024 * 1024) }]);
  assert.is((await check(exactly)).metadata.name, 'mychart', 'exactly 5 MiB is allowed, as in Helm');
});

// gzip members concatenate, so a bomb of N × 4 MiB of zeros costs one compression of 4 MiB.
function bombOf(files: number, bytesEach: number, tail?: Buffer): Buffer {
  const zeros = gzipSync(Buffer.alloc(bytesEach));
  const parts: Buffer[] = [gzipSync(rawTar([{ name: 'mychart/Chart.yaml', data: chartYaml() }], { end: false }))];
  for (let i = 0; i < files; i++) {
    parts.push(gzipSync(tarHeader({ name: `mychart/files/${i}.bin`, size: bytesEach })), zeros);
    const p = (512 - (bytesEach % 512)) % 512;
    if (p) parts.push(gzipSync(Buffer.alloc(p)));
  }
  parts.push(gzipSync(Buffer.alloc(1024)));
  if (tail) parts.push(tail);
  return Buffer.concat(parts);
}

test('a bomb of files adding up to over 100 MiB is refused while it streams', async () => {
  const bomb = bombOf(30, 4 * 1024 * 1024);
  assert.ok(bomb.length < 1024 * 1024, 'the bomb itself is small');
  const started = Date.now();
  await refused(bomb, /decompresses to 100\.00 MiB \(104857600 bytes\) or more of files, Helm's limit for a chart/);
  assert.ok(Date.now() - started < 10_000);
  // 24 × 4 MiB = 96 MiB (+ Chart.yaml) stays below the limit and loads.
  assert.is((await check(bombOf(24, 4 * 1024 * 1024))).metadata.name, 'mychart');
  // The total must stay strictly below MaxDecompressedChartSize (Helm's remainingSize <= 0).
  const five = Buffer.alloc(5 * 1024 * 1024);
  const upTo = (total: number): Buffer => {
    const entries: RawEntry[] = [{ name: 'mychart/Chart.yaml', data: chartYaml() }];
    let left = total - chartYaml().length;
    for (let i = 0; left > 0; i++) {
      const n = Math.min(left, five.length);
      entries.push({ name: `mychart/f${i}`, data: five.subarray(0, n) });
      left -= n;
    }
    return gz(rawTar(entries));
  };
  await refused(upTo(MAX_DECOMPRESSED_CHART_SIZE), /MaxDecompressedChartSize/);
  assert.is((await check(upTo(MAX_DECOMPRESSED_CHART_SIZE - 1))).metadata.name, 'mychart');
});

test('inflation stops at the cap: gigabytes of zeros after the last entry are not inflated to the end', async () => {
  const chunk = gzipSync(Buffer.alloc(64 * 1024 * 1024));
  const tail = Buffer.concat(Array.from({ length: 64 }, () => chunk)); // 4 GiB of zeros
  const started = Date.now();
  await refused(bombOf(0, 512, tail), /inflates to more than 200\.00 MiB .*gzip bomb/);
  assert.ok(Date.now() - started < 20_000, `took ${Date.now() - started} ms`);
});

test('not gzip, a corrupt gzip stream, a truncated archive and a damaged tar header are refused', async () => {
  await refused(Buffer.from(chartYaml()), /not a gzip-compressed tar archive.*looks like a YAML file/);
  await refused(Buffer.from('PK\u0003\u0004zip'), /not a gzip-compressed tar archive/);
  const good = chartTgz(realisticChart());
  const corrupt = Buffer.from(good);
  corrupt[corrupt.length - 6] ^= 0xff; // the CRC
  await refused(corrupt, /not a valid gzip stream/);
  await refused(good.subarray(0, good.length - 30), /not a valid gzip stream|truncated/);
  const t = rawTar([{ name: 'mychart/Chart.yaml', data: chartYaml() }]);
  t[10] ^= 0x01;
  await refused(gz(t), /checksum mismatch/);
  const cut = rawTar([{ name: 'mychart/Chart.yaml', data: chartYaml() }, { name: 'mychart/values.yaml', data: 'a: 1\n'.repeat(500) }], { end: false });
  await refused(gz(cut.subarray(0, 1024 + 600)), /truncated/);
});

test('a version that is not SemVer 2 is refused with the form to write', async () => {
  await refused(chartTgz({ 'Chart.yaml': chartYaml('mychart', 'v1.2.3') }), /version "v1\.2\.3" is not a SemVer 2 version \(write it as 1\.2\.3, without the leading v\)/);
  await refused(chartTgz({ 'Chart.yaml': chartYaml('mychart', '1.2') }), /version "1\.2" is not a SemVer 2 version \(write it as 1\.2\.0\)/);
  await refused(chartTgz({ 'Chart.yaml': chartYaml('mychart', '01.2.3') }), /not a SemVer 2 version/);
  await refused(chartTgz({ 'Chart.yaml': 'apiVersion: v2\nname: mychart\n' }), /Chart\.yaml has no version/);
  assert.is((await check(chartTgz({ 'Chart.yaml': chartYaml('mychart', '1.2.3-rc.1+git.abc') }))).metadata.version, '1.2.3-rc.1+git.abc');
});

test('a name or version other than the source promised is refused, naming both', async () => {
  const c = chartTgz({ 'Chart.yaml': chartYaml('redis', '18.1.0') });
  const e = await rejectsCode(check(c, { name: 'redis-ha', version: '18.1.0' }), 'CHART_INVALID', /holds chart redis 18\.1\.0, not the redis-ha 18\.1\.0 it was fetched as/);
  assert.is(e.details.expectedName, 'redis-ha');
  await rejectsCode(check(c, { version: '18.2.0' }), 'CHART_INVALID', /holds chart redis 18\.1\.0, not the redis 18\.2\.0/);
  assert.is((await check(c, { name: 'redis', version: '18.1.0' })).metadata.name, 'redis');
});

test('Chart.yaml rules: name, apiVersion, type, dependencies, maintainers, YAML that is not a map', async () => {
  await refused(chartTgz({ 'Chart.yaml': chartYaml('a/b') }), /chart name "a\/b" is not allowed/);
  await refused(chartTgz({ 'Chart.yaml': chartYaml('..') }), /chart name "\.\." is not allowed/);
  await refused(chartTgz({ 'Chart.yaml': 'apiVersion: v2\nname: "my\\tchart"\nversion: 1.0.0\n' }), /control, format or non-ASCII space/);
  await refused(chartTgz({ 'Chart.yaml': 'apiVersion: v3\nname: x\nversion: 1.0.0\n' }), /apiVersion "v3" is neither v1 nor v2/);
  await refused(chartTgz({ 'Chart.yaml': chartYaml('x', '1.0.0', 'type: plugin\n') }), /type "plugin" must be application or library/);
  await refused(chartTgz({ 'Chart.yaml': chartYaml('x', '1.0.0', 'dependencies:\n  - name: a\n  - name: b\n    alias: a\n') }), /more than one dependency with name or alias "a"/);
  await refused(chartTgz({ 'Chart.yaml': chartYaml('x', '1.0.0', 'dependencies:\n  - version: 1.0.0\n') }), /dependencies\[0\] has no name/);
  await refused(chartTgz({ 'Chart.yaml': chartYaml('x', '1.0.0', 'dependencies:\n  - name: a\n    alias: "a b"\n') }), /disallowed characters in its alias/);
  await refused(chartTgz({ 'Chart.yaml': chartYaml('x', '1.0.0', 'maintainers:\n  -\n') }), /maintainers\[0\] is empty/);
  await refused(chartTgz({ 'Chart.yaml': '- apiVersion: v2\n' }), /Chart\.yaml is not a YAML map/);
  await refused(chartTgz({ 'Chart.yaml': '' }), /Chart\.yaml is empty/);
  await refused(chartTgz({ 'Chart.yaml': 'apiVersion: v2\nname: [x]\nversion: 1.0.0\n' }), /Chart\.yaml\.name is a list, where Helm expects a string/);
  await refused(chartTgz({ 'Chart.yaml': 'apiVersion: v2\nname: x\nversion: 1.0.0\nfoo: .nan\n' }), /NaN, which Helm cannot turn into JSON/);
  await refused(chartTgz({ 'Chart.yaml': 'apiVersion: v2\nname: x\nversion: !!python/object:os.system 1.0.0\n' }), /custom YAML tag/);
  await refused(chartTgz({ 'Chart.yaml': 'apiVersion: v2\nname: x\nversion: 1.0.0\nkey: [unclosed\n' }), /not YAML Helm can read/);
});

test('values.yaml, Chart.lock and charts/ must load as Helm loads them', async () => {
  await refused(chartTgz({ 'Chart.yaml': chartYaml(), 'values.yaml': '- a\n- b\n' }), /values\.yaml is not a YAML map/);
  await refused(chartTgz({ 'Chart.yaml': chartYaml(), 'values.yaml': 'a: .inf\n' }), /values\.yaml\.a is \+Inf/);
  await refused(chartTgz({ 'Chart.yaml': chartYaml(), 'Chart.lock': 'generated: yesterday\n' }), /Chart\.lock: Chart\.lock\.generated "yesterday" is not an RFC 3339 time/);
  await refused(chartTgz({ 'Chart.yaml': chartYaml(), 'charts/README.md': 'x' }), /charts\/README\.md is not a chart: it has no Chart\.yaml/);
  await refused(chartTgz({ 'Chart.yaml': chartYaml(), 'charts/broken.tgz': 'not gzip' }), /subchart charts\/broken\.tgz.*not a gzip-compressed tar archive/);
  await refused(chartTgz({ 'Chart.yaml': chartYaml(), 'charts/sub/Chart.yaml': chartYaml('sub', 'latest') }), /subchart charts\/sub.*version "latest" is not a SemVer 2 version/);
});

test('subcharts nested without end are refused at the depth limit', async () => {
  let inner = chartTgz({ 'Chart.yaml': chartYaml('c0') }, 'c0');
  for (let i = 1; i <= 12; i++) inner = chartTgz({ 'Chart.yaml': chartYaml(`c${i}`), [`charts/c${i - 1}.tgz`]: inner }, `c${i}`);
  await refused(inner, /nested more than 10 levels deep/);
});

test.run();
