// Writing under --out: new files written, the same bytes left alone, other bytes refused before
// anything is written (unless --force), a directory or link in a file's place always refused,
// no temp file left behind, and no path that could leave the directory.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeOutputs, yamlDocument, type OutputFile } from '../../src/k8s/output.js';
import { rejectsCode } from '../../../../test/helpers/assert.js';

let tmp = '';
test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-k8s-out-'));
});
test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const file = (path: string, content: string): OutputFile => ({ path, kind: 'ConfigMap', apply: true, about: 'test', content });

async function tree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

test('written, then unchanged on a second run with the same content; nothing else appears in the directory', async () => {
  const dir = join(tmp, 'a');
  const files = [file('one.yaml', 'a: 1\n'), file('sub/dir/two.toml', 'b = 2\n')];
  const first = await writeOutputs(dir, files, { force: false });
  assert.equal(first.map((w) => w.status), ['written', 'written']);
  assert.is(await readFile(join(dir, 'sub/dir/two.toml'), 'utf8'), 'b = 2\n');
  assert.is(first[0]!.sha256, 'sha256:' + (await import('node:crypto')).createHash('sha256').update('a: 1\n').digest('hex'));
  const again = await writeOutputs(dir, files, { force: false });
  assert.equal(again.map((w) => w.status), ['unchanged', 'unchanged']);
  assert.equal(await tree(dir), ['one.yaml', 'sub', 'sub/dir', 'sub/dir/two.toml'], 'no temp file left');
});

test('a file with other content: refused and NOTHING written (not even the new files); --force replaces it', async () => {
  const dir = join(tmp, 'b');
  await mkdir(dir);
  await writeFile(join(dir, 'one.yaml'), 'edited by hand\n');
  const files = [file('new.yaml', 'n: 1\n'), file('one.yaml', 'a: 1\n')];
  await rejectsCode(writeOutputs(dir, files, { force: false }), 'USAGE', /already exist with other content \(one\.yaml\); nothing was written.*--force/);
  assert.equal(await tree(dir), ['one.yaml']);
  assert.is(await readFile(join(dir, 'one.yaml'), 'utf8'), 'edited by hand\n');
  const forced = await writeOutputs(dir, files, { force: true });
  assert.equal(forced.map((w) => w.status), ['written', 'replaced']);
  assert.is(await readFile(join(dir, 'one.yaml'), 'utf8'), 'a: 1\n');
});

test('a directory or a link where a file goes: refused even with --force; the link\'s target is never written', async () => {
  const dir = join(tmp, 'c');
  await mkdir(join(dir, 'one.yaml'), { recursive: true });
  await rejectsCode(writeOutputs(dir, [file('one.yaml', 'a: 1\n')], { force: true }), 'TARGET_ERROR', /not a regular file/);
  const victim = join(tmp, 'victim');
  await writeFile(victim, 'keep me\n');
  await symlink(victim, join(dir, 'two.yaml'));
  await rejectsCode(writeOutputs(dir, [file('two.yaml', 'a: 1\n')], { force: true }), 'TARGET_ERROR', /not a regular file/);
  assert.is(await readFile(victim, 'utf8'), 'keep me\n');
  assert.ok((await lstat(join(dir, 'two.yaml'))).isSymbolicLink());
});

test('a path that could leave the directory is an internal error, never written', async () => {
  for (const p of ['../x.yaml', 'a/../../x', '/etc/x', 'a//b', '.hidden/x']) {
    await rejectsCode(writeOutputs(join(tmp, 'd'), [file(p, 'x')], { force: true }), 'INTERNAL');
  }
});

test('YAML strings: literal blocks as kubectl writes them, double quotes where a block cannot carry the text', () => {
  assert.is(yamlDocument({ a: 'x\ny\n' }), 'a: |\n  x\n  y\n');
  assert.is(yamlDocument({ a: 'x\ny' }), 'a: |-\n  x\n  y\n');
  assert.is(yamlDocument({ a: 'x \ny\n' }), 'a: "x \\ny\\n"\n');
  assert.is(yamlDocument({ a: 'x\r\ny\n' }), 'a: "x\\r\\ny\\n"\n');
  assert.is(yamlDocument({ l: ['a', 'b'] }, 'hello\n\nworld'), '# hello\n#\n# world\nl:\n- a\n- b\n');
});

test.run();
