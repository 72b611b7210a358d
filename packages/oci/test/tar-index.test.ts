import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm, writeFile, mkdir, readFile, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import tar from 'tar-stream';
import { FerryError } from '@ferry/format-spec';
import { indexTar, lookupTarEntry, openTarEntry, readTarEntry, normaliseTarName } from '../src/tar-index.js';
import { rejectsCode as rejects } from '../../../test/helpers/assert.js';

const run = promisify(execFile);
let root: string;

type Entry = { name: string; body?: string | Buffer; type?: 'file' | 'symlink' | 'link' | 'directory' | 'character-device' | 'fifo'; linkname?: string; pax?: Record<string, string> };

async function makeTar(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  for (const e of entries) {
    const body = e.body === undefined ? undefined : Buffer.from(e.body);
    const header = { name: e.name, type: e.type ?? 'file', mode: 0o644, mtime: new Date(0), ...(e.linkname ? { linkname: e.linkname } : {}), ...(e.pax ? { pax: e.pax } : {}), ...(e.type === 'character-device' ? { devmajor: 1, devminor: 3 } : {}) };
    if (body) pack.entry({ ...header, size: body.length }, body);
    else pack.entry(header);
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function file(name: string, data: Buffer): Promise<string> {
  const p = join(root, name);
  await writeFile(p, data);
  return p;
}


async function text(s: NodeJS.ReadableStream): Promise<string> {
  let out = '';
  for await (const c of s) out += c.toString();
  return out;
}

test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'ferry-tar-index-'));
});
test.after(async () => {
  await rm(root, { recursive: true, force: true });
});

test('indexes regular files with exact offsets; reads them back without extracting', async () => {
  const big = Buffer.alloc(70_000, 7);
  const p = await file('a.tar', await makeTar([
    { name: 'dir/', type: 'directory' },
    { name: 'dir/one.txt', body: 'first file' },
    { name: 'empty', body: '' },
    { name: 'big.bin', body: big },
  ]));
  const idx = await indexTar(p);
  assert.equal([...idx.entries.keys()], ['dir/one.txt', 'empty', 'big.bin']);
  const one = idx.entries.get('dir/one.txt')!;
  assert.is(one.size, 10);
  assert.is((await readFile(p)).subarray(one.offset, one.offset + one.size).toString(), 'first file');
  assert.is(await text(openTarEntry(idx, one)), 'first file');
  assert.is(await text(openTarEntry(idx, idx.entries.get('empty')!)), '');
  assert.ok((await readTarEntry(idx, idx.entries.get('big.bin')!, 1 << 20)).equals(big));
  await rejects(readTarEntry(idx, idx.entries.get('big.bin')!, 1000), 'SOURCE_INVALID', /more than the 1000 allowed/);
});

test('GNU tar (long names, ./ prefix) and pax (long names) are read', async () => {
  const src = join(root, 'tree');
  const long = `${'d'.repeat(120)}/${'f'.repeat(150)}.txt`;
  await mkdir(join(src, 'd'.repeat(120)), { recursive: true });
  await writeFile(join(src, long), 'long name content');
  await writeFile(join(src, 'short'), 'short content');
  await symlink('short', join(src, 'link'));
  for (const format of ['gnu', 'pax', 'ustar']) {
    const out = join(root, `tree-${format}.tar`);
    // `-C dir .` gives ./-prefixed names, as docker and some scripts write them
    const r = await run('tar', ['--format', format, '-C', src, '-cf', out, '.']).then(() => true, () => false);
    if (!r) {
      assert.is(format, 'ustar', 'only ustar may fail (name too long for it)');
      continue;
    }
    const idx = await indexTar(out);
    assert.ok(idx.entries.has('short'), format);
    assert.ok(idx.entries.has(long), `${format}: long name`);
    assert.is(await text(openTarEntry(idx, idx.entries.get(long)!)), 'long name content');
    assert.is(idx.links.get('link')?.target, 'short');
    assert.ok(idx.notes.some((n) => n.startsWith('link: symbolic link')));
  }
});

test('pax size and path override the ustar header', async () => {
  const p = await file('pax.tar', await makeTar([{ name: 'short-name', body: 'payload', pax: { path: 'blobs/sha256/over-ridden', comment: 'ignored' } }]));
  const idx = await indexTar(p);
  assert.equal([...idx.entries.keys()], ['blobs/sha256/over-ridden']);
  assert.is(await text(openTarEntry(idx, idx.entries.get('blobs/sha256/over-ridden')!)), 'payload');
});

test('base-256 size fields are understood', async () => {
  const buf = await makeTar([{ name: 'x', body: 'abcdef' }, { name: 'y', body: 'z' }]);
  // Rewrite x's size (6) in GNU base-256 and fix the header checksum.
  buf.fill(0, 124, 136);
  buf[124] = 0x80;
  buf[135] = 6;
  buf.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += buf[i]!;
  buf.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  const idx = await indexTar(await file('b256.tar', buf));
  assert.is(idx.entries.get('x')!.size, 6);
  assert.is(await text(openTarEntry(idx, idx.entries.get('y')!)), 'z');
});

test('".." and absolute names are refused as hostile', async () => {
  for (const name of ['../evil', 'blobs/../../evil', 'a/b/../../../c']) {
    const p = await file('dotdot.tar', await makeTar([{ name: 'ok', body: 'x' }, { name, body: 'pwned' }]));
    await rejects(indexTar(p), 'ARCHIVE_HOSTILE', /\.\." component/);
  }
  const abs = await makeTar([{ name: 'placeholder', body: 'x' }]);
  abs.write('/etc/passwd\0', 0, 'latin1');
  abs.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += abs[i]!;
  abs.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  await rejects(indexTar(await file('abs.tar', abs)), 'ARCHIVE_HOSTILE', /absolute name/);
  // via a pax path too
  await rejects(indexTar(await file('paxabs.tar', await makeTar([{ name: 'fine', body: 'x', pax: { path: '/root/.ssh/authorized_keys' } }]))), 'ARCHIVE_HOSTILE', /absolute/);
  assert.throws(() => normaliseTarName('a\0b', 'f'), /NUL/);
  assert.is(normaliseTarName('./././blobs//sha256/./x', 'f'), 'blobs/sha256/x');
});

test('duplicate names are refused rather than guessing which one a reader sees', async () => {
  const p = await file('dup.tar', await makeTar([{ name: 'index.json', body: '{}' }, { name: './index.json', body: '{"evil":1}' }]));
  await rejects(indexTar(p), 'ARCHIVE_HOSTILE', /appears more than once/);
});

test('links are recorded, never indexed as files; following stays inside the archive', async () => {
  const p = await file('links.tar', await makeTar([
    { name: 'real/layer.tar', body: 'layer bytes' },
    { name: 'dup/layer.tar', type: 'symlink', linkname: '../real/layer.tar' },
    { name: 'hard', type: 'link', linkname: 'real/layer.tar' },
    { name: 'escape', type: 'symlink', linkname: '../../../etc/passwd' },
    { name: 'abs', type: 'symlink', linkname: '/etc/passwd' },
    { name: 'loop1', type: 'symlink', linkname: 'loop2' },
    { name: 'loop2', type: 'symlink', linkname: 'loop1' },
    { name: 'dev', type: 'character-device' },
    { name: 'pipe', type: 'fifo' },
  ]));
  const idx = await indexTar(p);
  assert.equal([...idx.entries.keys()], ['real/layer.tar']);
  assert.ok(idx.notes.some((n) => /dev: device node ignored/.test(n)));
  assert.ok(idx.notes.some((n) => /pipe: FIFO ignored/.test(n)));
  // not followed unless asked
  assert.throws(() => lookupTarEntry(idx, 'dup/layer.tar', false), /link inside the archive/);
  assert.is(lookupTarEntry(idx, 'dup/layer.tar', true)?.name, 'real/layer.tar');
  assert.is(lookupTarEntry(idx, 'hard', true)?.name, 'real/layer.tar');
  assert.is(lookupTarEntry(idx, 'nothing', true), undefined);
  for (const n of ['escape', 'abs']) {
    try {
      lookupTarEntry(idx, n, true);
      assert.unreachable();
    } catch (e) {
      assert.is((e as FerryError).code, 'ARCHIVE_HOSTILE');
    }
  }
  assert.throws(() => lookupTarEntry(idx, 'loop1', true), /more than 8 links/);
});

test('truncated, empty, corrupt and compressed archives are refused with the reason', async () => {
  const good = await makeTar([{ name: 'a', body: Buffer.alloc(5000, 1) }, { name: 'b', body: 'bb' }]);
  await rejects(indexTar(await file('cut-data.tar', good.subarray(0, 2000))), 'SOURCE_INVALID', /truncated: entry at offset 0 needs 5000 bytes/);
  // cut exactly after an entry: no end-of-archive marker
  await rejects(indexTar(await file('cut-boundary.tar', good.subarray(0, 512 + 5120))), 'SOURCE_INVALID', /without the end-of-archive marker/);
  await rejects(indexTar(await file('empty.tar', Buffer.alloc(0))), 'SOURCE_INVALID', /empty/);
  const bad = Buffer.from(good);
  bad[10] ^= 0xff; // inside the name field: checksum no longer matches
  await rejects(indexTar(await file('badsum.tar', bad)), 'SOURCE_INVALID', /checksum mismatch at offset 0/);
  await rejects(indexTar(await file('garbage.tar', Buffer.alloc(2048, 0x41))), 'SOURCE_INVALID', /no tar header/);
  const gz = join(root, 'x.tar.gz');
  await writeFile(join(root, 'plain.tar'), good);
  await run('sh', ['-c', `gzip -c ${join(root, 'plain.tar')} > ${gz}`]);
  await rejects(indexTar(gz), 'SOURCE_INVALID', /gzip-compressed/);
  await rejects(indexTar(join(root, 'missing.tar')), 'SOURCE_NOT_FOUND');
  await rejects(indexTar(root), 'SOURCE_INVALID', /directory/);
});

test('too many entries is refused', async () => {
  const entries = Array.from({ length: 20 }, (_, i) => ({ name: `f${i}`, body: 'x' }));
  await rejects(indexTar(await file('many.tar', await makeTar(entries)), { maxEntries: 10 }), 'ARCHIVE_HOSTILE', /more than 10 entries/);
});

test.run();
