// Pushing blobs and manifests. Small blobs: POST then one PUT (the whole attempt is replayed on
// failure). Large blobs: POST, then PATCH requests streamed straight from the source (at most
// `uploadChunkSize` bytes each, Content-Range set for registries that check it), then PUT
// ?digest= — the bytes are hashed on the way and the PUT that makes the blob visible is only
// sent when size and digest match. Cross-repo mounts are tried first when another repository
// of the registry is known to hold the blob. distribution 2.8 ignores ?digest= on POST, so a
// single-request upload is never attempted.

import { Readable } from 'node:stream';
import { FerryError, collectBytes, sha256Digest, verifiedDigestOf, verifying, type Descriptor } from '@ferry/format-spec';
import { registryError, describeRef, type RegistryErrorContext } from './errors.js';
import { header, readBody, type HttpResponse } from './transport.js';
import { repositoryScope } from './auth.js';
import type { RegistryClient } from './client.js';

export type BlobPushResult = 'mounted' | 'uploaded' | 'exists';

export interface PushBlobOptions {
  /** Other repositories of the same registry to try a cross-repo mount from. */
  mountFrom?: string[];
  /** HEAD first and skip the upload if present (the stream is then destroyed unread). */
  skipIfExists?: boolean;
}

function addQuery(location: URL, key: string, value: string): URL {
  // The Location may carry state (?_state=...): add to it, never rebuild it.
  const u = new URL(location);
  u.searchParams.set(key, value);
  return u;
}

function location(res: HttpResponse, ctx: RegistryErrorContext, client: RegistryClient): URL {
  const loc = header(res, 'location');
  if (!loc) throw registryError('REGISTRY_ERROR', ctx, `upload of ${describeRef(ctx)} to registry ${client.registry}: HTTP ${res.status} without a Location header`, { status: res.status });
  return new URL(loc, res.url);
}

/** Open an upload session; with `mountFrom`, ask for a mount first (201 = done, 202 = a session). */
async function startSession(client: RegistryClient, repository: string, digest: string, ctx: RegistryErrorContext, mountFrom?: string): Promise<{ mounted: true } | { mounted: false; location: URL; minChunk: number }> {
  const q = mountFrom ? `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(mountFrom)}` : '';
  const res = await client.send({ method: 'POST', url: `/v2/${repository}/blobs/uploads/${q}` }, ctx, ['pull', 'push'], mountFrom ? [repositoryScope(mountFrom, ['pull'])] : []);
  if (mountFrom && res.status === 201) {
    res.body.resume();
    return { mounted: true };
  }
  if (res.status !== 202) throw await client.statusError(res, ctx, 'blob upload');
  res.body.resume();
  return { mounted: false, location: location(res, ctx, client), minChunk: Number(header(res, 'oci-chunk-min-length') ?? 0) || 0 };
}

async function finish(client: RegistryClient, loc: URL, desc: Descriptor, ctx: RegistryErrorContext, body?: Buffer): Promise<void> {
  const res = await client.send({ method: 'PUT', url: addQuery(loc, 'digest', desc.digest), headers: { 'Content-Type': 'application/octet-stream' }, ...(body ? { body } : {}) }, ctx, ['pull', 'push']);
  if (res.status !== 201) throw await client.statusError(res, ctx, 'blob upload');
  res.body.resume();
  const dcd = header(res, 'docker-content-digest');
  if (dcd && dcd !== desc.digest) {
    throw registryError('REGISTRY_ERROR', ctx, `registry ${client.registry} stored blob ${describeRef(ctx)} as ${dcd}`, { status: res.status });
  }
}

function mismatch(ctx: RegistryErrorContext, desc: Descriptor, what: string): FerryError {
  return registryError('BLOB_MISMATCH', ctx, `blob ${desc.digest} for ${describeRef(ctx)}: ${what}; nothing was made visible in the registry`);
}

/** Collect a small blob fully (the source is a verifying stream: it errors instead of ending wrong). */
async function collect(data: Readable, desc: Descriptor, ctx: RegistryErrorContext): Promise<Buffer> {
  const buf = await collectBytes(data, desc.size, `blob ${desc.digest} for ${describeRef(ctx)}`);
  if (buf.length !== desc.size) throw mismatch(ctx, desc, `source gave ${buf.length} bytes, expected ${desc.size}`);
  return buf;
}

/** The one place upload bytes are checked: a source not verified upstream goes through a VerifyingStream. */
function verified(data: Readable | Buffer, desc: Descriptor, ctx: RegistryErrorContext): Readable {
  const src = Buffer.isBuffer(data) ? Readable.from([data], { objectMode: false }) : data;
  if (verifiedDigestOf(src) === desc.digest) return src;
  const v = verifying(src, desc.digest, desc.size, { where: `the upload of ${describeRef(ctx)}` });
  v.on('error', () => undefined); // surfaces when read
  return v;
}

/** Hands out consecutive byte slices of one (verifying) source as separate streams. */
class Slicer {
  private readonly it: AsyncIterator<Buffer>;
  private leftover: Buffer | undefined;
  consumed = 0;

  /** `src` is a verifying stream: its last bytes come only if all of them matched. */
  constructor(src: Readable, private readonly desc: Descriptor, private readonly ctx: RegistryErrorContext) {
    this.it = (src as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  slice(n: number): Readable {
    const self = this;
    return Readable.from((async function* () {
      let left = n;
      while (left > 0) {
        let chunk = self.leftover;
        self.leftover = undefined;
        if (!chunk) {
          const r = await self.it.next();
          if (r.done) throw mismatch(self.ctx, self.desc, `source ended after ${self.consumed} bytes, expected ${self.desc.size}`);
          chunk = r.value;
        }
        if (chunk.length > left) {
          self.leftover = chunk.subarray(left);
          chunk = chunk.subarray(0, left);
        }
        left -= chunk.length;
        self.consumed += chunk.length;
        yield chunk;
      }
    })(), { objectMode: false });
  }

  /** After the last slice: the source must be exhausted. */
  async assertEnd(): Promise<void> {
    if (this.leftover?.length) throw mismatch(this.ctx, this.desc, `source gave more than the expected ${this.desc.size} bytes`);
    for (;;) {
      const r = await this.it.next();
      if (r.done) return;
      if (r.value.length) {
        await this.it.return?.();
        throw mismatch(this.ctx, this.desc, `source gave more than the expected ${this.desc.size} bytes`);
      }
    }
  }
}

/**
 * Push one blob; the stream is verified against `desc` and the blob only becomes visible when
 * it matches. Returns how it got there.
 */
export async function pushBlob(client: RegistryClient, repository: string, desc: Descriptor, data: Readable | Buffer, opts: PushBlobOptions = {}): Promise<BlobPushResult> {
  client.checkDigest(repository, desc.digest);
  const ctx = client.ctx(repository, desc.digest);
  // The source may fail (a verification error) while the session is still being opened: the
  // error stays on the stream and surfaces when it is read, never as an unhandled event.
  if (!Buffer.isBuffer(data)) data.on('error', () => undefined);
  data = verified(data, desc, ctx);
  const release = await client.transport.slots.acquire();
  try {
    if (opts.skipIfExists) {
      const res = await client.send({ method: 'HEAD', url: `/v2/${repository}/blobs/${desc.digest}` }, ctx);
      res.body.resume();
      if (res.status === 200) {
        if (!Buffer.isBuffer(data)) data.destroy();
        client.noteBlob(repository, desc.digest);
        return 'exists';
      }
    }
    const from = opts.mountFrom?.find((r) => r !== repository);
    let session = await startSession(client, repository, desc.digest, ctx, from);
    if (session.mounted) {
      if (!Buffer.isBuffer(data)) data.destroy();
      client.noteBlob(repository, desc.digest);
      return 'mounted';
    }
    const small = desc.size <= (client.options.monolithicUploadMax ?? 8 << 20);
    if (small) {
      const buf = await collect(data, desc, ctx);
      // The buffer can be replayed: a failed attempt gets a fresh session (a half-written one
      // cannot be resumed on distribution 2.8).
      const attempts = client.options.attempts ?? 4;
      for (let i = 1; ; i++) {
        try {
          await finish(client, session.location, desc, ctx, buf);
          break;
        } catch (e) {
          if (i >= attempts || (e instanceof FerryError && e.code !== 'REGISTRY_ERROR')) throw e;
          const s = await startSession(client, repository, desc.digest, ctx);
          if (s.mounted) break;
          session = s;
        }
      }
    } else {
      const chunkSize = Math.max(client.options.uploadChunkSize ?? 64 << 20, session.minChunk, 1);
      const slicer = new Slicer(data, desc, ctx);
      let loc = session.location;
      while (slicer.consumed < desc.size) {
        const start = slicer.consumed;
        const n = Math.min(chunkSize, desc.size - start);
        const res = await client.send({
          method: 'PATCH',
          url: loc,
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${start}-${start + n - 1}` },
          body: slicer.slice(n),
          contentLength: n,
        }, ctx, ['pull', 'push']);
        if (res.status !== 202) throw await client.statusError(res, ctx, 'blob upload (PATCH)');
        res.body.resume();
        loc = location(res, ctx, client);
      }
      // The verifying source ended, so it matched: only now is the blob made visible.
      await slicer.assertEnd();
      await finish(client, loc, desc, ctx);
    }
    client.noteBlob(repository, desc.digest);
    return 'uploaded';
  } catch (e) {
    if (!Buffer.isBuffer(data) && !data.destroyed) data.destroy();
    throw e;
  } finally {
    release();
  }
}

/**
 * Cross-repo mount without the bytes at hand: true when the registry mounted it (201). A 202
 * opens an ordinary upload session, which is useless without the bytes; it is left to the
 * registry's upload purging (cancelling needs the `delete` action tokens rarely carry).
 */
export async function mountBlob(client: RegistryClient, repository: string, desc: Descriptor, from: string): Promise<boolean> {
  client.checkDigest(repository, desc.digest);
  if (from === repository) return true;
  const ctx = client.ctx(repository, desc.digest);
  const s = await client.transport.slots.run(() => startSession(client, repository, desc.digest, ctx, from));
  if (s.mounted) client.noteBlob(repository, desc.digest);
  return s.mounted;
}

/**
 * Before the first byte of a push: may we push to `repository`? Opens an upload session (the
 * registry checks the push permission there) and cancels it, best effort.
 */
export async function checkPushAllowed(client: RegistryClient, repository: string): Promise<void> {
  const ctx = client.ctx(repository);
  await client.transport.slots.run(async () => {
    const s = await startSession(client, repository, 'sha256:' + '0'.repeat(64), ctx);
    if (s.mounted) return;
    const res = await client.send({ method: 'DELETE', url: s.location }, ctx, ['pull', 'push']).catch(() => undefined);
    res?.body.resume();
  });
}

export interface ManifestPushResult {
  digest: string;
  /** The registry answered OCI-Subject: it indexes referrers itself. */
  subjectProcessed: boolean;
}

/** PUT a manifest's exact bytes under a tag or its digest, with its media type as Content-Type. */
export async function putManifest(client: RegistryClient, repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<ManifestPushResult> {
  client.checkReference(repository, reference);
  const ctx = client.ctx(repository, reference);
  const digest = sha256Digest(bytes);
  if (reference.includes(':') && reference !== digest) {
    throw registryError('BLOB_MISMATCH', ctx, `manifest for ${describeRef(ctx)} hashes to ${digest}; refusing to push it under another digest`);
  }
  return client.transport.slots.run(async () => {
    const res = await client.send({ method: 'PUT', url: `/v2/${repository}/manifests/${reference}`, headers: { 'Content-Type': mediaType }, body: bytes }, ctx, ['pull', 'push']);
    if (res.status !== 201 && res.status !== 200) {
      // distribution answers 400 MANIFEST_BLOB_UNKNOWN when a child is missing: the message names it.
      throw await client.statusError(res, ctx, 'manifest push');
    }
    await readBody(res, 64 << 10).catch(() => undefined);
    const dcd = header(res, 'docker-content-digest');
    if (dcd && dcd !== digest) {
      throw registryError('REGISTRY_ERROR', ctx, `registry ${client.registry} stored manifest ${describeRef(ctx)} as ${dcd}, but its bytes hash to ${digest}`, { status: res.status });
    }
    return { digest, subjectProcessed: header(res, 'oci-subject') !== undefined };
  });
}

/**
 * A chunked upload kept open across calls (and runs): the loader sends a split blob's segments
 * into it as their volumes arrive, so the blob is never copied whole to disk. The session's
 * Location (with distribution's `_state` HMAC, no credentials) is what a journal records.
 */
export interface UploadSession {
  repository: string;
  location: string;
  /** Bytes the registry holds in the session. */
  offset: number;
}

/** Open a chunked upload session in `repository`. */
export async function openUploadSession(client: RegistryClient, repository: string, digest: string): Promise<UploadSession> {
  const ctx = client.ctx(repository, digest);
  const s = await client.transport.slots.run(() => startSession(client, repository, digest, ctx));
  if (s.mounted) throw new FerryError('INTERNAL', 'a plain upload session was answered as a mount');
  return { repository, location: s.location.toString(), offset: 0 };
}

/**
 * Where a session stands (GET on its Location: 204 with `Range: 0-<last>`), or undefined when
 * the registry no longer knows it (404: purged, or the registry lost it).
 */
export async function uploadSessionStatus(client: RegistryClient, session: UploadSession, digest: string): Promise<UploadSession | undefined> {
  const ctx = client.ctx(session.repository, digest);
  return client.transport.slots.run(async () => {
    const res = await client.send({ method: 'GET', url: new URL(session.location) }, ctx, ['pull', 'push']);
    res.body.resume();
    if (res.status === 404) return undefined;
    if (res.status !== 204 && res.status !== 200) throw await client.statusError(res, ctx, 'blob upload status of');
    const range = header(res, 'range');
    const m = range ? /^(?:bytes=)?0-(\d+)$/.exec(range) : null;
    const loc = header(res, 'location');
    // `0-0` is also what an empty session answers (distribution clamps it): trust the caller's
    // offset when it is 0 or 1 and the registry says 0-0.
    const end = m ? Number(m[1]) : -1;
    const offset = end === 0 && session.offset <= 1 ? session.offset : end + 1;
    return { repository: session.repository, location: loc ? new URL(loc, res.url).toString() : session.location, offset };
  });
}

/** Append `size` bytes from `data` at the session's offset; the new state (Location moves on). */
export async function appendToUploadSession(client: RegistryClient, session: UploadSession, digest: string, data: Readable, size: number): Promise<UploadSession> {
  const ctx = client.ctx(session.repository, digest);
  data.on('error', () => undefined); // surfaces through the request body
  return client.transport.slots.run(async () => {
    const res = await client.send({
      method: 'PATCH',
      url: new URL(session.location),
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${session.offset}-${session.offset + size - 1}` },
      body: data,
      contentLength: size,
    }, ctx, ['pull', 'push']);
    if (res.status !== 202) throw await client.statusError(res, ctx, 'blob upload (PATCH)');
    res.body.resume();
    return { repository: session.repository, location: location(res, ctx, client).toString(), offset: session.offset + size };
  });
}

/** Close the session with the whole blob's digest: the registry checks it and makes the blob visible. */
export async function closeUploadSession(client: RegistryClient, session: UploadSession, desc: Descriptor): Promise<void> {
  const ctx = client.ctx(session.repository, desc.digest);
  await client.transport.slots.run(() => finish(client, new URL(session.location), desc, ctx));
  client.noteBlob(session.repository, desc.digest);
}
