// Reading an SBOM file the engineer attaches (--sbom-file IMAGE=FILE, spec `sboms:`): whole, into
// memory, because its bytes are hashed into a referrer manifest before anything is written. It is
// the engineer's own file on the low side, so symbolic links are followed; what is refused is what
// the high side could not use: not a regular file, larger than ferry-load reads an SBOM, or not a
// format it recognises.

import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { FerryError, printable, sha256Digest } from '@ferry/format-spec';
import { MAX_SBOM_BYTES } from '@ferry/trust';
import { ACCEPTED_SBOM_FORMATS, detectSbomFormat, type SbomMediaType } from './format.js';

export interface SbomDocument {
  /** Absolute path it was read from. */
  path: string;
  /** Its base name: the layer's org.opencontainers.image.title. */
  title: string;
  mediaType: SbomMediaType;
  digest: string;
  size: number;
  bytes: Buffer;
}

/**
 * Read and recognise one SBOM file. `what` names where it was given (`--sbom-file app=sbom.json`,
 * `spec.yaml: images[0].sboms[1]`) for messages; every refusal names the file.
 */
export async function readSbomFile(path: string, what: string, maxBytes: number = MAX_SBOM_BYTES): Promise<SbomDocument> {
  const where = `${printable(what)}: the SBOM file ${printable(path)}`;
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FerryError('SOURCE_NOT_FOUND', `${where} does not exist`, { file: path });
    if (code === 'EACCES' || code === 'EPERM') throw new FerryError('SOURCE_INVALID', `${where} cannot be read: permission denied`, { file: path });
    if (code === 'ELOOP') throw new FerryError('SOURCE_INVALID', `${where} is a symbolic link loop`, { file: path });
    throw new FerryError('SOURCE_INVALID', `${where} cannot be opened: ${(e as Error).message}`, { file: path }, { cause: e });
  }
  let bytes: Buffer;
  try {
    // Checked on the open file, so what is measured is what is read.
    const st = await fh.stat();
    if (st.isDirectory()) throw new FerryError('SOURCE_INVALID', `${where} is a directory; give the SBOM file itself`, { file: path });
    if (!st.isFile()) throw new FerryError('SOURCE_INVALID', `${where} is not a regular file`, { file: path });
    if (st.size > maxBytes) throw tooLarge(where, path, st.size, maxBytes);
    // Read one byte more than allowed: a file that grew after the stat is still refused.
    const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n === buf.length) break;
    }
    if (n > maxBytes) throw tooLarge(where, path, n, maxBytes);
    bytes = buf.subarray(0, n);
  } catch (e) {
    if (e instanceof FerryError) throw e;
    throw new FerryError('SOURCE_INVALID', `${where} cannot be read: ${(e as Error).message}`, { file: path }, { cause: e });
  } finally {
    await fh.close();
  }
  const found = detectSbomFormat(bytes);
  if ('reason' in found) {
    throw new FerryError('SOURCE_INVALID', `${where} is not an SBOM format Ferry recognises: ${found.reason}. Accepted: ${ACCEPTED_SBOM_FORMATS}`, { file: path });
  }
  return { path, title: basename(path), mediaType: found.mediaType, digest: sha256Digest(bytes), size: bytes.length, bytes };
}

function tooLarge(where: string, path: string, size: number, max: number): FerryError {
  return new FerryError('SOURCE_INVALID', `${where} is ${size} bytes, too large: ferry-load reads an SBOM of at most ${max} bytes (${max / (1 << 20)} MiB); leave it out or make it smaller`, { file: path, size, max });
}
