// Inventory of a registry, through the same client, auth and TLS settings push uses: the
// repositories (from --repos, or /v2/_catalog page by page), every tag (tags/list, paginated),
// each tag's manifest, and below an index its children, then config and layers. Each manifest
// is fetched once however many tags and repositories share it. The registry API tells only
// what tags reach, so the result is never `complete`.

import { FerryError, isFerryError, mapLimit, printable, type Inventory } from '@ferry/format-spec';
import { RegistryClient, header, isRepositoryPath, nextLink, readBody, type RegistryOptions } from '@ferry/oci';
import { InventoryCollector, childrenOf, notWalked, type SeenDescriptor } from './collect.js';

export interface RegistryInventoryOptions {
  registry: string;
  /** Only repositories under this path ('' for all). */
  prefix: string;
  /** --repos: exactly these repositories (full paths in the registry); no catalog. */
  repos?: readonly string[];
  options: RegistryOptions;
  /** Repositories walked at once (requests are bounded by the client's own concurrency). */
  concurrency: number;
  warn: (message: string) => void;
  onProgress?: (done: { repositories: number; of: number; tags: number; blobs: number }) => void;
}

const CATALOG_PAGE = 1000;
const MAX_PAGES = 100_000;
const MAX_DEPTH = 4;

/** Every repository the registry lists, following `Link: rel="next"` (and n=). */
export async function listCatalog(client: RegistryClient): Promise<string[]> {
  const ctx = client.ctx();
  const out: string[] = [];
  let url: string | URL = `/v2/_catalog?n=${CATALOG_PAGE}`;
  // Exit 13 either way: credentials (REGISTRY_AUTH) or a registry that does not serve the catalog.
  const refused = (why: string, e?: FerryError): FerryError =>
    new FerryError(e?.code === 'REGISTRY_AUTH' ? 'REGISTRY_AUTH' : 'REGISTRY_ERROR', `${client.registry} does not list its repositories to us (${why}); give the repositories to inventory with --repos REPOSITORY …`, e ? { ...e.details } : { registry: client.registry }, e ? { cause: e } : undefined);
  for (let page = 0; page < MAX_PAGES; page++) {
    let res;
    try {
      res = await client.transport.slots.run(() => client.send({ method: 'GET', url }, ctx, [], ['registry:catalog:*']));
    } catch (e) {
      if (isFerryError(e, 'REGISTRY_AUTH')) throw refused(`the catalog needs other credentials: ${e.message}`, e);
      throw e;
    }
    if (res.status === 400 && page === 0 && String(url).includes('?n=')) {
      // distribution 2.8 refuses an n= above its catalog.maxentries (PAGINATION_NUMBER_INVALID)
      // instead of capping it: ask again with its own page size.
      res.body.resume();
      url = '/v2/_catalog';
      page--;
      continue;
    }
    if (res.status !== 200) {
      const err = await client.statusError(res, ctx, 'catalog of');
      throw refused(`GET /v2/_catalog answered HTTP ${res.status}`, err);
    }
    const body = await readBody(res, 64 << 20);
    let names: unknown;
    try {
      names = (JSON.parse(body.toString('utf8')) as { repositories?: unknown }).repositories;
    } catch {
      throw refused('its catalog is not JSON');
    }
    if (Array.isArray(names)) for (const n of names) if (typeof n === 'string') out.push(n);
    const next = nextLink(header(res, 'link'), res.url);
    if (!next) break;
    url = next;
  }
  return out;
}

export async function registryInventory(o: RegistryInventoryOptions): Promise<Inventory> {
  const client = new RegistryClient(o.registry, o.options);
  try {
    const collector = new InventoryCollector(o.warn);
    let repos: string[];
    if (o.repos?.length) {
      repos = [...new Set(o.repos)];
    } else {
      const under = o.prefix ? `${o.prefix}/` : '';
      repos = [];
      for (const name of await listCatalog(client)) {
        if (!isRepositoryPath(name)) o.warn(`the catalog of ${o.registry} names "${printable(name.slice(0, 200))}", which is not a repository path; skipped`);
        else if (!under || name.startsWith(under)) repos.push(name);
      }
    }
    // Manifest digest -> every descriptor below it (itself included): fetched once, shared.
    const closures = new Map<string, Promise<SeenDescriptor[]>>();
    // Digests make cycles impossible, but not depth: an index of indexes is walked 4 levels down.
    const closureOf = (repo: string, desc: SeenDescriptor, bytes?: Buffer, depth = 0): Promise<SeenDescriptor[]> => {
      let p = closures.get(desc.digest);
      if (!p) {
        p = (async () => {
          if (depth > MAX_DEPTH) {
            o.warn(notWalked(`${o.registry}/${repo}`, desc.digest, `nested more than ${MAX_DEPTH} indexes deep`));
            return [desc];
          }
          const got = bytes ?? (await client.getManifest(repo, desc.digest)).bytes;
          const kids = childrenOf(got, desc.mediaType);
          if (kids.dropped) o.warn(`${o.registry}/${repo}@${desc.digest}: ${kids.dropped} descriptor(s) without a sha256 digest and a size, or foreign layers; not listed`);
          const below = await Promise.all(kids.manifests.map((m) => closureOf(repo, m, undefined, depth + 1).catch((e: unknown) => {
            o.warn(notWalked(`${o.registry}/${repo}`, m.digest, (e as Error).message));
            return [] as SeenDescriptor[];
          })));
          return [desc, ...kids.blobs, ...below.flat()];
        })();
        closures.set(desc.digest, p);
      }
      return p;
    };
    let done = 0;
    await mapLimit(repos, Math.max(1, o.concurrency), async (repo) => {
      let tags: string[];
      try {
        tags = await client.listTags(repo);
      } catch (e) {
        if (!isFerryError(e, 'SOURCE_NOT_FOUND') || o.repos?.length) throw e;
        o.warn(`${o.registry}/${repo}: listed in the catalog but has no tags (${printable((e as Error).message)}); skipped`);
        return;
      }
      collector.repository(repo);
      await mapLimit([...new Set(tags)], Math.max(1, o.concurrency), async (tag) => {
        let root;
        try {
          root = await client.getManifest(repo, tag);
        } catch (e) {
          // A tag deleted since the listing, or one we cannot read: the inventory says less, never more.
          if (!isFerryError(e, 'SOURCE_NOT_FOUND') && !isFerryError(e, 'SOURCE_INVALID')) throw e;
          o.warn(`${o.registry}/${repo}:${printable(tag)} skipped: ${printable((e as Error).message)}`);
          return;
        }
        const d = root.descriptor;
        collector.tag(repo, tag, d.digest);
        for (const b of await closureOf(repo, { digest: d.digest, size: d.size, mediaType: d.mediaType }, root.bytes)) collector.blob(b, repo);
      });
      o.onProgress?.({ repositories: ++done, of: repos.length, tags: collector.tagCount, blobs: collector.blobCount });
    });
    return collector.inventory(o.prefix ? `${o.registry}/${o.prefix}` : o.registry, false);
  } finally {
    client.close();
  }
}
