import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isFerryError } from '@ferry/format-spec';
import { locateBundle, openTrusted, readManifest } from '../src/bundle.js';
import { rejects } from '../../../test/helpers/assert.js';
import { quickly } from '../../../test/helpers/fifo-guard.js';

let dir = '';
test.before(async () => { dir = await mkdtemp(join(tmpdir(), 'ferry-locate-')); });
test.after(async () => { await rm(dir, { recursive: true, force: true }); });

test('PATH may be the directory, the manifest, its signature, the checksum list or a volume', async () => {
  const d = join(dir, 'one');
  await mkdir(d);
  for (const f of ['w.manifest.json', 'w.manifest.json.sig', 'w.sha256', 'w-001.tar.zst', 'notes.txt']) await writeFile(join(d, f), 'x');
  for (const p of [d, join(d, 'w.manifest.json'), join(d, 'w.manifest.json.sig'), join(d, 'w.sha256'), join(d, 'w-001.tar.zst')]) {
    assert.equal(await locateBundle(p), { dir: d, name: 'w' }, p);
  }
  await rejects(() => locateBundle(join(d, 'notes.txt')), (e) => isFerryError(e, 'USAGE'));
  await rejects(() => locateBundle(join(d, 'absent')), (e) => isFerryError(e, 'INPUT_NOT_FOUND'));
});

test('a directory with two bundles or none is refused with the names', async () => {
  const d = join(dir, 'two');
  await mkdir(d);
  await rejects(() => locateBundle(d), (e) => isFerryError(e, 'INPUT_NOT_FOUND'));
  await writeFile(join(d, 'a.sha256'), 'x');
  await writeFile(join(d, 'b-001.tar.zst'), 'x');
  await rejects(() => locateBundle(d), (e) => isFerryError(e, 'USAGE') && /a, b/.test((e as Error).message));
});

test('a manifest file that is a directory or absurdly large is refused before it is read', async () => {
  // INPUT_INVALID (issue 6): "not a regular file / far too large" has its own code now.
  const d = join(dir, 'odd');
  await mkdir(join(d, 'x.manifest.json'), { recursive: true });
  await rejects(() => readManifest({ dir: d, name: 'x' }), (e) => isFerryError(e, 'INPUT_INVALID') && /is a directory/.test((e as Error).message));
  const big = join(dir, 'big');
  await mkdir(big);
  await writeFile(join(big, 'y.manifest.json'), Buffer.alloc((64 << 20) + 1));
  await rejects(() => readManifest({ dir: big, name: 'y' }), (e) => isFerryError(e, 'INPUT_INVALID') && /larger than any manifest/.test((e as Error).message));
});

test('PATH that is a FIFO or a directory by a bundle file name locates the bundle; the reader then names what it is', async () => {
  const d = join(dir, 'special');
  await mkdir(d);
  execFileSync('mkfifo', [join(d, 's.manifest.json')]);
  assert.equal(await locateBundle(join(d, 's.manifest.json')), { dir: d, name: 's' });
  await rejects(() => quickly(readManifest({ dir: d, name: 's' }), [join(d, 's.manifest.json')]), (e) => isFerryError(e, 'INPUT_INVALID') && /manifest .* is a FIFO/.test((e as Error).message));
  execFileSync('mkfifo', [join(d, 'notes.fifo')]);
  await rejects(() => locateBundle(join(d, 'notes.fifo')), (e) => isFerryError(e, 'INPUT_INVALID') && /neither a directory nor a regular file/.test((e as Error).message));
  await mkdir(join(dir, 'w.sha256'));
  await rejects(() => locateBundle(join(dir, 'w.sha256')), (e) => isFerryError(e, 'INPUT_INVALID') && /is a directory, not a regular file/.test((e as Error).message));
});

test('unsigned: refused unless allowed; signed without a trusted key: asks for one', async () => {
  const d = join(dir, 'sig');
  await mkdir(d);
  await writeFile(join(d, 'u.manifest.json'), '{}');
  await rejects(() => openTrusted(d, { trustedKeys: [] }), (e) => isFerryError(e, 'SIGNATURE_MISSING'));
  // Allowed through the signature step, it still has to be a valid manifest.
  await rejects(() => openTrusted(d, { trustedKeys: [], allowUnsigned: true }), (e) => isFerryError(e, 'SCHEMA_VERSION_UNSUPPORTED'));
  await writeFile(join(d, 'u.manifest.json.sig'), 'AAAA');
  await rejects(() => openTrusted(d, { trustedKeys: [] }), (e) => isFerryError(e, 'TRUSTED_KEY_REQUIRED'));
});

test.run();
