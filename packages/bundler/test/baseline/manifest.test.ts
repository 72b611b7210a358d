// readManifestBaseline: what an earlier bundle says the high side holds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sha256Digest } from '@ferry/format-spec';
import { readManifestBaseline } from '../../src/baseline/manifest.js';
import { rejectsCode } from '../../../../test/helpers/assert.js';
import { BASE, CHART, CONFIG, FILE, MANIFEST, TOP, bytesOf, delta, full } from './fixtures.js';

test('image content of OCI kinds, with the repositories its images were loaded under; the digest is of the file', () => {
  const bytes = bytesOf(full());
  const b = readManifestBaseline(bytes, 'week1.manifest.json');
  assert.is(b.name, 'week1');
  assert.is(b.kind, 'bundle');
  assert.is(b.created, '2026-11-29T00:00:00Z');
  assert.is(b.digest, sha256Digest(bytes));
  assert.equal([...b.blobs.keys()].sort(), [BASE, CONFIG, TOP].sort());
  assert.equal(b.blobs.get(BASE), { size: 10_000, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', repositories: ['mirror/app', 'team/app'] });
  // Manifests are carried again anyway; chart blobs went to a chart destination, files to a directory.
  for (const d of [MANIFEST, FILE, ...CHART]) assert.not.ok(b.blobs.has(d), d);
});

test('an earlier delta vouches for what it required too, where it was held and where it was loaded', () => {
  const b = readManifestBaseline(bytesOf(delta()), 'week2.manifest.json');
  assert.equal(b.blobs.get(BASE)!.repositories, ['old/app', 'team/app']);
  assert.ok(b.blobs.has(CONFIG) && b.blobs.has(TOP));
});

test('anything parseManifest refuses is BASELINE_INVALID, naming the file', async () => {
  const broken = full();
  broken.blobs = broken.blobs.filter((x) => x.digest !== TOP);
  await rejectsCode(Promise.resolve().then(() => readManifestBaseline(bytesOf(broken), 'w.manifest.json')), 'BASELINE_INVALID', /w\.manifest\.json: not a bundle manifest this Ferry reads: .*not in blobs/);
  await rejectsCode(Promise.resolve().then(() => readManifestBaseline(bytesOf({ ...full(), schemaVersion: 9 }), 'w.manifest.json')), 'BASELINE_INVALID', /not one this Ferry reads/);
  const hostile = full();
  hostile.name = 'week1\u001b]0;pwned\u0007';
  await rejectsCode(Promise.resolve().then(() => readManifestBaseline(bytesOf(hostile), 'w.manifest.json')), 'BASELINE_INVALID', /control character/);
});

test.run();
