// The OCI Distribution client for one registry, shared by the bundler (pull) and the loader
// (push). Every request goes through auth (anonymous / Basic / Bearer), the per-registry
// concurrency bound and retries; every failure is a FerryError naming ref, registry and status.

import { FerryError, isSha256Digest, type Descriptor } from '@ferry/format-spec';
import type { Readable } from 'node:stream';
import type { ManifestBytes } from '../source.js';
import { registryApiHost } from '../reference.js';
import { Transport, readBody, header, type HttpRequest, type HttpResponse } from './transport.js';
import { Authenticator, repositoryScope, unauthorizedError } from './auth.js';
import { registryError, summarizeErrorBody, describeRef, type RegistryErrorContext } from './errors.js';
import { MANIFEST_ACCEPT, verifyManifestResponse, stripParams } from './manifest-check.js';
import { isInsecureHost, type RegistryOptions } from './options.js';
import { openResumableBlob } from './blob-stream.js';

/** Manifests above this are refused unread (distribution caps them at 4 MiB). */
export const MAX_MANIFEST_BYTES = 8 << 20;

export type Action = 'pull' | 'push' | 'delete';

function asList(x: string | string[] | undefined): string[] {
  return x === undefined ? [] : Array.isArray(x) ? x : [x];
}

export class RegistryClient {
  readonly registry: string;
  readonly apiHost: string;
  readonly transport: Transport;
  readonly auth: Authenticator;
  /** Repositories in this registry known to hold a blob (for cross-repo mounts). */
  private readonly blobHomes = new Map<string, Set<string>>();

  constructor(registry: string, readonly options: RegistryOptions = {}) {
    this.registry = registry;
    this.apiHost = registryApiHost(registry);
    const insecure = isInsecureHost(registry, options.insecure) || isInsecureHost(this.apiHost, options.insecure);
    this.transport = new Transport(registry, this.apiHost, {
      caFiles: [...asList(options.caFile), ...asList(options.caFiles?.[registry])],
      insecure,
      concurrency: options.concurrency ?? 6,
      attempts: options.attempts ?? 4,
      backoffMs: options.backoffMs ?? 250,
      maxRetryAfterMs: options.maxRetryAfterMs ?? 60_000,
      timeoutMs: options.timeoutMs ?? 60_000,
      userAgent: options.userAgent ?? 'ferry/0.1',
      ...(options.onRetry ? { onRetry: (i) => options.onRetry!({ registry, ...i }) } : {}),
    });
    this.auth = new Authenticator(registry, this.transport, options);
  }

  ctx(repository?: string, reference?: string): RegistryErrorContext {
    return { registry: this.registry, ...(repository !== undefined ? { repository } : {}), ...(reference !== undefined ? { reference } : {}) };
  }

  /**
   * Low level: one request with auth. A 401 is answered by learning the challenge (and getting
   * a token) and retrying once; a final 401/403 becomes REGISTRY_AUTH. Other statuses are the
   * caller's to judge. Does not take a concurrency slot (callers do).
   */
  async send(req: HttpRequest, ctx: RegistryErrorContext, actions: Action[] = ['pull'], extraScopes: string[] = []): Promise<HttpResponse> {
    const repo = ctx.repository;
    const scopes = [...(repo ? [repositoryScope(repo, actions)] : []), ...extraScopes];
    const withAuth = (a: string | undefined): HttpRequest => (a ? { ...req, headers: { ...req.headers, Authorization: a } } : req);
    let auth = await this.auth.authorize(scopes, repo, ctx);
    let res = await this.transport.send(withAuth(auth), ctx);
    const replayable = req.body === undefined || Buffer.isBuffer(req.body);
    if (res.status === 401 && replayable) {
      const retry = await this.auth.onUnauthorized(res, scopes, auth, repo);
      if (retry) {
        res.body.resume();
        auth = await this.auth.authorize(retry, repo, ctx);
        res = await this.transport.send(withAuth(auth), ctx);
      }
    }
    if (res.status === 401 || res.status === 403) {
      const body = await readBody(res, 64 << 10).catch(() => Buffer.alloc(0));
      throw unauthorizedError(ctx, res, body.toString('utf8'), await this.auth.credentialsFor(repo).catch(() => undefined));
    }
    return res;
  }

  /** FerryError for an unexpected status; 404 → SOURCE_NOT_FOUND, 429 names the rate limit. */
  async statusError(res: HttpResponse, ctx: RegistryErrorContext, what: string): Promise<FerryError> {
    const body = res.status === 0 ? '' : (await readBody(res, 64 << 10).catch(() => Buffer.alloc(0))).toString('utf8');
    const s = summarizeErrorBody(body);
    const detail = s.text ? `: ${s.text}` : '';
    const extra = { status: res.status, ...(s.code ? { registryCode: s.code } : {}) };
    if (res.status === 404) {
      const msg = s.code === 'NAME_UNKNOWN'
        ? `${what} ${describeRef(ctx)}: repository ${ctx.repository ?? ''} not found in registry ${ctx.registry} (HTTP 404${detail})`
        : `${what} ${describeRef(ctx)} not found in registry ${ctx.registry} (HTTP 404${detail})`;
      return registryError('SOURCE_NOT_FOUND', ctx, msg, extra);
    }
    if (res.status === 429) {
      const ra = header(res, 'retry-after');
      return registryError('REGISTRY_ERROR', ctx, `${what} ${describeRef(ctx)}: registry ${ctx.registry} is rate limiting us (HTTP 429${ra ? `, Retry-After ${ra}` : ''}${detail})`, extra);
    }
    return registryError('REGISTRY_ERROR', ctx, `${what} ${describeRef(ctx)}: registry ${ctx.registry} answered HTTP ${res.status}${detail}`, extra);
  }

  /** GET /v2/: reachable, TLS fine, credentials accepted. */
  async ping(): Promise<void> {
    const ctx = this.ctx();
    await this.transport.slots.run(async () => {
      const res = await this.send({ method: 'GET', url: '/v2/' }, ctx, [], []);
      res.body.resume();
      if (res.status !== 200) throw await this.statusError(res, ctx, 'ping');
    });
  }

  /** A manifest or index by tag or digest, as exact bytes, verified (see manifest-check.ts). */
  async getManifest(repository: string, reference: string): Promise<ManifestBytes> {
    this.checkReference(repository, reference);
    const ctx = this.ctx(repository, reference);
    return this.transport.slots.run(async () => {
      const res = await this.send({ method: 'GET', url: `/v2/${repository}/manifests/${reference}`, headers: { Accept: MANIFEST_ACCEPT } }, ctx);
      if (res.status !== 200) throw await this.statusError(res, ctx, 'manifest');
      let bytes: Buffer;
      try {
        bytes = await readBody(res, MAX_MANIFEST_BYTES);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ETOOBIG') throw registryError('SOURCE_INVALID', ctx, `manifest ${describeRef(ctx)} is larger than ${MAX_MANIFEST_BYTES} bytes`, { status: res.status });
        throw registryError('REGISTRY_ERROR', ctx, `reading manifest ${describeRef(ctx)} from registry ${this.registry} failed: ${(e as Error).message}`, { status: res.status, cause: e });
      }
      const dcd = header(res, 'docker-content-digest');
      const ct = header(res, 'content-type');
      const descriptor = verifyManifestResponse(bytes, { requested: reference, ...(ct !== undefined ? { contentType: ct } : {}), ...(dcd !== undefined ? { dockerContentDigest: dcd } : {}) }, ctx);
      return { descriptor, bytes };
    });
  }

  /** Descriptor of a manifest without downloading it (HEAD; not counted as a pull on Docker Hub), or undefined if absent. */
  async headManifest(repository: string, reference: string): Promise<Descriptor | undefined> {
    this.checkReference(repository, reference);
    const ctx = this.ctx(repository, reference);
    const d = await this.transport.slots.run(async () => {
      const res = await this.send({ method: 'HEAD', url: `/v2/${repository}/manifests/${reference}`, headers: { Accept: MANIFEST_ACCEPT } }, ctx);
      res.body.resume();
      if (res.status === 404) return null;
      if (res.status !== 200) throw await this.statusError(res, ctx, 'manifest');
      const digest = header(res, 'docker-content-digest');
      const size = Number(header(res, 'content-length'));
      const mediaType = stripParams(header(res, 'content-type'));
      if (!digest || !isSha256Digest(digest) || !Number.isFinite(size) || !mediaType) return undefined;
      return { mediaType, digest, size } satisfies Descriptor;
    });
    if (d === null) return undefined;
    // No usable Docker-Content-Digest on HEAD: fall back to GET and hash the bytes.
    return d ?? (await this.getManifest(repository, reference)).descriptor;
  }

  /** Refuse digests that are not sha256 before they go into a URL (they come from manifests we do not control). */
  checkDigest(repository: string, digest: string): void {
    if (!isSha256Digest(digest)) {
      throw registryError('SOURCE_INVALID', this.ctx(repository), `${this.registry}/${repository}: "${digest.slice(0, 100)}" is not a sha256 digest`);
    }
  }

  /** A manifest reference is a tag or a sha256 digest; anything else never reaches a URL. */
  checkReference(repository: string, reference: string): void {
    if (reference.includes(':')) this.checkDigest(repository, reference);
    else if (!/^[\w][\w.-]{0,127}$/.test(reference)) {
      throw registryError('SOURCE_INVALID', this.ctx(repository), `${this.registry}/${repository}: "${reference.slice(0, 140)}" is not a valid tag`);
    }
  }

  /** Does the repository hold this blob? (HEAD) */
  async blobExists(repository: string, digest: string): Promise<boolean> {
    this.checkDigest(repository, digest);
    const ctx = this.ctx(repository, digest);
    return this.transport.slots.run(async () => {
      const res = await this.send({ method: 'HEAD', url: `/v2/${repository}/blobs/${digest}` }, ctx);
      res.body.resume();
      if (res.status === 200) { this.noteBlob(repository, digest); return true; }
      if (res.status === 404) return false;
      throw await this.statusError(res, ctx, 'blob');
    });
  }

  /**
   * A blob as a stream that checks size and digest (it errors with BLOB_MISMATCH before
   * ending otherwise) and resumes with Range after a dropped connection. Holds a concurrency
   * slot until the stream ends or is destroyed: consume or destroy it. `hash: false` leaves
   * the digest check to a caller that hashes anyway (the size is still enforced).
   */
  async openBlob(repository: string, desc: Descriptor, opts: { hash?: boolean } = {}): Promise<Readable> {
    this.checkDigest(repository, desc.digest);
    return openResumableBlob(this, repository, desc, { resumeAttempts: this.options.resumeAttempts ?? 5, backoffMs: this.options.backoffMs ?? 250, hash: opts.hash ?? true });
  }

  /**
   * Does the repository exist? One GET of its tag list: 200 → true, 404 with the spec's
   * NAME_UNKNOWN → false. Anything else (a 404 without that code, a list the account may not
   * read, an error) → undefined: unknown, and the caller asks about each thing as before.
   */
  async repositoryExists(repository: string): Promise<boolean | undefined> {
    const ctx = this.ctx(repository);
    try {
      return await this.transport.slots.run(async () => {
        const res = await this.send({ method: 'GET', url: `/v2/${repository}/tags/list?n=1` }, ctx, ['pull', 'push']);
        if (res.status === 200) {
          res.body.resume();
          return true;
        }
        const body = await readBody(res, 64 << 10).catch(() => Buffer.alloc(0));
        return res.status === 404 && summarizeErrorBody(body.toString('utf8')).code === 'NAME_UNKNOWN' ? false : undefined;
      });
    } catch {
      return undefined;
    }
  }

  /** Every tag of a repository, following `Link: rel="next"` pages. */
  async listTags(repository: string): Promise<string[]> {
    const ctx = this.ctx(repository);
    const tags: string[] = [];
    let url: string | URL = `/v2/${repository}/tags/list?n=1000`;
    for (let page = 0; page < 10_000; page++) {
      const res = await this.transport.slots.run(() => this.send({ method: 'GET', url }, ctx));
      if (res.status !== 200) throw await this.statusError(res, ctx, 'tag list of');
      const body = await readBody(res, 32 << 20);
      let j: { tags?: unknown };
      try {
        j = JSON.parse(body.toString('utf8')) as typeof j;
      } catch {
        throw registryError('REGISTRY_ERROR', ctx, `tag list of ${describeRef(ctx)} from registry ${this.registry} is not JSON`, { status: res.status });
      }
      if (Array.isArray(j.tags)) for (const t of j.tags) if (typeof t === 'string') tags.push(t);
      const next = nextLink(header(res, 'link'), res.url);
      if (!next) break;
      url = next;
    }
    return tags;
  }

  noteBlob(repository: string, digest: string): void {
    let s = this.blobHomes.get(digest);
    if (!s) this.blobHomes.set(digest, (s = new Set()));
    s.add(repository);
  }

  /** Other repositories of this registry known (this session) to hold the blob. */
  blobHomesOf(digest: string, except?: string): string[] {
    return [...(this.blobHomes.get(digest) ?? [])].filter((r) => r !== except);
  }

  close(): void {
    this.transport.close();
  }
}

/** `Link: <url>; rel="next"` → absolute URL (DD3 sends a relative one). */
export function nextLink(link: string | undefined, base: URL): URL | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const m = /<([^>]*)>\s*;(.*)$/.exec(part.trim());
    if (m && /rel\s*=\s*"?next"?/i.test(m[2]!)) return new URL(m[1]!, base);
  }
  return undefined;
}

/** One client per registry, sharing options (and so credentials, CA files, insecure list). */
export class RegistryClients {
  private readonly clients = new Map<string, RegistryClient>();
  constructor(readonly options: RegistryOptions = {}) {}

  get(registry: string): RegistryClient {
    let c = this.clients.get(registry);
    if (!c) this.clients.set(registry, (c = new RegistryClient(registry, this.options)));
    return c;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
