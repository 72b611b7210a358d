// The read-only registry: the pull side of the OCI distribution spec (/v2/, manifests, blobs with
// Range, tags/list, referrers, _catalog) answered from the catalog (catalog.ts) and the volumes
// (blob-reader.ts), every byte checked on the way out (verify-stream.ts). Writes get 405
// UNSUPPORTED. Errors use the spec's JSON shape. One log record per request.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { FerryError, MAX_IMAGE_MANIFEST_BYTES, MediaTypes, isIndexMediaType, isSha256Digest, verifyBytes, type BundleBlob, type Descriptor } from '@ferry/format-spec';
import type { BlobReader } from './blob-reader.js';
import { page, type Catalog, type Repository } from './catalog.js';
import type { VerifiedBlobs } from './verify-stream.js';

export interface RequestRecord {
  method: string;
  path: string;
  status: number;
  bytes: number;
  ms: number;
  /** Set when the connection was cut on purpose (a blob failed) or by the client. */
  aborted?: boolean;
  note?: string;
}

export interface ServeContext {
  catalog: Catalog;
  reader: BlobReader;
  verified: VerifiedBlobs;
  onRequest: (r: RequestRecord) => void;
  /** Most manifest bytes kept in memory once verified (default 32 MiB). */
  manifestCacheBytes?: number;
}

type ErrorCode = 'NAME_UNKNOWN' | 'MANIFEST_UNKNOWN' | 'BLOB_UNKNOWN' | 'DIGEST_INVALID' | 'NAME_INVALID' | 'UNSUPPORTED' | 'RANGE_INVALID' | 'UNKNOWN';

class HttpError extends Error {
  constructor(readonly status: number, readonly code: ErrorCode, message: string, readonly note?: string) {
    super(message);
  }
}

const API_HEADER = { 'Docker-Distribution-API-Version': 'registry/2.0' };

/** Verified manifest bytes by digest, least recently used dropped past a byte budget. */
class ManifestCache {
  private readonly m = new Map<string, Buffer>();
  private bytes = 0;
  constructor(private readonly max: number) {}
  get(d: string): Buffer | undefined {
    const b = this.m.get(d);
    if (b) {
      this.m.delete(d);
      this.m.set(d, b);
    }
    return b;
  }
  set(d: string, b: Buffer): void {
    if (b.length > this.max) return;
    this.m.set(d, b);
    this.bytes += b.length;
    for (const [k, v] of this.m) {
      if (this.bytes <= this.max) break;
      this.m.delete(k);
      this.bytes -= v.length;
    }
  }
}

/** Does an Accept header take `mediaType`? No header, or a wildcard, takes anything. */
export function accepts(accept: string | undefined, mediaType: string): boolean {
  if (!accept) return true;
  const types = accept.split(',').map((s) => s.split(';')[0]!.trim().toLowerCase()).filter(Boolean);
  if (types.length === 0) return true;
  const mt = mediaType.toLowerCase();
  return types.some((t) => t === '*/*' || t === mt || (t.endsWith('/*') && mt.startsWith(t.slice(0, -1))));
}

/** One `bytes=a-b`, `bytes=a-` or `bytes=-n` range of a blob of `size` bytes: [start, end), or
 *  'unsatisfiable', or undefined for a header to ignore (several ranges, another unit). */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size };
  }
  const start = Number(m[1]);
  const last = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (!Number.isSafeInteger(start) || start >= size || last < start) return 'unsatisfiable';
  return { start, end: last + 1 };
}

/** Write `chunks` to `res` with backpressure; stops when the client goes away. */
async function pipeTo(res: ServerResponse, chunks: AsyncIterable<Buffer>, count: (n: number) => void): Promise<void> {
  for await (const c of chunks) {
    if (res.destroyed) return;
    count(c.length);
    if (!res.write(c)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
  }
  res.end();
}

export function createHandler(ctx: ServeContext): (req: IncomingMessage, res: ServerResponse) => void {
  const { catalog, reader, verified } = ctx;
  const manifests = new ManifestCache(ctx.manifestCacheBytes ?? 32 << 20);
  const sortedRepos = [...catalog.repositories.keys()].sort();

  const blobOf = (d: string): BundleBlob => catalog.blobs.get(d)!;
  const unavailable = (b: BundleBlob, code: 'BLOB_UNKNOWN' | 'MANIFEST_UNKNOWN'): HttpError | undefined => {
    const missing = reader.missingVolumes(b);
    if (missing.length) return new HttpError(404, code, `${b.digest} is in ${missing.join(', ')}, which is not here`, `volume not here: ${missing.join(', ')}`);
    const failed = verified.failure(b.digest);
    if (failed) return new HttpError(500, 'UNKNOWN', `${b.digest} is damaged in the bundle and is not served`, failed);
    return undefined;
  };

  /** A manifest's bytes, checked against its digest before anything is sent. */
  async function manifestBytes(b: BundleBlob): Promise<Buffer> {
    const cached = manifests.get(b.digest);
    if (cached) return cached;
    const bad = unavailable(b, 'MANIFEST_UNKNOWN');
    if (bad) throw bad;
    if (b.size > MAX_IMAGE_MANIFEST_BYTES) throw new HttpError(500, 'UNKNOWN', `${b.digest} is larger than a manifest may be`);
    const parts: Buffer[] = [];
    try {
      for await (const c of verified.stream(b, reader.read(b), 'the bundle')) parts.push(c);
      const bytes = Buffer.concat(parts);
      verifyBytes(bytes, b.digest, b.size, { where: 'the bundle' });
      manifests.set(b.digest, bytes);
      return bytes;
    } catch (e) {
      const fe = e instanceof FerryError ? e : new FerryError('INTERNAL', String(e));
      throw new HttpError(500, 'UNKNOWN', `${b.digest} could not be read from the bundle`, fe.message);
    }
  }

  function repoOf(name: string): Repository {
    const r = catalog.repositories.get(name);
    if (!r) throw new HttpError(404, 'NAME_UNKNOWN', `repository ${name} is not in the bundle`);
    return r;
  }

  /** Distribution's fallback for a client that takes no index: the linux/amd64 child it takes. */
  async function fallbackChild(r: Repository, index: Buffer, accept: string): Promise<BundleBlob | undefined> {
    let doc: { manifests?: Descriptor[] };
    try {
      doc = JSON.parse(index.toString('utf8')) as { manifests?: Descriptor[] };
    } catch {
      return undefined;
    }
    const child = (doc.manifests ?? []).find((d) => d.platform?.os === 'linux' && d.platform.architecture === 'amd64' && accepts(accept, d.mediaType));
    return child && r.manifests.has(child.digest) ? blobOf(child.digest) : undefined;
  }

  async function manifest(req: IncomingMessage, res: ServerResponse, name: string, ref: string, count: (n: number) => void): Promise<void> {
    const r = repoOf(name);
    const byDigest = ref.includes(':');
    if (byDigest && !isSha256Digest(ref)) throw new HttpError(400, 'DIGEST_INVALID', `${ref} is not a sha256 digest`);
    const digest = byDigest ? ref : r.tags.get(ref);
    if (!digest || !r.manifests.has(digest)) throw new HttpError(404, 'MANIFEST_UNKNOWN', `${name}:${ref} is not in the bundle`);
    let b = blobOf(digest);
    let bytes = await manifestBytes(b);
    const accept = req.headers.accept;
    if (!accepts(accept, b.mediaType)) {
      const child = !byDigest && isIndexMediaType(b.mediaType) ? await fallbackChild(r, bytes, accept!) : undefined;
      if (!child) throw new HttpError(404, 'MANIFEST_UNKNOWN', `${name}:${ref} is a ${b.mediaType}, which the Accept header does not list`);
      b = child;
      bytes = await manifestBytes(b);
    }
    res.writeHead(200, { ...API_HEADER, 'Content-Type': b.mediaType, 'Content-Length': bytes.length, 'Docker-Content-Digest': b.digest, ETag: `"${b.digest}"` });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    count(bytes.length);
    res.end(bytes);
  }

  async function blob(req: IncomingMessage, res: ServerResponse, name: string, digest: string, count: (n: number) => void, note: (s: string) => void): Promise<void> {
    const r = repoOf(name);
    if (!isSha256Digest(digest)) throw new HttpError(400, 'DIGEST_INVALID', `${digest} is not a sha256 digest`);
    if (!r.blobs.has(digest)) throw new HttpError(404, 'BLOB_UNKNOWN', `${digest} is not a blob of ${name} in the bundle`);
    const b = blobOf(digest);
    const bad = unavailable(b, 'BLOB_UNKNOWN');
    if (bad) throw bad;
    const headers = { ...API_HEADER, 'Content-Type': 'application/octet-stream', 'Docker-Content-Digest': b.digest, 'Accept-Ranges': 'bytes', ETag: `"${b.digest}"` };
    const range = parseRange(req.headers.range, b.size);
    if (range === 'unsatisfiable') {
      res.writeHead(416, { ...headers, 'Content-Range': `bytes */${b.size}`, 'Content-Type': 'application/json' });
      res.end(errorBody('RANGE_INVALID', `the range ${req.headers.range} is outside the blob's ${b.size} bytes`));
      return;
    }
    if (req.method === 'HEAD') {
      res.writeHead(200, { ...headers, 'Content-Length': b.size });
      res.end();
      return;
    }
    if (range) {
      if (!verified.isVerified(b.digest)) {
        note('verified whole before serving the range');
        try {
          await verified.verifyWhole(b, () => reader.read(b), 'the bundle');
        } catch (e) {
          const fe = e instanceof FerryError ? e : new FerryError('INTERNAL', String(e));
          throw new HttpError(500, 'UNKNOWN', `${b.digest} could not be verified, so no range of it is served`, fe.message);
        }
      }
      res.writeHead(206, { ...headers, 'Content-Length': range.end - range.start, 'Content-Range': `bytes ${range.start}-${range.end - 1}/${b.size}` });
      await pipeTo(res, reader.read(b, range.start, range.end), count);
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Length': b.size });
    await pipeTo(res, verified.stream(b, reader.read(b), 'the bundle'), count);
  }

  async function referrers(req: IncomingMessage, res: ServerResponse, url: URL, name: string, digest: string, count: (n: number) => void): Promise<void> {
    const r = repoOf(name);
    if (!isSha256Digest(digest)) throw new HttpError(400, 'DIGEST_INVALID', `${digest} is not a sha256 digest`);
    const filter = url.searchParams.get('artifactType') ?? undefined;
    const list: Descriptor[] = [];
    for (const ref of r.referrers.get(digest) ?? []) {
      // annotations and artifactType come from the referrer's own (verified) manifest.
      let doc: { artifactType?: string; config?: { mediaType?: string }; annotations?: Record<string, string> } = {};
      try {
        doc = JSON.parse((await manifestBytes(blobOf(ref.digest))).toString('utf8')) as typeof doc;
      } catch {
        continue; // not readable here (volume absent or damaged): not listed
      }
      const artifactType = ref.artifactType ?? doc.artifactType ?? doc.config?.mediaType;
      if (filter !== undefined && artifactType !== filter) continue;
      list.push({ mediaType: ref.mediaType, digest: ref.digest, size: ref.size, ...(artifactType ? { artifactType } : {}), ...(doc.annotations ? { annotations: doc.annotations } : {}) } as Descriptor);
    }
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: list }));
    res.writeHead(200, { ...API_HEADER, 'Content-Type': MediaTypes.ociIndex, 'Content-Length': body.length, ...(filter !== undefined ? { 'OCI-Filters-Applied': 'artifactType' } : {}) });
    if (req.method !== 'HEAD') count(body.length);
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  function listing(req: IncomingMessage, res: ServerResponse, url: URL, path: string, key: string, all: readonly string[], extra: Record<string, string>, count: (n: number) => void): void {
    const nRaw = url.searchParams.get('n');
    const n = nRaw === null ? undefined : Number(nRaw);
    if (n !== undefined && (!Number.isSafeInteger(n) || n < 0)) throw new HttpError(400, 'UNSUPPORTED', `n=${nRaw} is not a count`);
    const last = url.searchParams.get('last') ?? undefined;
    const { items, more } = page(all, n, last);
    const body = Buffer.from(JSON.stringify({ ...extra, [key]: items }));
    const link = more ? { Link: `<${path}?n=${n}&last=${encodeURIComponent(items[items.length - 1]!)}>; rel="next"` } : {};
    res.writeHead(200, { ...API_HEADER, 'Content-Type': 'application/json', 'Content-Length': body.length, ...link });
    if (req.method !== 'HEAD') count(body.length);
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  async function route(req: IncomingMessage, res: ServerResponse, url: URL, count: (n: number) => void, note: (s: string) => void): Promise<void> {
    const path = url.pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      throw new HttpError(405, 'UNSUPPORTED', `${req.method} is not supported: ferry-load serve is a read-only registry`);
    }
    if (path === '/v2/' || path === '/v2') {
      res.writeHead(200, { ...API_HEADER, 'Content-Type': 'application/json', 'Content-Length': 2 });
      res.end(req.method === 'HEAD' ? undefined : '{}');
      return;
    }
    if (path === '/v2/_catalog') return listing(req, res, url, path, 'repositories', sortedRepos, {}, count);
    let m = /^\/v2\/(.+)\/tags\/list$/.exec(path);
    if (m) {
      const r = repoOf(m[1]!);
      return listing(req, res, url, path, 'tags', [...r.tags.keys()].sort(), { name: r.name }, count);
    }
    m = /^\/v2\/(.+)\/(manifests|blobs|referrers)\/([^/]+)$/.exec(path);
    if (m) {
      const [, name, kind, ref] = m as unknown as [string, string, string, string];
      if (kind === 'manifests') return manifest(req, res, name, ref, count);
      if (kind === 'blobs') return blob(req, res, name, ref, count, note);
      return referrers(req, res, url, name, ref, count);
    }
    throw new HttpError(404, 'NAME_UNKNOWN', `${path} is not a registry endpoint this server knows`);
  }

  return (req, res) => {
    const started = Date.now();
    let bytes = 0;
    const notes: string[] = [];
    const method = req.method ?? 'GET';
    const rawPath = (req.url ?? '/').split('?')[0]!;
    res.once('close', () => {
      ctx.onRequest({ method, path: rawPath, status: res.statusCode, bytes, ms: Date.now() - started, ...(res.writableFinished ? {} : { aborted: true }), ...(notes.length ? { note: notes.join('; ') } : {}) });
    });
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://serve.invalid');
    } catch {
      sendError(res, new HttpError(400, 'NAME_INVALID', 'bad request target'));
      return;
    }
    route(req, res, url, (n) => (bytes += n), (s) => notes.push(s)).catch((e: unknown) => {
      if (e instanceof HttpError) {
        if (e.note) notes.push(e.note);
        if (!res.headersSent) return sendError(res, e);
      } else {
        notes.push(e instanceof Error ? e.message : String(e));
        if (!res.headersSent) return sendError(res, new HttpError(500, 'UNKNOWN', 'internal error'));
      }
      // Headers (and some bytes) are out: cut the connection so the client sees a failed
      // transfer, never a clean end of wrong or short content.
      res.destroy();
    });
  };
}

function errorBody(code: ErrorCode, message: string): string {
  return JSON.stringify({ errors: [{ code, message, detail: null }] });
}

function sendError(res: ServerResponse, e: HttpError): void {
  const body = errorBody(e.code, e.message);
  res.writeHead(e.status, { ...API_HEADER, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
