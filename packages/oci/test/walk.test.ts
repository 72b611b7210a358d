import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Readable } from 'node:stream';
import { sha256Digest, isFerryError, type Descriptor } from '@ferry/format-spec';
import { resolveImage, resolveReferrers } from '../src/walk.js';
import type { ImageSource, ManifestBytes, SourceReferrer } from '../src/source.js';
import { rejects } from '../../../test/helpers/assert.js';

/** An in-memory content store implementing ImageSource, to exercise the walk logic alone. */
function memorySource(blobs: Map<string, Buffer>, root: Descriptor): ImageSource {
  const get = (d: Descriptor): ManifestBytes => ({ descriptor: d, bytes: blobs.get(d.digest)! });
  return {
    description: 'mem:test',
    repository: 'test/app',
    tag: '1',
    resolve: async () => get(root),
    fetchManifest: async (d) => get(d),
    openBlob: async (d) => Readable.from([blobs.get(d.digest)!]),
    close: async () => {},
  };
}

function put(store: Map<string, Buffer>, mediaType: string, content: Buffer | object): Descriptor {
  const bytes = Buffer.isBuffer(content) ? content : Buffer.from(JSON.stringify(content));
  const digest = sha256Digest(bytes);
  store.set(digest, bytes);
  return { mediaType, digest, size: bytes.length };
}

function threePlatforms() {
  const s = new Map<string, Buffer>();
  const base = put(s, 'application/vnd.oci.image.layer.v1.tar+gzip', Buffer.from('shared base layer'));
  const children = ['amd64', 'arm64', 's390x'].map((arch) => {
    const cfg = put(s, 'application/vnd.oci.image.config.v1+json', { os: 'linux', architecture: arch });
    const own = put(s, 'application/vnd.oci.image.layer.v1.tar+gzip', Buffer.from(`layer ${arch}`));
    // Non-canonical spacing on purpose: the exact bytes must be kept.
    const m = put(s, 'application/vnd.oci.image.manifest.v1+json', Buffer.from(`{"schemaVersion":2,  "mediaType":"application/vnd.oci.image.manifest.v1+json","config":${JSON.stringify(cfg)},"layers":[${JSON.stringify(base)},${JSON.stringify(own)}]}`));
    return { ...m, platform: { os: 'linux', architecture: arch }, annotations: { arch } };
  });
  const idx = put(s, 'application/vnd.oci.image.index.v1+json', { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: children, annotations: { a: 'b' } });
  return { s, idx, children, base };
}

test('all platforms: every blob once, children first, index last with its exact bytes', async () => {
  const { s, idx, base } = threePlatforms();
  const r = await resolveImage(memorySource(s, idx));
  assert.is(r.root.digest, idx.digest);
  assert.equal(r.platformFilter, { mode: 'all' });
  assert.is(r.platforms.length, 3);
  const digests = r.blobs.map((b) => b.descriptor.digest);
  assert.is(new Set(digests).size, digests.length, 'no duplicates');
  assert.is(digests.filter((d) => d === base.digest).length, 1);
  assert.is(digests[digests.length - 1], idx.digest);
  for (const b of r.blobs) if (b.bytes) assert.is(sha256Digest(b.bytes), b.descriptor.digest, 'manifest bytes untouched');
  // each manifest comes after its config and layers
  for (const [i, b] of r.blobs.entries()) {
    if (b.kind !== 'manifest') continue;
    const doc = JSON.parse(b.bytes!.toString());
    for (const c of [doc.config, ...doc.layers]) assert.ok(digests.indexOf(c.digest) < i);
  }
});

test('one platform kept: the tag points at that child, unchanged', async () => {
  const { s, idx, children } = threePlatforms();
  const r = await resolveImage(memorySource(s, idx), ['linux/arm64']);
  assert.is(r.root.digest, children[1]!.digest);
  assert.equal(r.platformFilter, { mode: 'filtered', requested: ['linux/arm64'], sourceIndex: { digest: idx.digest, size: idx.size, mediaType: idx.mediaType }, target: 'child' });
  assert.not.ok(r.blobs.some((b) => b.descriptor.digest === children[0]!.digest));
});

test('several platforms kept: a new index that lists the original child descriptors verbatim', async () => {
  const { s, idx, children } = threePlatforms();
  const r = await resolveImage(memorySource(s, idx), ['linux/amd64', 'linux/s390x']);
  assert.is(r.platformFilter.mode, 'filtered');
  const rootBlob = r.blobs[r.blobs.length - 1]!;
  assert.is(rootBlob.descriptor.digest, r.root.digest);
  assert.is.not(r.root.digest, idx.digest);
  const doc = JSON.parse(rootBlob.bytes!.toString());
  assert.equal(doc.manifests, [children[0], children[2]]);
  assert.equal(doc.annotations, { a: 'b' });
});

test('asking for a platform the image lacks names what it has', async () => {
  const { s, idx } = threePlatforms();
  await rejects(() => resolveImage(memorySource(s, idx), ['linux/mips64']), (e) => isFerryError(e, 'SOURCE_NOT_FOUND') && /linux\/amd64, linux\/arm64, linux\/s390x/.test((e as Error).message));
});

test('single-platform image: platform read from its config; a mismatching filter is refused', async () => {
  const s = new Map<string, Buffer>();
  const cfg = put(s, 'application/vnd.oci.image.config.v1+json', { os: 'linux', architecture: 'arm64', variant: 'v8' });
  const l = put(s, 'application/vnd.oci.image.layer.v1.tar', Buffer.from('x'));
  const m = put(s, 'application/vnd.oci.image.manifest.v1+json', { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: cfg, layers: [l] });
  const r = await resolveImage(memorySource(s, m));
  assert.equal(r.platforms, [{ platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, digest: m.digest }]);
  assert.is((await resolveImage(memorySource(s, m), ['linux/arm64'])).root.digest, m.digest);
  await rejects(() => resolveImage(memorySource(s, m), ['linux/amd64']), (e) => isFerryError(e, 'SOURCE_NOT_FOUND'));
});

test('foreign layers with URLs cannot be carried and say so', async () => {
  const s = new Map<string, Buffer>();
  const cfg = put(s, 'application/vnd.oci.image.config.v1+json', { os: 'windows', architecture: 'amd64' });
  const foreign = { mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', digest: `sha256:${'1'.repeat(64)}`, size: 10, urls: ['https://x'] };
  const m = put(s, 'application/vnd.docker.distribution.manifest.v2+json', { schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', config: cfg, layers: [foreign] });
  await rejects(() => resolveImage(memorySource(s, m)), (e) => isFerryError(e, 'SOURCE_INVALID') && /foreign/.test((e as Error).message));
});

test('referrers: an entry of the fallback tag index whose subject is another image is not carried; the image\'s own referrers and cosign tags are', async () => {
  const s = new Map<string, Buffer>();
  const empty = put(s, 'application/vnd.oci.empty.v1+json', Buffer.from('{}'));
  const image = (seed: string) => {
    const cfg = put(s, 'application/vnd.oci.image.config.v1+json', { os: 'linux', architecture: 'amd64', seed });
    const layer = put(s, 'application/vnd.oci.image.layer.v1.tar+gzip', Buffer.from(`layer ${seed}`));
    return put(s, 'application/vnd.oci.image.manifest.v1+json', { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: cfg, layers: [layer] });
  };
  const app = image('app');
  const other = image('other');
  const bundleFor = (subject: Descriptor, seed: string) => {
    const layer = put(s, 'application/vnd.dev.sigstore.bundle.v0.3+json', Buffer.from(`{"bundle":"${seed}"}`));
    const m = put(s, 'application/vnd.oci.image.manifest.v1+json', { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json', config: empty, layers: [layer], subject });
    return { ...m, artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json' };
  };
  const own = bundleFor(app, 'own');
  const foreign = bundleFor(other, 'foreign'); // a valid signature of `other`, listed in app's fallback index
  const sigLayer = put(s, 'application/vnd.dev.cosign.simplesigning.v1+json', Buffer.from('{"critical":{}}'));
  const sigCfg = put(s, 'application/vnd.oci.image.config.v1+json', { rootfs: { type: 'layers', diff_ids: [] } });
  const sig = put(s, 'application/vnd.oci.image.manifest.v1+json', { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: sigCfg, layers: [sigLayer] });
  const listed: SourceReferrer[] = [
    { scheme: 'oci-referrer', descriptor: foreign, subject: app.digest },
    { scheme: 'oci-referrer', descriptor: own, subject: app.digest },
    { scheme: 'cosign-tag', descriptor: sig, tag: `sha256-${app.digest.slice(7)}.sig`, subject: app.digest },
  ];
  const src: ImageSource = { ...memorySource(s, app), listReferrers: async (d) => (d.digest === app.digest ? listed : []) };
  const refs = await resolveReferrers(await resolveImage(src));
  assert.equal(refs.map((r) => [r.scheme, r.descriptor.digest]).sort(), [['cosign-tag', sig.digest], ['oci-referrer', own.digest]].sort());
  assert.ok(refs.every((r) => r.subject === app.digest));
});

test.run();
