import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BUNDLE_MEDIA_TYPE, BUNDLE_MEDIA_TYPE_V1, BUNDLE_MEDIA_TYPE_V3, bundleFormatFor, isFerryError, loaderFileName, loaderPlatformOfFile, parseManifest, type BundleManifest } from '../src/index.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;

function v3(): BundleManifest {
  return {
    schemaVersion: 3,
    mediaType: BUNDLE_MEDIA_TYPE_V3,
    name: 'b',
    created: '2026-11-26T00:00:00Z',
    tool: { name: 'ferry', version: '0.1.0' },
    compression: { algorithm: 'zstd', level: 3, framing: 'entry', seekTable: true },
    volumeSize: 1000,
    volumes: [{ index: 1, file: 'b-001.tar.zst' }],
    layoutIndex: { digest: d('0'), size: 10 },
    images: [],
    files: [{ path: 'x.txt', digest: d('e'), size: 3, integrity: 'sha512-' + 'A'.repeat(86) + '==' }],
    keys: [],
    charts: [],
    loaders: [
      { platform: 'linux-x64', file: 'ferry-load-linux-x64', digest: d('1'), size: 129_000_000 },
      { platform: 'win-x64', file: 'ferry-load-win-x64.exe', digest: d('2'), size: 90_000_000 },
    ],
    blobs: [{ digest: d('e'), size: 3, mediaType: 'application/octet-stream', kind: 'file', volume: 1 }],
  };
}

const bytes = (m: unknown) => Buffer.from(JSON.stringify(m));
const refuses = (m: unknown, code: string, re: RegExp) =>
  assert.throws(() => parseManifest(bytes(m), 'b.manifest.json'), (e: unknown) => isFerryError(e) && e.code === code && re.test(e.message), `${code} ${re}`);

test('version 3 carries loaders; the lowest version that says it is written', () => {
  assert.is(parseManifest(bytes(v3()), 'm').loaders!.length, 2);
  assert.equal(bundleFormatFor({ charts: false, loaders: false }), { schemaVersion: 1, mediaType: BUNDLE_MEDIA_TYPE_V1 });
  assert.equal(bundleFormatFor({ charts: true, loaders: false }), { schemaVersion: 2, mediaType: BUNDLE_MEDIA_TYPE });
  assert.equal(bundleFormatFor({ charts: false, loaders: true }), { schemaVersion: 3, mediaType: BUNDLE_MEDIA_TYPE_V3 });
  assert.is(loaderFileName('win-x64'), 'ferry-load-win-x64.exe');
  assert.is(loaderPlatformOfFile('ferry-load-linux-arm64'), 'linux-arm64');
  assert.is(loaderPlatformOfFile('ferry-load'), undefined);
});

test('loaders only in version 3, and required there with charts', () => {
  const { loaders, ...noLoaders } = v3();
  void loaders;
  refuses(noLoaders, 'SCHEMA_INVALID', /loaders/);
  refuses({ ...v3(), schemaVersion: 2, mediaType: BUNDLE_MEDIA_TYPE }, 'SCHEMA_INVALID', /must NOT be valid|loaders/);
  const { charts, ...noCharts } = v3();
  void charts;
  refuses(noCharts, 'SCHEMA_INVALID', /charts/);
  refuses({ ...v3(), mediaType: BUNDLE_MEDIA_TYPE }, 'SCHEMA_VERSION_UNSUPPORTED', /v2\+json/);
  refuses({ ...v3(), loaders: [] }, 'SCHEMA_INVALID', /loaders/);
});

test('each loader is one platform under its own file name, no unknown fields', () => {
  const m = v3();
  refuses({ ...m, loaders: [{ ...m.loaders![0]!, file: 'ferry-load-win-x64.exe' }] }, 'SCHEMA_INVALID', /always ferry-load-linux-x64/);
  refuses({ ...m, loaders: [m.loaders![0]!, { ...m.loaders![0]! }] }, 'SCHEMA_INVALID', /second executable for linux-x64/);
  refuses({ ...m, loaders: [{ ...m.loaders![0]!, file: '../../bin/sh' }] }, 'SCHEMA_INVALID', /file/);
  refuses({ ...m, loaders: [{ ...m.loaders![0]!, platform: 'darwin-arm64' }] }, 'SCHEMA_INVALID', /platform/);
  refuses({ ...m, loaders: [{ ...m.loaders![0]!, runtime: 'node' }] }, 'SCHEMA_INVALID', /runtime/);
});

test.run();
