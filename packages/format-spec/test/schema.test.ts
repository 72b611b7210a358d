import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseManifest, isFerryError, BUNDLE_MEDIA_TYPE_V1, type BundleManifest } from '../src/index.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;

function good(): BundleManifest {
  return {
    schemaVersion: 1,
    mediaType: BUNDLE_MEDIA_TYPE_V1,
    name: 'b',
    created: '2026-11-26T00:00:00Z',
    tool: { name: 'ferry', version: '0.1.0' },
    compression: { algorithm: 'zstd', level: 3, framing: 'entry', seekTable: true },
    volumeSize: 1000,
    volumes: [{ index: 1, file: 'b-001.tar.zst' }, { index: 2, file: 'b-002.tar.zst' }],
    layoutIndex: { digest: d('0'), size: 10 },
    images: [{
      source: 'oci:x:1', repository: 'team/app', tag: '1', digest: d('c'), mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 5,
      platformFilter: { mode: 'all' }, platforms: [], blobs: [d('a'), d('c')],
    }],
    files: [{ path: 'docs/x.txt', digest: d('e'), size: 3, integrity: 'sha512-' + 'A'.repeat(86) + '==' }],
    keys: [],
    blobs: [
      { digest: d('a'), size: 1500, mediaType: 'application/vnd.oci.image.layer.v1.tar', kind: 'layer', segments: [{ volume: 1, index: 1, offset: 0, size: 700, digest: d('1') }, { volume: 2, index: 2, offset: 700, size: 800, digest: d('2') }] },
      { digest: d('c'), size: 5, mediaType: 'application/vnd.oci.image.manifest.v1+json', kind: 'manifest', volume: 2 },
      { digest: d('e'), size: 3, mediaType: 'application/octet-stream', kind: 'file', volume: 2 },
    ],
  };
}

const bytes = (m: unknown) => Buffer.from(JSON.stringify(m));
const refuses = (m: unknown, code: string, re: RegExp) =>
  assert.throws(() => parseManifest(bytes(m), 'b.manifest.json'), (e: unknown) => isFerryError(e) && e.code === code && re.test(e.message), `${code} ${re}`);

test('a well-formed manifest parses', () => {
  assert.is(parseManifest(bytes(good()), 'm').images[0]!.repository, 'team/app');
});

test('unknown versions are refused with the version named', () => {
  refuses({ ...good(), schemaVersion: 4 }, "SCHEMA_VERSION_UNSUPPORTED", /schemaVersion 4/);
  refuses({ ...good(), mediaType: 'application/x' }, 'SCHEMA_VERSION_UNSUPPORTED', /application\/x/);
  refuses([], 'SCHEMA_INVALID', /not a JSON object/);
  assert.throws(() => parseManifest(Buffer.from('{nope'), 'm'), (e: unknown) => isFerryError(e, 'SCHEMA_INVALID'));
});

test('schema violations name the field', () => {
  refuses({ ...good(), extra: 1 }, 'SCHEMA_INVALID', /"extra"/);
  refuses({ ...good(), files: [{ ...good().files[0], path: '../../etc/passwd' }] }, 'SCHEMA_INVALID', /\/files\/0\/path/);
  refuses({ ...good(), files: [{ ...good().files[0], path: '/etc/passwd' }] }, 'SCHEMA_INVALID', /\/files\/0\/path/);
  refuses({ ...good(), files: [{ ...good().files[0], path: 'a/./b' }] }, 'SCHEMA_INVALID', /\/files\/0\/path/);
  refuses({ ...good(), blobs: [{ ...good().blobs[1], digest: 'sha256:../../x' }, ...good().blobs.slice(1)] }, 'SCHEMA_INVALID', /\/blobs\/0\/digest/);
  refuses({ ...good(), images: [{ ...good().images[0], repository: 'Upper/Case' }] }, 'SCHEMA_INVALID', /repository/);
});

test('cross-field rules a schema cannot say', () => {
  const m = good();
  refuses({ ...m, volumes: [m.volumes[0], { index: 2, file: 'other-002.tar.zst' }] }, 'SCHEMA_INVALID', /expected b-002\.tar\.zst/);
  refuses({ ...m, blobs: [...m.blobs, m.blobs[1]] }, 'SCHEMA_INVALID', /listed twice/);
  refuses({ ...m, blobs: m.blobs.map((b, i) => (i === 1 ? { ...b, volume: 3 } : b)) }, 'SCHEMA_INVALID', /there are 2/);
  refuses({ ...m, blobs: m.blobs.map((b, i) => (i === 0 ? { ...b, size: 1501 } : b)) }, 'SCHEMA_INVALID', /add up to 1500/);
  refuses({ ...m, blobs: m.blobs.map((b, i) => (i === 0 ? { ...b, segments: [b.segments![0], { ...b.segments![1], offset: 600 }] } : b)) }, 'SCHEMA_INVALID', /starts at 600/);
  refuses({ ...m, images: [{ ...m.images[0], blobs: [d('f'), d('c')] }] }, 'SCHEMA_INVALID', /not in blobs/);
  refuses({ ...m, images: [{ ...m.images[0], blobs: [d('c'), d('a')] }] }, 'SCHEMA_INVALID', /must end with/);
  refuses({ ...m, files: [m.files[0], m.files[0]] }, 'SCHEMA_INVALID', /used twice/);
  refuses({ ...m, blobs: m.blobs.map((b, i) => (i === 1 ? { ...b, segments: [] } : b)) }, 'SCHEMA_INVALID', /blobs\/1/);
});

test.run();
