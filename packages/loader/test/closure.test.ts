// An image is tagged only when what its own bytes reference is carried as such: each way a
// signed manifest can misdescribe an image is refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { contentBlobs, sha256Digest, type BundleBlob, type Descriptor } from '@ferry/format-spec';
import { checkClosure, type ClosureCheck } from '../src/closure.js';
import { rejectsCode } from '../../../test/helpers/assert.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const CONFIG = 'application/vnd.oci.image.config.v1+json';

const store = new Map<string, Buffer>();
function put(bytes: string | Buffer, mediaType: string): Descriptor {
  const b = Buffer.from(bytes);
  const d = { mediaType, digest: sha256Digest(b), size: b.length };
  store.set(d.digest, b);
  return d;
}
const config = put('{"os":"linux","architecture":"amd64"}', CONFIG);
const layer = put('layer bytes', LAYER);
const layer2 = put('second layer', LAYER);
const manifestOf = (layers: Descriptor[], extra: Record<string, unknown> = {}) => put(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers, ...extra }), OCI_MANIFEST);
const man = manifestOf([layer, layer2]);

function table(entries: Array<[Descriptor, BundleBlob['kind']]>): Map<string, BundleBlob> {
  return new Map(entries.map(([d, kind]) => [d.digest, { digest: d.digest, size: d.size, mediaType: d.mediaType, kind, volume: 1 }]));
}
const base = (root: Descriptor, listed: Descriptor[], blobs: Map<string, BundleBlob>): ClosureCheck => ({
  what: 'image team/app:1',
  root,
  listed: listed.map((d) => d.digest),
  blobs,
  read: async (d) => store.get(d.digest)!,
});
const full = table([[config, 'config'], [layer, 'layer'], [layer2, 'layer'], [man, 'manifest']]);

test('a complete manifest and a complete index pass', async () => {
  await checkClosure(base(man, [config, layer, layer2, man], full));
  const idx = put(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ ...man, platform: { os: 'linux', architecture: 'amd64' } }] }), OCI_INDEX);
  await checkClosure(base(idx, [config, layer, layer2, man, idx], new Map([...full, ...table([[idx, 'index']])])));
});

test('a layer the manifest references but the bundle leaves out (from the image, or from the bundle) is refused', async () => {
  await rejectsCode(checkClosure(base(man, [config, layer, man], full)), 'ARCHIVE_HOSTILE', /references layer .* does not carry/);
  const short = table([[config, 'config'], [layer, 'layer'], [man, 'manifest']]);
  await rejectsCode(checkClosure(base(man, [config, layer, layer2, man], short)), 'ARCHIVE_HOSTILE', /does not carry/);
  await rejectsCode(checkClosure(base(man, [layer, layer2, man], full)), 'ARCHIVE_HOSTILE', /config .* does not carry/);
});

test('a size that differs from the carried blob is refused', async () => {
  const wrong = new Map(full);
  wrong.set(layer.digest, { ...wrong.get(layer.digest)!, size: layer.size + 1 });
  await rejectsCode(checkClosure(base(man, [config, layer, layer2, man], wrong)), 'ARCHIVE_HOSTILE', /bytes; the bundle carries/);
});

test('a delta: a required layer is image content (no volume); one whose size disagrees with the manifest is refused', async () => {
  const carried = [...full.values()].filter((b) => b.digest !== layer2.digest);
  const required = [{ digest: layer2.digest, size: layer2.size, mediaType: LAYER, kind: 'layer' as const, baseline: 'week1', repositories: [] }];
  await checkClosure(base(man, [config, layer, layer2, man], contentBlobs({ blobs: carried, required })));
  await rejectsCode(checkClosure(base(man, [config, layer, layer2, man], contentBlobs({ blobs: carried, required: [{ ...required[0]!, size: layer2.size + 1 }] }))), 'ARCHIVE_HOSTILE', /says layer .* is \d+ bytes; the bundle carries \d+/);
  // Neither carried nor required: refused as before.
  await rejectsCode(checkClosure(base(man, [config, layer, layer2, man], contentBlobs({ blobs: carried }))), 'ARCHIVE_HOSTILE', /does not carry/);
});

test('an index declared as a manifest, a manifest declared as an index, and a content mediaType that disagrees are refused', async () => {
  const idx = put(JSON.stringify({ schemaVersion: 2, manifests: [man] }), OCI_INDEX);
  const asManifest = { ...idx, mediaType: OCI_MANIFEST };
  await rejectsCode(checkClosure(base(asManifest, [config, layer, layer2, man, idx], new Map([...full, ...table([[asManifest, 'manifest']])]))), 'ARCHIVE_HOSTILE', /declared as a manifest .* not one/);
  const asIndex = { ...man, mediaType: OCI_INDEX };
  await rejectsCode(checkClosure(base(asIndex, [config, layer, layer2, man], new Map([...full, ...table([[asIndex, 'index']])]))), 'ARCHIVE_HOSTILE', /declared as application\/vnd\.oci\.image\.index\.v1\+json but its content says/);
  const docker = { ...man, mediaType: 'application/vnd.docker.distribution.manifest.v2+json' };
  await rejectsCode(checkClosure(base(docker, [config, layer, layer2, man], new Map([...full, ...table([[docker, 'manifest']])]))), 'ARCHIVE_HOSTILE', /content says application\/vnd\.oci/);
  const weird = { ...man, mediaType: 'application/x-not-an-image' };
  await rejectsCode(checkClosure(base(weird, [config, layer, layer2, man], new Map([...full, ...table([[weird, 'manifest']])]))), 'ARCHIVE_HOSTILE', /neither an image index nor an image manifest/);
  // the root's kind in the blob table must agree too
  await rejectsCode(checkClosure(base(man, [config, layer, layer2, man], new Map([...full, ...table([[man, 'layer']])]))), 'ARCHIVE_HOSTILE', /carried as a layer/);
});

test('an index child that is missing, of another media type, or itself an index is refused', async () => {
  const idx = put(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [man] }), OCI_INDEX);
  const blobs = new Map([...full, ...table([[idx, 'index']])]);
  await rejectsCode(checkClosure(base(idx, [config, layer, layer2, idx], blobs)), 'ARCHIVE_HOSTILE', /references manifest .* does not carry/);
  const otherType = new Map(blobs);
  otherType.set(man.digest, { ...otherType.get(man.digest)!, mediaType: 'application/vnd.docker.distribution.manifest.v2+json' });
  await rejectsCode(checkClosure(base(idx, [config, layer, layer2, man, idx], otherType)), 'ARCHIVE_HOSTILE', /carries it as application\/vnd\.docker/);
  const inner = put(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }), OCI_INDEX);
  const nested = put(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [inner] }), OCI_INDEX);
  await rejectsCode(checkClosure(base(nested, [inner, nested], table([[inner, 'index'], [nested, 'index']]))), 'ARCHIVE_HOSTILE', /nested index/);
  // a layer missing below a child manifest is found too
  const childMissing = manifestOf([layer, put('absent layer', LAYER)]);
  const idx2 = put(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [childMissing] }), OCI_INDEX);
  await rejectsCode(checkClosure(base(idx2, [config, layer, childMissing, idx2], new Map([...full, ...table([[childMissing, 'manifest'], [idx2, 'index']])]))), 'ARCHIVE_HOSTILE', /references layer .* does not carry/);
});

test('a blob carried as a file or key is not image content; a referrer must name its subject', async () => {
  const asFile = new Map(full);
  asFile.set(layer.digest, { ...asFile.get(layer.digest)!, kind: 'file' });
  await rejectsCode(checkClosure(base(man, [config, layer, layer2, man], asFile)), 'ARCHIVE_HOSTILE', /carried as a file/);
  const subject = `sha256:${'a'.repeat(64)}`;
  const sig = manifestOf([layer], { subject: { mediaType: OCI_MANIFEST, digest: subject, size: 10 } });
  const blobs = new Map([...full, ...table([[sig, 'manifest']])]);
  await checkClosure({ ...base(sig, [config, layer, sig], blobs), subject });
  await rejectsCode(checkClosure({ ...base(sig, [config, layer, sig], blobs), subject: `sha256:${'b'.repeat(64)}` }), 'ARCHIVE_HOSTILE', /has subject .* refers to/);
  assert.ok(true);
});

test.run();
