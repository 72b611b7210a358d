// `ferry-bundle diff` and `ferry-load diff` on two real bundles of a weekly sync: week 2 re-tags
// team/app:1 to a new build that shares the base layer, adds team/app:2, keeps team/db:5, drops
// team/tool:1 and changes a carried file. Both CLIs print the same --json, valid against
// schemas/bundle-diff.schema.json, naming exactly those changes; the text names them too.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeOciLayout, type WrittenImage } from '../helpers/images.js';
import { bundleCli, loadCli } from '../helpers/cli.js';
import { reportValidator } from '../helpers/report-schemas.js';

const PW = { FERRY_KEY_PASSWORD: '' };
let tmp = '';
let week1: WrittenImage[] = [];
let week2: WrittenImage[] = [];

/** NAME from the layout's images, carrying FILES_DIR/notes.txt as notes.txt (the spec sits beside it). */
async function bundle(name: string, layout: string, images: Array<[string, string]>, filesDir: string): Promise<void> {
  const spec = [
    'schemaVersion: 1', `name: ${name}`,
    'images:', ...images.flatMap(([tag, as]) => [`  - source: oci:${layout}:${tag}`, `    name: ${as}`]),
    'files:', '  - notes.txt',
  ].join('\n');
  await writeFile(join(filesDir, `${name}.yaml`), spec);
  const r = await bundleCli(['create', join(filesDir, `${name}.yaml`), '--key', join(tmp, 'k.key'), '--out', join(tmp, name)], { env: PW });
  assert.is(r.code, 0, r.stderr);
}

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-e2e-diff-'));
  assert.is((await bundleCli(['keygen', '--out', join(tmp, 'k')], { env: PW })).code, 0);
  const base = { size: 20_000, seed: 'base' };
  week1 = await makeOciLayout(join(tmp, 'w1'), [
    { tag: 'app', platforms: [{ os: 'linux', architecture: 'amd64', layers: [base, { size: 3000, seed: 'app-1' }] }] },
    { tag: 'db', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 4000, seed: 'db' }] }] },
    { tag: 'tool', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 1000, seed: 'tool' }] }] },
  ]);
  week2 = await makeOciLayout(join(tmp, 'w2'), [
    { tag: 'app', platforms: [{ os: 'linux', architecture: 'amd64', layers: [base, { size: 3500, seed: 'app-2' }] }] },
    { tag: 'db', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 4000, seed: 'db' }] }] },
  ]);
  await mkdir(join(tmp, 'f1'));
  await mkdir(join(tmp, 'f2'));
  await writeFile(join(tmp, 'f1', 'notes.txt'), 'week 1\n');
  await writeFile(join(tmp, 'f2', 'notes.txt'), 'week 2, longer\n');
  await bundle('week1', join(tmp, 'w1'), [['app', 'team/app:1'], ['db', 'team/db:5'], ['tool', 'team/tool:1']], join(tmp, 'f1'));
  await bundle('week2', join(tmp, 'w2'), [['app', 'team/app:1'], ['app', 'team/app:2'], ['db', 'team/db:5']], join(tmp, 'f2'));
});

test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

interface Diff {
  images: { added: Array<{ repository: string; tag: string; digest: string }>; removed: Array<{ repository: string; tag: string }>; retagged: Array<{ repository: string; tag: string; old: string; new: string }>; unchanged: number };
  blobs: { added: Array<{ digest: string; size: number; carried: boolean }>; removed: Array<{ digest: string }>; addedBytes: number };
  bytes: { carried: number; referenced: number; required: number };
  files: { changed: Array<{ name: string }> };
}

test('both CLIs: the same --json, valid, naming exactly the known changes; exit 0', async () => {
  const a = await bundleCli(['diff', join(tmp, 'week1'), join(tmp, 'week2', 'week2.manifest.json'), '--json']);
  const b = await loadCli(['diff', join(tmp, 'week1'), join(tmp, 'week2', 'week2.manifest.json'), '--json']);
  assert.is(a.code, 0, a.stderr);
  assert.is(b.code, 0, b.stderr);
  assert.is(a.stdout, b.stdout, 'one implementation');
  const doc = JSON.parse(a.stdout) as Diff;
  const v = reportValidator('bundle-diff');
  assert.ok(v(doc), JSON.stringify(v.errors));
  const [app1, db1, tool1] = week1;
  const [app2] = week2;
  assert.equal(doc.images.retagged, [{ repository: 'team/app', tag: '1', old: app1!.root.digest, new: app2!.root.digest }]);
  assert.equal(doc.images.added, [{ repository: 'team/app', tag: '2', digest: app2!.root.digest }]);
  assert.equal(doc.images.removed.map((i) => `${i.repository}:${i.tag}`), ['team/tool:1']);
  assert.is(doc.images.unchanged, 1);
  assert.is(db1!.root.digest, week2[1]!.root.digest, 'db really is the same');
  const added = doc.blobs.added.map((x) => x.digest);
  for (const d of [app2!.layers[0]![1]!, app2!.configs[0]!, app2!.root]) assert.ok(added.includes(d.digest), d.digest);
  assert.not.ok(added.includes(app2!.layers[0]![0]!.digest), 'the shared base layer is not new');
  const removed = doc.blobs.removed.map((x) => x.digest);
  for (const d of [app1!.layers[0]![1]!, tool1!.layers[0]![0]!, tool1!.root]) assert.ok(removed.includes(d.digest), d.digest);
  assert.is(doc.bytes.required, 0, 'a full bundle requires nothing');
  assert.is(doc.bytes.carried, doc.bytes.referenced);
  assert.equal(doc.files.changed.map((f) => f.name), ['notes.txt']);
});

test('the text names the same changes', async () => {
  const r = await loadCli(['diff', join(tmp, 'week1'), join(tmp, 'week2')]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /Images: 1 added, 1 removed, 1 re-tagged, 1 unchanged/);
  assert.match(r.stdout, /~ team\/app:1 /);
  assert.match(r.stdout, /\+ team\/app:2 /);
  assert.match(r.stdout, /- team\/tool:1 /);
  assert.match(r.stdout, /Files: 0 added, 0 removed, 1 changed/);
});

test('a path that is no bundle is an error naming it', async () => {
  const r = await bundleCli(['diff', join(tmp, 'week1'), join(tmp, 'nowhere'), '--json']);
  assert.is(r.code, 3);
  assert.match(r.stdout + r.stderr, /nowhere/);
});

test.run();
