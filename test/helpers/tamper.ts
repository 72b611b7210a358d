// Make damaged and hostile volumes for tests: flip a byte, truncate, re-pack a volume's tar
// entries with changes (a different manifest copy, ../ names, links, devices, duplicates...),
// or re-sign a changed manifest so the hostile content arrives with a valid signature.
import { createHash, createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { open, readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { compress, decompress } from 'zstd-napi';
import { encodeSeekTable } from '@ferry/format-spec';

export async function flipByte(path: string, offset: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, offset);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, offset);
  } finally {
    await fh.close();
  }
}

export async function truncateTo(path: string, fraction: number): Promise<void> {
  const size = (await readFile(path)).length;
  await truncate(path, Math.floor(size * fraction));
}

export interface TarEntry {
  name: string;
  data: Buffer;
  type?: 'file' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'directory' | 'fifo';
  linkname?: string;
  /** Header size when it should lie (for "far larger than the manifest says"). */
  size?: number;
}

export async function readEntries(path: string): Promise<TarEntry[]> {
  const raw = decompress(await readFile(path));
  const ex = tar.extract();
  const out: TarEntry[] = [];
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        out.push({ name: h.name, data: Buffer.concat(chunks), type: h.type as TarEntry['type'] });
        next();
      });
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  Readable.from([raw]).pipe(ex);
  await done;
  return out;
}

export async function writeEntries(path: string, entries: TarEntry[]): Promise<void> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((r) => pack.on('end', () => r()));
  for (const e of entries) {
    const type = e.type ?? 'file';
    if (type === 'file') {
      await new Promise<void>((resolve, reject) => {
        const s = pack.entry({ name: e.name, size: e.data.length, mode: 0o644 }, (err) => (err ? reject(err) : resolve()));
        s.end(e.data);
      });
    } else {
      pack.entry({ name: e.name, type, ...(e.linkname ? { linkname: e.linkname } : {}), mode: 0o644, ...(type.endsWith('device') ? { devmajor: 1, devminor: 3 } : {}) });
    }
  }
  pack.finalize();
  await ended;
  // One frame plus a valid seek table, so the reader gets past framing to the entries themselves.
  const tarBytes = Buffer.concat(chunks);
  const frame = compress(tarBytes);
  await writeFile(path, Buffer.concat([frame, encodeSeekTable([{ compressedSize: frame.length, decompressedSize: tarBytes.length }])]));
}

export async function repack(path: string, change: (entries: TarEntry[]) => TarEntry[]): Promise<void> {
  await writeEntries(path, change(await readEntries(path)));
}

export interface ResignOptions {
  /** Private key that signs the changed manifest (unencrypted PEM, or a KeyObject). */
  key: string | KeyObject;
  /** Change the parsed manifest in place (or return a replacement). */
  manifest?: (m: any) => any;
  /** Change a volume's entries after its header copies were replaced (volume is 1-based). */
  entries?: (volume: number, entries: TarEntry[]) => TarEntry[];
  /** index.json in every volume: 'auto' (default) rebuilds it from images[] and charts[] as ferry-bundle does,
   *  'keep' leaves the volumes' copy and the manifest's layoutIndex alone, a Buffer puts those
   *  exact bytes in every volume and records their digest in layoutIndex. */
  layoutIndex?: 'auto' | 'keep' | Buffer;
}

/**
 * A hostile but correctly signed bundle: change the manifest, sign it with `key`, put the new
 * manifest and signature (and index.json) into every volume, and rewrite NAME.sha256 (and its
 * signature) so the transfer officer's check passes too. What the loader then refuses, it
 * refuses on content, not on a broken signature.
 */
export async function resignBundle(dir: string, opts: ResignOptions): Promise<void> {
  const name = (await readdir(dir)).find((f) => f.endsWith('.manifest.json'))!.slice(0, -'.manifest.json'.length);
  const key = typeof opts.key === 'string' ? createPrivateKey(await readFile(opts.key)) : opts.key;
  const signText = (b: Buffer): string => (key.asymmetricKeyType === 'ed25519' ? sign(null, b, key) : sign('sha256', b, { key, dsaEncoding: 'der' })).toString('base64');
  const mPath = join(dir, `${name}.manifest.json`);
  let m = JSON.parse(await readFile(mPath, 'utf8'));
  m = opts.manifest?.(m) ?? m;
  let index: Buffer | undefined;
  if (opts.layoutIndex === undefined || opts.layoutIndex === 'auto') {
    index = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        ...m.images.map((i: any) => ({ mediaType: i.mediaType, digest: i.digest, size: i.size, annotations: { 'org.opencontainers.image.ref.name': i.tag ? `${i.repository}:${i.tag}` : `${i.repository}@${i.digest}` } })),
        ...(m.charts ?? []).map((c: any) => ({ mediaType: c.manifest.mediaType, digest: c.manifest.digest, size: c.manifest.size, annotations: { 'org.opencontainers.image.ref.name': `charts/${c.name}:${String(c.version).replaceAll('+', '_')}` } })),
      ],
    }));
  } else if (Buffer.isBuffer(opts.layoutIndex)) {
    index = opts.layoutIndex;
  }
  if (index) m.layoutIndex = { digest: `sha256:${createHash('sha256').update(index).digest('hex')}`, size: index.length };
  const bytes = Buffer.from(JSON.stringify(m, null, 2) + '\n');
  const sig = signText(bytes);
  await writeFile(mPath, bytes);
  await writeFile(`${mPath}.sig`, sig);
  const volumes = (await readdir(dir)).filter((f) => /-\d{3}\.tar\.zst$/.test(f) && f.startsWith(`${name}-`)).sort();
  for (const v of volumes) {
    const n = Number(/-(\d{3})\.tar\.zst$/.exec(v)![1]);
    await repack(join(dir, v), (es) => {
      const out = es.map((e) =>
        e.name === `${name}.manifest.json` ? { ...e, data: bytes } :
        e.name === `${name}.manifest.json.sig` ? { ...e, data: Buffer.from(sig) } :
        e.name === 'index.json' && index ? { ...e, data: index } : e);
      return opts.entries ? opts.entries(n, out) : out;
    });
  }
  const files = [`${name}.manifest.json`, `${name}.manifest.json.sig`, ...volumes];
  const lines: string[] = [];
  for (const f of files) lines.push(`${createHash('sha256').update(await readFile(join(dir, f))).digest('hex')}  ${f}\n`);
  const sums = Buffer.from(lines.join(''));
  await writeFile(join(dir, `${name}.sha256`), sums);
  await writeFile(join(dir, `${name}.sha256.sig`), signText(sums));
}
