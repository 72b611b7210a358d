// The registry's names, from the signed manifest alone: each image's repository with its tag,
// its cosign signature/attestation tags (sha256-<hex>.sig ...) and its OCI referrers; each chart
// as the Helm OCI artifact `charts/NAME:TAG` (the name index.json gives it, so
// `helm pull oci://HOST/charts/NAME --version V` finds it). A repository serves exactly the
// blobs and manifests its images, referrers and charts list, as a registry scopes blobs.

import { chartRefName, chartsOf, isManifestBlob, type BundleBlob, type BundleManifest, type BundleReferrer } from '@ferry/format-spec';

export interface Repository {
  name: string;
  /** Tag -> manifest digest. */
  tags: Map<string, string>;
  /** Digests servable from /manifests/ (image manifests and indexes). */
  manifests: Set<string>;
  /** Digests servable from /blobs/ (everything the repository's content lists, manifests too). */
  blobs: Set<string>;
  /** Subject digest -> the OCI 1.1 referrers carried for it. */
  referrers: Map<string, BundleReferrer[]>;
}

export interface Catalog {
  repositories: Map<string, Repository>;
  blobs: Map<string, BundleBlob>;
}

export function buildCatalog(m: BundleManifest): Catalog {
  const blobs = new Map(m.blobs.map((b) => [b.digest, b]));
  const repositories = new Map<string, Repository>();
  const repo = (name: string): Repository => {
    let r = repositories.get(name);
    if (!r) repositories.set(name, (r = { name, tags: new Map(), manifests: new Set(), blobs: new Set(), referrers: new Map() }));
    return r;
  };
  const add = (r: Repository, digests: readonly string[]): void => {
    for (const d of digests) {
      r.blobs.add(d);
      if (isManifestBlob(blobs.get(d))) r.manifests.add(d);
    }
  };
  // The first image to claim a tag keeps it (the manifest's own rules forbid two).
  const tag = (r: Repository, t: string, d: string): void => {
    if (!r.tags.has(t)) r.tags.set(t, d);
  };
  for (const img of m.images) {
    const r = repo(img.repository);
    add(r, img.blobs);
    if (img.tag) tag(r, img.tag, img.digest);
    for (const ref of img.referrers ?? []) {
      add(r, ref.blobs);
      if (ref.scheme === 'cosign-tag' && ref.tag) tag(r, ref.tag, ref.digest);
      if (ref.scheme === 'oci-referrer') r.referrers.set(ref.subject, [...(r.referrers.get(ref.subject) ?? []), ref]);
    }
  }
  for (const c of chartsOf(m)) {
    const full = chartRefName(c);
    const at = full.lastIndexOf(':');
    const r = repo(full.slice(0, at));
    add(r, c.blobs);
    tag(r, full.slice(at + 1), c.manifest.digest);
  }
  return { repositories, blobs };
}

/** A page of a sorted list after `last`, at most `n` long (the distribution spec's pagination). */
export function page(sorted: readonly string[], n: number | undefined, last: string | undefined): { items: string[]; more: boolean } {
  const from = last === undefined ? 0 : sorted.findIndex((x) => x > last);
  const rest = from === -1 ? [] : sorted.slice(from);
  if (n === undefined || rest.length <= n) return { items: rest, more: false };
  return { items: rest.slice(0, n), more: true };
}
