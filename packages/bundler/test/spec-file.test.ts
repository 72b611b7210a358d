import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FerryError } from '@ferry/format-spec';
import { isLocalChartSpec, loadSpecFile, parseSpecText } from '../src/spec-file.js';

let root: string;

async function spec(name: string, text: string): Promise<string> {
  const p = join(root, name);
  await writeFile(p, text);
  return p;
}

async function problems(path: string): Promise<string[]> {
  try {
    await loadSpecFile(path);
  } catch (e) {
    assert.instance(e, FerryError);
    assert.is((e as FerryError).code, 'SPEC_INVALID', (e as Error).message);
    return (e as Error).message.split('\n');
  }
  assert.unreachable(`${path} should be refused`);
  return [];
}

test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'ferry-spec-'));
  await mkdir(join(root, 'sub'));
});
test.after(async () => {
  await rm(root, { recursive: true, force: true });
});

test('a full YAML spec loads; relative paths resolve against the spec file directory', async () => {
  const p = await spec('sub/weekly.yaml', `# weekly sync
schemaVersion: 1
name: weekly-2024.06
volumeSize: dvd
compressionLevel: 3
platforms: [linux/amd64, linux/arm64/v8]
images:
  - gcr.io/cleanstart/python:3.11-prod
  - oci:layouts/demo:1.0
  - source: docker-archive:../saves/app.tar:web/app:2
    name: team/app:2
    platforms: [linux/amd64]
files:
  - docs/*.md
  - source: charts/
    dest: helm/charts
publicKeys:
  - keys/cosign.pub
`);
  const s = await loadSpecFile(p);
  assert.is(s.name, 'weekly-2024.06');
  assert.is(s.volumeSize, 'dvd');
  assert.is(s.compressionLevel, 3);
  assert.equal(s.platforms, ['linux/amd64', 'linux/arm64/v8']);
  assert.equal(s.images, [
    'gcr.io/cleanstart/python:3.11-prod',
    `oci:${join(root, 'sub/layouts/demo')}:1.0`,
    { source: `docker-archive:${join(root, 'saves/app.tar')}:web/app:2`, name: 'team/app:2', platforms: ['linux/amd64'] },
  ]);
  assert.equal(s.files, [join(root, 'sub/docs/*.md'), { source: join(root, 'sub/charts'), dest: 'helm/charts' }]);
  assert.equal(s.publicKeys, [join(root, 'sub/keys/cosign.pub')]);
  assert.is(s.specFile, p);
});

test('JSON is recognised by content, whatever the extension; numbers stay numbers', async () => {
  const p = await spec('spec.conf', '{\n  "images": ["alpine:3.19"],\n  "volumeSize": 4000000000\n}\n');
  const s = await loadSpecFile(p);
  assert.equal(s.images, ['alpine:3.19']);
  assert.is(s.volumeSize, 4_000_000_000);
  // and a .json file with YAML in it is read as YAML
  const y = await loadSpecFile(await spec('looks.json', 'images:\n  - alpine\n'));
  assert.equal(y.images, ['alpine']);
});

test('wrong platform: message has file:line:col, the field path and the value', async () => {
  const p = await spec('plat.yaml', `images:
  - alpine
  - source: oci:x:1
    platforms:
      - linux
`);
  assert.equal(await problems(p), [`${p}:5:9: images[1].platforms[0]: must match OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64/v8 (got "linux")`]);
});

test('unknown keys are errors with their line, top level and nested, with a suggestion', async () => {
  const p = await spec('typo.yaml', `name: x
imagse:
  - alpine
files:
  - source: a.txt
    destination: docs
`);
  const lines = await problems(p);
  assert.is(lines.length, 2, lines.join('\n'));
  assert.match(lines[0]!, new RegExp(`^${p}:2:1: imagse: unknown field \\(did you mean "images"\\?\\)`));
  assert.ok(lines.some((l) => l.startsWith(`${p}:6:5: files[0].destination: unknown field`)), lines.join('\n'));
  assert.ok(!lines.some((l) => /files\[0\]: must be a path/.test(l)), 'the string-branch complaint is noise here');
});

test('wrong types: quoted hint for numbers where strings belong; mapping where a list belongs', async () => {
  const p = await spec('types.yaml', `name: 1.10
images:
  source: alpine
compressionLevel: "3"
volumeSize: -5
`);
  const lines = await problems(p);
  assert.ok(lines.includes(`${p}:1:7: name: must be a bundle name: letters, digits, . _ - (starting with a letter or digit, at most 100); quote the value to make it a string (got 1.1)`), lines.join('\n'));
  assert.ok(lines.includes(`${p}:3:3: images: must be array (got a mapping)`), lines.join('\n'));
  assert.ok(lines.some((l) => l.startsWith(`${p}:4:19: compressionLevel: must be a zstd level`)), lines.join('\n'));
  assert.ok(lines.some((l) => l.startsWith(`${p}:5:13: volumeSize: must be bytes`) && l.endsWith('(got -5)')), lines.join('\n'));
});

test('JSON specs get line:column too', async () => {
  const p = await spec('bad.json', `{
  "images": [
    {"source": "alpine", "platforms": ["linux/amd64", "windows"]}
  ],
  "extra": 1
}`);
  const lines = await problems(p);
  assert.ok(lines.includes(`${p}:3:55: images[0].platforms[1]: must match OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64/v8 (got "windows")`), lines.join('\n'));
  assert.ok(lines.includes(`${p}:5:3: extra: unknown field; allowed here: schemaVersion, name, volumeSize, platforms, images, charts, chartDependencies, chartImages, files, publicKeys, compressionLevel`), lines.join('\n'));
  const syntax = await problems(await spec('syntax.json', '{\n  "images": ["a"],,\n}'));
  assert.match(syntax[0]!, /syntax\.json:2:19: not valid JSON/);
});

test('nothing to carry, wrong schemaVersion, empty and non-mapping files are refused', async () => {
  assert.match((await problems(await spec('nothing.yaml', 'name: x\nimages: []\n')))[0]!, /must hold at least one of images, charts, files or publicKeys/);
  assert.match((await problems(await spec('v2.yaml', 'schemaVersion: 2\nimages: [a]\n')))[0]!, /v2\.yaml:1:16: schemaVersion: must be 1/);
  assert.match((await problems(await spec('empty.yaml', '\n# only a comment\n')))[0]!, /empty/);
  const list = await problems(await spec('list.yaml', '- alpine\n'));
  assert.equal(list.length, 1);
  assert.match(list[0]!, /list\.yaml:1:1: the spec file must be a mapping/);
  assert.match((await problems(await spec('missing.yaml', 'images:\n  - name: a/b\n')))[0]!, /missing\.yaml:2:5: images\[0\]: missing required field "source"/);
});

test('YAML syntax errors and duplicate keys point at the line', async () => {
  const dup = await problems(await spec('dup.yaml', 'images: [a]\nname: x\nname: y\n'));
  assert.match(dup[0]!, /dup\.yaml:3:1: YAML syntax error: .*unique/i);
  const bad = await problems(await spec('bad.yaml', 'images:\n  - a\n  b: [\n'));
  assert.match(bad[0]!, /bad\.yaml:3:\d+: YAML syntax error/);
});

test('image sources are checked as transports; dest may not escape the bundle', async () => {
  const p = await spec('src.yaml', `images:
  - dir:/var/lib/images
  - source: "oci:layout:bad ref"
files:
  - source: a
    dest: ../../etc
  - source: b
    dest: /abs
`);
  const lines = await problems(p);
  assert.ok(lines.some((l) => l.startsWith(`${p}:6:11: files[0].dest: must be a relative directory inside the bundle`)), lines.join('\n'));
  assert.ok(lines.some((l) => l.startsWith(`${p}:8:11: files[1].dest: must be a relative directory`)), lines.join('\n'));
  // transport problems come after the schema passes
  const q = await spec('src2.yaml', 'images:\n  - dir:/var/lib/images\n  - source: "oci:layout:bad ref"\n');
  const l2 = await problems(q);
  assert.match(l2[0]!, new RegExp(`^${q}:2:5: images\\[0\\]: .*dir: transport is not supported`));
  assert.match(l2[1]!, new RegExp(`^${q}:3:13: images\\[1\\]\\.source: .*not a valid layout reference name`));
});

test('missing spec file is INPUT_NOT_FOUND; a directory is SPEC_INVALID', async () => {
  try {
    await loadSpecFile(join(root, 'nope.yaml'));
    assert.unreachable();
  } catch (e) {
    assert.is((e as FerryError).code, 'INPUT_NOT_FOUND');
  }
  try {
    await loadSpecFile(root);
    assert.unreachable();
  } catch (e) {
    assert.is((e as FerryError).code, 'SPEC_INVALID');
    assert.match((e as Error).message, /is a directory/);
  }
});

test('parseSpecText: alias bombs are refused, BOM tolerated', () => {
  const bomb = ['a: &a [x,x,x,x,x,x,x,x,x,x]', 'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]', 'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]', 'images: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]'].join('\n');
  assert.throws(() => parseSpecText(bomb, 'bomb.yaml'), (e: Error) => (e as FerryError).code === 'SPEC_INVALID');
  assert.equal(parseSpecText('\uFEFFimages: [alpine]\n', '/x/s.yaml').images, ['alpine']);
});

test('charts: strings and repo/name/version mappings; local chart paths resolve against the spec file, URLs and repo names do not', async () => {
  const p = await spec('sub/charts.yaml', [
    'charts:',
    '  - https://charts.example.com/core@^2.0.0',
    '  - oci://registry.example.com/charts/web:1.2.3',
    '  - bitnami/redis@18.1.0',
    '  - ./local/mychart',
    '  - packaged/*.tgz',
    '  - repo: https://charts.example.com/stable',
    '    name: api',
    "    version: '>=1.0.0 <2.0.0'",
    'chartDependencies: true',
    'chartImages: true',
    '',
  ].join('\n'));
  const s = await loadSpecFile(p);
  assert.equal(s.charts, [
    'https://charts.example.com/core@^2.0.0',
    'oci://registry.example.com/charts/web:1.2.3',
    'bitnami/redis@18.1.0',
    join(root, 'sub', 'local', 'mychart'),
    join(root, 'sub', 'packaged', '*.tgz'),
    { repo: 'https://charts.example.com/stable', name: 'api', version: '>=1.0.0 <2.0.0' },
  ]);
  assert.is(s.chartDependencies, true);
  assert.is(s.chartImages, true);
  assert.ok(isLocalChartSpec('charts/app-1.0.0.tgz') && isLocalChartSpec('/abs/chart') && !isLocalChartSpec('stable/app@1.0.0'));
});

test('charts: a mapping needs repo and name, an http(s) repo and a chart name', async () => {
  const lines = await problems(await spec('badcharts.yaml', ['charts:', '  - repo: ftp://x', '    name: a', '  - name: b', '  - repo: https://x', '    name: ../evil', ''].join('\n')));
  const text = lines.join('\n');
  assert.match(text, /charts\[0\]\.repo: must be the chart repository URL/);
  assert.match(text, /charts\[1\]: missing required field "repo"/);
  assert.match(text, /charts\[2\]\.name: must be a chart name/);
});

test('images[].sboms: SBOM files resolve against the spec file directory; an empty list or a non-path is refused at its line', async () => {
  const p = await spec('sub/sboms.yaml', ['images:', '  - source: oci:layouts/demo:1.0', '    sboms: [sboms/demo.spdx.json, /abs/demo.cdx.xml]', ''].join('\n'));
  const s = await loadSpecFile(p);
  assert.equal(s.images, [{ source: `oci:${join(root, 'sub/layouts/demo')}:1.0`, sboms: [join(root, 'sub/sboms/demo.spdx.json'), '/abs/demo.cdx.xml'] }]);
  const text = (await problems(await spec('badsboms.yaml', ['images:', '  - source: alpine:3.19', '    sboms: []', '  - source: alpine:3.20', '    sboms: [7]', '  - source: alpine:3.21', '    sbom: [a.json]', ''].join('\n')))).join('\n');
  assert.match(text, /badsboms\.yaml:3:12: images\[0\]\.sboms: must not be an empty list/);
  assert.match(text, /badsboms\.yaml:5:13: images\[1\]\.sboms\[0\]: must be a non-empty path/);
  assert.match(text, /images\[2\]\.sbom: unknown field \(did you mean "sboms"\?\)/);
});

test.run();
