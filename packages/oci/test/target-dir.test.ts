// The rules that keep writes inside a target directory: no link on the way is followed, files
// are created exclusively, filesystem errors are reported as what they are.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { FerryError } from '@ferry/format-spec';
import { checkRealDir, cleanTemp, ensureDirChain, ensureFerryArea, exclusiveWriteStream, isInside, targetFsError, tempName } from '../src/target-dir.js';
import { rejectsCode } from '../../../test/helpers/assert.js';

let root = '';
test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'ferry-target-dir-'));
});
test.after(async () => {
  await rm(root, { recursive: true, force: true });
});

test('filesystem errors while writing are TARGET_ERROR with the path and what to do, never a bundle problem', () => {
  const cases: Array<[string, RegExp]> = [
    ['ENAMETOOLONG', /too long for the target file system/],
    ['ENOSPC', /no space left.*run the same command again/],
    ['EACCES', /permission denied/],
    ['EPERM', /not permitted/],
    ['EROFS', /read-only/],
    ['EEXIST', /already exists and is in the way/],
    ['ENOTDIR', /is a file where a directory is needed/],
    ['EISDIR', /is a directory where a file is needed/],
    ['ELOOP', /symbolic link/],
  ];
  for (const [code, re] of cases) {
    const e = Object.assign(new Error(`${code}: raw message`), { code });
    const fe = targetFsError(e, '/srv/files/docs/a\x1b[2Kb.txt', 'cannot write carried file docs/a.txt');
    assert.instance(fe, FerryError);
    assert.is(fe.code, 'TARGET_ERROR', code);
    assert.match(fe.message, re, code);
    assert.match(fe.message, /cannot write carried file docs\/a\.txt/, code);
    assert.match(fe.message, /\/srv\/files\/docs\/a\\x1b\[2Kb\.txt/, `${code}: the path is shown, escaped`);
    assert.is(fe.details.errno, code);
  }
  // Ferry's own errors pass through unchanged
  const own = new FerryError('BLOB_MISMATCH', 'x');
  assert.is(targetFsError(own, '/p', 'w'), own);
});

test('isInside: the same path and real children only', () => {
  assert.ok(isInside('/a/b', '/a/b'));
  assert.ok(isInside('/a/b/c', '/a/b'));
  assert.ok(isInside('/a/b/..c', '/a/b'), 'a name starting with two dots is a child');
  assert.not.ok(isInside('/a/bc', '/a/b'));
  assert.not.ok(isInside('/a', '/a/b'));
  assert.not.ok(isInside('/a/b/../x', '/a/b'));
});

test('ensureDirChain creates real directories and refuses a link or a file on the way', async () => {
  const t = join(root, 'chain');
  await mkdir(t);
  assert.is(await ensureDirChain(t, 'a/b/c'), join(t, 'a/b/c'));
  assert.ok(await checkRealDir(join(t, 'a/b/c')));
  const outside = join(root, 'outside');
  await mkdir(outside);
  await symlink(outside, join(t, 'link'));
  await rejectsCode(ensureDirChain(t, 'link/x'), 'TARGET_ERROR', /symbolic link/);
  assert.equal(await readdir(outside), [], 'nothing was created through the link');
  await writeFile(join(t, 'file'), 'x');
  await rejectsCode(ensureDirChain(t, 'file/x'), 'TARGET_ERROR', /is a regular file/);
});

test('exclusive creation never follows a planted link and never reuses a name', async () => {
  const a = await ensureFerryArea(await mkdtemp(join(root, 'area-')));
  const victim = join(root, 'victim.txt');
  await writeFile(victim, 'precious');
  const planted = join(a.tmp, 'planted');
  await symlink(victim, planted);
  assert.not.ok(await pipeline(Readable.from([Buffer.from('evil')]), exclusiveWriteStream(planted)).then(() => true, () => false));
  assert.is(await readFile(victim, 'utf8'), 'precious');
  const n1 = tempName(a, 'x');
  const n2 = tempName(a, 'x');
  assert.is.not(n1, n2);
  assert.ok(n1.startsWith(a.tmp));
  // cleanTemp removes leftovers (the link itself, not what it points at)
  await writeFile(n1, 'left by an interrupted run');
  assert.is(await cleanTemp(a), 2);
  assert.equal(await readdir(a.tmp), []);
  assert.ok(existsSync(victim));
});

test.run();
