// index.yaml as `helm repo index` writes it: fixtures/helm-index* are charts and the index
// helm v3.22 wrote for them (long strings folded at column 80, every quoting style, natural key
// order, `? ` keys, literal blocks with chomping hints). Both the round trip of helm's index and
// the index built from the charts themselves must come out byte for byte the same.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkChartArchive } from '../src/archive.js';
import { GO_ZERO_TIME } from '../src/go-yaml-emit.js';
import {
  indexEntryFor,
  mergeRepoIndex,
  readIndexForMerge,
  serializeRepoIndex,
} from '../src/repo-index-write.js';
import type { RepoIndex, RepoIndexEntry } from '../src/types.js';
import { rejectsCode } from '../../../test/helpers/assert.js';
import { chartTgz, chartYaml } from './helpers/charts.js';
import { helmBinary } from './helpers/helm-bin.js';

const FIX = (d: string) => new URL(`./fixtures/${d}/`, import.meta.url);
const fail = (fn: () => unknown, code: string, re: RegExp) => rejectsCode(Promise.resolve().then(fn), code, re);

function firstDiff(a: string, b: string): string {
  const x = a.split('\n');
  const y = b.split('\n');
  for (let i = 0; i < Math.max(x.length, y.length); i++) if (x[i] !== y[i]) return `line ${i + 1}:\n  helm: ${JSON.stringify(x[i])}\n  ours: ${JSON.stringify(y[i])}`;
  return '';
}

for (const fixture of ['helm-index', 'helm-index2']) {
  test(`${fixture}: helm's index.yaml read and written back is byte for byte the same`, async () => {
    const text = await readFile(new URL('index.yaml', FIX(fixture)), 'utf8');
    const out = serializeRepoIndex(readIndexForMerge(text, fixture));
    assert.ok(out === text, firstDiff(text, out));
  });

  test(`${fixture}: the index built from the charts is what helm repo index wrote`, async () => {
    const dir = FIX(fixture);
    const text = await readFile(new URL('index.yaml', dir), 'utf8');
    const helm = readIndexForMerge(text, fixture);
    const add: RepoIndexEntry[] = [];
    for (const f of (await readdir(dir)).filter((n) => n.endsWith('.tgz')).sort()) {
      const c = await checkChartArchive(await readFile(new URL(f, dir)), { where: f });
      const created = helm.entries[c.metadata.name]!.find((e) => e.version === c.metadata.version)!.created as string;
      add.push(indexEntryFor(c, { url: f, created }));
    }
    const built = mergeRepoIndex(undefined, add, new Date());
    built.generated = helm.generated!;
    const out = serializeRepoIndex(built);
    assert.ok(out === text, firstDiff(text, out));
  });
}

test('an empty index: empty entries in flow style, the zero time when nothing was generated', () => {
  assert.is(serializeRepoIndex({ apiVersion: 'v1', entries: {} }), `apiVersion: v1\nentries: {}\ngenerated: "${GO_ZERO_TIME}"\n`);
});

const entry = (name: string, version: string, digest: string, extra: Partial<RepoIndexEntry> = {}): RepoIndexEntry => ({ apiVersion: 'v2', name, version, urls: [`${name}-${version}.tgz`], digest, ...extra });

test('merging keeps every existing entry, keeps created for an unchanged digest, sorts newest first', () => {
  const existing: RepoIndex = {
    apiVersion: 'v1',
    generated: '2020-01-01T00:00:00Z',
    entries: {
      other: [entry('other', '0.1.0', 'aa', { created: '2020-01-01T00:00:00Z' })],
      app: [entry('app', '1.0.0', 'bb', { created: '2021-01-01T00:00:00Z' }), entry('app', '1.9.0', 'cc', { created: '2021-06-01T00:00:00Z' })],
    },
    annotations: { owner: 'team' },
    serverInfo: { contextPath: '/charts' },
  };
  const now = new Date('2024-05-06T07:08:09.5Z');
  const merged = mergeRepoIndex(existing, [entry('app', '1.9.0', 'sha256:CC'), entry('app', '1.10.0', 'dd'), entry('new', '2.0.0', 'ee', { created: '2023-03-03T03:03:03Z' })], now);
  assert.is(merged.generated, '2024-05-06T07:08:09.5Z');
  assert.equal(merged.entries.other!.map((e) => e.version), ['0.1.0']);
  assert.equal(merged.entries.app!.map((e) => [e.version, e.created]), [['1.10.0', '2024-05-06T07:08:09.5Z'], ['1.9.0', '2021-06-01T00:00:00Z'], ['1.0.0', '2021-01-01T00:00:00Z']]);
  assert.is(merged.entries.new![0]!.created, '2023-03-03T03:03:03Z');
  assert.equal(merged.annotations, { owner: 'team' });
  assert.equal(merged.serverInfo, { contextPath: '/charts' });
  assert.equal(existing.entries.app!.length, 2, 'the existing index is not changed');
});

test('the same name and version with another digest is CHART_CONFLICT unless replace is asked for', async () => {
  const existing: RepoIndex = { apiVersion: 'v1', entries: { app: [entry('app', '1.0.0', 'aa', { created: '2021-01-01T00:00:00Z' })] } };
  await fail(() => mergeRepoIndex(existing, [entry('app', '1.0.0', 'bb')], new Date()), 'CHART_CONFLICT', /already lists app 1\.0\.0 with digest aa, not bb/);
  const replaced = mergeRepoIndex(existing, [entry('app', '1.0.0', 'bb')], new Date('2024-01-01T00:00:00Z'), { replace: true });
  assert.equal(replaced.entries.app!.map((e) => [e.digest, e.created]), [['bb', '2024-01-01T00:00:00Z']]);
});

test('versions Helm cannot parse go last; v-prefixed and partial versions sort as Helm sorts them', () => {
  const m = mergeRepoIndex(undefined, ['1.0.0', 'not-a-version', 'v2.0.0', '1.5', '2.0.0-rc.1'].map((v) => entry('x', v, v)), new Date());
  assert.equal(m.entries.x!.map((e) => e.version), ['v2.0.0', '2.0.0-rc.1', '1.5', '1.0.0', 'not-a-version']);
});

test('an entry from a chart: Chart.yaml fields, bare hex digest, the url given', async () => {
  const c = await checkChartArchive(chartTgz({ 'Chart.yaml': chartYaml('web', '1.2.3', 'appVersion: "2.0"\ndescription: Web\n') }, 'web'), { where: 'w' });
  const e = indexEntryFor(c, { url: 'https://charts.example.com/web-1.2.3.tgz', created: '2024-01-01T00:00:00Z' });
  assert.is(e.digest, c.digest.slice('sha256:'.length));
  const text = serializeRepoIndex(mergeRepoIndex(undefined, [e], new Date('2024-01-01T00:00:00Z')));
  assert.is(text, [
    'apiVersion: v1',
    'entries:',
    '  web:',
    '  - apiVersion: v2',
    '    appVersion: "2.0"',
    '    created: "2024-01-01T00:00:00Z"',
    '    description: Web',
    `    digest: ${c.digest.slice(7)}`,
    '    name: web',
    '    urls:',
    '    - https://charts.example.com/web-1.2.3.tgz',
    '    version: 1.2.3',
    'generated: "2024-01-01T00:00:00Z"',
    '',
  ].join('\n'));
});

test('readIndexForMerge: JSON indexes, unknown keys dropped, an index without apiVersion refused', async () => {
  const j = readIndexForMerge(JSON.stringify({ apiVersion: 'v1', entries: { a: [{ name: 'a', version: '1.0.0', urls: ['a-1.0.0.tgz'], appVersion: 2, bogus: 1 }, null] } }), 'idx');
  assert.equal(j.entries.a, [{ name: 'a', version: '1.0.0', urls: ['a-1.0.0.tgz'], appVersion: '2' }]);
  await fail(() => readIndexForMerge('entries: {}\n', 'dir:/srv/charts'), 'TARGET_ERROR', /dir:\/srv\/charts: index\.yaml has no apiVersion; Helm cannot read it either/);
  await fail(() => readIndexForMerge('', 'x'), 'TARGET_ERROR', /index\.yaml is empty/);
  await fail(() => readIndexForMerge('- a\n', 'x'), 'TARGET_ERROR', /not a YAML map/);
  await fail(() => readIndexForMerge('apiVersion: v1\nentries:\n  a:\n  - name: [x]\n', 'x'), 'TARGET_ERROR', /entries\.a\[0\].*name is a list/);
});

test('real helm reads a merged index strictly', async () => {
  const helm = await helmBinary();
  const root = await mkdtemp(join(tmpdir(), 'ferry-idx-'));
  try {
    const text = await readFile(new URL('index.yaml', FIX('helm-index')), 'utf8');
    const merged = mergeRepoIndex(readIndexForMerge(text, 'x'), [entry('zz', '1.0.0', 'ab'.repeat(32), { description: 'x'.repeat(50) + ' ' + 'y '.repeat(40) })], new Date());
    await writeFile(join(root, 'ours.yaml'), serializeRepoIndex(merged));
    await mkdir(join(root, 'empty'));
    // --merge loads ours.yaml with Helm's strict reader, merges it into an empty directory's index.
    await promisify(execFile)(helm, ['repo', 'index', join(root, 'empty'), '--merge', join(root, 'ours.yaml')], { env: { ...process.env, HOME: root } });
    const back = await readFile(join(root, 'empty', 'index.yaml'), 'utf8');
    const round = readIndexForMerge(back, 'helm');
    assert.equal(Object.keys(round.entries).sort(), Object.keys(merged.entries).sort());
    assert.is(round.entries.zz![0]!.description, merged.entries.zz![0]!.description);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test.run();
