import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, mkdtemp, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { formatChecksums, generateKeyPair, signBytes, isFerryError } from '@ferry/format-spec';
import { createPrivateKey } from 'node:crypto';
import { checksumBundle, formatFailureReceipt, formatReceipt, parseVolumeList } from '../src/checksum.js';
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

test('onTotal: before the first byte, the bytes of the listed regular files that are here and selected (no FIFO, device, directory or absent file)', async () => {
  const d = await bundleDir({ 'b.manifest.json': 'mm', 'b-004.tar.zst': 'four', 'b-005.tar.zst': 'fiftyfive' }, { 'b.manifest.json': 'mm', 'b-001.tar.zst': 'one', 'b-002.tar.zst': 'two', 'b-003.tar.zst': 'three', 'b-004.tar.zst': 'four', 'b-005.tar.zst': 'fiftyfive', 'b-006.tar.zst': 'six' });
  try {
    execFileSync('mkfifo', [join(d, 'b-001.tar.zst')]);
    await symlink('/dev/zero', join(d, 'b-002.tar.zst'));
    await mkdir(join(d, 'b-003.tar.zst'));
    const events: string[] = [];
    let read = 0;
    const opts = { onTotal: (n: number) => events.push(`total ${n}`), onBytes: (n: number) => ((read += n), events.length === 1 && events.push('bytes')) };
    const r = await quickly(checksumBundle(d, { ...opts, ignoreMissing: true }), [join(d, 'b-001.tar.zst')]);
    assert.equal(events, ['total 15', 'bytes'], 'b.manifest.json, b-004 and b-005: 2 + 4 + 9 bytes, told first');
    assert.is(read, 15, 'and exactly that is read');
    assert.is(r.bytes, 15);
    events.length = 0;
    await checksumBundle(d, { ...opts, volumes: [5] });
    assert.equal(events[0], 'total 11', '--volumes 5: the manifest and volume 5 only');
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
    assert.is(r.signedByKey, join(d, 'k.pub'));
    assert.ok(formatReceipt(r).includes(`List signature: verified (key ${kp.fingerprint})\nSigned by: ${join(d, 'k.pub')}\n`));
  } finally {
    await rm(d, { recursive: true, force: true });
  }
});

test('one disc of a set: --ignore-missing checks what is here and the verdict names the volumes, never the whole set', async () => {
  const all = { 'b.manifest.json': 'm', 'b-001.tar.zst': 'one', 'b-002.tar.zst': 'two', 'b-003.tar.zst': 'three', 'b-004.tar.zst': 'four', 'b-005.tar.zst': 'five' };
  const d = await bundleDir({ 'b.manifest.json': 'm', 'b-002.tar.zst': 'two', 'b-003.tar.zst': 'three' }, all);
  try {
    const r = await checksumBundle(d, { ignoreMissing: true });
    assert.ok(r.passed);
    assert.equal(r.scope, { complete: false, totalVolumes: 5, checked: [2, 3], notPresent: [1, 4, 5], notSelected: [] });
    assert.equal(r.files.filter((f) => f.status === 'SKIPPED').map((f) => [f.file, f.skipped]), [['b-001.tar.zst', 'not-present'], ['b-004.tar.zst', 'not-present'], ['b-005.tar.zst', 'not-present']]);
    const receipt = formatReceipt(r, { when: new Date('2026-11-26T10:00:00Z'), host: 'officer-pc', version: '9.9.9' });
    assert.match(receipt, /RESULT: PASS for volumes 2,3 of 5 — 3 passed, 0 failed, 0 missing, 0 unexpected, 3 not checked/);
    assert.not.match(receipt, /RESULT: PASS —/);
    assert.match(receipt, /Scope:     volumes 2,3 of 5 checked; not present: 1,4,5/);
    assert.match(receipt, /SKIPPED\s+b-004\.tar\.zst\s+not checked: not present here \(--ignore-missing\)/);
    assert.match(receipt, /Checked:   2026-11-26T10:00:00\.000Z \(UTC\)\nHost:      officer-pc\nFerry:     ferry-load 9\.9\.9\n/);
    const list = execFileSync('cat', [join(d, 'b.sha256')]);
    assert.match(receipt, new RegExp(`List:      b\\.sha256 sha256:${createHash('sha256').update(list).digest('hex')}`));
    assert.is(r.listDigest, createHash('sha256').update(list).digest('hex'));
    // A damaged volume on the disc still fails, with the same scope wording.
    await writeFile(join(d, 'b-003.tar.zst'), 'bad');
    const bad = await checksumBundle(d, { ignoreMissing: true });
    assert.not.ok(bad.passed);
    assert.match(formatReceipt(bad), /RESULT: FAIL for volumes 2,3 of 5 — 2 passed, 1 failed/);
    // Without --ignore-missing the absent volumes are MISSING, as before.
    assert.equal((await checksumBundle(d)).files.filter((f) => f.status === 'MISSING').length, 3);
  } finally {
    await rm(d, { recursive: true, force: true });
  }
});

test('--volumes checks only the volumes named; one not listed is a usage error; nothing here to check is no PASS', async () => {
  const d = await bundleDir({ 'b.manifest.json': 'm', 'b-001.tar.zst': 'one', 'b-002.tar.zst': 'two', 'b-003.tar.zst': 'three' }, { 'b.manifest.json': 'm', 'b-001.tar.zst': 'one', 'b-002.tar.zst': 'two', 'b-003.tar.zst': 'three' });
  try {
    const r = await checksumBundle(d, { volumes: [2] });
    assert.ok(r.passed);
    assert.equal(r.scope, { complete: false, totalVolumes: 3, checked: [2], notPresent: [], notSelected: [1, 3] });
    assert.match(formatReceipt(r), /RESULT: PASS for volume 2 of 3/);
    assert.match(formatReceipt(r), /SKIPPED\s+b-001\.tar\.zst\s+not checked: not in --volumes/);
    assert.equal(parseVolumeList('2,3'), [2, 3]);
    assert.equal(parseVolumeList('4-5, 1'), [1, 4, 5]);
    await rejects(() => Promise.resolve(parseVolumeList('x')), (e) => isFerryError(e, 'USAGE'));
    await rejects(() => checksumBundle(d, { volumes: [7] }), (e) => isFerryError(e, 'USAGE') && /--volumes 7: b\.sha256 lists volumes 1,2,3 only/.test((e as Error).message));
    const full = await checksumBundle(d);
    assert.ok(full.scope.complete);
    assert.match(formatReceipt(full), /RESULT: PASS — 4 passed/);
    const empty = await bundleDir({}, { 'b-001.tar.zst': 'one' });
    try {
      const none = await checksumBundle(empty, { ignoreMissing: true });
      assert.not.ok(none.passed, 'as sha256sum --ignore-missing: nothing verified is a failure');
      assert.match(formatReceipt(none), /RESULT: FAIL for volumes none of 1[\s\S]*No listed file was present to check\./);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  } finally {
    await rm(d, { recursive: true, force: true });
  }
});

test('a run that could not check anything still has a receipt: the error, the list digest, host, time, version', () => {
  const text = formatFailureReceipt('/media/disc/b.sha256', { code: 'SIGNATURE_INVALID', message: 'signature of b.sha256 does not verify' }, { when: new Date('2026-11-26T10:00:00Z'), host: 'h', version: '1.2.3', listDigest: 'ab'.repeat(32), keys: ['ferry.pub'] });
  assert.match(text, /Checked:   2026-11-26T10:00:00\.000Z \(UTC\)\nHost:      h\nFerry:     ferry-load 1\.2\.3\nList:      sha256:abab/);
  assert.match(text, /List signature: checked against ferry\.pub/);
  assert.match(text, /RESULT: FAIL — nothing could be checked: \[SIGNATURE_INVALID\] signature of b\.sha256 does not verify/);
});

test.run();
