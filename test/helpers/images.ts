// Test and benchmark image factory: writes real OCI image layouts (valid tar+gzip layers,
// OCI configs, manifests, optional multi-platform index) from a seed, so every run gives the
// same digests. skopeo reads what this writes.

import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile, readFile, stat, rename } from 'node:fs/promises';
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { createGzip, constants as zc } from 'node:zlib';
import tar from 'tar-stream';

export interface LayerSpec {
  /** Size of the one file inside the layer tar. */
  size: number;
  /** Seed for deterministic content; omit for random bytes. */
  seed?: string;
  /** gzip level; 0 = stored blocks (valid gzip, fast, incompressible when content is random). */
  gzipLevel?: number;
  /** 'random' (incompressible) or 'text' (compressible JSON-ish lines). */
  content?: 'random' | 'text';
}

export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
  layers: LayerSpec[];
}

export interface ImageSpec {
  /** Tag written as org.opencontainers.image.ref.name in index.json. */
  tag: string;
  /** One entry: a single-platform image manifest. Several: an index over them. */
  platforms: PlatformSpec[];
  /** Extra annotations on the root. */
  annotations?: Record<string, string>;
}

export interface WrittenDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
}

export interface WrittenImage {
  tag: string;
  root: WrittenDescriptor;
  /** Manifest descriptor per platform, in the order given. */
  manifests: WrittenDescriptor[];
  /** Layer descriptors per platform. */
  layers: WrittenDescriptor[][];
  configs: WrittenDescriptor[];
}

/** Deterministic incompressible bytes: AES-256-CTR keystream keyed by the seed (GB/s, no repeats). */
export function seededBytes(seed: string, size: number): Readable {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(1 << 20);
  let produced = 0;
  return new Readable({
    read() {
      if (produced >= size) return void this.push(null);
      const n = Math.min(zeros.length, size - produced);
      produced += n;
      this.push(cipher.update(n === zeros.length ? zeros : zeros.subarray(0, n)));
    },
  });
}

function textBytes(seed: string, size: number): Readable {
  let produced = 0;
  let i = 0;
  return new Readable({
    read() {
      if (produced >= size) return void this.push(null);
      const lines: string[] = [];
      let len = 0;
      while (len < 1 << 20) {
        const l = JSON.stringify({ seed, i: i++, name: `package-${i % 977}`, version: `${i % 13}.${i % 7}.${i % 3}`, ok: i % 2 === 0 }) + '\n';
        lines.push(l);
        len += l.length;
      }
      let buf = Buffer.from(lines.join(''));
      if (buf.length > size - produced) buf = buf.subarray(0, size - produced);
      produced += buf.length;
      this.push(buf);
    },
  });
}

async function writeBlobFile(blobsDir: string, data: Buffer): Promise<WrittenDescriptor & { mediaType: '' }> {
  const digest = createHash('sha256').update(data).digest('hex');
  await writeFile(join(blobsDir, digest), data);
  return { mediaType: '', digest: `sha256:${digest}`, size: data.length };
}

/** Write one layer (tar with a single file, gzip-compressed) into blobs/sha256; returns descriptor + diffID. */
export async function writeLayer(blobsDir: string, spec: LayerSpec, name: string): Promise<{ desc: WrittenDescriptor; diffId: string }> {
  const seed = spec.seed ?? randomBytes(16).toString('hex');
  const pack = tar.pack();
  const diff = createHash('sha256');
  const comp = createHash('sha256');
  let compSize = 0;
  const tmp = join(blobsDir, `.tmp-${randomBytes(6).toString('hex')}`);
  const gzip = createGzip({ level: spec.gzipLevel ?? 1, memLevel: 9, chunkSize: 1 << 20, strategy: zc.Z_DEFAULT_STRATEGY });
  const out = createWriteStream(tmp);
  const body = spec.content === 'text' ? textBytes(seed, spec.size) : seededBytes(seed, spec.size);
  // Named by seed so the same seed gives the same layer (shared base layers).
  const entry = pack.entry({ name: `data/${spec.seed ?? name}.bin`, size: spec.size, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0 });
  const feeding = pipeline(body, entry).then(() => pack.finalize());
  const hashing = pipeline(
    pack,
    async function* (src: AsyncIterable<unknown>) {
      for await (const chunk of src) {
        diff.update(chunk as Buffer);
        yield chunk as Buffer;
      }
    },
    gzip,
    async function* (src: AsyncIterable<Buffer>) {
      for await (const chunk of src) {
        comp.update(chunk);
        compSize += chunk.length;
        yield chunk;
      }
    },
    out,
  );
  await Promise.all([feeding, hashing]);
  const hex = comp.digest('hex');
  await rename(tmp, join(blobsDir, hex));
  return {
    desc: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${hex}`, size: compSize },
    diffId: `sha256:${diff.digest('hex')}`,
  };
}

/**
 * Write an OCI image layout at `dir` (created if needed) holding the given images; returns
 * the descriptors. Several images may share a layout: index.json lists all of them.
 */
export async function makeOciLayout(dir: string, images: ImageSpec[]): Promise<WrittenImage[]> {
  const blobsDir = join(dir, 'blobs', 'sha256');
  await mkdir(blobsDir, { recursive: true });
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const written: WrittenImage[] = [];
  let index: { schemaVersion: 2; mediaType: string; manifests: WrittenDescriptor[] } = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [],
  };
  try {
    index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
  } catch {
    /* new layout */
  }
  for (const img of images) {
    const manifests: WrittenDescriptor[] = [];
    const allLayers: WrittenDescriptor[][] = [];
    const configs: WrittenDescriptor[] = [];
    for (const [pi, p] of img.platforms.entries()) {
      const layers: WrittenDescriptor[] = [];
      const diffIds: string[] = [];
      for (const [li, l] of p.layers.entries()) {
        const { desc, diffId } = await writeLayer(blobsDir, l, `${img.tag}-${pi}-${li}`);
        layers.push(desc);
        diffIds.push(diffId);
      }
      const config = Buffer.from(JSON.stringify({
        architecture: p.architecture,
        os: p.os,
        ...(p.variant ? { variant: p.variant } : {}),
        config: { Env: ['PATH=/usr/local/bin:/usr/bin:/bin'], Cmd: ['/bin/sh'] },
        rootfs: { type: 'layers', diff_ids: diffIds },
        history: diffIds.map(() => ({ created: '1970-01-01T00:00:00Z', created_by: 'ferry test factory' })),
      }));
      const configDesc = { ...(await writeBlobFile(blobsDir, config)), mediaType: 'application/vnd.oci.image.config.v1+json' };
      configs.push(configDesc);
      allLayers.push(layers);
      const manifest = Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: configDesc,
        layers,
      }));
      const mDesc = { ...(await writeBlobFile(blobsDir, manifest)), mediaType: 'application/vnd.oci.image.manifest.v1+json' };
      manifests.push({
        ...mDesc,
        platform: { os: p.os, architecture: p.architecture, ...(p.variant ? { variant: p.variant } : {}) },
      });
    }
    let root: WrittenDescriptor;
    if (manifests.length === 1 && !img.annotations) {
      const { platform: _p, ...m } = manifests[0]!;
      root = m;
    } else {
      const idx = Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests,
        ...(img.annotations ? { annotations: img.annotations } : {}),
      }));
      root = { ...(await writeBlobFile(blobsDir, idx)), mediaType: 'application/vnd.oci.image.index.v1+json' };
    }
    index.manifests = index.manifests.filter((m) => m.annotations?.['org.opencontainers.image.ref.name'] !== img.tag);
    index.manifests.push({ ...root, annotations: { 'org.opencontainers.image.ref.name': img.tag } });
    written.push({ tag: img.tag, root, manifests, layers: allLayers, configs });
  }
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
  return written;
}

/** sha256 of a file, `sha256:<hex>`. */
export async function fileDigest(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), async function* (src: AsyncIterable<Buffer>) {
    for await (const c of src) h.update(c);
  });
  return `sha256:${h.digest('hex')}`;
}

export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}
