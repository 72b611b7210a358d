// validateManifest on format version 2 (charts[]): the schema's version rules and every chart
// rule in manifest-rules.ts, each variant separately, against one manifest with two charts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isFerryError } from '../src/errors.js';
import { BUNDLE_MEDIA_TYPE, BUNDLE_MEDIA_TYPE_V1, type BundleManifest } from '../src/manifest-types.js';
import { chartRefName } from '../src/layout-index.js';
import { validateManifest } from '../src/schema.js';

const d = (c: string): string => `sha256:${c.repeat(64)}`;
const MAN = 'application/vnd.oci.image.manifest.v1+json';
const CHART = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';
const PROV = 'application/vnd.cncf.helm.chart.provenance.v1.prov';
const CONFIG = 'application/vnd.cncf.helm.config.v1+json';

/** Chart web 1.2.3+build.7 (config 1, archive 2, prov 3, manifest 4) and its dependency
 *  redis 0.1.0 (config 5, archive 6, manifest 7); one image named like neither. */
function withCharts(): BundleManifest {
  return {
    schemaVersion: 2,
    mediaType: BUNDLE_MEDIA_TYPE,
    name: 'ch',
    created: '2026-12-02T00:00:00Z',
    tool: { name: 'ferry', version: '0.1.0' },
    compression: { algorithm: 'zstd', level: 3, framing: 'entry', seekTable: true },
    volumeSize: 1_000_000,
    volumes: [{ index: 1, file: 'ch-001.tar.zst' }],
    layoutIndex: { digest: d('8'), size: 200 },
    images: [{ source: 'oci:x', repository: 'charts/web', tag: '9.9.9', digest: d('a'), mediaType: MAN, size: 100, platformFilter: { mode: 'all' }, platforms: [], blobs: [d('a')] }],
    files: [],
    keys: [],
    charts: [
      { name: 'web', version: '1.2.3+build.7', appVersion: '2.0', apiVersion: 'v2', source: 'https://charts.example.com/web@^1', digest: d('2'), size: 2000, provenance: { digest: d('3'), size: 300 }, created: '2026-01-01T00:00:00Z', manifest: { digest: d('4'), size: 600, mediaType: MAN }, blobs: [d('1'), d('2'), d('3'), d('4')], images: [{ reference: 'docker.io/library/nginx:1.27', file: 'values.yaml', line: 3 }] },
      { name: 'redis', version: '0.1.0', apiVersion: 'v2', source: 'https://charts.example.com/redis@0.1.0', digest: d('6'), size: 1000, created: '2026-01-01T00:00:00Z', manifest: { digest: d('7'), size: 500, mediaType: MAN }, blobs: [d('5'), d('6'), d('7')], requiredBy: ['web@1.2.3+build.7'] },
    ],
    blobs: [
      { digest: d('a'), size: 100, mediaType: MAN, kind: 'manifest', volume: 1 },
      { digest: d('1'), size: 120, mediaType: CONFIG, kind: 'config', volume: 1 },
      { digest: d('2'), size: 2000, mediaType: CHART, kind: 'layer', volume: 1 },
      { digest: d('3'), size: 300, mediaType: PROV, kind: 'layer', volume: 1 },
      { digest: d('4'), size: 600, mediaType: MAN, kind: 'manifest', volume: 1 },
      { digest: d('5'), size: 90, mediaType: CONFIG, kind: 'config', volume: 1 },
      { digest: d('6'), size: 1000, mediaType: CHART, kind: 'layer', volume: 1 },
      { digest: d('7'), size: 500, mediaType: MAN, kind: 'manifest', volume: 1 },
    ],
  };
}

const change = (f: (m: BundleManifest) => void): BundleManifest => {
  const m = withCharts();
  f(m);
  return m;
};
const refuses = (m: unknown, re: RegExp): void =>
  assert.throws(() => validateManifest(structuredClone(m), 'ch.manifest.json'), (e: unknown) => {
    if (!isFerryError(e, 'SCHEMA_INVALID')) return false;
    if (!re.test(e.message)) throw new Error(`${e.message} does not match ${re}`);
    return true;
  }, re.source);

test('a version 2 manifest with charts is valid; the chart layout name has _ for +', () => {
  validateManifest(withCharts(), 'ch.manifest.json');
  assert.is(chartRefName({ name: 'web', version: '1.2.3+build.7' }), 'charts/web:1.2.3_build.7');
});

test('the version decides the media type and whether charts[] may appear', () => {
  refuses(change((m) => { m.mediaType = BUNDLE_MEDIA_TYPE_V1 as never; }), /mediaType|must be equal to constant/);
  refuses(change((m) => { m.schemaVersion = 1; m.mediaType = BUNDLE_MEDIA_TYPE_V1 as never; }), /charts|must NOT be valid/);
  refuses(change((m) => { delete m.charts; }), /charts/);
});

test('chart names and versions: Helm rules that keep a file name and a tag safe', () => {
  for (const name of ['../x', 'a/b', '.x', 'a..b', '', 'x'.repeat(201)]) refuses(change((m) => { m.charts![0]!.name = name; }), /name/);
  for (const version of ['1.0', 'v1.0.0', '01.0.0', '1.0.0-', '1.0.0+', '1.0.0 ', '1.0.0+a+b']) refuses(change((m) => { m.charts![0]!.version = version; }), /version/);
});

test('every chart blob is carried, the manifest last, the archive and provenance with Helm media types', () => {
  refuses(change((m) => { m.charts![0]!.blobs = [d('1'), d('2'), d('9'), d('4')]; }), /refers to sha256:9{64}, which is not in blobs/);
  refuses(change((m) => { m.charts![0]!.blobs = [d('1'), d('4'), d('2'), d('3')]; }), /must end with its manifest/);
  refuses(change((m) => { m.charts![0]!.blobs = [d('1'), d('2'), d('2'), d('4')]; }), /twice/);
  refuses(change((m) => { m.charts![0]!.digest = d('1'); m.charts![0]!.size = 120; }), /archive has media type/);
  refuses(change((m) => { m.charts![0]!.digest = d('6'); }), /archive sha256:6{64} is not one of its blobs/);
  refuses(change((m) => { m.charts![0]!.size = 1999; }), /size differs from its archive/);
  refuses(change((m) => { m.charts![0]!.provenance = { digest: d('1'), size: 120 }; }), /provenance differs/);
  refuses(change((m) => { m.charts![0]!.provenance = { digest: d('6'), size: 1000 }; }), /provenance sha256:6{64} is not one of its blobs/);
  refuses(change((m) => { m.charts![0]!.manifest.size = 601; }), /manifest differs from its blob entry/);
  refuses(change((m) => { m.blobs[6]!.kind = 'file'; }), /kind file: chart content is never a carried file or key/);
});

test('names: one chart per name@version, no layout name shared with an image, requiredBy names a carried chart', () => {
  refuses(change((m) => { m.charts![1] = { ...m.charts![1]!, name: 'web', version: '1.2.3+build.7', requiredBy: [] as never }; delete m.charts![1]!.requiredBy; }), /are both "web@1.2.3\+build.7"/);
  refuses(change((m) => { m.images[0]!.tag = '1.2.3_build.7'; }), /named "charts\/web:1.2.3_build.7" in the layout, which is the name of images\[0\]/);
  refuses(change((m) => { m.charts![1]!.requiredBy = ['web@9.9.9']; }), /requiredBy names "web@9.9.9", which is not a chart of this bundle/);
});

test.run();
