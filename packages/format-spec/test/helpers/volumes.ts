// Test helpers for volumes: temp dirs, hand-made manifests, real bundles written with
// writeVolumes, and raw (possibly hostile) volumes built with tar-stream + zstd-napi directly.

import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { compress } from 'zstd-napi';
import { layoutIndexBytes } from '../../src/layout-index.js';
import type { BundleBlob, BundleManifest, PlannedBlob } from '../../src/manifest-types.js';
import { volumeFileName } from '../../src/plan.js';
import { planVolumes } from '../../src/volume-plan.js';
import { writeVolumes, type WrittenVolume } from '../../src/volume-writer.js';
import { encodeSeekTable, type FrameInfo } from '../../src/zstd-frames.js';

export const OCI_LAYOUT = Buffer.from('{"imageLayoutVersion":"1.0.0"}');

export function sha(b: Buffer): string {
  return 'sha256:' + createHash('sha256').update(b).digest('hex');
}

export async function tempDir(prefix = 'ferry-vol-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Deterministic pseudo-random (incompressible) bytes. */
export function bytes(size: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i + 4 <= size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeInt32LE(x | 0, i);
  }
  for (let i = size - (size % 4); i < size; i++) out[i] = (seed + i) & 0xff;
  return out;
}

export function minimalManifest(opts: { name: string; blobs: BundleBlob[]; volumeCount: number; indexBytes: Buffer; volumeSize?: number; seekTable?: boolean }): BundleManifest {
  return {
    schemaVersion: 1,
    mediaType: 'application/vnd.ferry.bundle.manifest.v1+json',
    name: opts.name,
    created: '2024-01-01T00:00:00Z',
    tool: { name: 'ferry', version: 'test' },
    compression: { algorithm: 'zstd', level: 3, framing: 'entry', seekTable: opts.seekTable ?? true },
    volumeSize: opts.volumeSize ?? 0,
    volumes: Array.from({ length: opts.volumeCount }, (_, i) => ({ index: i + 1, file: volumeFileName(opts.name, i + 1) })),
    layoutIndex: { digest: sha(opts.indexBytes), size: opts.indexBytes.length },
    images: [],
    files: [],
    keys: [],
    blobs: opts.blobs,
  };
}

export interface TestBundle {
  dir: string;
  name: string;
  manifest: BundleManifest;
  manifestBytes: Buffer;
  signatureBytes?: Buffer;
  indexBytes: Buffer;
  written: WrittenVolume[];
  contents: Map<string, Buffer>;
  openCount: Map<string, number>;
}

/** Plan and write a real bundle of `blobs` (in this order) with writeVolumes. */
export async function writeTestBundle(opts: { dir: string; name?: string; blobs: Buffer[]; volumeSize: number; signed?: boolean; workers?: number; level?: number; chunk?: number }): Promise<TestBundle> {
  const name = opts.name ?? 'tb';
  const contents = new Map(opts.blobs.map((b) => [sha(b), b]));
  const input = opts.blobs.map((b, i) => ({ digest: sha(b), size: b.length, mediaType: 'application/octet-stream', kind: i === opts.blobs.length - 1 ? ('manifest' as const) : ('layer' as const) }));
  const indexBytes = layoutIndexBytes([]);
  const signatureBytes = opts.signed ? Buffer.from('MEUCIQD' + 'x'.repeat(90) + '==') : undefined;
  const headerReserve = 24 * 1024;
  const plan = planVolumes(input, { volumeSize: opts.volumeSize, headerReserve });
  const planned = withSegmentDigests(plan.blobs, contents);
  const manifest = minimalManifest({ name, blobs: planned, volumeCount: plan.volumeCount, indexBytes, volumeSize: opts.volumeSize });
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  if (manifestBytes.length + (signatureBytes?.length ?? 0) + OCI_LAYOUT.length + indexBytes.length > headerReserve) throw new Error('test manifest larger than its reserve');
  const header = [
    { name: `${name}.manifest.json`, bytes: manifestBytes },
    ...(signatureBytes ? [{ name: `${name}.manifest.json.sig`, bytes: signatureBytes }] : []),
    { name: 'oci-layout', bytes: OCI_LAYOUT },
    { name: 'index.json', bytes: indexBytes },
  ];
  const openCount = new Map<string, number>();
  const chunk = opts.chunk ?? 16 * 1024;
  const written = await writeVolumes({
    dir: opts.dir,
    name,
    volumeCount: plan.volumeCount,
    header,
    blobs: planned,
    openBlob: async (b) => {
      openCount.set(b.digest, (openCount.get(b.digest) ?? 0) + 1);
      return chunked(contents.get(b.digest)!, chunk);
    },
    volumeSize: opts.volumeSize,
    workers: opts.workers ?? 0,
    ...(opts.level !== undefined ? { level: opts.level } : {}),
    mtime: new Date('2024-01-01T00:00:00Z'),
  });
  return { dir: opts.dir, name, manifest, manifestBytes, ...(signatureBytes ? { signatureBytes } : {}), indexBytes, written, contents, openCount };
}

/** A plan with each segment's digest computed from the blobs' bytes (what hashSegments does
 *  from a source). */
export function withSegmentDigests(blobs: readonly PlannedBlob[], contents: ReadonlyMap<string, Buffer>): BundleBlob[] {
  return blobs.map(({ segments, ...b }) =>
    segments ? { ...b, segments: segments.map((s) => ({ ...s, digest: sha(contents.get(b.digest)!.subarray(s.offset, s.offset + s.size)) })) } : b);
}

/** A stream of `b` in chunks of `size` bytes. */
export function chunked(b: Buffer, size: number): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) parts.push(b.subarray(i, i + size));
  return Readable.from(parts);
}

export interface RawEntry {
  name: string;
  body?: Buffer;
  type?: 'file' | 'link' | 'symlink' | 'directory' | 'block-device' | 'character-device' | 'fifo';
  linkname?: string;
  mode?: number;
  pax?: Record<string, string>;
}

/** Tar bytes of `entries` (with end-of-archive blocks) as tar-stream's pack writes them. */
export async function packTar(entries: RawEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const out: Buffer[] = [];
  const collected = (async () => {
    for await (const c of pack) out.push(c as Buffer);
  })();
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const header = { name: e.name, type: e.type ?? 'file', mode: e.mode ?? 0o644, mtime: new Date(0), ...(e.linkname ? { linkname: e.linkname } : {}), ...(e.pax ? { pax: e.pax } : {}) };
      if ((e.type ?? 'file') === 'file') pack.entry(header, e.body ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
      else pack.entry(header, (err) => (err ? reject(err) : resolve())).end(undefined);
    });
  }
  pack.finalize();
  await collected;
  return Buffer.concat(out);
}

/** One raw ustar header block (for header kinds tar-stream cannot write, e.g. GNU long names). */
export function rawHeader(opts: { name: string; size: number; typeflag: string; mode?: number }): Buffer {
  const b = Buffer.alloc(512);
  b.write(opts.name, 0, 100, 'utf8');
  b.write(((opts.mode ?? 0o644).toString(8).padStart(6, '0') + ' \0'), 100, 'ascii');
  b.write('000000 \0', 108, 'ascii');
  b.write('000000 \0', 116, 'ascii');
  b.write(opts.size.toString(8).padStart(11, '0') + ' ', 124, 'ascii');
  b.write('00000000000 ', 136, 'ascii');
  b.write(opts.typeflag, 156, 'ascii');
  b.write('ustar\0' + '00', 257, 'ascii');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of b) sum += x;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return b;
}

export function pad512(b: Buffer): Buffer {
  const r = b.length % 512;
  return r ? Buffer.concat([b, Buffer.alloc(512 - r)]) : b;
}

/**
 * Compress tar bytes into a volume: a frame per `cuts` piece (default: one frame), then the
 * seek table unless seekTable is false. Returns the file bytes.
 */
export function zstdVolume(tarBytes: Buffer, opts: { cuts?: number[]; seekTable?: boolean } = {}): Buffer {
  const pieces: Buffer[] = [];
  let at = 0;
  for (const c of opts.cuts ?? []) {
    if (c > at && c < tarBytes.length) {
      pieces.push(tarBytes.subarray(at, c));
      at = c;
    }
  }
  pieces.push(tarBytes.subarray(at));
  const frames: Buffer[] = pieces.map((p) => compress(p, { checksumFlag: true }));
  const infos: FrameInfo[] = frames.map((f, i) => ({ compressedSize: f.length, decompressedSize: pieces[i]!.length }));
  if (opts.seekTable !== false) frames.push(encodeSeekTable(infos));
  return Buffer.concat(frames);
}
