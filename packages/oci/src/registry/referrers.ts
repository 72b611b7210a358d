// Finding what refers to an image: the OCI 1.1 referrers API, its `sha256-<hex>` tag-schema
// fallback (distribution 2.8 and 3.x have no API and answer 404), and cosign's legacy tags
// `sha256-<hex>.sig` / `.att` / `.sbom`. Also keeps the fallback index up to date when pushing
// a manifest with `subject` to a registry that does not index referrers itself.

import { MediaTypes, sha256Digest, type Descriptor, type ImageIndex } from '@ferry/format-spec';
import { registryError, describeRef } from './errors.js';
import { header, readBody } from './transport.js';
import { stripParams } from './manifest-check.js';
import { nextLink, type RegistryClient } from './client.js';
import { putManifest, type ManifestPushResult } from './upload.js';

export const COSIGN_SUFFIXES = ['sig', 'att', 'sbom'] as const;
export type CosignSuffix = (typeof COSIGN_SUFFIXES)[number];

/** `sha256:<hex>` → `sha256-<hex>` (the referrers tag schema). */
export function referrersTag(digest: string): string {
  const [alg, hex] = digest.split(':') as [string, string | undefined];
  if (!hex) throw new TypeError(`not a digest: ${digest}`);
  return `${alg}-${hex}`;
}

/** cosign's tag for a signature/attestation/SBOM of `digest`. */
export function cosignTag(digest: string, suffix: CosignSuffix): string {
  return `${referrersTag(digest)}.${suffix}`;
}

export interface ReferrersResult {
  descriptors: Descriptor[];
  /** 'api' when the registry answered the referrers API, 'tag-schema' when the fallback tag was used. */
  via: 'api' | 'tag-schema';
}

function indexManifests(bytes: Buffer): Descriptor[] | undefined {
  try {
    const j = JSON.parse(bytes.toString('utf8')) as Partial<ImageIndex>;
    if (!Array.isArray(j.manifests)) return undefined;
    return j.manifests.filter((d): d is Descriptor => !!d && typeof d.digest === 'string' && typeof d.mediaType === 'string' && typeof d.size === 'number');
  } catch {
    return undefined;
  }
}

/**
 * Referrers of `digest` in `repository`: the API when the registry has it; on 404/400/405/406
 * or a 200 that is not an index (GGCR's tolerance), the `sha256-<hex>` tag index. Filters by
 * artifactType client-side unless the registry says it applied the filter.
 */
export async function fetchReferrers(client: RegistryClient, repository: string, digest: string, opts: { artifactType?: string } = {}): Promise<ReferrersResult> {
  const ctx = client.ctx(repository, digest);
  const filter = (ds: Descriptor[], applied: boolean) => (opts.artifactType && !applied ? ds.filter((d) => d.artifactType === opts.artifactType) : ds);
  let url: string | URL = `/v2/${repository}/referrers/${digest}${opts.artifactType ? `?artifactType=${encodeURIComponent(opts.artifactType)}` : ''}`;
  const out: Descriptor[] = [];
  let useApi = true;
  for (let page = 0; page < 1000; page++) {
    const res = await client.transport.slots.run(() => client.send({ method: 'GET', url, headers: { Accept: MediaTypes.ociIndex } }, ctx));
    if (page === 0 && ([404, 400, 405, 406].includes(res.status) || (res.status === 200 && stripParams(header(res, 'content-type')) !== MediaTypes.ociIndex))) {
      res.body.resume();
      useApi = false;
      break;
    }
    if (res.status !== 200) throw await client.statusError(res, ctx, 'referrers of');
    const ds = indexManifests(await readBody(res, 8 << 20));
    if (!ds) throw registryError('REGISTRY_ERROR', ctx, `referrers of ${describeRef(ctx)} from registry ${client.registry}: the answer is not an image index`, { status: 200 });
    const applied = (header(res, 'oci-filters-applied') ?? '').split(',').map((s) => s.trim()).includes('artifactType');
    out.push(...filter(ds, applied));
    const next = nextLink(header(res, 'link'), res.url);
    if (!next) break;
    url = next;
  }
  if (useApi) return { descriptors: out, via: 'api' };

  const tag = referrersTag(digest);
  const d = await client.headManifest(repository, tag);
  if (!d) return { descriptors: [], via: 'tag-schema' };
  const m = await client.getManifest(repository, tag);
  if (m.descriptor.mediaType !== MediaTypes.ociIndex) return { descriptors: [], via: 'tag-schema' };
  return { descriptors: filter(indexManifests(m.bytes) ?? [], false), via: 'tag-schema' };
}

export interface CosignArtifact {
  suffix: CosignSuffix;
  tag: string;
  descriptor: Descriptor;
}

/** cosign tag-scheme artifacts present for `digest` (HEAD per suffix; HEADs are not counted as pulls). */
export async function fetchCosignArtifacts(client: RegistryClient, repository: string, digest: string): Promise<CosignArtifact[]> {
  const found = await Promise.all(COSIGN_SUFFIXES.map(async (suffix) => {
    const tag = cosignTag(digest, suffix);
    const descriptor = await client.headManifest(repository, tag);
    return descriptor ? { suffix, tag, descriptor } : undefined;
  }));
  return found.filter((x): x is CosignArtifact => x !== undefined);
}

/** Descriptor for a referrers index entry: artifactType (else config.mediaType) and annotations of the manifest. */
export function referrerDescriptor(bytes: Buffer, desc: Descriptor): Descriptor {
  const j = JSON.parse(bytes.toString('utf8')) as { artifactType?: unknown; config?: { mediaType?: unknown }; annotations?: unknown };
  const artifactType = typeof j.artifactType === 'string' ? j.artifactType : typeof j.config?.mediaType === 'string' ? j.config.mediaType : undefined;
  const annotations = j.annotations && typeof j.annotations === 'object' && !Array.isArray(j.annotations) ? (j.annotations as Record<string, string>) : undefined;
  return { mediaType: desc.mediaType, digest: desc.digest, size: desc.size, ...(artifactType ? { artifactType } : {}), ...(annotations ? { annotations } : {}) };
}

// Read-modify-write of a fallback index is racy across processes; within one, serialise it.
const tagIndexLocks = new Map<string, Promise<unknown>>();

/** Add `desc` to the `sha256-<hex>` fallback index of `subject` (created if absent; no duplicate entries). */
export async function addToReferrersTagIndex(client: RegistryClient, repository: string, subject: string, desc: Descriptor): Promise<void> {
  const key = `${client.registry}/${repository}@${subject}`;
  const prev = tagIndexLocks.get(key) ?? Promise.resolve();
  const run = prev.catch(() => undefined).then(async () => {
    const tag = referrersTag(subject);
    let manifests: Descriptor[] = [];
    const existing = await client.headManifest(repository, tag);
    if (existing) {
      const m = await client.getManifest(repository, tag);
      manifests = indexManifests(m.bytes) ?? [];
    }
    if (manifests.some((d) => d.digest === desc.digest)) return;
    manifests.push(desc);
    manifests.sort((a, b) => a.digest.localeCompare(b.digest));
    const index: ImageIndex = { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests };
    await putManifest(client, repository, tag, Buffer.from(JSON.stringify(index)), MediaTypes.ociIndex);
  });
  tagIndexLocks.set(key, run);
  try {
    await run;
  } finally {
    if (tagIndexLocks.get(key) === run) tagIndexLocks.delete(key);
  }
}

/** The `subject` digest of a manifest, if it has one. */
export function subjectOf(bytes: Buffer): string | undefined {
  try {
    const j = JSON.parse(bytes.toString('utf8')) as { subject?: { digest?: unknown } };
    return typeof j.subject?.digest === 'string' ? j.subject.digest : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Push a manifest that has a `subject` by digest, and when the registry does not index it
 * (no OCI-Subject answer, as with distribution 2.8) record it in the fallback tag index.
 */
export async function pushReferrer(client: RegistryClient, repository: string, bytes: Buffer, mediaType: string): Promise<ManifestPushResult> {
  const digest = sha256Digest(bytes);
  const r = await putManifest(client, repository, digest, bytes, mediaType);
  const subject = subjectOf(bytes);
  if (subject && !r.subjectProcessed) {
    await addToReferrersTagIndex(client, repository, subject, referrerDescriptor(bytes, { mediaType, digest, size: bytes.length }));
  }
  return r;
}
