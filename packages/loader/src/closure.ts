// What an image's bytes say it needs, checked against what the bundle carries. The signed
// manifest lists each image's blobs, but a reader of the target (skopeo, a registry, containerd)
// follows the manifests themselves: a root that names a layer the bundle left out, an index
// declared as a manifest, or a child with another size gives a layout nobody can read. So before
// an image is tagged its root is parsed and every child manifest, config and layer it references
// must be carried, with the same digest and size (and, for manifests, media type).

import {
  FerryError,
  isIndexMediaType,
  isManifestMediaType,
  printable,
  type BundleBlob,
  type Descriptor,
} from '@ferry/format-spec';

export interface ClosureCheck {
  /** For messages: `image team/app:1.4`, `signature sha256-….sig of team/app:1.4`. */
  what: string;
  root: Pick<Descriptor, 'digest' | 'mediaType' | 'size'>;
  /** The digests the bundle manifest says this entry needs. */
  listed: readonly string[];
  /** The bundle manifest's blob table; for a delta, with its required blobs (contentBlobs), which
   *  are image content the target holds already. */
  blobs: ReadonlyMap<string, BundleBlob>;
  /** Exact, verified bytes of a stored manifest or index. */
  read: (desc: Descriptor) => Promise<Buffer>;
  /** For an OCI referrer: the digest its `subject` must name. */
  subject?: string;
}

interface Doc {
  mediaType?: unknown;
  manifests?: unknown;
  config?: unknown;
  layers?: unknown;
  subject?: unknown;
}

function hostile(what: string, msg: string): FerryError {
  return new FerryError('ARCHIVE_HOSTILE', `${what}: ${msg}; the signed manifest does not describe what its images need`, {});
}

function parse(bytes: Buffer, what: string, digest: string): Doc {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw hostile(what, `${digest} is not JSON`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw hostile(what, `${digest} is not a JSON object`);
  return doc as Doc;
}

function isDescriptor(d: unknown): d is Descriptor {
  const x = d as Descriptor;
  return typeof x === 'object' && x !== null && typeof x.digest === 'string' && typeof x.mediaType === 'string' && Number.isSafeInteger(x.size);
}

/** Throws ARCHIVE_HOSTILE naming the first thing the root references that is not carried as such. */
export async function checkClosure(c: ClosureCheck): Promise<void> {
  const listed = new Set(c.listed);
  const carried = (d: Descriptor, role: string, parent: string): BundleBlob => {
    if (!isDescriptor(d)) throw hostile(c.what, `${parent} has a malformed ${role} descriptor`);
    const b = c.blobs.get(d.digest);
    if (!listed.has(d.digest) || !b) throw hostile(c.what, `${parent} references ${role} ${printable(d.digest)}, which the bundle does not carry for it`);
    if (b.size !== d.size) throw hostile(c.what, `${parent} says ${role} ${d.digest} is ${d.size} bytes; the bundle carries ${b.size}`);
    if (b.kind === 'file' || b.kind === 'key') throw hostile(c.what, `${role} ${d.digest} is carried as a ${b.kind}, not as image content`);
    return b;
  };

  const checkManifest = async (desc: Pick<Descriptor, 'digest' | 'mediaType' | 'size'>, bytes: Buffer, subject?: string): Promise<void> => {
    const doc = parse(bytes, c.what, desc.digest);
    if (doc.mediaType !== undefined && doc.mediaType !== desc.mediaType) {
      throw hostile(c.what, `${desc.digest} is declared as ${printable(desc.mediaType)} but its content says ${printable(String(doc.mediaType))}`);
    }
    if (Array.isArray(doc.manifests) || typeof doc.config !== 'object' || doc.config === null || !Array.isArray(doc.layers)) {
      throw hostile(c.what, `${desc.digest} is declared as a manifest (${printable(desc.mediaType)}) but is not one (no config and layers)`);
    }
    carried(doc.config as Descriptor, 'config', desc.digest);
    for (const l of doc.layers as unknown[]) carried(l as Descriptor, 'layer', desc.digest);
    if (subject !== undefined) {
      const s = doc.subject as Descriptor | undefined;
      if (!isDescriptor(s) || s.digest !== subject) throw hostile(c.what, `${desc.digest} has subject ${printable(String(s?.digest))}, but the bundle says it refers to ${subject}`);
    }
  };

  const root = c.blobs.get(c.root.digest);
  if (!root || !listed.has(c.root.digest)) throw hostile(c.what, `its root ${c.root.digest} is not carried`);
  const bytes = await c.read({ digest: c.root.digest, mediaType: c.root.mediaType, size: c.root.size });
  if (isIndexMediaType(c.root.mediaType)) {
    const doc = parse(bytes, c.what, c.root.digest);
    if (doc.mediaType !== undefined && doc.mediaType !== c.root.mediaType) {
      throw hostile(c.what, `${c.root.digest} is declared as ${printable(c.root.mediaType)} but its content says ${printable(String(doc.mediaType))}`);
    }
    if (!Array.isArray(doc.manifests) || doc.config !== undefined || doc.layers !== undefined) {
      throw hostile(c.what, `${c.root.digest} is declared as an index (${printable(c.root.mediaType)}) but is not one`);
    }
    if (root.kind !== 'index') throw hostile(c.what, `its root ${c.root.digest} is an index but is carried as a ${root.kind}`);
    for (const child of doc.manifests as unknown[]) {
      const b = carried(child as Descriptor, 'manifest', c.root.digest);
      const d = child as Descriptor;
      if (b.mediaType !== d.mediaType) throw hostile(c.what, `${c.root.digest} lists ${d.digest} as ${printable(d.mediaType)}; the bundle carries it as ${printable(b.mediaType)}`);
      if (!isManifestMediaType(d.mediaType) || b.kind !== 'manifest') throw hostile(c.what, `${c.root.digest} lists ${d.digest} as ${printable(d.mediaType)}: only image manifests may sit below an index (a nested index is not carried)`);
      await checkManifest(d, await c.read(d));
    }
    if (c.subject !== undefined) {
      const s = doc.subject as Descriptor | undefined;
      if (!isDescriptor(s) || s.digest !== c.subject) throw hostile(c.what, `${c.root.digest} has subject ${printable(String(s?.digest))}, but the bundle says it refers to ${c.subject}`);
    }
    return;
  }
  if (!isManifestMediaType(c.root.mediaType)) throw hostile(c.what, `its root ${c.root.digest} has media type ${printable(c.root.mediaType)}, which is neither an image index nor an image manifest`);
  if (root.kind !== 'manifest') throw hostile(c.what, `its root ${c.root.digest} is a manifest but is carried as a ${root.kind}`);
  await checkManifest(c.root, bytes, c.subject);
}
