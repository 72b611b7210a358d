// Inventory of an OCI layout (`--to oci:DIR`): every file under blobs/sha256 (lstat only: a
// link is refused, never followed, so the inventory vouches only for bytes inside the layout),
// and the tags index.json names as `REPOSITORY:TAG` the way ferry-load push writes them. The
// manifests the tags reach are read (no links, bounded, hashed) to give each blob its media
// type and repositories. Every blob is listed: the inventory is `complete`.

import { lstat, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { FerryError, MAX_IMAGE_MANIFEST_BYTES, REF_NAME_ANNOTATION, isFerryError, printable, sha256Digest, type Inventory } from '@ferry/format-spec';
import { checkRegularFile, isRepositoryPath, isTag, openNoFollow, targetFsError } from '@ferry/oci';
import { InventoryCollector, checkedDescriptor, childrenOf, notWalked, type SeenDescriptor } from './collect.js';

const MAX_INDEX_BYTES = 64 << 20;
const HEX_RE = /^[a-f0-9]{64}$/;

function layoutError(msg: string, path: string): FerryError {
  return new FerryError('TARGET_ERROR', msg, { path });
}

async function readNoFollow(path: string, what: string, max: number): Promise<Buffer> {
  const size = await checkRegularFile(path, what);
  if (size === undefined) throw layoutError(`${printable(path)}: ${what} is missing; is this an OCI layout?`, path);
  if (size > max) throw layoutError(`${printable(path)}: ${what} is ${size} bytes, more than ${max}`, path);
  const fh = await openNoFollow(path, 0);
  try {
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

/** `REPOSITORY:TAG` split at the last colon after the last slash, or undefined. */
function splitRefName(name: string): { repository: string; tag: string } | undefined {
  const colon = name.lastIndexOf(':');
  if (colon <= name.lastIndexOf('/')) return undefined;
  const repository = name.slice(0, colon);
  const tag = name.slice(colon + 1);
  return isRepositoryPath(repository) && isTag(tag) ? { repository, tag } : undefined;
}

export async function layoutInventory(dirArg: string, warn: (message: string) => void): Promise<Inventory> {
  const dir = resolve(dirArg);
  const top = await lstat(dir).catch((e: unknown) => {
    throw targetFsError(e, dir, `oci:${dir}: cannot read the layout`);
  });
  if (!top.isDirectory()) throw layoutError(`oci:${printable(dir)} is not a directory`, dir);
  await readNoFollow(join(dir, 'oci-layout'), 'the oci-layout file', 4096);
  let index: { manifests?: unknown };
  try {
    index = JSON.parse((await readNoFollow(join(dir, 'index.json'), 'the layout index (index.json)', MAX_INDEX_BYTES)).toString('utf8')) as typeof index;
  } catch (e) {
    if (isFerryError(e)) throw e;
    throw layoutError(`oci:${printable(dir)}: index.json is not valid JSON; fix or remove it`, dir);
  }
  if (typeof index !== 'object' || index === null || !Array.isArray(index.manifests)) throw layoutError(`oci:${printable(dir)}: index.json has no "manifests" array`, dir);

  const blobsDir = join(dir, 'blobs', 'sha256');
  const collector = new InventoryCollector(warn);
  const files = new Map<string, number>();
  let names: string[] = [];
  try {
    names = await readdir(blobsDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw targetFsError(e, blobsDir, `oci:${dir}: cannot list the blobs`);
  }
  for (const name of names) {
    const path = join(blobsDir, name);
    const st = await lstat(path);
    if (st.isSymbolicLink()) throw layoutError(`${printable(path)} is a symbolic link; an inventory lists only blobs stored in the layout itself (ferry-load push and skopeo write regular files): replace it with the file, or remove it`, path);
    if (!HEX_RE.test(name) || !st.isFile()) {
      warn(`${printable(path)}: not a blob file (${st.isFile() ? 'name is not a sha256 hex digest' : 'not a regular file'}); not listed`);
      continue;
    }
    files.set(`sha256:${name}`, st.size);
  }

  // A manifest's bytes, only when stored here, no larger than a manifest may be, and hashing right.
  const manifestBytes = async (d: SeenDescriptor): Promise<Buffer | undefined> => {
    const size = files.get(d.digest);
    if (size === undefined) return undefined;
    if (size > MAX_IMAGE_MANIFEST_BYTES) {
      warn(notWalked(`oci:${dir}`, d.digest, `larger than ${MAX_IMAGE_MANIFEST_BYTES} bytes`));
      return undefined;
    }
    const bytes = await readNoFollow(join(blobsDir, d.digest.slice(7)), 'a manifest blob', MAX_IMAGE_MANIFEST_BYTES);
    if (sha256Digest(bytes) !== d.digest) {
      warn(notWalked(`oci:${dir}`, d.digest, 'its file does not hash to its name: damaged'));
      return undefined;
    }
    return bytes;
  };
  const walked = new Map<string, SeenDescriptor[]>();
  const closureOf = async (d: SeenDescriptor, depth: number): Promise<SeenDescriptor[]> => {
    const known = walked.get(d.digest);
    if (known) return known;
    walked.set(d.digest, [d]); // a cycle (hostile) ends here
    const bytes = depth < 4 ? await manifestBytes(d) : undefined;
    if (!bytes) return [d];
    const kids = childrenOf(bytes, d.mediaType);
    const below: SeenDescriptor[] = [];
    for (const m of kids.manifests) below.push(...(await closureOf(m, depth + 1)));
    const all = [d, ...kids.blobs, ...below];
    walked.set(d.digest, all);
    return all;
  };

  // Every stored file, reached by a tag or not, with its size on disk (first: the file's size
  // is the truth, whatever a manifest claims).
  for (const [digest, size] of files) collector.blob({ digest, size }, undefined);
  for (const entry of index.manifests) {
    const name = (entry as { annotations?: Record<string, unknown> } | null)?.annotations?.[REF_NAME_ANNOTATION];
    const desc = checkedDescriptor(entry);
    if (typeof name !== 'string') continue; // untagged entries hold nothing a tag can name
    const ref = splitRefName(name);
    if (!ref || !desc) {
      warn(`oci:${printable(dir)}: index.json entry "${printable(name.slice(0, 200))}" is not REPOSITORY:TAG with a sha256 descriptor (as ferry-load push writes them); its tag is not listed`);
      continue;
    }
    collector.tag(ref.repository, ref.tag, desc.digest);
    for (const b of await closureOf(desc, 0)) if (files.has(b.digest)) collector.blob(b, ref.repository);
  }
  return collector.inventory(`oci:${dir}`, true);
}
