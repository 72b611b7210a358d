// Hand-made bundle manifests for the baseline readers: one image in two repositories, a chart,
// a file, and (v4) a delta that required the base layer from an earlier bundle.
import { BUNDLE_MEDIA_TYPE, BUNDLE_MEDIA_TYPE_V4, HelmMediaTypes, MediaTypes, type BundleManifest } from '@ferry/format-spec';

export const d = (c: string): string => `sha256:${c.repeat(64)}`;
export const MANIFEST = d('a');
export const CONFIG = d('c');
export const BASE = d('b');
export const TOP = d('e');
export const FILE = d('f');
export const CHART = [d('1'), d('2'), d('3')] as const;

export function full(name = 'week1', created = '2026-11-29T00:00:00Z'): BundleManifest {
  const img = (repository: string) => ({
    source: `reg/${repository}:1`, repository, tag: '1', digest: MANIFEST, mediaType: MediaTypes.ociManifest, size: 500,
    platformFilter: { mode: 'all' as const }, platforms: [], blobs: [CONFIG, BASE, TOP, MANIFEST],
  });
  return {
    schemaVersion: 2,
    mediaType: BUNDLE_MEDIA_TYPE,
    name,
    created,
    tool: { name: 'ferry', version: '0.1.0' },
    compression: { algorithm: 'zstd', level: 3, framing: 'entry', seekTable: true },
    volumeSize: 1_000_000,
    volumes: [{ index: 1, file: `${name}-001.tar.zst` }],
    layoutIndex: { digest: d('0'), size: 10 },
    images: [img('team/app'), img('mirror/app')],
    files: [{ path: 'x.txt', digest: FILE, size: 3, integrity: 'sha512-' + 'A'.repeat(86) + '==' }],
    keys: [],
    charts: [{
      name: 'c', version: '1.0.0', apiVersion: 'v2', source: 'x', digest: CHART[1], size: 70, created,
      manifest: { digest: CHART[2], size: 300, mediaType: MediaTypes.ociManifest }, blobs: [...CHART],
    }],
    blobs: [
      { digest: CONFIG, size: 100, mediaType: MediaTypes.ociConfig, kind: 'config', volume: 1 },
      { digest: BASE, size: 10_000, mediaType: MediaTypes.ociLayerGzip, kind: 'layer', volume: 1 },
      { digest: TOP, size: 300, mediaType: MediaTypes.ociLayerGzip, kind: 'layer', volume: 1 },
      { digest: MANIFEST, size: 500, mediaType: MediaTypes.ociManifest, kind: 'manifest', volume: 1 },
      { digest: CHART[0], size: 20, mediaType: HelmMediaTypes.config, kind: 'config', volume: 1 },
      { digest: CHART[1], size: 70, mediaType: HelmMediaTypes.chart, kind: 'layer', volume: 1 },
      { digest: CHART[2], size: 300, mediaType: MediaTypes.ociManifest, kind: 'manifest', volume: 1 },
      { digest: FILE, size: 3, mediaType: MediaTypes.octetStream, kind: 'file', volume: 1 },
    ],
  };
}

/** A delta: the base layer left out (required from `from`), the rest carried. */
export function delta(name = 'week2', from = 'week1'): BundleManifest {
  const m = full(name, '2026-12-06T00:00:00Z');
  m.schemaVersion = 4;
  m.mediaType = BUNDLE_MEDIA_TYPE_V4;
  m.images = m.images.slice(0, 1);
  m.blobs = m.blobs.filter((b) => b.digest !== BASE);
  m.required = [{ digest: BASE, size: 10_000, mediaType: MediaTypes.ociLayerGzip, kind: 'layer', baseline: from, repositories: ['old/app'] }];
  m.baselines = [{ name: from, kind: 'bundle', digest: d('9') }];
  const carried = m.blobs.reduce((n, b) => n + b.size, 0);
  m.delta = { carriedBytes: carried, referencedBytes: carried - 3 + 10_000, requiredBytes: 10_000, requiredBlobs: 1 };
  return m;
}

export const bytesOf = (m: unknown): Buffer => Buffer.from(JSON.stringify(m, null, 2) + '\n');
