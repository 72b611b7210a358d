import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, mkdtemp, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { formatChecksums, generateKeyPair, signBytes, isFerryError } from '@ferry/format-spec';
import { createPrivateKey } from 'node:crypto';
import { checksumBundle, formatReceipt } from '../src/checksum.js';
import { rejects } from '../../../test/helpers/assert.js';
import { quickly } from '../../../test/helpers/fifo-guard.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

async function bundleDir(files: Record<string, string>, listed: Record<string, string>): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'ferry-sum-'));
  for (const [f, c] of Object.entries(files)) await writeFile(join(d, f), c);
  await writeFile(join(d, 'b.sha256'), formatChecksums(Object.entries(listed).map(([file, c]) => ({ file, sha256: sha(c) }))));
  return d;
}

test('PASS, FAIL, MISSING and UNEXPECTED are each named, and only all-PASS passes', async () => {
  const d = await bundleDir(
    { 'b.manifest.json': 'm', 'b-001.tar.zst': 'one', 'b-002.tar.zst': 'tampered', 'b-004.tar.zst': 'stray' },
    { 'b.manifest.json': 'm', 'b-001.tar.zst': 'one', 'b-002.tar.zst': 'two', 'b-003.tar.zst': 'three' },
  );
  try {
    const r = await checksumBundle(d);
    assert.equal(r.files.map((f) => [f.file, f.status]), [
      ['b.manifest.json', 'PASS'], ['b-001.tar.zst', 'PASS'], ['b-002.tar.zst', 'FAIL'], ['b-003.tar.zst', 'MISSING'], ['b-004.tar.zst', 'UNEXPECTED'],
    ]);
    assert.not.ok(r.passed);
    const receipt = formatReceipt(r, new Date('2026-11-26T00:00:00Z'));
    assert.match(receipt, /FAIL\s+b-002\.tar\.zst\s+expected sha256:/);
    assert.match(receipt, /RESULT: FAIL — 2 passed, 1 failed, 1 missing, 1 unexpected/);
    assert.match(receipt, /List signature: not checked/);
  } finally {
    await rm(d, { recursive: true, force: true });
  }
});

test('a listed file that is a FIFO, a device or a directory is a FAIL with the reason, never a hang', async () => {
  const d = await bundleDir({ 'b.manifest.json': 'm', 'b-004.tar.zst': 'four' }, { 'b.manifest.json': 'm', 'b-001.tar.zst': 'one', 'b-002.tar.zst': 'two', 'b-003.tar.zst': 'three', 'b-004.tar.zst': 'four' });
  try {
    execFileSync('mkfifo', [join(d, 'b-001.tar.zst')]);
    await symlink('/dev/zero', join(d, 'b-002.tar.zst'));
    await mkdir(join(d, 'b-003.tar.zst'));
    const r = await quickly(checksumBundle(d), [join(d, 'b-001.tar.zst')]);
    assert.equal(r.files.map((f) => [f.file, f.status]), [['b.manifest.json', 'PASS'], ['b-001.tar.zst', 'FAIL'], ['b-002.tar.zst', 'FAIL'], ['b-003.tar.zst', 'FAIL'], ['b-004.tar.zst', 'PASS']]);
    assert.match(r.files[1]!.reason!, /is a FIFO/);
    assert.match(r.files[2]!.reason!, /is a character device \(a symbolic link to \/dev\/zero\)/);
    assert.match(r.files[3]!.reason!, /is a directory/);
    assert.not.ok(r.passed);
    const receipt = formatReceipt(r);
    assert.match(receipt, /FAIL\s+b-001\.tar\.zst\s+NOT CHECKED: volume .* is a FIFO/);
    assert.match(receipt, /RESULT: FAIL — 2 passed, 3 failed, 0 missing, 0 unexpected/);
  } finally {
    await rm(d, { recursive: true, force: true });
  }
});

test('the checksum list, its signature and a listed manifest are read with their caps', async () => {
  const d = await bundleDir({ 'b-001.tar.zst': 'one' }, { 'b.manifest.json': 'm', 'b-001.tar.zst': 'one' });
  try {
    await writeFile(join(d, 'b.manifest.json'), '');
    await truncate(join(d, 'b.manifest.json'), (64 << 20) + 1);
    const r = await checksumBundle(d);
    assert.is(r.files[0]!.status, 'FAIL');
    assert.match(r.files[0]!.reason!, /larger than any manifest Ferry accepts/);
    const kp = generateKeyPair('ecdsa-p256');
    await writeFile(join(d, 'k.pub'), kp.publicPem);
    await symlink('/dev/zero', join(d, 'b.sha256.sig'));
    await rejects(() => checksumBundle(d, { keys: [join(d, 'k.pub')] }), (e) => isFerryError(e, 'INPUT_INVALID') && /checksum list signature .* character device/.test((e as Error).message));
    await truncate(join(d, 'b.sha256'), 3 * 1024 ** 3); // sparse: no disk used
    await rejects(() => checksumBundle(d), (e) => isFerryError(e, 'INPUT_INVALID') && /checksum list .* is 3\.00 GiB/.test((e as Error).message));
    await rm(join(d, 'b.sha256'));
    execFileSync('mkfifo', [join(d, 'b.sha256')]);
    await rejects(() => quickly(checksumBundle(d), [join(d, 'b.sha256')]), (e) => isFerryError(e, 'INPUT_INVALID') && /checksum list .* is a FIFO/.test((e as Error).message));
  } finally {
    await rm(d, { recursive: true, force: true });
  }
});

test('with --key the list signature is checked first; a missing or wrong one is refused', async () => {
  const d = await bundleDir({ 'b-001.tar.zst': 'one' }, { 'b-001.tar.zst': 'one' });
  try {
    const kp = generateKeyPair('ecdsa-p256');
    const other = generateKeyPair('ecdsa-p256');
    await writeFile(join(d, 'k.pub'), kp.publicPem);
    await rejects(() => checksumBundle(d, { keys: [join(d, 'k.pub')] }), (e) => isFerryError(e, 'SIGNATURE_MISSING'));
    const list = Buffer.from(formatChecksums([{ file: 'b-001.tar.zst', sha256: sha('one') }]));
    await writeFile(join(d, 'b.sha256.sig'), signBytes(list, createPrivateKey(other.privatePem)));
    await rejects(() => checksumBundle(d, { keys: [join(d, 'k.pub')] }), (e) => isFerryError(e, 'SIGNATURE_INVALID'));
    await writeFile(join(d, 'b.sha256.sig'), signBytes(list, createPrivateKey(kp.privatePem)));
    const r = await checksumBundle(d, { keys: [join(d, 'k.pub')] });
    assert.ok(r.passed);
    assert.is(r.listSignature, 'verified');
    assert.is(r.signedBy, kp.fingerprint);
  } finally {
    await rm(d, { recursive: true, force: true });
  }
});

test.run();
