import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { BundleManifest } from '@ferry/format-spec';
import { buildCatalog, page } from '../../src/serve/catalog.js';

const d = (c: string): string => `sha256:${c.repeat(64)}`;
const blob = (c: string, kind: 'index' | 'manifest' | 'layer' | 'config') => ({ digest: d(c), size: 10, mediaType: kind === 'layer' ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.manifest.v1+json', kind, volume: 1 });
const m = {
  images: [
    { repository: 'team/app', tag: '1', digest: d('a'), mediaType: 'x', size: 10, blobs: [d('1'), d('2'), d('a')], platforms: [], platformFilter: { mode: 'all' },
      referrers: [
        { digest: d('s'), mediaType: 'x', size: 10, scheme: 'cosign-tag', tag: `sha256-${'a'.repeat(64)}.sig`, subject: d('a'), blobs: [d('3'), d('s')] },
        { digest: d('r'), mediaType: 'x', size: 10, scheme: 'oci-referrer', artifactType: 'application/spdx+json', subject: d('a'), blobs: [d('4'), d('r')] },
      ] },
    { repository: 'team/db', digest: d('b'), mediaType: 'x', size: 10, blobs: [d('1'), d('b')], platforms: [], platformFilter: { mode: 'all' } },
  ],
  charts: [{ name: 'web', version: '1.0.0+build.5', manifest: { digest: d('c'), size: 10, mediaType: 'x' }, blobs: [d('5'), d('c')] }],
  blobs: [blob('1', 'layer'), blob('2', 'config'), blob('a', 'manifest'), blob('3', 'layer'), blob('s', 'manifest'), blob('4', 'layer'), blob('r', 'manifest'), blob('b', 'manifest'), blob('5', 'layer'), blob('c', 'manifest')],
} as unknown as BundleManifest;

test('repositories, tags, cosign tags, referrers and charts from the manifest; blobs scoped per repository', () => {
  const c = buildCatalog(m);
  assert.equal([...c.repositories.keys()].sort(), ['charts/web', 'team/app', 'team/db']);
  const app = c.repositories.get('team/app')!;
  assert.equal([...app.tags].sort(), [['1', d('a')], [`sha256-${'a'.repeat(64)}.sig`, d('s')]]);
  assert.ok(app.manifests.has(d('a')) && app.manifests.has(d('s')) && app.manifests.has(d('r')));
  assert.not.ok(app.manifests.has(d('1')), 'a layer is not a manifest');
  assert.equal(app.referrers.get(d('a'))!.map((r) => r.digest), [d('r')], 'only OCI referrers are in the referrers API');
  const db = c.repositories.get('team/db')!;
  assert.is(db.tags.size, 0, 'an untagged image is served by digest only');
  assert.ok(db.blobs.has(d('1')) && !db.blobs.has(d('2')));
  assert.equal([...c.repositories.get('charts/web')!.tags], [['1.0.0_build.5', d('c')]], 'the tag as helm writes it: + as _');
});

test('pagination: n and last as the distribution spec', () => {
  const all = ['a', 'b', 'c', 'd'];
  assert.equal(page(all, undefined, undefined), { items: all, more: false });
  assert.equal(page(all, 2, undefined), { items: ['a', 'b'], more: true });
  assert.equal(page(all, 2, 'b'), { items: ['c', 'd'], more: false });
  assert.equal(page(all, 0, undefined), { items: [], more: true });
  assert.equal(page(all, 5, 'd'), { items: [], more: false });
});

test.run();
