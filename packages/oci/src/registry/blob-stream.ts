// Blob download that survives dropped connections: after a reset or early end it asks again
// with `Range: bytes=<received>-` (expects 206 from that offset; a 200 means the server starts
// over, so the prefix already delivered is skipped), a bounded number of times. Size and
// sha256 are checked on the way; a mismatch fails the stream before it ends.

import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { FerryError, verifying, type Descriptor } from '@ferry/format-spec';
import { registryError, describeRef, type RegistryErrorContext } from './errors.js';
import { header, type HttpResponse } from './transport.js';
import type { RegistryClient } from './client.js';

export interface ResumeOptions {
  resumeAttempts: number;
  backoffMs: number;
  /** false: the consumer hashes (ImageSource contract), so skip the second sha256 pass. */
  hash?: boolean;
}

/** Parse `bytes START-END/TOTAL`. */
export function parseContentRange(v: string | undefined): { start: number; end: number; total?: number } | undefined {
  const m = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/.exec((v ?? '').trim());
  if (!m) return undefined;
  return { start: Number(m[1]), end: Number(m[2]), ...(m[3] !== '*' ? { total: Number(m[3]) } : {}) };
}

async function request(client: RegistryClient, repository: string, desc: Descriptor, offset: number, ctx: RegistryErrorContext): Promise<{ res: HttpResponse; skip: number }> {
  const headers: Record<string, string> = offset > 0 ? { Range: `bytes=${offset}-` } : {};
  const res = await client.send({ method: 'GET', url: `/v2/${repository}/blobs/${desc.digest}`, headers }, ctx);
  if (offset > 0 && res.status === 206) {
    const cr = parseContentRange(header(res, 'content-range'));
    if (!cr || cr.start !== offset) {
      res.body.destroy();
      throw registryError('REGISTRY_ERROR', ctx, `resuming blob ${describeRef(ctx)} at byte ${offset}: registry ${client.registry} sent range ${header(res, 'content-range') ?? '(none)'}`, { status: 206 });
    }
    return { res, skip: 0 };
  }
  if (res.status === 200) return { res, skip: offset };
  throw await client.statusError(res, ctx, 'blob');
}

export async function openResumableBlob(client: RegistryClient, repository: string, desc: Descriptor, opts: ResumeOptions): Promise<Readable> {
  const ctx = client.ctx(repository, desc.digest);
  const release = await client.transport.slots.acquire();
  let current: HttpResponse;
  let skip: number;
  try {
    ({ res: current, skip } = await request(client, repository, desc, 0, ctx));
  } catch (e) {
    release();
    throw e;
  }
  let got = 0;
  let resumes = 0;

  async function* body(): AsyncGenerator<Buffer> {
    try {
      for (;;) {
        try {
          for await (const raw of current.body as AsyncIterable<Buffer>) {
            let chunk = raw;
            if (skip > 0) {
              const n = Math.min(skip, chunk.length);
              skip -= n;
              chunk = chunk.subarray(n);
              if (!chunk.length) continue;
            }
            if (got + chunk.length > desc.size) {
              throw registryError('BLOB_MISMATCH', ctx, `blob ${describeRef(ctx)} from registry ${client.registry}: more than the expected ${desc.size} bytes`);
            }
            got += chunk.length;
            yield chunk;
          }
          if (got === desc.size) break;
          throw Object.assign(new Error(`connection ended after ${got} of ${desc.size} bytes`), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
        } catch (e) {
          if (e instanceof FerryError) throw e;
          if (resumes >= opts.resumeAttempts) {
            throw registryError('REGISTRY_ERROR', ctx, `download of blob ${describeRef(ctx)} from registry ${client.registry} broke off at byte ${got} of ${desc.size} after ${resumes} resume(s): ${(e as Error).message}`, { cause: e });
          }
          resumes++;
          current.body.destroy();
          await sleep(Math.min(opts.backoffMs * 2 ** (resumes - 1), 5000));
          ({ res: current, skip } = await request(client, repository, desc, got, ctx));
        }
      }
    } finally {
      release();
    }
  }

  const stream = Readable.from(body(), { objectMode: false, highWaterMark: 1 << 20 });
  // If the stream is destroyed before it was ever read, the generator's finally never runs.
  stream.once('close', () => {
    release();
    if (!current.body.complete) current.body.destroy();
  });
  if (opts.hash === false) return stream;
  // The digest is checked by the one verifying stream (format-spec), which errors before it
  // ends on a mismatch; consumers that see it need not hash again.
  return verifying(stream, desc.digest, desc.size, { where: `registry ${client.registry} (${describeRef(ctx)})` });
}
