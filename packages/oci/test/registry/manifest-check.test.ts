import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { FerryError } from '@ferry/format-spec';
import { verifyManifestResponse } from '../../src/registry/manifest-check.js';

const ctx = { registry: 'r.example:5000', repository: 'ns/app', reference: 'v1' };
const body = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:' + 'a'.repeat(64) + '","size":2},"layers":[]}');
const digest = 'sha256:' + createHash('sha256').update(body).digest('hex');
const OCI = 'application/vnd.oci.image.manifest.v1+json';

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.instance(e, FerryError);
    return (e as FerryError).code;
  }
  return 'none';
}

test('by digest: matching bytes give the descriptor', () => {
  assert.equal(verifyManifestResponse(body, { requested: digest, contentType: OCI, dockerContentDigest: digest }, ctx), { mediaType: OCI, digest, size: body.length });
});

test('by digest: one changed byte is refused (BLOB_MISMATCH naming both digests)', () => {
  const bad = Buffer.from(body);
  bad[bad.length - 3] = 0x20;
  try {
    verifyManifestResponse(bad, { requested: digest, contentType: OCI }, ctx);
    assert.unreachable();
  } catch (e) {
    assert.is((e as FerryError).code, 'BLOB_MISMATCH');
    assert.ok((e as FerryError).message.includes(digest));
    assert.ok((e as FerryError).message.includes('r.example:5000'));
  }
});

test('by tag: Docker-Content-Digest must match the bytes when present', () => {
  assert.is(code(() => verifyManifestResponse(body, { requested: 'v1', contentType: OCI, dockerContentDigest: 'sha256:' + 'b'.repeat(64) }, ctx)), 'BLOB_MISMATCH');
  assert.is(verifyManifestResponse(body, { requested: 'v1', contentType: OCI }, ctx).digest, digest);
});

test('Content-Type vs mediaType mismatch is refused; parameters and generic types are tolerated', () => {
  assert.is(code(() => verifyManifestResponse(body, { requested: 'v1', contentType: 'application/vnd.docker.distribution.manifest.v2+json' }, ctx)), 'SOURCE_INVALID');
  assert.is(verifyManifestResponse(body, { requested: 'v1', contentType: `${OCI}; charset=utf-8` }, ctx).mediaType, OCI);
  assert.is(verifyManifestResponse(body, { requested: 'v1', contentType: 'application/json' }, ctx).mediaType, OCI);
});

test('OCI 1.0 manifest without mediaType: type from Content-Type, else from shape', () => {
  const noType = Buffer.from('{"schemaVersion":2,"manifests":[]}');
  assert.is(verifyManifestResponse(noType, { requested: 'v1', contentType: 'application/vnd.oci.image.index.v1+json' }, ctx).mediaType, 'application/vnd.oci.image.index.v1+json');
  assert.is(verifyManifestResponse(noType, { requested: 'v1' }, ctx).mediaType, 'application/vnd.oci.image.index.v1+json');
  assert.is(code(() => verifyManifestResponse(Buffer.from('{"schemaVersion":2}'), { requested: 'v1' }, ctx)), 'SOURCE_INVALID');
});

test('schema1, non-JSON, non-object and non-sha256 digests are refused', () => {
  assert.is(code(() => verifyManifestResponse(Buffer.from('{"schemaVersion":1,"fsLayers":[]}'), { requested: 'v1', contentType: 'application/vnd.docker.distribution.manifest.v1+prettyjws' }, ctx)), 'SOURCE_INVALID');
  assert.is(code(() => verifyManifestResponse(Buffer.from('<html>'), { requested: 'v1' }, ctx)), 'SOURCE_INVALID');
  assert.is(code(() => verifyManifestResponse(Buffer.from('[1]'), { requested: 'v1' }, ctx)), 'SOURCE_INVALID');
  assert.is(code(() => verifyManifestResponse(body, { requested: 'sha512:' + 'a'.repeat(128) }, ctx)), 'SOURCE_INVALID');
});

test.run();
