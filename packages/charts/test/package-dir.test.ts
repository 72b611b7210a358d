// packageChartDir: helm package's layout, reproducible bytes, Helm's .helmignore rules.
import { test } from 'uvu';
import { helmBinary } from './helpers/helm-bin.js';
import * as assert from 'uvu/assert';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { PACKAGE_MTIME, helmIgnores, packageChartDir, parseHelmIgnore } from '../src/package-dir.js';
import { checkChartArchive } from '../src/archive.js';
import { rejectsCode } from '../../../test/helpers/assert.js';
import { chartTgz, chartYaml, realisticChart } from './helpers/charts.js';

let root = '';
test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'ferry-pkg-'));
});
test.after(async () => {
  await rm(root, { recursive: true, force: true });
});

let n = 0;
async function chartDir(files: Record<string, string | Buffer>): Promise<string> {
  const dir = join(root, `c${n++}`);
  for (const [p, data] of Object.entries(files)) {
    await mkdir(dirname(join(dir, p)), { recursive: true });
    await writeFile(join(dir, p), data);
  }
  return dir;
}

interface Listed { name: string; mode: number; uid: number; gid: number; mtime: number; size: number; type: string }
async function list(tgz: Buffer): Promise<Listed[]> {
  const ex = tar.extract();
  const out: Listed[] = [];
  const done = (async () => {
    for await (const e of ex) {
      const h = e.header;
      out.push({ name: h.name, mode: h.mode ?? 0, uid: h.uid ?? -1, gid: h.gid ?? -1, mtime: h.mtime?.getTime() ?? -1, size: h.size ?? 0, type: h.type ?? '' });
      e.resume();
    }
  })();
  ex.end(gunzipSync(tgz));
  await done;
  return out;
}

test('helm package layout: <name>/ top, Chart.yaml first, sorted, fixed mtime, uid/gid 0, exec bit kept', async () => {
  // Written out of order (libuv's scandir returns names byte-sorted anyway; Ferry sorts again).
  const dir = await chartDir({ 'zz.txt': 'z', 'templates/_helpers.tpl': '{{/* x */}}\n', 'scripts/run.sh': '#!/bin/sh\n', 'crds/a.yaml': 'kind: CRD\n', 'README.md': '# r\n', ...realisticChart('redis', '7.2.4'), 'Aa.txt': 'a' });
  await chmod(join(dir, 'scripts/run.sh'), 0o750);
  const { archive, metadata } = await packageChartDir(dir);
  assert.is(metadata.name, 'redis');
  const entries = await list(archive);
  assert.equal(entries.map((e) => e.name), [
    'redis/Chart.yaml',
    'redis/Aa.txt',
    'redis/README.md',
    'redis/crds/a.yaml',
    'redis/scripts/run.sh',
    'redis/templates/_helpers.tpl',
    'redis/templates/deployment.yaml',
    'redis/values.yaml',
    'redis/zz.txt',
  ]);
  for (const e of entries) {
    assert.is(e.type, 'file');
    assert.is(e.uid, 0);
    assert.is(e.gid, 0);
    assert.is(e.mtime, PACKAGE_MTIME.getTime());
    assert.is(e.mode, e.name.endsWith('run.sh') ? 0o755 : 0o644, e.name);
  }
  assert.equal([...archive.subarray(0, 10)], [0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 2, 0xff], 'no time, name or OS in the gzip header');
  const checked = await checkChartArchive(archive, { where: dir });
  assert.is(checked.metadata.version, '7.2.4');
});

test('the same directory packages to the same bytes, twice', async () => {
  const dir = await chartDir(realisticChart());
  const a = await packageChartDir(dir);
  const b = await packageChartDir(dir);
  assert.ok(a.archive.equals(b.archive));
  await writeFile(join(dir, 'values.yaml'), 'changed: true\n');
  assert.not.ok((await packageChartDir(dir)).archive.equals(a.archive), 'and other content to other bytes');
});

test('.helmignore: globs, directories, anchors, comments; templates/.* and .git always left out', async () => {
  const dir = await chartDir({
    ...realisticChart(),
    '.helmignore': '# comment\n\n*.tmp\nsecrets/\n/root-only.txt\ndocs/*.md\n',
    'a.tmp': 'x', 'templates/b.tmp': 'x', 'secrets/key': 'x', 'root-only.txt': 'x', 'templates/root-only.txt': 'kept',
    'docs/x.md': 'x', 'docs/deep/y.md': 'kept', 'templates/.hidden.yaml': 'x', '.git/config': 'x', 'templates/.git': 'x',
  });
  const names = (await list((await packageChartDir(dir)).archive)).map((e) => e.name.slice('mychart/'.length));
  assert.equal(names, ['Chart.yaml', '.helmignore', 'docs/deep/y.md', 'templates/deployment.yaml', 'templates/root-only.txt', 'values.yaml']);
});

test('.helmignore "!pattern" behaves as in Helm: everything it does not match is left out', () => {
  const rules = parseHelmIgnore('*.tmp\n!keep.tmp\n', 'test');
  assert.ok(helmIgnores(rules, 'a.tmp', false));
  assert.ok(helmIgnores(rules, 'keep.tmp', false), 'the first rule matched already');
  assert.ok(helmIgnores(rules, 'values.yaml', false), 'Helm ignores what the negated pattern does not match');
  assert.not.ok(helmIgnores(parseHelmIgnore('*.tmp\n', 'test'), 'values.yaml', false));
  assert.ok(helmIgnores(parseHelmIgnore('build/\n', 'test'), 'build', true));
  assert.not.ok(helmIgnores(parseHelmIgnore('build/\n', 'test'), 'build', false), 'dir/ matches directories only');
  assert.ok(helmIgnores(parseHelmIgnore('[a-c]?.yaml\n', 'test'), 'templates/b1.yaml', false));
  assert.not.ok(helmIgnores(parseHelmIgnore('[^a-c]?.yaml\n', 'test'), 'templates/b1.yaml', false));
  assert.ok(helmIgnores(parseHelmIgnore('\\*.txt\n', 'test'), '*.txt', false));
  assert.not.ok(helmIgnores(parseHelmIgnore('\\*.txt\n', 'test'), 'a.txt', false));
});

test('.helmignore errors Helm reports too: ** and malformed patterns, with the line', async () => {
  await rejectsCode(packageChartDir(await chartDir({ ...realisticChart(), '.helmignore': '# x\n**/*.tmp\n' })), 'CHART_INVALID', /\.helmignore line 2 \("\*\*\/\*\.tmp"\): double-star/);
  await rejectsCode(packageChartDir(await chartDir({ ...realisticChart(), '.helmignore': '[abc\n' })), 'CHART_INVALID', /\.helmignore line 1 .*not a valid pattern/);
  // A negation that leaves Chart.yaml out fails as in Helm.
  await rejectsCode(packageChartDir(await chartDir({ ...realisticChart(), '.helmignore': '!templates/\n' })), 'SOURCE_NOT_FOUND', /no Chart\.yaml \(or \.helmignore leaves it out\)/);
});

test('a symbolic link in the chart directory is refused with its path, unless .helmignore leaves it out', async () => {
  const dir = await chartDir(realisticChart());
  await symlink('/etc/passwd', join(dir, 'templates', 'passwd.yaml'));
  await rejectsCode(packageChartDir(dir), 'SOURCE_INVALID', /templates\/passwd\.yaml is a symbolic link; Ferry does not follow links/);
  await writeFile(join(dir, '.helmignore'), 'passwd.yaml\n');
  const names = (await list((await packageChartDir(dir)).archive)).map((e) => e.name);
  assert.not.ok(names.includes('mychart/templates/passwd.yaml'));
});

test('files over 5 MiB are refused unless left out; a directory without Chart.yaml is not a chart', async () => {
  const dir = await chartDir({ ...realisticChart(), 'blob.bin': Buffer.alloc(5 * 1024 * 1024 + 1) });
  await rejectsCode(packageChartDir(dir), 'CHART_INVALID', /blob\.bin is 5\.00 MiB .*larger than the 5\.00 MiB .*Helm loads from a chart/);
  await writeFile(join(dir, '.helmignore'), '*.bin\n');
  assert.is((await packageChartDir(dir)).metadata.name, 'mychart');
  await rejectsCode(packageChartDir(await chartDir({ 'values.yaml': 'a: 1\n' })), 'SOURCE_NOT_FOUND', /no Chart\.yaml/);
  await rejectsCode(packageChartDir(join(root, 'nope')), 'SOURCE_NOT_FOUND', /not found/);
});

test('dependencies must be vendored under charts/, as helm package requires; subcharts are carried as they are', async () => {
  const deps = 'dependencies:\n  - name: redis\n    version: 18.x\n    repository: https://charts.bitnami.com/bitnami\n';
  const dir = await chartDir({ 'Chart.yaml': chartYaml('app', '1.0.0', deps), 'values.yaml': '{}\n' });
  await rejectsCode(packageChartDir(dir), 'CHART_INVALID', /redis is listed in Chart\.yaml but missing from charts\/; run `helm dependency build/);
  const sub = chartTgz({ 'Chart.yaml': chartYaml('redis', '18.1.0') }, 'redis');
  await writeFile(join(dir, 'Chart.yaml'), chartYaml('app', '1.0.0', deps));
  await mkdir(join(dir, 'charts'));
  await writeFile(join(dir, 'charts', 'redis-18.1.0.tgz'), sub);
  const { archive } = await packageChartDir(dir);
  const c = await checkChartArchive(archive, { where: 'x' });
  assert.equal(c.vendored, ['redis']);
  assert.ok((await list(archive)).some((e) => e.name === 'app/charts/redis-18.1.0.tgz'), 'the subchart archive is carried as a .tgz');
});

test('bad Chart.yaml in a directory is CHART_INVALID', async () => {
  await rejectsCode(packageChartDir(await chartDir({ 'Chart.yaml': chartYaml('x', 'v1.0.0') })), 'CHART_INVALID', /not a SemVer 2 version/);
});

test('real helm reads what Ferry packages', async () => {
  const HELM = await helmBinary();
  const dir = await chartDir(realisticChart('helmread', '0.3.0'));
  const { archive } = await packageChartDir(dir);
  const tgz = join(root, 'helmread-0.3.0.tgz');
  await writeFile(tgz, archive);
  const { stdout } = await promisify(execFile)(HELM, ['show', 'chart', tgz], { env: { ...process.env, HOME: root } });
  assert.match(stdout, /name: helmread/);
  assert.match(stdout, /version: 0\.3\.0/);
});

test.run();
