// Damaged, tampered and hostile bundles through the real CLIs: each is refused with a clear
// message and a distinct exit code, and nothing is written outside (or, before trust, inside)
// the target directory.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrivateKey, sign } from 'node:crypto';
import { makeOciLayout } from '../helpers/images.js';
import { bundleCli, loadCli } from '../helpers/cli.js';
import { flipByte, repack, truncateTo } from '../helpers/tamper.js';

let tmp = '';
let pristine = '';

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-hostile-'));
  await makeOciLayout(join(tmp, 'src'), [
    { tag: 'v1', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 150_000, seed: 'h1', gzipLevel: 0 }, { size: 90_000, seed: 'h2', gzipLevel: 0 }] }] },
  ]);
  assert.is((await bundleCli(['keygen', '--no-password', '--out', join(tmp, 'k')])).code, 0);
  assert.is((await bundleCli(['keygen', '--no-password', '--out', join(tmp, 'evil')])).code, 0);
  pristine = join(tmp, 'pristine');
  const r = await bundleCli(['create', '--name', 'h', '--out', pristine, '--key', join(tmp, 'k.key'), '--image', `oci:${join(tmp, 'src')}:v1`, '--volume-size', '128KiB']);
  assert.is(r.code, 0, r.stderr);
});

test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

let n = 0;
/** A fresh copy of the good bundle to damage. */
async function copyBundle(): Promise<string> {
  const d = join(tmp, `case-${++n}`);
  await cp(pristine, d, { recursive: true });
  return d;
}

const trusted = () => ['--trusted-key', join(tmp, 'k.pub')];

async function pushInto(dir: string) {
  const out = join(dir, 'target');
  const r = await loadCli(['push', dir, ...trusted(), '--to', `oci:${out}`, '--yes']);
  return { r, out };
}

async function indexEntries(out: string): Promise<number> {
  if (!existsSync(join(out, 'index.json'))) return 0;
  return JSON.parse(await readFile(join(out, 'index.json'), 'utf8')).manifests.length;
}

test('a flipped byte in a volume: checksum FAIL, verify names the volume, push tags nothing', async () => {
  const d = await copyBundle();
  await flipByte(join(d, 'h-002.tar.zst'), 5000);
  const c = await loadCli(['checksum', d]);
  assert.is(c.code, 7, c.stdout);
  assert.match(c.stdout, /FAIL\s+h-002\.tar\.zst/);
  assert.match(c.stdout, /RESULT: FAIL/);
  const v = await loadCli(['verify', d, ...trusted()]);
  assert.ok(v.code === 9 || v.code === 10, `exit ${v.code}: ${v.stderr}`);
  assert.match(v.stdout + v.stderr, /h-002\.tar\.zst/);
  const { r, out } = await pushInto(d);
  assert.is.not(r.code, 0);
  assert.is(await indexEntries(out), 0);
});

test('a truncated volume is named as damaged', async () => {
  const d = await copyBundle();
  await truncateTo(join(d, 'h-001.tar.zst'), 0.5);
  const v = await loadCli(['verify', d, ...trusted(), '--json']);
  assert.is(v.code, 10, v.stdout);
  const rep = JSON.parse(v.stdout);
  assert.is(rep.volumes[0].status, 'bad');
  assert.is(rep.volumes[0].error.code, 'ARCHIVE_CORRUPT');
});

test('a missing volume is named by checksum and verify', async () => {
  const d = await copyBundle();
  await rm(join(d, 'h-002.tar.zst'));
  const c = await loadCli(['checksum', d]);
  assert.is(c.code, 8);
  assert.match(c.stdout, /MISSING\s+h-002\.tar\.zst/);
  const v = await loadCli(['verify', d, ...trusted()]);
  assert.is(v.code, 8);
  assert.match(v.stderr, /missing volume: h-002\.tar\.zst/);
});

test('an extra volume beside the bundle is reported by checksum', async () => {
  const d = await copyBundle();
  await writeFile(join(d, 'h-009.tar.zst'), 'not ours');
  const c = await loadCli(['checksum', d]);
  assert.is(c.code, 8);
  assert.match(c.stdout, /UNEXPECTED\s+h-009\.tar\.zst/);
});

test('a signature from another key is refused before anything is written', async () => {
  const d = await copyBundle();
  const evil = createPrivateKey(await readFile(join(tmp, 'evil.key')));
  const bytes = await readFile(join(d, 'h.manifest.json'));
  await writeFile(join(d, 'h.manifest.json.sig'), sign('sha256', bytes, evil).toString('base64'));
  const { r, out } = await pushInto(d);
  assert.is(r.code, 6);
  assert.match(r.stderr, /SIGNATURE_INVALID/);
  assert.not.ok(existsSync(out), 'target untouched');
});

test('the manifest beside the volumes edited after signing is refused', async () => {
  const d = await copyBundle();
  const p = join(d, 'h.manifest.json');
  await writeFile(p, (await readFile(p, 'utf8')).replace('"tool"', '"tool" ').replace('"v1"', '"v2"'));
  const v = await loadCli(['verify', d, ...trusted()]);
  assert.is(v.code, 6);
  const { r, out } = await pushInto(d);
  assert.is(r.code, 6);
  assert.not.ok(existsSync(out));
});

test('a manifest copy inside a volume that differs from the signed one is refused', async () => {
  const d = await copyBundle();
  await repack(join(d, 'h-002.tar.zst'), (entries) =>
    entries.map((e) => (e.name === 'h.manifest.json' ? { ...e, data: Buffer.from(e.data.toString().replace('"v1"', '"v9"')) } : e)));
  const v = await loadCli(['verify', d, ...trusted(), '--json']);
  assert.is(v.code, 6, v.stdout);
  assert.match(v.stdout, /h-002\.tar\.zst/);
  assert.match(v.stdout, /differs/);
});

test('an unknown schema version is refused with a clear message, even when correctly signed', async () => {
  const d = await copyBundle();
  const p = join(d, 'h.manifest.json');
  const doc = JSON.parse(await readFile(p, 'utf8'));
  doc.schemaVersion = 5;
  doc.mediaType = 'application/vnd.ferry.bundle.manifest.v5+json';
  const bytes = Buffer.from(JSON.stringify(doc));
  await writeFile(p, bytes);
  const key = createPrivateKey(await readFile(join(tmp, 'k.key')));
  await writeFile(`${p}.sig`, sign('sha256', bytes, key).toString('base64'));
  const v = await loadCli(['verify', d, ...trusted()]);
  assert.is(v.code, 4);
  assert.match(v.stderr, /SCHEMA_VERSION_UNSUPPORTED/);
  assert.match(v.stderr, /schemaVersion 5/);
});

test('hostile tar entries are refused and nothing lands outside the target', async () => {
  const cases: Array<[string, Parameters<typeof repack>[1]]> = [
    ['dot-dot', (es) => [...es, { name: '../../escaped.txt', data: Buffer.from('x') }]],
    ['absolute', (es) => [...es, { name: join(tmp, 'abs-escape.txt'), data: Buffer.from('x') }]],
    ['symlink', (es) => [...es.slice(0, 4), { name: 'blobs/sha256/' + 'a'.repeat(64), data: Buffer.alloc(0), type: 'symlink', linkname: '/etc/passwd' }, ...es.slice(4)]],
    ['hardlink', (es) => [...es.slice(0, 4), { name: 'blobs/sha256/' + 'b'.repeat(64), data: Buffer.alloc(0), type: 'link', linkname: 'index.json' }, ...es.slice(4)]],
    ['device', (es) => [...es.slice(0, 4), { name: 'blobs/sha256/' + 'c'.repeat(64), data: Buffer.alloc(0), type: 'character-device' }, ...es.slice(4)]],
    ['duplicate', (es) => [...es, es[es.length - 1]!]],
    ['oversized', (es) => es.map((e, i) => (i === es.length - 1 ? { ...e, data: Buffer.concat([e.data, Buffer.alloc(1 << 20)]) } : e))],
  ];
  for (const [label, change] of cases) {
    const d = await copyBundle();
    await repack(join(d, 'h-001.tar.zst'), change);
    const v = await loadCli(['verify', d, ...trusted(), '--json']);
    assert.is.not(v.code, 0, `${label}: verify accepted it`);
    const rep = JSON.parse(v.stdout);
    assert.ok(['ARCHIVE_HOSTILE', 'BLOB_MISMATCH'].includes(rep.error?.code), `${label}: ${v.stdout}`);
    const { r, out } = await pushInto(d);
    assert.is.not(r.code, 0, `${label}: push accepted it`);
    assert.is(await indexEntries(out), 0, `${label}: something was tagged`);
  }
  assert.not.ok(existsSync(join(tmp, 'escaped.txt')));
  assert.not.ok(existsSync(join(tmp, 'abs-escape.txt')));
});

test('a zstd bomb (a huge run of zeros after the archive) is cut off', async () => {
  const d = await copyBundle();
  const { compress } = await import('zstd-napi');
  const p = join(d, 'h-002.tar.zst');
  // 256 MiB of zeros compresses to a few KiB; appended as another frame.
  const bomb = compress(Buffer.alloc(256 << 20));
  await writeFile(p, Buffer.concat([await readFile(p), bomb]));
  const started = Date.now();
  const v = await loadCli(['verify', d, ...trusted(), '--json']);
  assert.is.not(v.code, 0);
  assert.match(v.stdout, /ARCHIVE_HOSTILE|ARCHIVE_CORRUPT/);
  assert.ok(Date.now() - started < 30_000);
});

test.run();

