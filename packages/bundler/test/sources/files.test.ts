import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, mkdir, rm, writeFile, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import ssri from 'ssri';
import { isFerryError } from '@ferry/format-spec';
import { collectFiles, bundlePath, hashFiles, listFiles, parseFileArg } from '../../src/sources/files.js';
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

test('absolute globs outside the working directory keep their path below the glob, not ../', async () => {
  const elsewhere = await mkdtemp(join(tmpdir(), 'ferry-files-cwd-'));
  try {
    const files = await listFiles([{ source: join(dir, 'docs', '**', '*.txt') }, { source: join(dir, 'docs', '*.pdf') }], elsewhere);
    assert.equal(files.map((f) => f.path), ['a.txt', 'sub/b.txt', 'c.pdf']);
    // A relative glob reaching outside is the same.
    const up = await listFiles([{ source: '../*.pdf', cwd: join(dir, 'docs', 'sub') }], elsewhere);
    assert.equal(up.map((f) => f.path), ['c.pdf']);
    // Inside the working directory an absolute glob keeps the path relative to it, as before.
    const inside = await listFiles([{ source: join(dir, 'docs', '*.pdf') }], dir);
    assert.equal(inside.map((f) => f.path), ['docs/c.pdf']);
  } finally {
    await rm(elsewhere, { recursive: true, force: true });
  }
});

test('--file SRC=DEST: a file renamed, a glob under a directory; a literal path with = stays a path', async () => {
  assert.equal(parseFileArg('docs/a.txt=manuals/alpha.txt', dir), { source: 'docs/a.txt', as: 'manuals/alpha.txt' });
  assert.equal(parseFileArg('docs/a.txt=manuals/', dir), { source: 'docs/a.txt', belowGlob: true, dest: 'manuals' });
  assert.equal(parseFileArg('docs/**/*.txt=text', dir), { source: 'docs/**/*.txt', belowGlob: true, dest: 'text' });
  assert.equal(parseFileArg('docs/a.txt', dir), { source: 'docs/a.txt' });
  await writeFile(join(dir, 'k=v.txt'), 'eq');
  assert.equal(parseFileArg('k=v.txt', dir), { source: 'k=v.txt' });
  assert.throws(() => parseFileArg('docs/a.txt=', dir), (e: unknown) => isFerryError(e, 'USAGE') && /SRC=DEST/.test((e as Error).message));
  const files = await listFiles([parseFileArg(`${join(dir, 'docs', 'a.txt')}=manuals/alpha.txt`, dir), parseFileArg(`${join(dir, 'docs')}/**/*.txt=text`, dir), parseFileArg('docs/c.pdf=pdf/', dir)], dir);
  assert.equal(files.map((f) => f.path), ['manuals/alpha.txt', 'text/a.txt', 'text/sub/b.txt', 'pdf/c.pdf']);
  await rejects(() => listFiles([parseFileArg('docs/a.txt=../escape', dir)], dir), (e) => isFerryError(e, 'SPEC_INVALID'));
});

test('a glob matching nothing is an error naming the pattern', async () => {
  const pattern = join(dir, 'nowhere', '*.iso');
  await rejects(() => listFiles([{ source: pattern }], dir), (e) => isFerryError(e, 'SOURCE_NOT_FOUND') && (e as Error).message.includes(pattern) && /matches no file/.test((e as Error).message));
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

test("bundle paths follow the format's one rule (bundlePathProblem), so create never writes what load refuses", async () => {
  assert.is(bundlePath('./docs//a.txt', 't'), 'docs/a.txt');
  assert.is(bundlePath('x/.ferry/a', 't'), 'x/.ferry/a');
  const bad: Array<[string, RegExp]> = [
    ['x\n/../../../etc/cron.d/x', /control character/],
    ['x\r', /control character/],
    ['a\u2028b', /line separator/],
    ['a\u2029b', /line separator/],
    ['\u001b[2Jclear', /control character/],
    ['a\u0085', /control character/],
    ['.ferry/state', /reserved/],
    ['.FERRY', /reserved/],
    ['s'.repeat(256), /segment of 256 bytes/],
    ['é'.repeat(128), /segment of 256 bytes/],
    ['docs/', /ends with a slash/],
    ['../x', /'\.\.' segment/],
  ];
  for (const [p, why] of bad) {
    assert.throws(() => bundlePath(p, '--file t'), (e: unknown) => isFerryError(e, 'SPEC_INVALID') && why.test((e as Error).message) && /^--file t: bundle path "/.test((e as Error).message) && !/[\n\r\u2028\u2029\u001b\u0085]/.test((e as Error).message), JSON.stringify(p));
  }
  // From disk: a file whose name holds a newline, and a dest in Ferry's reserved directory.
  await mkdir(join(dir, 'odd'), { recursive: true });
  await writeFile(join(dir, 'odd', 'bad\nname.txt'), 'x');
  await rejects(() => collectFiles([{ source: 'odd/*.txt' }], dir), (e) => isFerryError(e, 'SPEC_INVALID') && /odd\/bad\\x0aname\.txt/.test((e as Error).message));
  await rejects(() => collectFiles([{ source: 'docs/a.txt', dest: '.ferry' }], dir), (e) => isFerryError(e, 'SPEC_INVALID') && /reserved/.test((e as Error).message));
});

test('listFiles finds files and their bundle paths without reading them', async () => {
  const listed = await listFiles([{ source: 'docs/**/*.txt' }], dir);
  assert.equal(listed.map((f) => f.path), ['docs/a.txt', 'docs/b.txt', 'docs/sub/b.txt']);
  assert.not.ok(listed.some((f) => 'digest' in f), 'no hash yet');
  const hashed = await hashFiles(listed);
  assert.is(hashed[0]!.digest, 'sha256:' + createHash('sha256').update('alpha').digest('hex'));
});

test.run();
