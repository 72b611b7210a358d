// index.yaml parsing and version choice as Helm does them (pkg/repo/index.go loadIndex and Get
// on Masterminds/semver 3.4): refusals, skipped entries with notes, sorting, exact versions,
// ranges, and prereleases only when the range names one.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseRepoIndex, pickVersion, resolveChartVersion } from '../src/repo-index-read.js';
import { ferryError } from './fixtures.js';

const INDEX = `apiVersion: v1
entries:
  app:
    - apiVersion: v2
      name: app
      version: 1.2.3
      urls: [app-1.2.3.tgz]
      digest: ${'a'.repeat(64)}
      created: "2024-01-02T03:04:05.123456789Z"
    - name: app
      version: 2.0.0-rc.1
      urls: [app-2.0.0-rc.1.tgz]
    - name: app
      version: 1.10.0
      urls: [app-1.10.0.tgz]
      checksum: deadbeef
      engine: gotpl
    - name: app
      version: 2.1.0-beta.2
      urls: [app-2.1.0-beta.2.tgz]
    - name: app
      version: 1.2.10+build.7
      urls: [app-1.2.10+build.7.tgz]
    - name: app
      version: not-semver
      urls: [x.tgz]
    - null
    - name: app
      version: 1.0
      urls: [y.tgz]
  only-pre:
    - name: only-pre
      version: 0.1.0-alpha.1
      urls: [p.tgz]
  empty: []
generated: "2024-01-02T03:04:05Z"
serverInfo:
  contextPath: /x
annotations:
  owner: ops
`;

test('YAML index: valid entries kept and sorted newest first, invalid ones skipped with notes', () => {
  const notes: string[] = [];
  const idx = parseRepoIndex(Buffer.from(INDEX), 'https://r/index.yaml', notes);
  assert.is(idx.apiVersion, 'v1');
  assert.equal(idx.entries.app!.map((e) => e.version), ['2.1.0-beta.2', '2.0.0-rc.1', '1.10.0', '1.2.10+build.7', '1.2.3']);
  assert.is(idx.entries.app!.find((e) => e.version === '1.2.3')!.apiVersion, 'v2');
  assert.is(idx.entries.app!.find((e) => e.version === '1.10.0')!.apiVersion, 'v1');
  assert.is(idx.entries.app!.find((e) => e.version === '1.2.3')!.created, '2024-01-02T03:04:05.123456789Z');
  assert.equal(idx.entries.empty, []);
  assert.is(idx.generated, '2024-01-02T03:04:05Z');
  assert.equal(idx.annotations, { owner: 'ops' });
  assert.equal(idx.serverInfo, { contextPath: '/x' });
  assert.ok(notes.some((n) => n.includes('not-semver') && n.includes('not SemVer')), notes.join('\n'));
  assert.ok(notes.some((n) => n.includes('empty entry')), notes.join('\n'));
  assert.ok(notes.some((n) => n.includes('YAML number')), notes.join('\n'));
  assert.ok(notes.some((n) => n.includes('deprecated keys')), notes.join('\n'));
});

test('JSON index is read too', () => {
  const idx = parseRepoIndex(Buffer.from(JSON.stringify({ apiVersion: 'v1', entries: { a: [{ name: 'a', version: '0.1.0', urls: ['a.tgz'] }] } })), 'x');
  assert.is(idx.entries.a![0]!.urls[0], 'a.tgz');
});

test('refused: empty, no apiVersion (Helm ErrNoAPIVersion), not a mapping, bad YAML', async () => {
  const e1 = await ferryError(Promise.resolve().then(() => parseRepoIndex(Buffer.alloc(0), 'u')), 'CHART_REPO_ERROR');
  assert.match(e1.message, 'empty index.yaml');
  const e2 = await ferryError(Promise.resolve().then(() => parseRepoIndex(Buffer.from('entries: {}\n'), 'u')), 'CHART_REPO_ERROR');
  assert.match(e2.message, 'no API version specified');
  await ferryError(Promise.resolve().then(() => parseRepoIndex(Buffer.from('- a\n- b\n'), 'u')), 'CHART_REPO_ERROR');
  await ferryError(Promise.resolve().then(() => parseRepoIndex(Buffer.from('apiVersion: v1\nentries: [\n'), 'u')), 'CHART_REPO_ERROR');
  await ferryError(Promise.resolve().then(() => parseRepoIndex(Buffer.from('apiVersion: v1\nentries: 3\n'), 'u')), 'CHART_REPO_ERROR');
});

test('an alias bomb is refused rather than expanded', async () => {
  const lines = ['apiVersion: v1', 'a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 0; i < 12; i++) lines.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`);
  lines.push('entries: {}');
  await ferryError(Promise.resolve().then(() => parseRepoIndex(Buffer.from(lines.join('\n')), 'u')), 'CHART_REPO_ERROR');
});

test('resolve: exact version, including build metadata', () => {
  const idx = parseRepoIndex(Buffer.from(INDEX), 'u');
  assert.is(resolveChartVersion(idx, 'app', '1.2.3').version, '1.2.3');
  assert.is(resolveChartVersion(idx, 'app', '1.2.10+build.7').version, '1.2.10+build.7');
  assert.is(resolveChartVersion(idx, 'app', '2.0.0-rc.1').version, '2.0.0-rc.1');
});

test('resolve: no version → newest stable (prereleases skipped)', () => {
  const idx = parseRepoIndex(Buffer.from(INDEX), 'u');
  assert.is(resolveChartVersion(idx, 'app').version, '1.10.0');
});

test('resolve: ranges pick the newest satisfying; prereleases only when the range names one', () => {
  const idx = parseRepoIndex(Buffer.from(INDEX), 'u');
  assert.is(resolveChartVersion(idx, 'app', '^1.2.0').version, '1.10.0');
  assert.is(resolveChartVersion(idx, 'app', '~1.2').version, '1.2.10+build.7');
  assert.is(resolveChartVersion(idx, 'app', '~1.2.3').version, '1.2.10+build.7');
  assert.is(resolveChartVersion(idx, 'app', '>= 1.0.0, < 1.5.0').version, '1.2.10+build.7');
  assert.is(resolveChartVersion(idx, 'app', '1.2.x').version, '1.2.10+build.7');
  assert.is(resolveChartVersion(idx, 'app', '1.2.3 - 1.3').version, '1.2.10+build.7');
  assert.is(resolveChartVersion(idx, 'app', '=> 1.2.3 =< 1.2.5').version, '1.2.3');
  // Masterminds 3.4: one prerelease in an AND group opens prereleases for that group, any tuple.
  assert.is(resolveChartVersion(idx, 'app', '>=2.0.0-0').version, '2.1.0-beta.2');
  assert.is(resolveChartVersion(idx, 'app', '>=1.0.0-0 <2.1.0').version, '2.1.0-beta.2');
  assert.is(resolveChartVersion(idx, 'app', '>=1.0.0-0 <2.0.0').version, '2.0.0-rc.1');
  // …but not across OR groups.
  assert.is(resolveChartVersion(idx, 'app', '>=9.0.0-0 || >=1.5.0').version, '1.10.0');
  assert.is(resolveChartVersion(idx, 'app', '>1.10.0 || ^1.2').version, '1.10.0');
});

test('resolve: a miss is SOURCE_NOT_FOUND listing the newest versions; a bad range is USAGE', async () => {
  const idx = parseRepoIndex(Buffer.from(INDEX), 'u');
  const e = await ferryError(Promise.resolve().then(() => resolveChartVersion(idx, 'app', '^3.0.0', 'https://r')), 'SOURCE_NOT_FOUND');
  assert.match(e.message, 'no version matching "^3.0.0"');
  assert.match(e.message, 'newest available: 2.1.0-beta.2, 2.0.0-rc.1, 1.10.0, 1.2.10+build.7, 1.2.3');
  assert.match(e.message, 'newest stable: 1.10.0');
  const e2 = await ferryError(Promise.resolve().then(() => resolveChartVersion(idx, 'only-pre')), 'SOURCE_NOT_FOUND');
  assert.match(e2.message, 'only prereleases');
  assert.match(e2.message, '0.1.0-alpha.1');
  const e3 = await ferryError(Promise.resolve().then(() => resolveChartVersion(idx, 'nope')), 'SOURCE_NOT_FOUND');
  assert.match(e3.message, 'chart "nope" not found');
  await ferryError(Promise.resolve().then(() => resolveChartVersion(idx, 'empty')), 'SOURCE_NOT_FOUND');
  await ferryError(Promise.resolve().then(() => resolveChartVersion(idx, 'app', 'latest-and-greatest')), 'USAGE');
  await ferryError(Promise.resolve().then(() => resolveChartVersion(idx, 'app', '!=1.2.3')), 'USAGE');
  // A name inherited from Object.prototype is no chart.
  await ferryError(Promise.resolve().then(() => resolveChartVersion(idx, 'constructor')), 'SOURCE_NOT_FOUND');
});

test('pickVersion over plain tag lists (the OCI source)', () => {
  const tags = ['0.9.0', '1.0.0', '1.1.0-rc.1', '1.0.1+meta', 'latest'.replace('latest', '1.0.0-0')];
  assert.is(pickVersion(tags), '1.0.1+meta');
  assert.is(pickVersion(tags, '~1.0'), '1.0.1+meta');
  assert.is(pickVersion(tags, '>=1.1.0-0'), '1.1.0-rc.1');
  assert.is(pickVersion(tags, '^2'), undefined);
  assert.is(pickVersion(tags, '0.9.0'), '0.9.0');
});

test.run();
