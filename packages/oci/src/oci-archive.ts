// `oci-archive:FILE[:REF]`: a tar of an OCI image layout (as `skopeo copy ... oci-archive:`
// writes). The tar is scanned once for entry offsets and never extracted; blobs stream
// straight out of the archive file.

import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import { FerryError } from '@ferry/format-spec';
import type { ImageSource } from './source.js';
import { OciLayoutReader, layoutSource, type LayoutFiles } from './layout-source.js';
import { indexTar, lookupTarEntry, openTarEntry, readTarEntry, type TarIndex } from './tar-index.js';

/** LayoutFiles over a scanned tar. Links resolve inside the archive only when `followLinks`. */
export class TarFiles implements LayoutFiles {
  readonly where: string;

  constructor(
    readonly index: TarIndex,
    private readonly followLinks: boolean,
  ) {
    this.where = index.file;
  }

  async size(name: string): Promise<number | undefined> {
    return lookupTarEntry(this.index, name, this.followLinks)?.size;
  }

  async read(name: string, cap: number): Promise<Buffer | undefined> {
    const e = lookupTarEntry(this.index, name, this.followLinks);
    return e ? readTarEntry(this.index, e, cap) : undefined;
  }

  async open(name: string): Promise<Readable> {
    const e = lookupTarEntry(this.index, name, this.followLinks);
    if (!e) throw new FerryError('SOURCE_NOT_FOUND', `${this.where}: no "${name}" in the archive`, { file: this.where });
    return openTarEntry(this.index, e);
  }
}

/** File name without archive extensions, for a default repository name. */
export function archiveBaseName(file: string): string {
  return basename(file).replace(/(\.tar)?(\.(gz|tgz|zst|xz))?$/i, '').replace(/\.tar$/i, '') || basename(file);
}

/** `oci-archive:FILE[:REF]`. REF as for oci: (ref.name, or @N). */
export async function openOciArchive(file: string, ref?: string): Promise<ImageSource> {
  const what = `oci-archive:${file}${ref ? `:${ref}` : ''}`;
  const index = await indexTar(file);
  // Layout blobs are always regular files; a link where one is expected is refused, not followed.
  const reader = new OciLayoutReader(new TarFiles(index, false));
  return layoutSource(reader, ref, what, archiveBaseName(file));
}
