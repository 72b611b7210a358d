import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { isFerryError, type BundleBlob } from '@ferry/format-spec';
import { VerifiedBlobs } from '../../src/serve/verify-stream.js';

const data = Buffer.from('0123456789'.repeat(100));
const blob: BundleBlob = { digest: `sha256:${createHash('sha256').update(data).digest('hex')}`, size: data.length, mediaType: 'x', kind: 'layer', volume: 1 };
async function* chunks(b: Buffer, n = 128): AsyncGenerator<Buffer> {
  for (let i = 0; i < b.length; i += n) yield b.subarray(i, i + n);
}

test('good bytes pass whole and the blob is remembered as verified', async () => {
  const v = new VerifiedBlobs();
  const out: Buffer[] = [];
  for await (const c of v.stream(blob, chunks(data), 'test')) out.push(c);
  assert.equal(Buffer.concat(out), data);
  assert.ok(v.isVerified(blob.digest));
});

test('a flipped byte: the last chunk is never passed on, the stream fails, the failure is remembered', async () => {
  const v = new VerifiedBlobs();
  const bad = Buffer.from(data);
  bad[500] = bad[500]! ^ 1;
  let passed = 0;
  try {
    for await (const c of v.stream(blob, chunks(bad), 'test')) passed += c.length;
    assert.unreachable('a wrong blob streamed to its end');
  } catch (e) {
    assert.ok(isFerryError(e, 'BLOB_MISMATCH'));
  }
  assert.ok(passed < data.length, `passed ${passed} of ${data.length}`);
  assert.not.ok(v.isVerified(blob.digest));
  assert.match(v.failure(blob.digest) ?? '', /hashes to/);
});

test('too many or too few bytes fail', async () => {
  for (const b of [Buffer.concat([data, Buffer.from('x')]), data.subarray(1)]) {
    const v = new VerifiedBlobs();
    try {
      for await (const _ of v.stream(blob, chunks(b), 'test')) void _;
      assert.unreachable();
    } catch (e) {
      assert.ok(isFerryError(e, 'BLOB_MISMATCH'));
    }
  }
});

test('verifyWhole reads the blob once however many requests wait for it', async () => {
  const v = new VerifiedBlobs();
  let opened = 0;
  const open = () => {
    opened++;
    return chunks(data);
  };
  await Promise.all([v.verifyWhole(blob, open, 't'), v.verifyWhole(blob, open, 't'), v.verifyWhole(blob, open, 't')]);
  await v.verifyWhole(blob, open, 't');
  assert.is(opened, 1);
  assert.ok(v.isVerified(blob.digest));
});

test.run();
