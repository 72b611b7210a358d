// What an inventory walk gathers, whatever the target: tags per repository, and each blob once
// with its size, media type and the repositories it was seen in. Descriptors come from content
// the target holds but Ferry did not write, so each is checked before it is believed; a bad one
// is left out (an inventory that says too little only makes a delta carry more).

import { FERRY_VERSION, INVENTORY_MEDIA_TYPE, isIndexMediaType, isSha256Digest, printable, type Inventory } from '@ferry/format-spec';

export interface SeenDescriptor {
  digest: string;
  size: number;
  mediaType?: string;
}

const MEDIA_TYPE_RE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$/;

/** A descriptor as found in a manifest, or undefined when it is not one an inventory can vouch
 *  for: not sha256, a size that is not a safe integer, or a foreign layer the target never holds. */
export function checkedDescriptor(d: unknown): SeenDescriptor | undefined {
  if (typeof d !== 'object' || d === null) return undefined;
  const { digest, size, mediaType, urls } = d as { digest?: unknown; size?: unknown; mediaType?: unknown; urls?: unknown };
  if (typeof digest !== 'string' || !isSha256Digest(digest)) return undefined;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return undefined;
  const mt = typeof mediaType === 'string' && mediaType.length <= 255 && MEDIA_TYPE_RE.test(mediaType) ? mediaType : undefined;
  // Foreign (non-distributable) layers live at their URLs, not in the registry.
  if ((Array.isArray(urls) && urls.length) || (mt && /foreign|nondistributable/.test(mt))) return undefined;
  return { digest, size, ...(mt ? { mediaType: mt } : {}) };
}

/** The children of a manifest or index: platform manifests, or config and layers. */
export function childrenOf(bytes: Buffer, mediaType: string | undefined): { manifests: SeenDescriptor[]; blobs: SeenDescriptor[]; dropped: number } {
  let doc: { manifests?: unknown; config?: unknown; layers?: unknown; mediaType?: unknown };
  try {
    doc = JSON.parse(bytes.toString('utf8')) as typeof doc;
  } catch {
    return { manifests: [], blobs: [], dropped: 0 };
  }
  if (typeof doc !== 'object' || doc === null) return { manifests: [], blobs: [], dropped: 0 };
  const mt = mediaType ?? (typeof doc.mediaType === 'string' ? doc.mediaType : undefined);
  let dropped = 0;
  const keep = (list: unknown[]): SeenDescriptor[] => {
    const out: SeenDescriptor[] = [];
    for (const d of list) {
      const c = checkedDescriptor(d);
      if (c) out.push(c);
      else dropped++;
    }
    return out;
  };
  if (isIndexMediaType(mt) || (Array.isArray(doc.manifests) && doc.config === undefined)) {
    return { manifests: keep(Array.isArray(doc.manifests) ? doc.manifests : []), blobs: [], dropped };
  }
  const blobs = keep([...(doc.config !== undefined ? [doc.config] : []), ...(Array.isArray(doc.layers) ? doc.layers : [])]);
  return { manifests: [], blobs, dropped };
}

/** Blobs and tags as found; one entry per digest, the first size seen wins (a different size
 *  for the same digest is a hostile or broken manifest, reported). */
export class InventoryCollector {
  private readonly blobs = new Map<string, { size: number; mediaType?: string; repositories: Set<string> }>();
  private readonly tags = new Map<string, Map<string, string>>();

  constructor(private readonly warn: (message: string) => void) {}

  repository(name: string): void {
    if (!this.tags.has(name)) this.tags.set(name, new Map());
  }

  tag(repository: string, tag: string, digest: string): void {
    this.repository(repository);
    this.tags.get(repository)!.set(tag, digest);
  }

  blob(d: SeenDescriptor, repository: string | undefined): void {
    let b = this.blobs.get(d.digest);
    if (!b) this.blobs.set(d.digest, (b = { size: d.size, repositories: new Set() }));
    else if (b.size !== d.size) this.warn(`${d.digest} is described with size ${d.size} and ${b.size}; keeping ${b.size}`);
    if (b.mediaType === undefined && d.mediaType !== undefined) b.mediaType = d.mediaType;
    if (repository !== undefined) b.repositories.add(repository);
  }

  get blobCount(): number {
    return this.blobs.size;
  }

  get tagCount(): number {
    let n = 0;
    for (const t of this.tags.values()) n += t.size;
    return n;
  }

  get bytes(): number {
    let n = 0;
    for (const b of this.blobs.values()) n += b.size;
    return n;
  }

  /** The document (sorting is inventoryBytes's job). */
  inventory(target: string, complete: boolean, created = new Date()): Inventory {
    return {
      mediaType: INVENTORY_MEDIA_TYPE,
      inventoryVersion: 1,
      created: created.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      ferryVersion: FERRY_VERSION,
      target,
      complete,
      repositories: [...this.tags].map(([name, tags]) => ({ name, tags: Object.fromEntries(tags) })),
      blobs: [...this.blobs].map(([digest, b]) => ({ digest, size: b.size, ...(b.mediaType !== undefined ? { mediaType: b.mediaType } : {}), repositories: [...b.repositories].filter((r) => this.tags.has(r)) })),
    };
  }
}

/** A manifest that is too large or not JSON is not walked; say so once, by digest. */
export function notWalked(where: string, digest: string, why: string): string {
  return `${printable(where)}: ${digest} not walked (${printable(why)}); the blobs below it are not listed`;
}

