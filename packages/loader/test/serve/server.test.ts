import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { accepts, parseRange } from '../../src/serve/server.js';

test('Range: one range of bytes, suffix and open ranges; unsatisfiable; ignored forms', () => {
  assert.equal(parseRange('bytes=0-9', 100), { start: 0, end: 10 });
  assert.equal(parseRange('bytes=90-200', 100), { start: 90, end: 100 }, 'the end is clamped');
  assert.equal(parseRange('bytes=95-', 100), { start: 95, end: 100 });
  assert.equal(parseRange('bytes=-10', 100), { start: 90, end: 100 });
  assert.equal(parseRange('bytes=-500', 100), { start: 0, end: 100 });
  assert.is(parseRange('bytes=100-', 100), 'unsatisfiable');
  assert.is(parseRange('bytes=5-4', 100), 'unsatisfiable');
  assert.is(parseRange('bytes=-0', 100), 'unsatisfiable');
  assert.is(parseRange('bytes=0-1,5-6', 100), undefined, 'several ranges: the whole blob instead');
  assert.is(parseRange('items=0-1', 100), undefined);
  assert.is(parseRange(undefined, 100), undefined);
});

test('Accept: absent or wildcard takes anything; lists with parameters; type wildcards', () => {
  const idx = 'application/vnd.oci.image.index.v1+json';
  assert.ok(accepts(undefined, idx));
  assert.ok(accepts('*/*', idx));
  assert.ok(accepts('application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json;q=0.9', idx));
  assert.ok(accepts('application/*', idx));
  assert.not.ok(accepts('application/vnd.oci.image.manifest.v1+json', idx));
});

test.run();
