// `oci:DIR[:REF]` sources, and the layout-reading logic shared with oci-archive and
// docker-archive (Docker >= 25 embeds an OCI layout): a layout is read through a small file
// accessor, so the same code serves a directory and a tar scanned in place.

import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { basename, join, resolve as resolvePath } from 'node:path';
import type { Readable } from 'node:stream';
import {
  FerryError,
  REF_NAME_ANNOTATION,
  isSha256Digest,
  verifyBytes,
  type Descriptor,
} from '@ferry/format-spec';
import { parseReference } from './reference.js';
import type { ImageSource, ManifestBytes } from './source.js';

/** Cap for JSON we buffer (index.json, manifests, configs, manifest.json). */
export const MAX_JSON_BYTES = 16 << 20;

/** Read access to the files of a layout wherever they sit (directory, tar archive). */
export interface LayoutFiles {
  /** Where the files are, for messages: a directory or archive path. */
  readonly where: string;
  /** Size of a regular file, or undefined when there is no such file. */
  size(name: string): Promise<number | undefined>;
  /** A whole small file, or undefined when absent; refuses files larger than `cap`. */
  read(name: string, cap: number): Promise<Buffer | undefined>;
  /** Stream a file that exists. */
  open(name: string): Promise<Readable>;
}

/** Files of a layout directory. Names are built by this module only (never from input). */
export class DirectoryFiles implements LayoutFiles {
  constructor(readonly where: string) {}

  async size(name: string): Promise<number | undefined> {
    try {
      const st = await stat(join(this.where, name));
      return st.isFile() ? st.size : undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
      throw new FerryError('SOURCE_INVALID', `${join(this.where, name)}: ${(e as Error).message}`, { file: join(this.where, name) }, { cause: e });
    }
  }

  async read(name: string, cap: number): Promise<Buffer | undefined> {
    const path = join(this.where, name);
    let fh;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw new FerryError('SOURCE_INVALID', `${path}: ${(e as Error).message}`, { file: path }, { cause: e });
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) return undefined;
      if (st.size > cap) throw new FerryError('SOURCE_INVALID', `${path} is ${st.size} bytes, more than the ${cap} allowed for this file`, { file: path });
      // Read at most cap+1 so a file growing under us cannot make us buffer without bound.
      const buf = Buffer.alloc(Math.min(st.size, cap) + 1);
      let got = 0;
      for (;;) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
        if (bytesRead === 0) break;
        got += bytesRead;
        if (got === buf.length) break;
      }
      if (got > cap) throw new FerryError('SOURCE_INVALID', `${path} is more than the ${cap} bytes allowed for this file`, { file: path });
      return buf.subarray(0, got);
    } finally {
      await fh.close();
    }
  }

  async open(name: string): Promise<Readable> {
    return createReadStream(join(this.where, name), { highWaterMark: 1 << 20 });
  }
}

/** `blobs/sha256/<hex>` for a digest, refusing anything but a well-formed sha256 digest (no path tricks). */
export function blobPath(digest: unknown, where: string): string {
  if (typeof digest !== 'string' || !isSha256Digest(digest)) {
    throw new FerryError('SOURCE_INVALID', `${where}: refusing digest ${JSON.stringify(digest)?.slice(0, 120)}: only sha256:<64 lowercase hex> digests are supported`, { where });
  }
  return `blobs/sha256/${digest.slice(7)}`;
}

/** Is `d` a usable descriptor (digest checked separately by blobPath)? */
function checkDescriptor(d: unknown, where: string, what: string): asserts d is Descriptor {
  const o = d as Partial<Descriptor> | null;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new FerryError('SOURCE_INVALID', `${where}: ${what} is not a descriptor object`, { where });
  if (typeof o.digest !== 'string') throw new FerryError('SOURCE_INVALID', `${where}: ${what} has no digest`, { where });
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) throw new FerryError('SOURCE_INVALID', `${where}: ${what} has no valid size`, { where });
  if (o.mediaType !== undefined && typeof o.mediaType !== 'string') throw new FerryError('SOURCE_INVALID', `${where}: ${what} has a non-string mediaType`, { where });
}

export interface LayoutIndex {
  /** index.json exactly as read. */
  bytes: Buffer;
  manifests: Descriptor[];
}

/** Reads an OCI image layout through a LayoutFiles accessor. */
export class OciLayoutReader {
  private indexCache?: Promise<LayoutIndex>;

  constructor(readonly files: LayoutFiles) {}

  /** Check `oci-layout` and parse `index.json` (entries are validated when used, so unknown ones do not break us). */
  readIndex(): Promise<LayoutIndex> {
    this.indexCache ??= this.loadIndex();
    return this.indexCache;
  }

  private async loadIndex(): Promise<LayoutIndex> {
    const where = this.files.where;
    const layout = await this.files.read('oci-layout', 64 << 10);
    if (layout === undefined) {
      throw new FerryError('SOURCE_INVALID', `${where} is not an OCI image layout: it has no oci-layout file (make one with \`skopeo copy ... oci:DIR:TAG\`)`, { where });
    }
    let version: unknown;
    try {
      version = (JSON.parse(layout.toString('utf8')) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
    } catch {
      throw new FerryError('SOURCE_INVALID', `${where}: oci-layout is not JSON`, { where });
    }
    if (typeof version !== 'string' || !/^1\.\d+\.\d+$/.test(version)) {
      throw new FerryError('SOURCE_INVALID', `${where}: oci-layout imageLayoutVersion ${JSON.stringify(version)} is not a 1.x version this Ferry reads`, { where });
    }
    const bytes = await this.files.read('index.json', MAX_JSON_BYTES);
    if (bytes === undefined) throw new FerryError('SOURCE_INVALID', `${where} is not a complete OCI image layout: index.json is missing`, { where });
    let doc: unknown;
    try {
      doc = JSON.parse(bytes.toString('utf8'));
    } catch (e) {
      throw new FerryError('SOURCE_INVALID', `${where}: index.json is not valid JSON (${(e as Error).message})`, { where });
    }
    const manifests = (doc as { manifests?: unknown } | null)?.manifests;
    if (typeof doc !== 'object' || doc === null || !Array.isArray(manifests)) {
      throw new FerryError('SOURCE_INVALID', `${where}: index.json has no "manifests" array`, { where });
    }
    return { bytes, manifests: manifests as Descriptor[] };
  }

  /**
   * The index.json entry REF names: REF matches org.opencontainers.image.ref.name, `@N` picks
   * entry N (0-based, as newer skopeo does); no REF needs exactly one entry.
   */
  async selectRoot(ref: string | undefined, what: string): Promise<Descriptor> {
    const { manifests } = await this.readIndex();
    const where = this.files.where;
    const names = manifests.map((m) => (typeof m === 'object' && m !== null ? m.annotations?.[REF_NAME_ANNOTATION] : undefined));
    const available = (): string => {
      const named = names.filter((n): n is string => typeof n === 'string');
      const unnamed = names.length - named.length;
      const parts = named.map((n) => `"${n}"`);
      if (unnamed) parts.push(`${unnamed} untagged (use @N)`);
      return parts.length ? parts.join(', ') : 'none: index.json is empty';
    };
    let chosen: unknown;
    if (ref === undefined || ref === '') {
      if (manifests.length !== 1) {
        throw new FerryError('SOURCE_NOT_FOUND', `${what}: the layout holds ${manifests.length} images; say which with ${what}:REF. Available: ${available()}`, { where });
      }
      chosen = manifests[0];
    } else if (/^@\d+$/.test(ref)) {
      const n = Number(ref.slice(1));
      if (n >= manifests.length) {
        throw new FerryError('SOURCE_NOT_FOUND', `${what}: there is no entry ${ref} in index.json (it has ${manifests.length}). Available: ${available()}`, { where });
      }
      chosen = manifests[n];
    } else {
      const hits = manifests.filter((_, i) => names[i] === ref);
      if (hits.length === 0) {
        throw new FerryError('SOURCE_NOT_FOUND', `${what}: no image named "${ref}" in index.json. Available: ${available()}`, { where });
      }
      if (hits.length > 1) {
        throw new FerryError('SOURCE_INVALID', `${what}: index.json has ${hits.length} entries named "${ref}"; use @N to pick one`, { where });
      }
      chosen = hits[0];
    }
    checkDescriptor(chosen, where, `index.json entry ${ref ?? ''}`.trim());
    blobPath(chosen.digest, where);
    return chosen;
  }

  /** Exact bytes of a manifest or index, verified against its descriptor (digest and size). */
  async readManifest(desc: Descriptor): Promise<ManifestBytes> {
    const where = this.files.where;
    checkDescriptor(desc, where, 'manifest descriptor');
    const path = blobPath(desc.digest, where);
    if (desc.size > MAX_JSON_BYTES) {
      throw new FerryError('SOURCE_INVALID', `${where}: manifest ${desc.digest} claims ${desc.size} bytes, more than the ${MAX_JSON_BYTES} allowed`, { where, digest: desc.digest });
    }
    const bytes = await this.files.read(path, MAX_JSON_BYTES);
    if (bytes === undefined) {
      throw new FerryError('SOURCE_NOT_FOUND', `${where}: manifest ${desc.digest} is not in the layout (no ${path})`, { where, digest: desc.digest });
    }
    verifyBytes(bytes, desc.digest, desc.size, { where: `${where} (${path})` });
    let doc: unknown;
    try {
      doc = JSON.parse(bytes.toString('utf8'));
    } catch (e) {
      throw new FerryError('SOURCE_INVALID', `${where}: manifest ${desc.digest} is not valid JSON (${(e as Error).message})`, { where, digest: desc.digest });
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
      throw new FerryError('SOURCE_INVALID', `${where}: manifest ${desc.digest} is not a JSON object`, { where, digest: desc.digest });
    }
    const inner = (doc as { mediaType?: unknown }).mediaType;
    if (typeof inner === 'string' && desc.mediaType && inner !== desc.mediaType) {
      throw new FerryError('SOURCE_INVALID', `${where}: manifest ${desc.digest} says mediaType ${inner} but its descriptor says ${desc.mediaType}`, { where, digest: desc.digest });
    }
    // A descriptor without mediaType (not allowed by the spec, seen in the wild) takes the manifest's own.
    const mediaType = desc.mediaType || (typeof inner === 'string' ? inner : '');
    if (!mediaType) throw new FerryError('SOURCE_INVALID', `${where}: manifest ${desc.digest} has no media type in its descriptor or its body`, { where, digest: desc.digest });
    return { descriptor: { ...desc, mediaType }, bytes };
  }

  /** Stream a blob; its size is checked up front, the content by the caller. */
  async openBlob(desc: Descriptor): Promise<Readable> {
    return this.files.open(await this.checkedBlob(desc));
  }

  /** The blob's file when the layout is a directory (undefined in an archive); size checked. */
  async blobFile(desc: Descriptor): Promise<string | undefined> {
    if (!(this.files instanceof DirectoryFiles)) return undefined;
    return join(this.files.where, await this.checkedBlob(desc));
  }

  /** The blob's path in the layout, once its file is there with the descriptor's size. */
  private async checkedBlob(desc: Descriptor): Promise<string> {
    const where = this.files.where;
    const path = blobPath(desc.digest, where);
    const size = await this.files.size(path);
    if (size === undefined) throw new FerryError('SOURCE_NOT_FOUND', `${where}: blob ${desc.digest} is not in the layout (no ${path})`, { where, digest: desc.digest });
    if (size !== desc.size) {
      throw new FerryError('BLOB_MISMATCH', `${where}: blob ${desc.digest} is ${size} bytes but its descriptor says ${desc.size}`, { where, digest: desc.digest });
    }
    return path;
  }
}

// --- target names -----------------------------------------------------------------------

const TAG_RE = /^[\w][\w.-]{0,127}$/;

/** Turn a file or directory name into a valid repository path component (`My App_v2` -> `my-app_v2`). */
export function sanitiseRepositoryName(s: string): string {
  let r = s.toLowerCase().replace(/[^a-z0-9._-]+/g, '-');
  // Separator runs the grammar does not allow (`._`, `-.`, `...`) collapse to one dash; `__` and `---` are fine.
  r = r.replace(/[._-]{2,}/g, (m) => (m === '__' || /^-+$/.test(m) ? m : '-'));
  r = r.replace(/^[._-]+|[._-]+$/g, '');
  return r === '' ? 'image' : r.slice(0, 128).replace(/[._-]+$/, '');
}

/** A valid tag from arbitrary text (keeps valid tags unchanged). */
export function sanitiseTag(s: string): string {
  if (TAG_RE.test(s)) return s;
  const t = s.replace(/[^\w.-]+/g, '-').replace(/^[.-]+/, '').slice(0, 128);
  return t === '' ? 'latest' : t;
}

/**
 * Target repository and tag for an image named `ref` in a store called `base` (a directory or
 * file name). A ref that is a plain tag (`1.0`) keeps the store's name as repository; a ref
 * that is a reference (`team/app:1.0`, `example.com/team/app:1.0`, `app:1.0`) gives its path
 * without the registry host (docker normalisation, so `app:1.0` -> `library/app`) and tag.
 */
export function targetName(ref: string | undefined, base: string): { repository: string; tag?: string } {
  if (ref === undefined || ref === '' || /^@\d+$/.test(ref)) return { repository: sanitiseRepositoryName(base), tag: 'latest' };
  if (TAG_RE.test(ref)) return { repository: sanitiseRepositoryName(base), tag: ref };
  try {
    const parsed = parseReference(ref);
    return { repository: parsed.repository, ...(parsed.tag !== undefined ? { tag: parsed.tag } : {}) };
  } catch {
    return { repository: sanitiseRepositoryName(base), tag: sanitiseTag(ref) };
  }
}

// --- the source ---------------------------------------------------------------------------

/** An ImageSource over one root descriptor of a layout. */
export class LayoutImageSource implements ImageSource {
  constructor(
    readonly description: string,
    readonly repository: string,
    readonly tag: string | undefined,
    private readonly reader: OciLayoutReader,
    private readonly root: Descriptor,
  ) {}

  resolve(): Promise<ManifestBytes> {
    return this.reader.readManifest(this.root);
  }

  fetchManifest(desc: Descriptor): Promise<ManifestBytes> {
    return this.reader.readManifest(desc);
  }

  openBlob(desc: Descriptor): Promise<Readable> {
    return this.reader.openBlob(desc);
  }

  blobFile(desc: Descriptor): Promise<string | undefined> {
    return this.reader.blobFile(desc);
  }

  async close(): Promise<void> {
    // Streams are opened per blob and closed by their consumers; nothing is held open.
  }
}

/** Build the source for REF in a layout read through `reader`; `what` is the user's spelling. */
export async function layoutSource(reader: OciLayoutReader, ref: string | undefined, what: string, base: string): Promise<LayoutImageSource> {
  const root = await reader.selectRoot(ref, what);
  // With no REF (or @N) the entry's own ref.name, if any, names the image.
  const nameRef = ref === undefined || ref === '' || /^@\d+$/.test(ref) ? root.annotations?.[REF_NAME_ANNOTATION] : ref;
  const { repository, tag } = targetName(nameRef, base);
  return new LayoutImageSource(what, repository, tag, reader, root);
}

/**
 * Readers of layout directories by path: the images of one layout named one by one (a thousand
 * `--image oci:DIR:REF`) share one parsed index.json instead of each holding its own copy. One
 * per run (the bundler's source opener): a layout changed between runs is read afresh.
 */
export class LayoutReaders {
  private readonly byDir = new Map<string, OciLayoutReader>();

  reader(dir: string): OciLayoutReader {
    const key = resolvePath(dir);
    let r = this.byDir.get(key);
    if (!r) {
      r = new OciLayoutReader(new DirectoryFiles(dir));
      this.byDir.set(key, r);
    }
    return r;
  }
}

/** `oci:DIR[:REF]`: an image in an OCI image layout directory; `readers` shares parsed layouts. */
export async function openOciLayout(dir: string, ref?: string, readers?: LayoutReaders): Promise<ImageSource> {
  const what = `oci:${dir}${ref ? `:${ref}` : ''}`;
  let st;
  try {
    st = await stat(dir);
  } catch {
    throw new FerryError('SOURCE_NOT_FOUND', `${what}: directory ${dir} does not exist`, { path: dir });
  }
  if (!st.isDirectory()) {
    throw new FerryError('SOURCE_INVALID', `${what}: ${dir} is not a directory (for a tar of a layout use oci-archive:${dir})`, { path: dir });
  }
  const reader = readers ? readers.reader(dir) : new OciLayoutReader(new DirectoryFiles(dir));
  return layoutSource(reader, ref, what, basename(resolvePath(dir)));
}
