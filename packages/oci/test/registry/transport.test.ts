import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseRetryAfter, isTlsError, isRetryableNetError } from '../../src/registry/transport.js';
import { nextLink, RegistryClient } from '../../src/registry/client.js';
import { FerryError } from '@ferry/format-spec';
import { parseContentRange } from '../../src/registry/blob-stream.js';
import { Semaphore } from '../../src/registry/semaphore.js';
import { isInsecureHost } from '../../src/registry/options.js';
import { describeRef, summarizeErrorBody } from '../../src/registry/errors.js';

test('Retry-After: seconds or an HTTP date', () => {
  assert.is(parseRetryAfter('3'), 3000);
  const now = Date.parse('2024-01-01T00:00:00Z');
  assert.is(parseRetryAfter('Mon, 01 Jan 2024 00:00:10 GMT', now), 10_000);
  assert.is(parseRetryAfter('garbage'), undefined);
  assert.is(parseRetryAfter(undefined), undefined);
});

test('error classification', () => {
  assert.ok(isTlsError(Object.assign(new Error('x'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' })));
  assert.ok(isTlsError(Object.assign(new Error('x'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' })));
  assert.not.ok(isTlsError(Object.assign(new Error('x'), { code: 'ECONNRESET' })));
  assert.ok(isRetryableNetError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })));
  assert.ok(isRetryableNetError(new Error('socket hang up')));
  assert.not.ok(isRetryableNetError(Object.assign(new Error('x'), { code: 'ENOTFOUND' })));
});

test('Link rel="next", relative (distribution 3) or absolute', () => {
  const base = new URL('https://r.io/v2/a/tags/list?n=2');
  assert.is(nextLink('</v2/a/tags/list?last=b&n=2>; rel="next"', base)!.href, 'https://r.io/v2/a/tags/list?last=b&n=2');
  assert.is(nextLink('<https://other/x>; rel=next', base)!.href, 'https://other/x');
  assert.is(nextLink('<https://other/x>; rel="prev"', base), undefined);
  assert.is(nextLink(undefined, base), undefined);
});

test('Content-Range parsing', () => {
  assert.equal(parseContentRange('bytes 100-199/1000'), { start: 100, end: 199, total: 1000 });
  assert.equal(parseContentRange('bytes 5-9/*'), { start: 5, end: 9 });
  assert.is(parseContentRange('0-9'), undefined);
});

test('semaphore never runs more than its limit and hands slots over in order', async () => {
  const s = new Semaphore(2);
  let running = 0;
  let peak = 0;
  const order: number[] = [];
  await Promise.all(Array.from({ length: 6 }, (_, i) => s.run(async () => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, 5));
    order.push(i);
    running--;
  })));
  assert.is(peak, 2);
  assert.is(s.inUse, 0);
  assert.equal(order.length, 6);
  assert.throws(() => new Semaphore(0));
});

test('insecure list: exact HOST:PORT, or HOST for any port', () => {
  assert.ok(isInsecureHost('reg.local:5000', ['reg.local:5000']));
  assert.ok(isInsecureHost('reg.local:5000', ['reg.local']));
  assert.not.ok(isInsecureHost('reg.local:5000', ['reg.local:5001']));
  assert.not.ok(isInsecureHost('reg.local.evil.com', ['reg.local']));
  assert.ok(isInsecureHost('[::1]:5000', ['[::1]']));
  assert.not.ok(isInsecureHost('x', undefined));
});

test('error text helpers', () => {
  assert.is(describeRef({ registry: 'r', repository: 'a/b', reference: 'v1' }), 'r/a/b:v1');
  assert.is(describeRef({ registry: 'r', repository: 'a/b', reference: 'sha256:abc' }), 'r/a/b@sha256:abc');
  assert.is(describeRef({ registry: 'r', repository: 'a/b', reference: 'sha256-abc.sig' }), 'r/a/b:sha256-abc.sig');
  assert.equal(summarizeErrorBody('{"errors":[{"code":"DENIED","message":"no","detail":"x"}]}'), { code: 'DENIED', text: 'DENIED: no (x)' });
  assert.equal(summarizeErrorBody('<html><body>Bad   gateway</body></html>'), { text: 'Bad gateway' });
});

test('hostile digests and tags never reach a URL', async () => {
  const c = new RegistryClient('127.0.0.1:1', { insecure: ['127.0.0.1'] });
  for (const p of [
    () => c.getManifest('a/b', '../../v2/_catalog'),
    () => c.getManifest('a/b', 'sha256:../../x'),
    () => c.openBlob('a/b', { mediaType: 'x', digest: 'sha256:/../../etc', size: 1 }),
    () => c.blobExists('a/b', 'md5:abc'),
  ]) {
    const e = await p().then(() => undefined, (x: unknown) => x);
    assert.instance(e, FerryError);
    assert.is((e as FerryError).code, 'SOURCE_INVALID');
  }
  c.close();
});

test.run();
