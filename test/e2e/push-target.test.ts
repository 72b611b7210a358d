// What `ferry-load push` does to the directories it writes, through the real CLI: it stays inside
// them, follows no link it did not make, keeps its temp files where no carried path can be,
// refuses overlapping targets, repairs damaged blobs it finds, and reports filesystem errors as
// what they are.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeOciLayout, type WrittenImage } from '../helpers/images.js';
import { bundleCli, loadCli, sh } from '../helpers/cli.js';
import { flipByte } from '../helpers/tamper.js';

let tmp = '';
let img: WrittenImage;
let bundle = '';

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-push-target-'));
  [img] = (await makeOciLayout(join(tmp, 'src'), [
    { tag: 'v1', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 120_000, seed: 't1', gzipLevel: 0 }, { size: 40_000, seed: 't2', gzipLevel: 0 }] }] },
  ])) as [WrittenImage];
  await mkdir(join(tmp, 'files', 'docs'), { recursive: true });
  await writeFile(join(tmp, 'files', 'docs', 'a.txt'), 'the real a.txt\n');
  // A carried name that was also Ferry's old temp name for docs/a.txt.
  await writeFile(join(tmp, 'files', 'docs', 'a.txt.ferry-partial'), 'a file that happens to have this name\n');
  assert.is((await bundleCli(['keygen', '--no-password', '--out', join(tmp, 'k')])).code, 0);
  bundle = join(tmp, 'bundle');
  const r = await bundleCli(['create', '--name', 'pt', '--out', bundle, '--key', join(tmp, 'k.key'), '--image', `oci:${join(tmp, 'src')}:v1`,
    '--file', 'docs/*', '--volume-size', '128KiB'], { cwd: join(tmp, 'files') });
  assert.is(r.code, 0, r.stderr);
});

test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const push = (to: string, extra: string[] = []) => loadCli(['push', bundle, '--trusted-key', join(tmp, 'k.pub'), '--to', `oci:${to}`, '--yes', ...extra]);

test('a files directory that overlaps the layout, or a target that overlaps the bundle directory, is refused before anything is written', async () => {
  const out = join(tmp, 'overlap', 'oci');
  const cases: Array<[string, string[]]> = [
    ['files dir = layout', [out, '--files-dir', out]],
    ['files dir inside layout', [out, '--files-dir', join(out, 'files')]],
    ['layout inside files dir', [out, '--files-dir', join(tmp, 'overlap')]],
    ['layout inside the bundle', [join(bundle, 'oci')]],
    ['files dir inside the bundle', [out, '--files-dir', join(bundle, 'files')]],
    ['bundle inside the files dir', [out, '--files-dir', tmp]],
  ];
  for (const [label, [to, ...extra]] of cases) {
    const r = await push(to!, extra);
    assert.is(r.code, 2, `${label}: ${r.stderr}`);
    assert.match(r.stderr, /overlaps/, label);
    assert.not.ok(existsSync(join(tmp, 'overlap')), `${label}: nothing created`);
    assert.equal((await readdir(bundle)).filter((n) => !n.startsWith('pt')), [], `${label}: nothing written into the bundle directory`);
  }
});

test('both docs/a.txt and docs/a.txt.ferry-partial are carried and land with their own content; no temp file is left', async () => {
  const out = join(tmp, 'names', 'oci');
  // What an interrupted run leaves in both targets is cleared once a later run completes.
  await mkdir(join(tmp, 'names', 'oci', '.ferry', 'tmp'), { recursive: true });
  await writeFile(join(out, '.ferry', 'tmp', '4242-abcd-leftover'), 'half a blob');
  await mkdir(join(tmp, 'names', 'oci-files', '.ferry', 'tmp'), { recursive: true });
  await writeFile(join(tmp, 'names', 'oci-files', '.ferry', 'tmp', '4242-file-leftover'), 'half a file');
  const r = await push(out);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const files = join(tmp, 'names', 'oci-files');
  assert.is(await readFile(join(files, 'docs', 'a.txt'), 'utf8'), 'the real a.txt\n');
  assert.is(await readFile(join(files, 'docs', 'a.txt.ferry-partial'), 'utf8'), 'a file that happens to have this name\n');
  assert.equal(await readdir(join(out, '.ferry', 'tmp')), []);
  assert.equal(await readdir(join(files, '.ferry', 'tmp')), []);
  assert.not.ok(existsSync(join(out, '.ferry', 'lock')), 'the run lock is released');
});

test('links planted in the target are refused, not followed, and nothing is written through them', async () => {
  const outside = join(tmp, 'outside');
  await mkdir(outside, { recursive: true });
  await writeFile(join(outside, 'a.txt'), 'precious');
  const cases: Array<[string, (base: string) => Promise<void>, RegExp]> = [
    ['blobs/sha256 -> outside', async (base) => {
      await mkdir(join(base, 'oci', 'blobs'), { recursive: true });
      await writeFile(join(base, 'oci', 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
      await symlink(outside, join(base, 'oci', 'blobs', 'sha256'));
    }, /blobs\/sha256 is a symbolic link/],
    ['.ferry/tmp -> outside', async (base) => {
      await mkdir(join(base, 'oci', '.ferry'), { recursive: true });
      await symlink(outside, join(base, 'oci', '.ferry', 'tmp'));
    }, /\.ferry\/tmp is a symbolic link/],
    ['files dir docs -> outside', async (base) => {
      await mkdir(join(base, 'oci-files'), { recursive: true });
      await symlink(outside, join(base, 'oci-files', 'docs'));
    }, /docs is a symbolic link/],
    ['a carried file -> outside', async (base) => {
      await mkdir(join(base, 'oci-files', 'docs'), { recursive: true });
      await symlink(join(outside, 'a.txt'), join(base, 'oci-files', 'docs', 'a.txt'));
    }, /a\.txt is a symbolic link/],
  ];
  for (const [label, plant, re] of cases) {
    const base = join(tmp, `links-${label.replace(/\W+/g, '-')}`);
    await plant(base);
    const r = await push(join(base, 'oci'));
    assert.is(r.code, 14, `${label}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, re, label);
    assert.match(r.stderr, /TARGET_ERROR/, label);
    assert.equal((await readdir(outside)).sort(), ['a.txt'], `${label}: nothing written outside`);
    assert.is(await readFile(join(outside, 'a.txt'), 'utf8'), 'precious', label);
  }
});

test('blobs in the target that are short or corrupt are found (size and content) and repaired by the next run', async () => {
  const out = join(tmp, 'repair', 'oci');
  const first = await push(out);
  assert.is(first.code, 0, first.stderr);
  const [big, small] = [img.layers[0]![0]!, img.layers[0]![1]!];
  await truncate(join(out, 'blobs', 'sha256', big.digest.slice(7)), 1000); // a power cut mid-write
  await flipByte(join(out, 'blobs', 'sha256', small.digest.slice(7)), 200); // same size, wrong bytes
  const r = await push(out, ['--json']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const rep = JSON.parse(r.stdout);
  assert.is(rep.plan.blobsDamaged, 2);
  assert.is(rep.blobsWritten, 2);
  assert.is((await stat(join(out, 'blobs', 'sha256', big.digest.slice(7)))).size, big.size);
  const copy = await sh(`skopeo copy oci:${out}:src:v1 oci:${join(tmp, 'repair', 'check')}:x`);
  assert.is(copy.code, 0, copy.stderr);
  // The plain-text plan says so before loading.
  await flipByte(join(out, 'blobs', 'sha256', small.digest.slice(7)), 10);
  const plain = await push(out);
  assert.is(plain.code, 0, plain.stderr);
  assert.match(plain.stderr, /1 damaged blob\(s\) there will be replaced/);
});

test('filesystem errors are reported as what they are, with the path: a file where a directory belongs, a directory where a file belongs, a name too long', async () => {
  const base = join(tmp, 'fs-errors');
  await mkdir(join(base, 'oci-files'), { recursive: true });
  await writeFile(join(base, 'oci-files', 'docs'), 'a file where the bundle needs a directory');
  const notDir = await push(join(base, 'oci'));
  assert.is(notDir.code, 14, notDir.stderr);
  assert.match(notDir.stderr, /TARGET_ERROR.*docs is a regular file, where a directory the bundle needs belongs/);
  assert.not.match(notDir.stderr, /ARCHIVE_HOSTILE|INTERNAL|hostile/);

  const base2 = join(tmp, 'fs-errors2');
  await mkdir(join(base2, 'oci-files', 'docs', 'a.txt'), { recursive: true });
  const isDir = await push(join(base2, 'oci'));
  assert.is(isDir.code, 14, isDir.stderr);
  assert.match(isDir.stderr, /a\.txt is a directory, where carried file docs\/a\.txt belongs/);

  // A files directory so deep that carried paths pass PATH_MAX.
  let deep = join(tmp, 'deep');
  while (deep.length < 3880) deep = join(deep, 'd'.repeat(200));
  deep = join(deep, 'e'.repeat(4085 - deep.length - 1));
  await mkdir(deep, { recursive: true });
  const long = await push(join(tmp, 'deep-oci'), ['--files-dir', deep]);
  assert.is(long.code, 14, long.stderr);
  assert.match(long.stderr, /too long for the target file system/);
  assert.not.match(long.stderr, /ARCHIVE_HOSTILE|INTERNAL/);
});

test.run();
