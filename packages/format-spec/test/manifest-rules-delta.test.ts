// Format version 4 (deltas): required[], baselines[] and delta, and the rules between them and
// the rest of the manifest. Each rule is shown accepting the good case and refusing its breach.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BUNDLE_MEDIA_TYPE_V1,
  BUNDLE_MEDIA_TYPE_V3,
  BUNDLE_MEDIA_TYPE_V4,
  FORMAT_VERSIONS,
  MediaTypes,
  bundleFormatFor,
  contentBlobs,
  isFerryError,
  parseManifest,
  requiredOf,
  type BundleManifest,
} from '../src/index.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const MANIFEST = d('a');
const CONFIG = d('c');
const BASE = d('b');
const NEW = d('e');

/** One image (manifest, config, base layer, new layer); the base layer and config are required. */
function v4(): BundleManifest {
  return {
    schemaVersion: 4,
    mediaType: BUNDLE_MEDIA_TYPE_V4,
    name: 'week2',
    created: '2026-12-06T00:00:00Z',
    tool: { name: 'ferry', version: '0.1.0' },
    compression: { algorithm: 'zstd', level: 3, framing: 'entry', seekTable: true },
    volumeSize: 1_000_000,
    volumes: [{ index: 1, file: 'week2-001.tar.zst' }],
    layoutIndex: { digest: d('0'), size: 10 },
    images: [{
      source: 'r/app:2', repository: 'team/app', tag: '2', digest: MANIFEST, mediaType: MediaTypes.ociManifest, size: 500,
      platformFilter: { mode: 'all' }, platforms: [], blobs: [CONFIG, BASE, NEW, MANIFEST],
    }],
    files: [],
    keys: [],
    charts: [],
    blobs: [
      { digest: NEW, size: 300, mediaType: MediaTypes.ociLayerGzip, kind: 'layer', volume: 1 },
      { digest: MANIFEST, size: 500, mediaType: MediaTypes.ociManifest, kind: 'manifest', volume: 1 },
    ],
    required: [
      { digest: CONFIG, size: 100, mediaType: MediaTypes.ociConfig, kind: 'config', baseline: 'week1', repositories: ['team/app'] },
      { digest: BASE, size: 10_000, mediaType: MediaTypes.ociLayerGzip, kind: 'layer', baseline: 'week1', repositories: [] },
    ],
    baselines: [{ name: 'week1', kind: 'bundle', digest: d('1'), created: '2026-11-29T00:00:00Z' }],
    delta: { carriedBytes: 800, referencedBytes: 10_900, requiredBytes: 10_100, requiredBlobs: 2 },
  };
}

const bytes = (m: unknown) => Buffer.from(JSON.stringify(m));
const refuses = (m: unknown, re: RegExp, code = 'SCHEMA_INVALID') =>
  assert.throws(() => parseManifest(bytes(m), 'week2.manifest.json'), (e: unknown) => isFerryError(e) && e.code === code && re.test(e.message), `${code} ${re}`);
const change = (f: (m: BundleManifest) => void): BundleManifest => {
  const m = structuredClone(v4());
  f(m);
  return m;
};

test('version 4 is read and written; a bundle without baselines keeps its lower version', () => {
  const m = parseManifest(bytes(v4()), 'm');
  assert.is(requiredOf(m).length, 2);
  assert.is(contentBlobs(m).get(BASE)!.kind, 'layer');
  assert.is(contentBlobs(m).get(BASE)!.volume, undefined);
  assert.ok(FORMAT_VERSIONS.reads.includes(4) && FORMAT_VERSIONS.writes.includes(4));
  assert.equal(bundleFormatFor({ charts: false, loaders: false, required: true }), { schemaVersion: 4, mediaType: BUNDLE_MEDIA_TYPE_V4 });
  assert.equal(bundleFormatFor({ charts: false, loaders: false, baselines: true }), { schemaVersion: 4, mediaType: BUNDLE_MEDIA_TYPE_V4 });
  assert.equal(bundleFormatFor({ charts: false, loaders: true, required: false, baselines: false }), { schemaVersion: 3, mediaType: BUNDLE_MEDIA_TYPE_V3 });
  assert.equal(bundleFormatFor({ charts: false, loaders: false }), { schemaVersion: 1, mediaType: BUNDLE_MEDIA_TYPE_V1 });
  // An unchanged upstream: built against a baseline, nothing required, still a version 4 delta.
  parseManifest(bytes(change((x) => {
    x.blobs = [{ digest: MANIFEST, size: 500, mediaType: MediaTypes.ociManifest, kind: 'manifest', volume: 1 }];
    x.required = [
      { ...x.required![0]! },
      { ...x.required![1]! },
      { digest: NEW, size: 300, mediaType: MediaTypes.ociLayerGzip, kind: 'layer', baseline: 'week1', repositories: ['team/app'] },
    ];
    x.delta = { carriedBytes: 500, referencedBytes: 10_900, requiredBytes: 10_400, requiredBlobs: 3 };
  })), 'm');
});

test('required, baselines and delta come together, in version 4 only', () => {
  for (const k of ['required', 'baselines', 'delta'] as const) {
    refuses(change((m) => { delete m[k]; }), new RegExp(k));
  }
  // Smuggled into an older version, which a reader of that version would load without them.
  refuses(change((m) => { m.schemaVersion = 3; m.mediaType = BUNDLE_MEDIA_TYPE_V3 as never; m.loaders = [{ platform: 'linux-x64', file: 'ferry-load-linux-x64', digest: d('9'), size: 1 }]; }), /must NOT be valid/);
  refuses(change((m) => { m.schemaVersion = 1; m.mediaType = BUNDLE_MEDIA_TYPE_V1 as never; delete m.charts; }), /must NOT be valid/);
  refuses(change((m) => { m.mediaType = BUNDLE_MEDIA_TYPE_V3 as never; }), /v3\+json/, 'SCHEMA_VERSION_UNSUPPORTED');
  refuses(change((m) => { m.baselines = []; }), /baselines/);
});

test('every digest an image lists is carried or required, never both', () => {
  refuses(change((m) => { m.required = m.required!.slice(1); m.delta = { ...m.delta!, requiredBlobs: 1, requiredBytes: 10_000, referencedBytes: 10_800 }; }), /refers to sha256:c{64}, which is not in blobs \(nor in required\)/);
  refuses(change((m) => { m.blobs.unshift({ digest: BASE, size: 10_000, mediaType: MediaTypes.ociLayerGzip, kind: 'layer', volume: 1 }); }), /also carried in blobs: a blob is carried or required, never both/);
  refuses(change((m) => { m.required!.push({ ...m.required![1]! }); }), /a second time/);
});

test('only config, layer and blob content may be required: roots, files, keys and charts are carried', () => {
  refuses(change((m) => { m.required![0]!.kind = 'manifest' as never; }), /kind/);
  // The image root left out: the loader could not tag with bytes it does not have.
  refuses(change((m) => {
    m.blobs = m.blobs.filter((b) => b.digest !== MANIFEST);
    m.required!.push({ digest: MANIFEST, size: 500, mediaType: MediaTypes.ociManifest, kind: 'blob', baseline: 'week1', repositories: [] });
    m.delta = { ...m.delta!, carriedBytes: 300, requiredBytes: 10_600, requiredBlobs: 3 };
  }), /root .* kind blob/);
  // A carried file cannot point at a required blob.
  refuses(change((m) => {
    m.files = [{ path: 'x', digest: BASE, size: 10_000, integrity: 'sha512-' + 'A'.repeat(86) + '==' }];
  }), /files\[0\] refers to sha256:b{64}, which is not in blobs/);
  // Nor can a chart.
  refuses(change((m) => {
    m.charts = [{ name: 'c', version: '1.0.0', apiVersion: 'v2', source: 'x', digest: BASE, size: 10_000, created: '2026-11-29T00:00:00Z', manifest: { digest: MANIFEST, size: 500, mediaType: MediaTypes.ociManifest }, blobs: [CONFIG, BASE, MANIFEST] }];
  }), /charts\[0\].*refers to sha256:c{64}, which is not in blobs/);
});

test('referrer content (signatures, attestations, SBOMs) is always carried', () => {
  const SIG = d('5');
  const SIGLAYER = d('6');
  const withSig = (m: BundleManifest): void => {
    m.images[0]!.referrers = [{ digest: SIG, mediaType: MediaTypes.ociManifest, size: 400, scheme: 'cosign-tag', tag: `sha256-${'a'.repeat(64)}.sig`, subject: MANIFEST, blobs: [CONFIG, SIGLAYER, SIG] }];
    m.blobs.push({ digest: SIG, size: 400, mediaType: MediaTypes.ociManifest, kind: 'manifest', volume: 1 });
  };
  // Carried: fine (its config is shared with the image and required; a referrer may not use it).
  refuses(change((m) => {
    withSig(m);
    m.blobs.push({ digest: SIGLAYER, size: 50, mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', kind: 'layer', volume: 1 });
    m.delta = { carriedBytes: 1250, referencedBytes: 11_350, requiredBytes: 10_100, requiredBlobs: 2 };
  }), /referrers\[0\] refers to sha256:c{64}, which is not in blobs/);
  const ok = change((m) => {
    withSig(m);
    m.images[0]!.referrers![0]!.blobs = [SIGLAYER, SIG];
    m.blobs.push({ digest: SIGLAYER, size: 50, mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', kind: 'layer', volume: 1 });
    m.delta = { carriedBytes: 1250, referencedBytes: 11_350, requiredBytes: 10_100, requiredBlobs: 2 };
  });
  parseManifest(bytes(ok), 'm');
  // Required: refused.
  refuses(change((m) => {
    withSig(m);
    m.images[0]!.referrers![0]!.blobs = [SIGLAYER, SIG];
    m.required!.push({ digest: SIGLAYER, size: 50, mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', kind: 'layer', baseline: 'week1', repositories: [] });
    m.delta = { carriedBytes: 1200, referencedBytes: 11_350, requiredBytes: 10_150, requiredBlobs: 3 };
  }), /referrers\[0\] refers to sha256:6{64}, which is not in blobs/);
});

test('required[].baseline names a baseline; baselines are named once', () => {
  refuses(change((m) => { m.required![0]!.baseline = 'week0'; }), /"week0", which is not one of baselines/);
  refuses(change((m) => { m.baselines!.push({ ...m.baselines![0]!, digest: d('2') }); }), /baselines\[1\] is named "week1"/);
  refuses(change((m) => { m.baselines![0]!.kind = 'tarball' as never; }), /kind/);
  refuses(change((m) => { m.baselines![0]!.name = 'week1\u001b[2J'; }), /control character/);
  refuses(change((m) => { m.required![0]!.repositories = ['../etc']; }), /repositories/);
  refuses(change((m) => { m.required![0]!.repositories = ['Team/App']; }), /repositories/);
});

test('a required blob no image needs is refused (a push would fail for nothing)', () => {
  refuses(change((m) => {
    m.required!.push({ digest: d('f'), size: 1, mediaType: MediaTypes.ociLayerGzip, kind: 'layer', baseline: 'week1', repositories: [] });
    m.delta = { ...m.delta!, requiredBlobs: 3, requiredBytes: 10_101 };
  }), /needed by no image or referrer/);
});

test('delta says exactly what blobs and required add up to', () => {
  refuses(change((m) => { m.delta!.carriedBytes = 1; }), /delta.carriedBytes is 1, but blobs and required add up to 800/);
  refuses(change((m) => { m.delta!.referencedBytes = 800; }), /delta.referencedBytes/);
  refuses(change((m) => { m.delta!.requiredBytes = 0; }), /delta.requiredBytes/);
  refuses(change((m) => { m.delta!.requiredBlobs = 0; }), /delta.requiredBlobs/);
  refuses(change((m) => { (m.delta as unknown as Record<string, number>).savedBytes = 1; }), /additional/);
  refuses(change((m) => { m.delta!.carriedBytes = -1; }), /carriedBytes/);
  // A required size that disagrees with what the image's own root says is caught by the loader's
  // closure check; here the sum must still agree.
  refuses(change((m) => { m.required![1]!.size = 1; }), /delta\.(referenced|required)Bytes/);
});

test.run();
