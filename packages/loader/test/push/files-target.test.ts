// The files directory: every carried path stays inside it, nothing on the way is followed,
// content counts as done only when it matches, and Ferry tells its own older copy from a local
// change.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import ssri from 'ssri';
import { sha256Digest } from '@ferry/format-spec';
import { FilesTarget, type CarriedFile } from '../../src/push/files-target.js';
import { rejectsCode } from '../../../../test/helpers/assert.js';

let root = '';
test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'ferry-files-target-'));
});
test.after(async () => {
  await rm(root, { recursive: true, force: true });
});

function carried(path: string, content: string): { f: CarriedFile; data: () => Readable } {
  const b = Buffer.from(content);
  return { f: { path, digest: sha256Digest(b), size: b.length, integrity: ssri.fromData(b, { algorithms: ['sha512'] }).toString() }, data: () => Readable.from([b]) };
}

async function opened(name: string): Promise<FilesTarget> {
  const t = new FilesTarget(join(root, name));
  await t.open('test');
  return t;
}

test('carried paths that could leave the directory or reach Ferry\'s state are refused in code, whatever the schema said', async () => {
  const t = await opened('contain');
  const bad = ['x\n/../../../etc/cron.d/x', '../escape', 'a/../../escape', '/etc/passwd', 'a//b', 'a/', '', '.', 'a/./b', 'a\\..\\b', '.ferry/tmp/x', '.ferry', 'a\u2028b', 'a\u2029b', 'a\rb', 'a\x1bb', 'a\u0085b'];
  for (const p of bad) {
    const { f, data } = carried(p, 'x');
    await rejectsCode(t.write(f, data()), 'ARCHIVE_HOSTILE', /carried path .*(refusing to write it|outside)/);
    await rejectsCode(t.stateOf(f), 'ARCHIVE_HOSTILE', /carried path .*(refusing to write it|outside)/);
  }
  assert.not.ok(existsSync(join(root, 'escape')));
  await t.close();
});

test('a link on the way, or at the destination, is refused and never written through', async () => {
  const outside = join(root, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'victim.txt'), 'precious');
  const t = await opened('links');
  await symlink(outside, join(t.root, 'docs'));
  const { f, data } = carried('docs/victim.txt', 'evil');
  await rejectsCode(t.write(f, data()), 'TARGET_ERROR', /docs is a symbolic link/);
  await rejectsCode(t.stateOf(f), 'TARGET_ERROR', /symbolic link/);
  await symlink(join(outside, 'victim.txt'), join(t.root, 'top.txt'));
  const top = carried('top.txt', 'evil');
  await rejectsCode(t.write(top.f, top.data()), 'TARGET_ERROR', /top\.txt is a symbolic link/);
  assert.is(await readFile(join(outside, 'victim.txt'), 'utf8'), 'precious');
  assert.equal(await readdir(outside), ['victim.txt']);
  // Old-style temp names are just names now: a planted X.ferry-partial link is never opened.
  await symlink(join(outside, 'victim.txt'), join(t.root, 'a.txt.ferry-partial'));
  const a = carried('a.txt', 'fine');
  await t.write(a.f, a.data());
  assert.is(await readFile(join(t.root, 'a.txt'), 'utf8'), 'fine');
  assert.is(await readFile(join(outside, 'victim.txt'), 'utf8'), 'precious');
  await t.close();
});

test('states: absent, same, ours-older (Ferry wrote it), changed (a local edit); the journal survives runs', async () => {
  const dir = 'states';
  let t = await opened(dir);
  const v1 = carried('docs/runbook.txt', 'version 1');
  assert.is(await t.stateOf(v1.f), 'absent');
  await t.write(v1.f, v1.data());
  assert.is(await t.stateOf(v1.f), 'same');
  await t.close();
  t = new FilesTarget(join(root, dir));
  await t.check();
  const v2 = carried('docs/runbook.txt', 'version 2'); // same size, other content
  assert.is(await t.stateOf(v2.f), 'ours-older', 'a newer version of a file Ferry wrote replaces it');
  await writeFile(join(t.root, 'docs/runbook.txt'), 'edited! 1');
  assert.is(await t.stateOf(v2.f), 'changed', 'a local edit is not Ferry\'s to overwrite silently');
  const mine = carried('notes.txt', 'x');
  await writeFile(join(t.root, 'notes.txt'), 'someone else');
  assert.is(await t.stateOf(mine.f), 'changed', 'a file Ferry never wrote counts as local');
});

test('content is checked against sha256 and the manifest\'s sha512 integrity; nothing lands when either fails', async () => {
  const t = await opened('verify');
  const good = carried('x.bin', 'payload');
  await rejectsCode(t.write(good.f, Readable.from([Buffer.from('PAYLOAD')])), 'BLOB_MISMATCH');
  const lying = { ...good.f, integrity: ssri.fromData(Buffer.from('other'), { algorithms: ['sha512'] }).toString() };
  await rejectsCode(t.write(lying, good.data()), 'ARCHIVE_HOSTILE', /sha512 integrity/);
  assert.not.ok(existsSync(join(t.root, 'x.bin')));
  assert.equal(await readdir(join(t.root, '.ferry/tmp')), [], 'no temp file left behind');
  await t.write(good.f, good.data());
  assert.is(createHash('sha256').update(await readFile(join(t.root, 'x.bin'))).digest('hex'), good.f.digest.slice(7));
  await t.close();
});

test('a file where the bundle needs a directory is a TARGET_ERROR naming it', async () => {
  const t = await opened('notdir');
  await writeFile(join(t.root, 'docs'), 'a file');
  const { f, data } = carried('docs/a.txt', 'x');
  await rejectsCode(t.write(f, data()), 'TARGET_ERROR', /docs is a regular file, where a directory the bundle needs belongs/);
  await t.close();
});

test.run();
