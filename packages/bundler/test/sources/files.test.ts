import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, mkdir, rm, writeFile, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import ssri from 'ssri';
import { isFerryError } from '@ferry/format-spec';
import { collectFiles, bundlePath } from '../../src/sources/files.js';
import { rejects } from '../../../../test/helpers/assert.js';

let dir = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-files-'));
  await mkdir(join(dir, 'docs', 'sub'), { recursive: true });
  await writeFile(join(dir, 'docs', 'a.txt'), 'alpha');
  await writeFile(join(dir, 'docs', 'sub', 'b.txt'), 'beta');
  await writeFile(join(dir, 'docs', 'c.pdf'), 'pdf');
  await symlink('/etc/passwd', join(dir, 'docs', 'link.txt'));
});
test.after(async () => { await rm(dir, { recursive: true, force: true }); });

test('paths and globs become relative bundle paths with sha256 and sha512 integrity', async () => {
  const files = await collectFiles([{ source: 'docs/**/*.txt' }, { source: 'docs/c.pdf', dest: 'manuals' }], dir);
  assert.equal(files.map((f) => f.path), ['docs/a.txt', 'docs/sub/b.txt', 'manuals/docs/c.pdf']);
  const a = files[0]!;
  assert.is(a.digest, 'sha256:' + createHash('sha256').update('alpha').digest('hex'));
  assert.ok(ssri.checkData('alpha', a.integrity), 'integrity matches content');
  assert.is(a.size, 5);
  assert.not.ok(files.some((f) => f.path.includes('link')), 'symlinks are not followed by globs');
});

test('a file outside the working directory is carried under its name only', async () => {
  const files = await collectFiles([{ source: join(dir, 'docs', 'a.txt') }], join(dir, 'docs', 'sub'));
  assert.is(files[0]!.path, 'a.txt');
});

test('nothing matched, a directory, a clash, or an escaping dest are clear errors', async () => {
  await rejects(() => collectFiles([{ source: 'nope/*.txt' }], dir), (e) => isFerryError(e, 'SOURCE_NOT_FOUND'));
  await rejects(() => collectFiles([{ source: 'docs' }], dir), (e) => isFerryError(e, 'SOURCE_INVALID') && /glob/.test((e as Error).message));
  // docs/b.txt is outside the cwd, so it is carried by name: docs/b.txt, the same as sub/b.txt with dest docs
  await writeFile(join(dir, 'docs', 'b.txt'), 'other beta');
  await rejects(() => collectFiles([{ source: 'b.txt', dest: 'docs' }, { source: join(dir, 'docs', 'b.txt'), dest: 'docs' }], join(dir, 'docs', 'sub')), (e) => isFerryError(e, 'SPEC_INVALID') && /two files/.test((e as Error).message));
  await rejects(() => collectFiles([{ source: 'docs/a.txt', dest: '../up' }], dir), (e) => isFerryError(e, 'SPEC_INVALID'));
  assert.throws(() => bundlePath('/abs', 't'), (e: unknown) => isFerryError(e, 'SPEC_INVALID'));
  assert.throws(() => bundlePath('a\\b', 't'), (e: unknown) => isFerryError(e, 'SPEC_INVALID'));
});

test.run();
