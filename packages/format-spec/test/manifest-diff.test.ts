import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BUNDLE_MEDIA_TYPE_V1, diffManifests, type BundleBlob, type BundleImage, type BundleManifest } from '../src/index.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const layer = (c: string, size: number): BundleBlob => ({ digest: d(c), size, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', kind: 'layer', volume: 1 });
const manifestBlob = (c: string): BundleBlob => ({ digest: d(c), size: 10, mediaType: 'application/vnd.oci.image.manifest.v1+json', kind: 'manifest', volume: 1 });
const image = (repository: string, tag: string | undefined, root: string, blobs: string[]): BundleImage => ({
  source: `src/${repository}`, repository, ...(tag !== undefined ? { tag } : {}), digest: d(root), mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 10,
  platformFilter: { mode: 'all' }, platforms: [], blobs: [...blobs.map(d), d(root)],
});

function manifest(name: string, images: BundleImage[], blobs: BundleBlob[], extra: Partial<BundleManifest> = {}): BundleManifest {
  return {
    schemaVersion: 1, mediaType: BUNDLE_MEDIA_TYPE_V1, name, created: `2026-12-0${name === 'old' ? 1 : 8}T00:00:00Z`, tool: { name: 'ferry', version: '0.1.0' },
    compression: { algorithm: 'zstd', level: 3, framing: 'entry', seekTable: true }, volumeSize: 1 << 30, volumes: [{ index: 1, file: `${name}-001.tar.zst` }],
    layoutIndex: { digest: d('0'), size: 10 }, images, files: [], keys: [], blobs, ...extra,
  };
}

// Week 1: app:1 (layers a, b), db:5 (layer c), tool:1 (layer f). Week 2: app:1 re-tagged to a
// new build sharing layer a (new layer d), app:2 added (a, d), db:5 unchanged, tool:1 removed;
// the delta carries only d and the new manifests and requires a and c of the target.
const older = manifest('old', [image('team/app', '1', '1', ['a', 'b']), image('team/db', '5', '2', ['c']), image('team/tool', '1', '3', ['f'])], [
  layer('a', 1000), layer('b', 200), layer('c', 300), layer('f', 50), manifestBlob('1'), manifestBlob('2'), manifestBlob('3'),
], { files: [{ path: 'docs/a.txt', digest: d('7'), size: 3, integrity: 'x' }, { path: 'docs/b.txt', digest: d('8'), size: 4, integrity: 'x' }] });
const newer = manifest('new', [image('team/app', '1', '4', ['a', 'd']), image('team/app', '2', '4', ['a', 'd']), image('team/db', '5', '2', ['c'])], [layer('d', 400), manifestBlob('4'), manifestBlob('2')], {
  files: [{ path: 'docs/a.txt', digest: d('9'), size: 5, integrity: 'x' }, { path: 'docs/c.txt', digest: d('6'), size: 6, integrity: 'x' }],
});
(newer as unknown as { required: unknown[] }).required = [
  { digest: d('a'), size: 1000, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', kind: 'layer', baseline: 'old', repositories: ['team/app'] },
  { digest: d('c'), size: 300, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', kind: 'layer', baseline: 'old', repositories: ['team/db'] },
];

test('images: added, removed, re-tagged (old -> new digest), unchanged', () => {
  const r = diffManifests(older, newer);
  assert.equal(r.images.added, [{ repository: 'team/app', tag: '2', digest: d('4') }]);
  assert.equal(r.images.removed, [{ repository: 'team/tool', tag: '1', digest: d('3') }]);
  assert.equal(r.images.retagged, [{ repository: 'team/app', tag: '1', old: d('1'), new: d('4') }]);
  assert.is(r.images.unchanged, 1);
});

test('blobs: referenced (carried or required) on one side only, with bytes; carried vs referenced of NEW', () => {
  const r = diffManifests(older, newer);
  assert.equal(r.blobs.added.map((b) => [b.digest, b.size, b.carried]), [[d('4'), 10, true], [d('d'), 400, true]]);
  // a and c are still referenced (required), so they are not "removed".
  assert.equal(r.blobs.removed.map((b) => b.digest), [d('1'), d('3'), d('b'), d('f')]);
  assert.is(r.blobs.addedBytes, 410);
  assert.is(r.blobs.removedBytes, 10 + 10 + 200 + 50);
  assert.equal(r.bytes, { carried: 400 + 10 + 10, required: 1300, referenced: 1720 });
});

test('files (and charts) added, removed, changed by digest', () => {
  const r = diffManifests(older, newer);
  assert.equal(r.files.added.map((f) => f.name), ['docs/c.txt']);
  assert.equal(r.files.removed.map((f) => f.name), ['docs/b.txt']);
  assert.equal(r.files.changed, [{ name: 'docs/a.txt', old: d('7'), new: d('9') }]);
  assert.equal(r.charts, { added: [], removed: [], changed: [] });
});

test('a bundle against itself: nothing changed, every image unchanged', () => {
  const r = diffManifests(older, older);
  assert.equal([r.images.added, r.images.removed, r.images.retagged, r.blobs.added, r.blobs.removed], [[], [], [], [], []]);
  assert.is(r.images.unchanged, 3);
  assert.equal(r.bytes, { carried: 1580, required: 0, referenced: 1580 });
});

test('untagged images are compared by digest: a new digest is one added and one removed', () => {
  const a = manifest('old', [image('team/x', undefined, '1', [])], [manifestBlob('1')]);
  const b = manifest('new', [image('team/x', undefined, '2', [])], [manifestBlob('2')]);
  const r = diffManifests(a, b);
  assert.is(r.images.added.length, 1);
  assert.is(r.images.removed.length, 1);
  assert.is(r.images.retagged.length, 0);
});

test.run();
