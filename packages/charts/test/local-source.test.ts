// localCharts: .tgz paths, chart directories and globs, with .prov siblings, in a stable order.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { localCharts } from '../src/local-source.js';
import { checkChartArchive } from '../src/archive.js';
import { rejectsCode } from '../../../test/helpers/assert.js';
import { chartTgz, chartYaml, realisticChart } from './helpers/charts.js';

let root = '';
test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'ferry-local-'));
  const put = async (p: string, data: string | Buffer): Promise<void> => {
    await mkdir(dirname(join(root, p)), { recursive: true });
    await writeFile(join(root, p), data);
  };
  await put('repo/b-1.0.0.tgz', chartTgz({ 'Chart.yaml': chartYaml('b', '1.0.0') }, 'b'));
  await put('repo/a-2.0.0.tgz', chartTgz({ 'Chart.yaml': chartYaml('a', '2.0.0') }, 'a'));
  await put('repo/a-2.0.0.tgz.prov', '-----BEGIN PGP SIGNED MESSAGE-----\n');
  await put('repo/README.md', 'not a chart');
  await utimes(join(root, 'repo/a-2.0.0.tgz'), new Date('2024-01-02T03:04:05.678Z'), new Date('2024-01-02T03:04:05.678Z'));
  for (const [p, data] of Object.entries(realisticChart('dirchart', '0.1.0'))) await put(`src/dirchart/${p}`, data);
  await put('src/notachart/values.yaml', 'a: 1\n');
});
test.after(async () => {
  await rm(root, { recursive: true, force: true });
});

test('a .tgz path carries its .prov and its mtime as created; source is the path as written', async () => {
  const [a] = await localCharts(['repo/a-2.0.0.tgz'], root);
  assert.is(a!.source, 'repo/a-2.0.0.tgz');
  assert.is(a!.provenance?.toString(), '-----BEGIN PGP SIGNED MESSAGE-----\n');
  assert.is(a!.created, '2024-01-02T03:04:05Z');
  assert.is((await checkChartArchive(a!.archive, { where: a!.source })).metadata.name, 'a');
  const [b] = await localCharts([join(root, 'repo/b-1.0.0.tgz')], '/');
  assert.is(b!.provenance, undefined);
});

test('a chart directory is packaged; a directory without Chart.yaml is not a chart', async () => {
  const [d] = await localCharts(['src/dirchart'], root);
  assert.is(d!.source, 'src/dirchart');
  assert.is((await checkChartArchive(d!.archive, { where: d!.source })).metadata.name, 'dirchart');
  await rejectsCode(localCharts(['src/notachart'], root), 'SOURCE_NOT_FOUND', /src\/notachart is a directory without Chart\.yaml/);
});

test('globs match .tgz files and chart directories, in byte order, each named by its matched path', async () => {
  const got = await localCharts(['repo/*', 'src/*'], root);
  assert.equal(got.map((c) => c.source), ['repo/a-2.0.0.tgz', 'repo/b-1.0.0.tgz', 'src/dirchart']);
});

test('a chart matched twice is returned once, where it was first matched', async () => {
  const got = await localCharts(['repo/b-1.0.0.tgz', 'repo/*.tgz', join(root, 'repo/a-2.0.0.tgz')], root);
  assert.equal(got.map((c) => c.source), ['repo/b-1.0.0.tgz', 'repo/a-2.0.0.tgz']);
});

test('a pattern that matches nothing is SOURCE_NOT_FOUND naming it', async () => {
  await rejectsCode(localCharts(['repo/missing-1.0.0.tgz'], root), 'SOURCE_NOT_FOUND', /chart path repo\/missing-1\.0\.0\.tgz not found/);
  await rejectsCode(localCharts(['nothing/*.tgz'], root), 'SOURCE_NOT_FOUND', /no chart matches "nothing\/\*\.tgz"/);
  await rejectsCode(localCharts(['repo/*.md'], root), 'SOURCE_NOT_FOUND', /no chart matches "repo\/\*\.md"/);
});

test.run();
