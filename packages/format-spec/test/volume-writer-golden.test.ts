// The volume writer's output is pinned byte for byte: the sha256 of every volume written for a
// fixed fixture (stored, compressed and threaded frames, a split blob, a pax header name, an
// empty blob) was recorded from the tar-stream based writer this one replaced (main at e858a89).
// A change to the writer that changes a byte of a volume fails here.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { layoutIndexBytes } from '../src/layout-index.js';
import type { BundleBlob } from '../src/manifest-types.js';
import { planVolumes } from '../src/volume-plan.js';
import { writeVolumes, type WriteVolumesOptions } from '../src/volume-writer.js';
import { OCI_LAYOUT, bytes, chunked, minimalManifest, sha, tempDir, withSegmentDigests } from './helpers/volumes.js';

/** JSON-ish text: compressible, so its frames are really compressed. */
function text(size: number, seed: number): Buffer {
  const lines: string[] = [];
  let n = 0;
  for (let i = 0; n < size; i++) {
    const l = `{"i":${i},"seed":${seed},"name":"item-${(i * 7919 + seed) % 1000}","ok":${i % 3 === 0}}\n`;
    lines.push(l);
    n += l.length;
  }
  return Buffer.from(lines.join('')).subarray(0, size);
}

interface Fixture { blobs: Buffer[]; types: string[] }

function fixture(big: boolean): Fixture {
  if (big) {
    // Frames larger than libzstd's 4 MiB multi-threaded job: several jobs per frame.
    return { blobs: [text(10_000_000, 4), bytes(3_000_000, 14)], types: ['application/vnd.oci.image.layer.v1.tar', 'application/vnd.oci.image.layer.v1.tar+gzip'] };
  }
  const blobs = [bytes(700_000, 11), text(300_000, 1), Buffer.alloc(0), bytes(2_500_000, 12), text(90_000, 2), bytes(513, 13), text(1_200_000, 3)];
  const types = [
    'application/vnd.oci.image.layer.v1.tar+gzip',
    'application/vnd.oci.image.layer.v1.tar',
    'application/octet-stream',
    'application/vnd.oci.image.layer.v1.tar+zstd',
    'application/vnd.oci.image.config.v1+json',
    'application/vnd.oci.image.layer.v1.tar+gzip',
    'application/vnd.oci.image.manifest.v1+json',
  ];
  return { blobs, types };
}

async function writeFixture(dir: string, workers: number, source: 'stream' | 'file', big: boolean): Promise<string[]> {
  const { blobs, types } = fixture(big);
  const contents = new Map(blobs.map((b) => [sha(b), b]));
  const input = blobs.map((b, i) => ({ digest: sha(b), size: b.length, mediaType: types[i]!, kind: i === blobs.length - 1 ? ('manifest' as const) : ('layer' as const) }));
  const name = 'golden';
  const volumeSize = big ? 16 * 1024 * 1024 : 1024 * 1024;
  const plan = planVolumes(input, { volumeSize, headerReserve: 24 * 1024 });
  const planned: BundleBlob[] = withSegmentDigests(plan.blobs, contents);
  const indexBytes = layoutIndexBytes([]);
  const manifestBytes = Buffer.from(JSON.stringify(minimalManifest({ name, blobs: planned, volumeCount: plan.volumeCount, indexBytes, volumeSize })));
  const longName = `${'x'.repeat(120)}.manifest.json.sig`; // > 100 bytes, no slash: a pax header
  const files = new Map<string, string>();
  if (source === 'file') {
    for (const [d, b] of contents) {
      const p = join(dir, `src-${d.slice(7)}`);
      await writeFile(p, b);
      files.set(d, p);
    }
  }
  const opts: WriteVolumesOptions = {
    dir,
    name,
    volumeCount: plan.volumeCount,
    header: [
      { name: `${name}.manifest.json`, bytes: manifestBytes },
      { name: longName, bytes: Buffer.from('signature') },
      { name: 'oci-layout', bytes: OCI_LAYOUT },
      { name: 'index.json', bytes: indexBytes },
    ],
    blobs: planned,
    openBlob: async (b) => (source === 'file' ? { file: files.get(b.digest)! } : b.size === 0 ? Readable.from([]) : chunked(contents.get(b.digest)!, 10_000)),
    volumeSize,
    workers,
    ...(big ? {} : { frameBytes: 256 * 1024 }),
    mtime: new Date('2024-01-01T00:00:00Z'),
  } as WriteVolumesOptions;
  const written = await writeVolumes(opts);
  return written.map((w) => `${w.file} ${w.size} ${w.sha256}`);
}

const GOLDEN = {
  small: [
    'golden-001.tar.zst 1011611 41e6cf21d52149e1a1fa0e8400bac5e2ee8c1f64459bbd37671c552383d1078a',
    'golden-002.tar.zst 1011963 4afa6fe8c52c25271febfb82be9b8ec9e9c5e37c135889b21ed5af01e3995890',
    'golden-003.tar.zst 520288 7b2360af2dea4e29838a944446b496860106bc88c52405005f6b2b69c1fbb0f3',
    'golden-004.tar.zst 65347 6d485fa66e724f9a717325de8645141f7a670c6efc00e5b3fe74a70bd054bc49',
    'golden-005.tar.zst 710627 d4af4fb6bcfd6b706514fe9aa6c3993c6206fc5d226d4e51b322a354792cebe7',
  ],
  big: ['golden-001.tar.zst 3193617 e1cd162ab995ff19d47f09529f454a81df5934082d9d6189aa2508a902f86688'],
};

for (const [workers, big] of [[0, false], [2, false], [2, true]] as const) {
  for (const source of ['stream', 'file'] as const) {
    test(`volumes are byte-identical to the recorded ones (workers ${workers}, ${big ? 'multi-job frames' : 'small frames'}, ${source} sources)`, async () => {
      const t = await tempDir();
      try {
        const got = await writeFixture(t.dir, workers, source, big);
        if (process.env.FERRY_PRINT_GOLDEN) process.stdout.write(`${workers} ${big}: ${JSON.stringify(got)}\n`);
        assert.equal(got, big ? GOLDEN.big : GOLDEN.small);
      } finally {
        await t.cleanup();
      }
    });
  }
}

test.run();
