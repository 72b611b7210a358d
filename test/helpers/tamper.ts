// Make damaged and hostile volumes for tests: flip a byte, truncate, or re-pack a volume's tar
// entries with changes (a different manifest copy, ../ names, links, devices, duplicates...).
import { open, readFile, truncate, writeFile } from 'node:fs/promises';
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
