// `docker-archive:FILE[:REF]`: a `docker save` (or `skopeo copy ... docker-archive:`) tar.
//
// Such a tar has manifest.json = [{Config, RepoTags, Layers}] and, from Docker 25 on, an OCI
// layout beside it. When the layout holds the image we serve it from there, so the manifest
// digest docker recorded is kept. Otherwise the archive has no manifest at all and we build
// one, deterministically: an OCI manifest over the config's exact bytes and the layer tars
// as they are (uncompressed; digest = diffID), compact JSON in a fixed key order, so the same
// archive always yields the same manifest digest. Nothing is extracted; blobs stream out of
// the archive file.

import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  FerryError,
  MediaTypes,
  VerifyingStream,
  isIndexMediaType,
  isSha256Digest,
  sha256Digest,
  type Descriptor,
} from '@ferry/format-spec';
import { parseReference } from './reference.js';
import type { ImageSource, ManifestBytes } from './source.js';
import { MAX_JSON_BYTES, OciLayoutReader, blobPath, sanitiseRepositoryName } from './layout-source.js';
import { TarFiles, archiveBaseName } from './oci-archive.js';
import { indexTar, lookupTarEntry, normaliseTarName, openTarEntry, readTarEntry, type TarEntry, type TarIndex } from './tar-index.js';

interface ArchiveItem {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

interface BuiltImage {
  root: ManifestBytes;
  /** Set when served from the embedded OCI layout. */
  layout?: OciLayoutReader;
  /** Synthesised manifests: digest -> archive entry of each blob the manifest names. */
  blobs?: Map<string, TarEntry>;
}

function invalid(file: string, msg: string): FerryError {
  return new FerryError('SOURCE_INVALID', `docker-archive ${file}: ${msg}`, { file });
}

function parseItems(bytes: Buffer, file: string): ArchiveItem[] {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw invalid(file, `manifest.json is not valid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(doc)) throw invalid(file, 'manifest.json is not a JSON array of images');
  return doc.map((raw: unknown, i) => {
    const o = raw as { Config?: unknown; RepoTags?: unknown; Layers?: unknown } | null;
    if (typeof o !== 'object' || o === null) throw invalid(file, `manifest.json[${i}] is not an object`);
    if (typeof o.Config !== 'string' || o.Config === '') throw invalid(file, `manifest.json[${i}].Config is not a file name`);
    if (!Array.isArray(o.Layers) || o.Layers.some((l) => typeof l !== 'string' || l === '')) throw invalid(file, `manifest.json[${i}].Layers is not a list of file names`);
    if (o.RepoTags !== undefined && o.RepoTags !== null && (!Array.isArray(o.RepoTags) || o.RepoTags.some((t) => typeof t !== 'string'))) {
      throw invalid(file, `manifest.json[${i}].RepoTags is not a list of names`);
    }
    return { Config: o.Config, Layers: o.Layers as string[], RepoTags: (o.RepoTags as string[] | null | undefined) ?? [] };
  });
}

/** The digest a file name claims: `blobs/sha256/<hex>`, or `<hex>.tar` / `<hex>.json` at the top (skopeo, docker save). */
function claimedDigest(name: string): string | undefined {
  const m = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(name) ?? /^([a-f0-9]{64})\.(?:tar|json)$/.exec(name);
  return m ? `sha256:${m[1]}` : undefined;
}

/** One scanned docker-archive; its images are built lazily and shared by the sources over it. */
class DockerArchive {
  readonly files: TarFiles;
  private readonly built = new Map<number, Promise<BuiltImage>>();
  private readonly hashes = new Map<number, Promise<string>>();
  private layoutReader?: OciLayoutReader;

  constructor(
    readonly file: string,
    readonly index: TarIndex,
    readonly items: ArchiveItem[],
  ) {
    // docker save links duplicate layers to their first copy; links are followed inside the archive only.
    this.files = new TarFiles(index, true);
    if (index.entries.has('oci-layout') && index.entries.has('index.json')) this.layoutReader = new OciLayoutReader(this.files);
  }

  entry(name: string, what: string): TarEntry {
    const n = normaliseTarName(name, this.file);
    const e = lookupTarEntry(this.index, n, true);
    if (!e) throw invalid(this.file, `manifest.json names ${what} "${name}", which is not a file in the archive (truncated or incomplete archive?)`);
    return e;
  }

  image(i: number): Promise<BuiltImage> {
    let p = this.built.get(i);
    if (!p) {
      p = this.build(i);
      this.built.set(i, p);
    }
    return p;
  }

  private async build(i: number): Promise<BuiltImage> {
    const item = this.items[i]!;
    const configEntry = this.entry(item.Config, 'config');
    const configBytes = await readTarEntry(this.index, configEntry, MAX_JSON_BYTES);
    const configDigest = sha256Digest(configBytes);
    const claimed = claimedDigest(normaliseTarName(item.Config, this.file));
    if (claimed && claimed !== configDigest) {
      throw new FerryError('BLOB_MISMATCH', `docker-archive ${this.file}: config "${item.Config}" hashes to ${configDigest}, not the ${claimed} its name says; the archive is damaged or was altered`, { file: this.file, digest: claimed });
    }
    if (this.layoutReader) {
      const fromLayout = await this.findInLayout(this.layoutReader, configDigest);
      if (fromLayout) return { root: await this.layoutReader.readManifest(fromLayout), layout: this.layoutReader };
    }
    return this.synthesise(i, item, configBytes, configDigest, configEntry);
  }

  /**
   * The index.json root whose manifest uses this config. An index root is used only when all
   * its child manifests are in the archive (otherwise its matching child is the root), so
   * every manifest a source offers can be read.
   */
  private async findInLayout(reader: OciLayoutReader, configDigest: string): Promise<Descriptor | undefined> {
    const { manifests } = await reader.readIndex();
    const configOf = async (d: Descriptor): Promise<string | undefined> => {
      const m = await this.tryManifest(reader, d);
      if (!m) return undefined;
      const cfg = (JSON.parse(m.bytes.toString('utf8')) as { config?: { digest?: unknown } }).config?.digest;
      return typeof cfg === 'string' ? cfg : undefined;
    };
    for (const d of manifests) {
      if (typeof d !== 'object' || d === null || typeof d.digest !== 'string' || !isSha256Digest(d.digest)) continue;
      if (isIndexMediaType(d.mediaType)) {
        const idx = await this.tryManifest(reader, d);
        if (!idx) continue;
        const children = (JSON.parse(idx.bytes.toString('utf8')) as { manifests?: unknown }).manifests;
        if (!Array.isArray(children)) continue;
        let match: Descriptor | undefined;
        let complete = true;
        for (const c of children as Descriptor[]) {
          if (typeof c !== 'object' || c === null || typeof c.digest !== 'string' || !isSha256Digest(c.digest)) continue;
          if ((await this.files.size(blobPath(c.digest, this.file))) === undefined) {
            complete = false;
            continue;
          }
          if (!match && (await configOf(c)) === configDigest) match = c;
        }
        if (match) return complete ? d : match;
      } else if ((await configOf(d)) === configDigest) {
        return d;
      }
    }
    return undefined;
  }

  /** A manifest from the layout, or undefined when it is absent; a present but wrong one is an error. */
  private async tryManifest(reader: OciLayoutReader, d: Descriptor): Promise<ManifestBytes | undefined> {
    try {
      return await reader.readManifest(d);
    } catch (e) {
      if (e instanceof FerryError && e.code === 'SOURCE_NOT_FOUND') return undefined;
      throw e;
    }
  }

  private hashEntry(e: TarEntry): Promise<string> {
    let p = this.hashes.get(e.offset);
    if (!p) {
      p = (async () => {
        const h = createHash('sha256');
        for await (const chunk of openTarEntry(this.index, e)) h.update(chunk as Buffer);
        return `sha256:${h.digest('hex')}`;
      })();
      this.hashes.set(e.offset, p);
    }
    return p;
  }

  private async synthesise(i: number, item: ArchiveItem, configBytes: Buffer, configDigest: string, configEntry: TarEntry): Promise<BuiltImage> {
    let config: unknown;
    try {
      config = JSON.parse(configBytes.toString('utf8'));
    } catch (e) {
      throw invalid(this.file, `config "${item.Config}" is not valid JSON (${(e as Error).message})`);
    }
    const diffIds = (config as { rootfs?: { diff_ids?: unknown } } | null)?.rootfs?.diff_ids;
    if (!Array.isArray(diffIds) || diffIds.some((d) => typeof d !== 'string' || !isSha256Digest(d))) {
      throw invalid(this.file, `config "${item.Config}" has no rootfs.diff_ids list of sha256 digests`);
    }
    if (diffIds.length !== item.Layers.length) {
      throw invalid(this.file, `image ${i} lists ${item.Layers.length} layers in manifest.json but its config has ${diffIds.length} rootfs.diff_ids`);
    }
    const blobs = new Map<string, TarEntry>([[configDigest, configEntry]]);
    const layers: Array<{ mediaType: string; digest: string; size: number }> = [];
    for (const [li, name] of item.Layers.entries()) {
      const e = this.entry(name, `layer ${li}`);
      const want = diffIds[li] as string;
      // A name that states the digest (skopeo, Docker 25) is checked against diff_ids here and
      // its bytes when streamed (openBlob verifies); other names (`<id>/layer.tar`) are hashed now.
      const claimed = claimedDigest(normaliseTarName(name, this.file));
      const digest = claimed ?? (await this.hashEntry(e));
      if (digest !== want) {
        const head = await readTarEntry(this.index, { ...e, size: Math.min(e.size, 4) }, 4);
        const compressed = head[0] === 0x1f && head[1] === 0x8b ? ' (the layer is gzip-compressed; Ferry reads only the uncompressed layers docker save and skopeo write)' : '';
        throw new FerryError(
          'BLOB_MISMATCH',
          `docker-archive ${this.file}: layer ${li} "${name}" ${claimed ? 'is named' : 'hashes to'} ${digest} but the image config's rootfs.diff_ids[${li}] is ${want}${compressed}; the archive is damaged or was altered`,
          { file: this.file, digest: want, actual: digest },
        );
      }
      blobs.set(digest, e);
      layers.push({ mediaType: MediaTypes.ociLayer, digest, size: e.size });
    }
    // Fixed key order, compact: the same archive always gives the same bytes and digest.
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: { mediaType: MediaTypes.ociConfig, digest: configDigest, size: configBytes.length },
      layers,
    };
    const bytes = Buffer.from(JSON.stringify(manifest));
    return { root: { descriptor: { mediaType: MediaTypes.ociManifest, digest: sha256Digest(bytes), size: bytes.length }, bytes }, blobs };
  }
}

class DockerArchiveSource implements ImageSource {
  constructor(
    readonly description: string,
    readonly repository: string,
    readonly tag: string | undefined,
    private readonly archive: DockerArchive,
    private readonly item: number,
  ) {}

  async resolve(): Promise<ManifestBytes> {
    return (await this.archive.image(this.item)).root;
  }

  async fetchManifest(desc: Descriptor): Promise<ManifestBytes> {
    const img = await this.archive.image(this.item);
    if (img.layout) return img.layout.readManifest(desc);
    if (desc.digest === img.root.descriptor.digest) return img.root;
    throw new FerryError('SOURCE_NOT_FOUND', `${this.description}: no manifest ${desc.digest} in the archive`, { file: this.archive.file, digest: desc.digest });
  }

  async openBlob(desc: Descriptor): Promise<Readable> {
    const img = await this.archive.image(this.item);
    if (img.layout) return img.layout.openBlob(desc);
    const e = img.blobs?.get(desc.digest);
    if (!e) throw new FerryError('SOURCE_NOT_FOUND', `${this.description}: blob ${desc.digest} is not part of this image`, { file: this.archive.file, digest: desc.digest });
    if (e.size !== desc.size) {
      throw new FerryError('BLOB_MISMATCH', `${this.description}: blob ${desc.digest} is ${e.size} bytes in the archive, the descriptor says ${desc.size}`, { file: this.archive.file, digest: desc.digest });
    }
    // Digests of synthesised manifests partly come from file names; verify here so this
    // source never hands out bytes that do not match what it claimed.
    const stream = openTarEntry(this.archive.index, e);
    const verify = new VerifyingStream(desc.digest, desc.size, { where: `${this.description} (${e.name})` });
    stream.on('error', (err) => verify.destroy(err));
    return stream.pipe(verify);
  }

  async close(): Promise<void> {
    // Nothing held open: each blob stream opens and closes the file itself.
  }
}

/** `name:tag` from a RepoTags entry, docker-normalised; undefined if unparsable. */
function normaliseRepoTag(t: string): { repository: string; tag?: string; full: string } | undefined {
  try {
    const r = parseReference(t);
    if (r.digest !== undefined) return undefined;
    return { repository: r.repository, ...(r.tag !== undefined ? { tag: r.tag } : {}), full: r.toString() };
  } catch {
    return undefined;
  }
}

/**
 * `docker-archive:FILE[:REF]`. Always returns a list: with no REF every image in the archive,
 * once per RepoTag (an image saved under two tags gives two sources over the same blobs);
 * `REF` = `name[:tag]` picks the image with that RepoTag (docker-normalised, so `alpine` means
 * `docker.io/library/alpine:latest`), `@N` the N-th entry of manifest.json (0-based).
 * Repository/tag come from RepoTags without the registry host; an untagged image is named
 * after the file (`FILE.tar` -> `file:latest`), or by REF when the archive holds just it.
 */
export async function openDockerArchive(file: string, ref?: string): Promise<ImageSource[]> {
  const index = await indexTar(file);
  const files = new TarFiles(index, true);
  const manifestBytes = await files.read('manifest.json', MAX_JSON_BYTES);
  if (manifestBytes === undefined) {
    if (index.entries.has('repositories')) throw invalid(file, 'has no manifest.json (written by docker older than 1.10); re-save it with a current docker or skopeo');
    if (index.entries.has('oci-layout')) throw invalid(file, `has no manifest.json but is an OCI layout archive; use oci-archive:${file}`);
    throw invalid(file, 'has no manifest.json: this is not a docker save archive');
  }
  const items = parseItems(manifestBytes, file);
  if (items.length === 0) throw new FerryError('SOURCE_NOT_FOUND', `docker-archive ${file}: manifest.json lists no images`, { file });
  const archive = new DockerArchive(file, index, items);
  const base = sanitiseRepositoryName(archiveBaseName(file));
  const untaggedCount = items.filter((it) => it.RepoTags.length === 0).length;
  const untaggedTag = (i: number): string => (untaggedCount > 1 ? `untagged-${i}` : 'latest');

  const named = (i: number, t: string): DockerArchiveSource => {
    const n = normaliseRepoTag(t);
    if (!n) throw invalid(file, `manifest.json[${i}].RepoTags has "${t.slice(0, 200)}", not a valid name:tag`);
    return new DockerArchiveSource(`docker-archive:${file}:${t}`, n.repository, n.tag, archive, i);
  };

  if (ref === undefined || ref === '') {
    return items.flatMap((it, i) =>
      it.RepoTags.length ? it.RepoTags.map((t) => named(i, t)) : [new DockerArchiveSource(`docker-archive:${file}:@${i}`, base, untaggedTag(i), archive, i)],
    );
  }
  const available = (): string =>
    [...items.flatMap((it) => it.RepoTags.map((t) => `"${t}"`)), `@0…@${items.length - 1}`].join(', ');
  if (/^@\d+$/.test(ref)) {
    const i = Number(ref.slice(1));
    const it = items[i];
    if (!it) throw new FerryError('SOURCE_NOT_FOUND', `docker-archive:${file}:${ref}: the archive has ${items.length} image(s). Available: ${available()}`, { file });
    const first = it.RepoTags[0];
    if (first !== undefined) {
      const s = named(i, first);
      return [new DockerArchiveSource(`docker-archive:${file}:${ref}`, s.repository, s.tag, archive, i)];
    }
    return [new DockerArchiveSource(`docker-archive:${file}:${ref}`, base, untaggedTag(i), archive, i)];
  }
  let want;
  try {
    want = parseReference(ref);
  } catch (e) {
    throw invalid(file, `REF "${ref}" is neither @N nor an image name: ${(e as Error).message}`);
  }
  if (want.digest !== undefined) throw invalid(file, `REF "${ref}" has a digest; docker-archive images are picked by name:tag or @N`);
  for (const [i, it] of items.entries()) {
    for (const t of it.RepoTags) {
      if (normaliseRepoTag(t)?.full === want.toString()) {
        return [new DockerArchiveSource(`docker-archive:${file}:${ref}`, want.repository, want.tag, archive, i)];
      }
    }
  }
  if (items.length === 1 && items[0]!.RepoTags.length === 0) {
    // A lone untagged image: REF names it.
    return [new DockerArchiveSource(`docker-archive:${file}:${ref}`, want.repository, want.tag, archive, 0)];
  }
  throw new FerryError('SOURCE_NOT_FOUND', `docker-archive:${file}:${ref}: no image tagged ${want.toString()} in the archive. Available: ${available()}`, { file });
}
