// The referrer made for an SBOM file: exact, reproducible bytes; the OCI empty config; the image
// root (Ferry's own index for a platform-filtered image) as subject; and @ferry/trust — what
// `ferry-load sbom` runs — lists it as an SBOM referrer and gives back the file's bytes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Digest } from '@ferry/format-spec';
import { openOciLayout, resolveImage } from '@ferry/oci';
import { listSboms, readSbom } from '@ferry/trust';
import { EMPTY_CONFIG, sbomReferrer, sbomReferrerManifest } from '../../src/sbom/referrer.js';
import type { SbomDocument } from '../../src/sbom/read.js';
import { makeOciLayout, type WrittenImage } from '../../../../test/helpers/images.js';

const content = Buffer.from('{"bomFormat":"CycloneDX","specVersion":"1.5","version":1}');
const sbom: SbomDocument = { path: '/x/app.cdx.json', title: 'app.cdx.json', mediaType: 'application/vnd.cyclonedx+json', digest: sha256Digest(content), size: content.length, bytes: content };
const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'ab'.repeat(32)}`, size: 1234 };

let dir = '';
let img: WrittenImage;
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-sbom-ref-'));
  [img] = (await makeOciLayout(join(dir, 'layout'), [{
    tag: 'multi',
    platforms: [
      { os: 'linux', architecture: 'amd64', layers: [{ size: 100, seed: 'a' }] },
      { os: 'linux', architecture: 'arm64', layers: [{ size: 100, seed: 'b' }] },
      { os: 'linux', architecture: 's390x', layers: [{ size: 100, seed: 'c' }] },
    ],
  }])) as [WrittenImage];
});
test.after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('the manifest: exact bytes, no timestamp, the empty config, one titled layer, the subject', () => {
  const bytes = sbomReferrerManifest(subject, sbom);
  assert.is(bytes.toString(), JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    artifactType: 'application/vnd.cyclonedx+json',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 },
    layers: [{ mediaType: 'application/vnd.cyclonedx+json', digest: sbom.digest, size: content.length, annotations: { 'org.opencontainers.image.title': 'app.cdx.json' } }],
    subject,
  }));
  assert.is(EMPTY_CONFIG.digest, sha256Digest(Buffer.from('{}')));
  // Same inputs, same bytes (reproducible bundles); a different file name or subject, another digest.
  assert.ok(sbomReferrerManifest(subject, sbom).equals(bytes));
  assert.is.not(sha256Digest(sbomReferrerManifest(subject, { ...sbom, title: 'other.json' })), sha256Digest(bytes));
  assert.is.not(sha256Digest(sbomReferrerManifest({ ...subject, digest: `sha256:${'cd'.repeat(32)}` }, sbom)), sha256Digest(bytes));
  // Extra fields of the root descriptor (annotations, platform) do not leak into the subject.
  assert.ok(sbomReferrerManifest({ ...subject, annotations: { a: 'b' }, platform: { os: 'linux', architecture: 'amd64' } }, sbom).equals(bytes));
});

test('the ResolvedReferrer: scheme oci-referrer, children first, every blob in memory and matching its digest', () => {
  const r = sbomReferrer(subject, sbom);
  assert.is(r.scheme, 'oci-referrer');
  assert.is(r.artifactType, sbom.mediaType);
  assert.is(r.subject, subject.digest);
  assert.equal(r.blobs.map((b) => b.kind), ['config', 'layer', 'manifest']);
  for (const b of r.blobs) {
    assert.ok(b.bytes, `${b.kind} has its bytes`);
    assert.is(sha256Digest(b.bytes!), b.descriptor.digest);
    assert.is(b.bytes!.length, b.descriptor.size);
  }
  assert.equal(r.blobs[2]!.descriptor, r.descriptor);
  assert.is(r.tag, undefined);
});

test('a platform-filtered image: the subject is the root the bundle carries (Ferry\'s index), not the source index', async () => {
  const src = await openOciLayout(join(dir, 'layout'), 'multi');
  try {
    const resolved = await resolveImage(src, ['linux/amd64', 'linux/arm64']);
    assert.is(resolved.platformFilter.mode, 'filtered');
    assert.is.not(resolved.root.digest, img.root.digest);
    const r = sbomReferrer(resolved.root, sbom);
    const m = JSON.parse(r.blobs[2]!.bytes!.toString()) as { subject: { digest: string; size: number; mediaType: string } };
    assert.equal(m.subject, { mediaType: resolved.root.mediaType, digest: resolved.root.digest, size: resolved.root.size });
    assert.ok(resolved.blobs.some((b) => b.descriptor.digest === m.subject.digest && b.kind === 'index'), 'the subject is a blob the bundle carries');
  } finally {
    await src.close();
  }
});

test('@ferry/trust (ferry-load sbom) lists it as a referrer SBOM of the image and reads back the exact bytes', () => {
  const r = sbomReferrer(subject, sbom);
  const blobs = new Map(r.blobs.map((b) => [b.descriptor.digest, b.bytes!]));
  const input = { image: { digest: subject.digest, mediaType: subject.mediaType }, referrers: [{ scheme: 'oci-referrer' as const, artifactType: r.artifactType!, manifest: r.blobs[2]!.bytes!, blobs }] };
  const list = listSboms(input);
  assert.is(list.length, 1);
  assert.is(list[0]!.source, 'referrer');
  assert.is(list[0]!.format, 'cyclonedx-json');
  assert.is(list[0]!.digest, sbom.digest);
  assert.ok(readSbom(input, list[0]!).equals(content));
  // About another image, it is not listed for it.
  assert.is(listSboms({ ...input, image: { digest: `sha256:${'ef'.repeat(32)}`, mediaType: subject.mediaType } }).length, 0);
});

test.run();
