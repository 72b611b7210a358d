import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { formatChecksums, generateKeyPair, signBytes, isFerryError } from '@ferry/format-spec';
import { createPrivateKey } from 'node:crypto';
import { checksumBundle, formatReceipt } from '../src/checksum.js';
import { rejects } from '../../../test/helpers/assert.js';

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
