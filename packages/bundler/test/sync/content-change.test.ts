import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { BundleImage, BundleManifest } from '@ferry/format-spec';
import { droppedImages, imageChange, sameContent } from '../../src/sync/content-change.js';

const d = (c: string): string => `sha256:${c.repeat(64)}`;

function image(repository: string, tag: string, digest: string, referrers: string[] = []): BundleImage {
  return {
    source: `reg.example/${repository}:${tag}`, repository, tag, digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1,
    platformFilter: { mode: 'all' }, platforms: [], blobs: [digest],
    ...(referrers.length ? { referrers: referrers.map((r) => ({ digest: r, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1, scheme: 'cosign-tag' as const, tag: 'x.sig', subject: digest, blobs: [r] })) } : {}),
  };
}

/** Only the fields the comparison reads. */
function manifest(images: BundleImage[]): BundleManifest {
  return { images, files: [], keys: [], charts: [], name: 'n', created: '2026-12-06T03:00:00Z' } as unknown as BundleManifest;
}

test('new, updated (with the old digest) and unchanged images', () => {
  const prev = manifest([image('app', '1', d('a')), image('db', '16', d('b'))]);
  assert.equal(imageChange(image('app', '1', d('a')), prev), { change: 'unchanged' });
  assert.equal(imageChange(image('db', '16', d('c')), prev), { change: 'updated', was: d('b') });
  assert.equal(imageChange(image('web', '2', d('e')), prev), { change: 'new' });
  assert.equal(imageChange(image('app', '1', d('a')), undefined), { change: 'new' });
});

test('a new signature on an unchanged image is an update (the high side needs it)', () => {
  const prev = manifest([image('app', '1', d('a'), [d('1')])]);
  assert.equal(imageChange(image('app', '1', d('a'), [d('1'), d('2')]), prev).change, 'updated');
  assert.not.ok(sameContent(manifest([image('app', '1', d('a'), [d('1'), d('2')])]), prev));
});

test('sameContent: order does not matter; a re-tag, a changed file or a dropped image does', () => {
  const a = manifest([image('app', '1', d('a')), image('db', '16', d('b'))]);
  assert.ok(sameContent(a, manifest([image('db', '16', d('b')), image('app', '1', d('a'))])));
  assert.not.ok(sameContent(a, manifest([image('app', '1', d('a')), image('db', '16', d('c'))])));
  assert.not.ok(sameContent(a, manifest([image('app', '1', d('a'))])));
  const withFile = (digest: string) => ({ ...manifest([image('app', '1', d('a'))]), files: [{ path: 'runbook.txt', digest, size: 1, integrity: 'sha512-x' }] }) as BundleManifest;
  assert.ok(sameContent(withFile(d('f')), withFile(d('f'))));
  assert.not.ok(sameContent(withFile(d('f')), withFile(d('9'))));
});

test('droppedImages names what the previous bundle had and this one does not', () => {
  const prev = manifest([image('app', '1', d('a')), image('db', '16', d('b'))]);
  assert.equal(droppedImages(manifest([image('app', '1', d('a'))]), prev), ['db:16']);
  assert.equal(droppedImages(manifest([]), undefined), []);
});

test.run();
