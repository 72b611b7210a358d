// DirChartSink: charts, provenance and a merged index.yaml in a directory; links never
// followed; conflicts refused unless forced; one writer at a time.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, lstatSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Digest } from '@ferry/format-spec';
import { DirChartSink } from '../../src/sinks/dir.js';
import { checkChartArchive } from '../../src/archive.js';
import { helmOciArtifact } from '../../src/oci-artifact.js';
import { readIndexForMerge } from '../../src/repo-index-write.js';
import type { ChartUpload } from '../../src/types.js';
import { rejectsCode } from '../../../../test/helpers/assert.js';
import { chartTgz, chartYaml } from '../helpers/charts.js';
import { helmBinary } from '../helpers/helm-bin.js';

let root = '';
let n = 0;
test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'ferry-dirsink-'));
});
test.after(async () => {
  await rm(root, { recursive: true, force: true });
});
const fresh = async (): Promise<string> => {
  const d = join(root, `t${n++}`);
  await mkdir(d);
  return d;
};
const NOW = new Date('2024-06-01T12:00:00.25Z');

async function upload(name: string, version: string, o: { prov?: string; created?: string; desc?: string } = {}): Promise<ChartUpload> {
  const archive = chartTgz({ 'Chart.yaml': chartYaml(name, version, `description: ${o.desc ?? 'd'}\n`) }, name);
  const c = await checkChartArchive(archive, { where: name });
  const prov = o.prov === undefined ? undefined : Buffer.from(o.prov);
  const a = helmOciArtifact(c, prov ? { provenance: prov } : {});
  return {
    name, version, archive, digest: c.digest, metadata: c.metadata,
    ...(prov ? { provenance: prov } : {}),
    ...(o.created ? { created: o.created } : {}),
    oci: { manifest: a.manifest, manifestDigest: a.manifestDigest, manifestMediaType: a.manifestMediaType, config: a.config, configDigest: a.configDigest },
  };
}

test('put writes <name>-<version>.tgz and .prov, finish writes index.yaml as helm repo index would', async () => {
  const dir = await fresh();
  const sink = new DirChartSink(dir, { now: () => NOW });
  await sink.preflight();
  const web = await upload('web', '1.2.3', { prov: 'PROV', created: '2024-01-01T00:00:00Z' });
  assert.equal(await sink.check(web), { state: 'absent' });
  assert.is(await sink.put(web, { force: false }), 'uploaded');
  await sink.finish();
  await sink.close();
  assert.ok((await readFile(join(dir, 'web-1.2.3.tgz'))).equals(web.archive));
  assert.is(await readFile(join(dir, 'web-1.2.3.tgz.prov'), 'utf8'), 'PROV');
  assert.is(await readFile(join(dir, 'index.yaml'), 'utf8'), [
    'apiVersion: v1',
    'entries:',
    '  web:',
    '  - apiVersion: v2',
    '    created: "2024-01-01T00:00:00Z"',
    '    description: d',
    `    digest: ${web.digest.slice('sha256:'.length)}`,
    '    name: web',
    '    urls:',
    '    - web-1.2.3.tgz',
    '    version: 1.2.3',
    'generated: "2024-06-01T12:00:00.25Z"',
    '',
  ].join('\n'));
  assert.equal(await sink.check(web), { state: 'same' });
  assert.equal(await readdir(join(dir, '.ferry', 'tmp')), [], 'no temp file left');
  assert.not.ok(existsSync(join(dir, '.ferry', 'lock')), 'the lock is released');
  assert.is(sink.locationOf(web), `dir:${join(dir, 'web-1.2.3.tgz')}`);
});

test('merging into an existing index keeps other entries and the created of an unchanged chart', async () => {
  const dir = await fresh();
  const web = await upload('web', '1.0.0');
  await writeFile(join(dir, 'web-1.0.0.tgz'), web.archive);
  await writeFile(join(dir, 'index.yaml'), [
    'apiVersion: v1',
    'entries:',
    '  other:',
    '  - apiVersion: v2',
    '    created: "2020-02-02T02:02:02.123456789Z"',
    '    digest: 00',
    '    name: other',
    '    urls:',
    '    - https://elsewhere.example.com/other-0.1.0.tgz',
    '    version: 0.1.0',
    '  web:',
    '  - apiVersion: v2',
    '    created: "2021-01-01T00:00:00Z"',
    `    digest: ${web.digest.slice(7)}`,
    '    name: web',
    '    urls:',
    '    - web-1.0.0.tgz',
    '    version: 1.0.0',
    'generated: "2021-01-01T00:00:00Z"',
    '',
  ].join('\n'));
  const sink = new DirChartSink(dir, { now: () => NOW });
  assert.is(await sink.put(web, { force: false }), 'skipped', 'the same bytes are already there');
  assert.is(await sink.put(await upload('web', '1.1.0'), { force: false }), 'uploaded');
  await sink.finish();
  await sink.close();
  const idx = readIndexForMerge(await readFile(join(dir, 'index.yaml'), 'utf8'), 'x');
  assert.equal(idx.entries.other!.map((e) => [e.version, e.created, e.urls]), [['0.1.0', '2020-02-02T02:02:02.123456789Z', ['https://elsewhere.example.com/other-0.1.0.tgz']]]);
  assert.equal(idx.entries.web!.map((e) => [e.version, e.created]), [['1.1.0', '2024-06-01T12:00:00.25Z'], ['1.0.0', '2021-01-01T00:00:00Z']]);
  assert.is(idx.generated, '2024-06-01T12:00:00.25Z');
});

test('a symlink planted for a chart or index.yaml is refused, never followed', async () => {
  const dir = await fresh();
  const outside = join(root, `outside-${n++}`);
  await writeFile(outside, 'precious');
  const web = await upload('web', '1.0.0');
  await symlink(outside, join(dir, 'web-1.0.0.tgz'));
  const sink = new DirChartSink(dir);
  await rejectsCode(sink.check(web), 'TARGET_ERROR', /web-1\.0\.0\.tgz is a symbolic link, where chart web-1\.0\.0\.tgz belongs; Ferry does not follow or replace links/);
  await rejectsCode(sink.put(web, { force: true }), 'TARGET_ERROR', /is a symbolic link/);
  assert.is(await readFile(outside, 'utf8'), 'precious');
  assert.is(await readlink(join(dir, 'web-1.0.0.tgz')), outside, 'the link itself is left alone');
  await sink.close();

  const dir2 = await fresh();
  await symlink(outside, join(dir2, 'index.yaml'));
  const s2 = new DirChartSink(dir2);
  await rejectsCode(s2.preflight(), 'TARGET_ERROR', /index\.yaml is a symbolic link/);
  await s2.put(web, { force: false });
  await rejectsCode(s2.finish(), 'TARGET_ERROR', /index\.yaml is a symbolic link/);
  await s2.close();
  assert.is(await readFile(outside, 'utf8'), 'precious');
  assert.ok(lstatSync(join(dir2, 'index.yaml')).isSymbolicLink());

  const dir3 = await fresh();
  await symlink(outside, join(dir3, 'web-1.0.0.tgz.prov'));
  const s3 = new DirChartSink(dir3);
  await rejectsCode(s3.put(await upload('web', '1.0.0', { prov: 'P' }), { force: false }), 'TARGET_ERROR', /web-1\.0\.0\.tgz\.prov is a symbolic link/);
  await s3.close();
  assert.is(await readFile(outside, 'utf8'), 'precious');
});

test('PATH must be a real directory: a link or a file there is refused', async () => {
  const real = await fresh();
  const link = join(root, `link-${n++}`);
  await symlink(real, link);
  const web = await upload('web', '1.0.0');
  await rejectsCode(new DirChartSink(link).preflight(), 'TARGET_ERROR', /is a symbolic link, where the chart directory belongs/);
  const s = new DirChartSink(link);
  await rejectsCode(s.put(web, { force: false }), 'TARGET_ERROR', /symbolic link/);
  await s.close();
  assert.equal(await readdir(real), []);
  const file = join(root, `file-${n++}`);
  await writeFile(file, 'x');
  await rejectsCode(new DirChartSink(file).preflight(), 'TARGET_ERROR', /is a regular file, where the chart directory belongs/);
  await rejectsCode(new DirChartSink(join(file, 'sub')).preflight(), 'TARGET_ERROR', /is a file where a directory is needed/);
  await new DirChartSink(join(root, `new-${n++}`, 'deeper')).preflight();
});

test('a different chart of the same name and version: check says different, put refuses unless forced', async () => {
  const dir = await fresh();
  const v1 = await upload('web', '1.0.0', { desc: 'first', prov: 'OLD PROV' });
  const first = new DirChartSink(dir, { now: () => NOW });
  await first.put(v1, { force: false });
  await first.finish();
  await first.close();
  const v2 = await upload('web', '1.0.0', { desc: 'second' });
  const sink = new DirChartSink(dir, { now: () => new Date('2025-01-01T00:00:00Z') });
  const p = await sink.check(v2);
  assert.is(p.state, 'different');
  assert.ok(p.state === 'different' && p.detail.includes(v1.digest) && p.detail.includes(v2.digest), 'the detail names both digests');
  await rejectsCode(sink.put(v2, { force: false }), 'CHART_CONFLICT', /already holds web 1\.0\.0 with other bytes/);
  assert.ok((await readFile(join(dir, 'web-1.0.0.tgz'))).equals(v1.archive), 'nothing was replaced');
  assert.is(await sink.put(v2, { force: true }), 'uploaded');
  await sink.finish();
  await sink.close();
  assert.ok((await readFile(join(dir, 'web-1.0.0.tgz'))).equals(v2.archive));
  assert.not.ok(existsSync(join(dir, 'web-1.0.0.tgz.prov')), 'the old .prov signed other bytes: removed');
  const idx = readIndexForMerge(await readFile(join(dir, 'index.yaml'), 'utf8'), 'x');
  assert.equal(idx.entries.web!.map((e) => [e.digest, e.created]), [[v2.digest.slice(7), '2025-01-01T00:00:00Z']]);
});

test('two sinks on one directory: the second waits for the first or is refused with TARGET_BUSY', async () => {
  const dir = await fresh();
  const a = new DirChartSink(dir, { now: () => NOW });
  const b = new DirChartSink(dir, { now: () => NOW });
  await a.put(await upload('a', '1.0.0'), { force: false });
  await rejectsCode(b.put(await upload('b', '1.0.0'), { force: false }), 'TARGET_BUSY', /writing charts into/);
  const waiting = new DirChartSink(dir, { now: () => NOW, lockWaitMs: 10_000 });
  const later = waiting.put(await upload('c', '1.0.0'), { force: false });
  await new Promise((r) => setTimeout(r, 100));
  await a.finish();
  await a.close();
  assert.is(await later, 'uploaded');
  await waiting.finish();
  await waiting.close();
  await b.put(await upload('b', '1.0.0'), { force: false });
  await b.finish();
  await b.close();
  const idx = readIndexForMerge(await readFile(join(dir, 'index.yaml'), 'utf8'), 'x');
  assert.equal(Object.keys(idx.entries).sort(), ['a', 'b', 'c'], 'no writer lost another one\'s entry');
});

test('baseUrl makes index urls absolute and names the served location', async () => {
  const dir = await fresh();
  const sink = new DirChartSink(dir, { baseUrl: 'https://charts.example.com/stable/', now: () => NOW });
  const web = await upload('web', '1.0.0+build.7');
  assert.is(sink.locationOf(web), 'https://charts.example.com/stable/web-1.0.0+build.7.tgz');
  await sink.put(web, { force: false });
  await sink.finish();
  await sink.close();
  assert.match(await readFile(join(dir, 'index.yaml'), 'utf8'), /    urls:\n    - https:\/\/charts\.example\.com\/stable\/web-1\.0\.0\+build\.7\.tgz\n/);
});

test('bytes that do not match the digest are refused before anything is written', async () => {
  const dir = await fresh();
  const sink = new DirChartSink(dir);
  const web = await upload('web', '1.0.0');
  await rejectsCode(sink.put({ ...web, digest: sha256Digest('other') }, { force: false }), 'BLOB_MISMATCH', /do not match/);
  await sink.close();
  assert.equal((await readdir(dir)).filter((f) => f !== '.ferry'), []);
});

test('real helm reads the index the dir sink writes (its strict reader, through repo index --merge)', async () => {
  const helm = await helmBinary();
  const dir = await fresh();
  const sink = new DirChartSink(dir, { now: () => NOW });
  await sink.put(await upload('web', '1.0.0'), { force: false });
  await sink.finish();
  await sink.close();
  const home = await fresh();
  const env = { ...process.env, HOME: home, HELM_CONFIG_HOME: join(home, 'c'), HELM_CACHE_HOME: join(home, 'k'), HELM_DATA_HOME: join(home, 'd') };
  const run = promisify(execFile);
  // --merge loads the index with Helm's strict reader.
  await mkdir(join(home, 'empty'));
  await run(helm, ['repo', 'index', join(home, 'empty'), '--merge', join(dir, 'index.yaml')], { env });
  assert.match(await readFile(join(home, 'empty', 'index.yaml'), 'utf8'), /name: web/);
});

test.run();
