import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isFerryError } from '../src/errors.js';
import { checkLayoutIndex, imageRefName, layoutIndexBytes } from '../src/layout-index.js';
import type { BundleImage, BundleManifest } from '../src/manifest-types.js';
import { minimalManifest, sha } from './helpers/volumes.js';

const img = (repository: string, tag: string | undefined, seed: string): BundleImage => ({
  source: `oci:x:${seed}`,
  repository,
  ...(tag ? { tag } : {}),
  digest: sha(Buffer.from(seed)),
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  size: 100 + seed.length,
  platformFilter: { mode: 'all' },
  platforms: [],
  blobs: [sha(Buffer.from(seed))],
});

test('layoutIndexBytes writes an OCI index naming each image repository:tag (repository@digest untagged), in order', () => {
  const images = [img('team/app', '1.0', 'a'), img('team/tool', undefined, 'b')];
  assert.is(imageRefName(images[0]!), 'team/app:1.0');
  assert.is(imageRefName(images[1]!), `team/tool@${images[1]!.digest}`);
  const doc = JSON.parse(layoutIndexBytes(images).toString());
  assert.equal(doc, {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: images.map((i) => ({ mediaType: i.mediaType, digest: i.digest, size: i.size, annotations: { 'org.opencontainers.image.ref.name': imageRefName(i) } })),
  });
  const m: BundleManifest = { ...minimalManifest({ name: 'b', blobs: [], volumeCount: 1, indexBytes: layoutIndexBytes(images) }), images };
  checkLayoutIndex(layoutIndexBytes(images), m, 'b-001.tar.zst');
  // Reordered images are a disagreement.
  assert.throws(
    () => checkLayoutIndex(layoutIndexBytes([images[1]!, images[0]!]), m, 'b-001.tar.zst'),
    (e: unknown) => isFerryError(e, 'ARCHIVE_HOSTILE') && /^b-001\.tar\.zst: index\.json disagrees with the signed manifest: manifests\[0\]\.digest/.test((e as Error).message),
  );
});

test.run();
