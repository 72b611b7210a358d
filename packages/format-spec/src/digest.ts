// Content addressing: every byte Ferry moves passes through one of these.

import { createHash, type Hash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import ssri from 'ssri';
import { FerryError } from './errors.js';

const SHA256_RE = /^sha256:[a-f0-9]{64}$/;

export function isSha256Digest(d: string): boolean {
  return SHA256_RE.test(d);
}

/** The hex part of a sha256 digest; throws on anything else so it can be used in paths safely. */
export function digestHex(d: string): string {
  if (!SHA256_RE.test(d)) throw new FerryError('SCHEMA_INVALID', `not a sha256 digest: ${JSON.stringify(d).slice(0, 100)}`);
  return d.slice(7);
}

export function sha256Digest(data: Uint8Array | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

export interface VerifyContext {
  /** Where the bytes come from, for the error message (volume file, source ref...). */
  where: string;
  /** What the bytes are, for the error message; default the expected digest. A segment of a
   *  split blob says which blob and which segment, since its own digest means nothing to a user. */
  label?: string;
  /** A second, independent hash to check as well: an SRI string (`sha512-…`, as the manifest
   *  records for carried files). */
  integrity?: string;
}

/** The algorithm and expected base64 digest of an SRI string with exactly one sha512 hash. */
function parseIntegrity(integrity: string): { algorithm: string; digest: string } {
  const parsed = ssri.parse(integrity, { single: true });
  if (!parsed || parsed.algorithm !== 'sha512' || !parsed.digest) {
    throw new FerryError('SCHEMA_INVALID', `integrity ${JSON.stringify(integrity).slice(0, 120)} is not one sha512 SRI hash`);
  }
  return { algorithm: parsed.algorithm, digest: parsed.digest };
}

/**
 * Pass-through stream that hashes what flows through it and fails the stream, before it
 * ends, if the size or digest differs from what was expected. Also refuses to pass more bytes
 * than expected, so a lying source cannot make us write or decompress without bound.
 */
export class VerifyingStream extends Transform {
  private readonly hash = createHash('sha256');
  private readonly second?: { hash: Hash; digest: string };
  private seen = 0;

  constructor(
    private readonly expectedDigest: string,
    private readonly expectedSize: number,
    private readonly ctx: VerifyContext,
  ) {
    super();
    digestHex(expectedDigest);
    if (ctx.integrity !== undefined) {
      const { algorithm, digest } = parseIntegrity(ctx.integrity);
      this.second = { hash: createHash(algorithm), digest };
    }
  }

  private get label(): string {
    return this.ctx.label ?? this.expectedDigest;
  }

  /** The digest this stream holds its bytes to. */
  get digest(): string {
    return this.expectedDigest;
  }

  get bytesSeen(): number {
    return this.seen;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.expectedSize) {
      cb(new FerryError('BLOB_MISMATCH', `${this.label} in ${this.ctx.where}: more than the expected ${this.expectedSize} bytes`, { digest: this.expectedDigest, where: this.ctx.where }));
      return;
    }
    this.hash.update(chunk);
    this.second?.hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.seen !== this.expectedSize) {
      cb(new FerryError('BLOB_MISMATCH', `${this.label} in ${this.ctx.where}: ${this.seen} bytes, expected ${this.expectedSize}`, { digest: this.expectedDigest, where: this.ctx.where }));
      return;
    }
    const got = 'sha256:' + this.hash.digest('hex');
    if (got !== this.expectedDigest) {
      cb(new FerryError('BLOB_MISMATCH', `${this.label} in ${this.ctx.where}: content hashes to ${got}`, { digest: this.expectedDigest, actual: got, where: this.ctx.where }));
      return;
    }
    if (this.second && this.second.hash.digest('base64') !== this.second.digest) {
      // The sha256 matched, so the bytes are what the manifest names; its second hash disagrees
      // with them, so the manifest itself is inconsistent.
      cb(new FerryError('ARCHIVE_HOSTILE', `${this.label} in ${this.ctx.where}: the content matches its sha256 but not the manifest's sha512 integrity ${this.ctx.integrity}; the manifest's two hashes disagree`, { digest: this.expectedDigest, where: this.ctx.where }));
      return;
    }
    cb();
  }
}

const VERIFIED = new WeakMap<object, string>();

/**
 * Mark a stream that ends only when its bytes hash to `digest` (it errors first otherwise) — a
 * pass-through fed by a VerifyingStream. Sinks handed such a stream for that digest need not
 * hash it again: every byte is hashed once, at the one place bytes are verified.
 */
export function markVerified<T extends object>(stream: T, digest: string): T {
  VERIFIED.set(stream, digest);
  return stream;
}

/** The digest a stream is known to be verified against, if any. */
export function verifiedDigestOf(stream: object): string | undefined {
  return stream instanceof VerifyingStream ? stream.digest : VERIFIED.get(stream);
}

/**
 * `src` through a VerifyingStream, linked both ways: an error of the source fails the verifier
 * (a bare .pipe() would leave it waiting for an end that never comes), and destroying the
 * verifier stops the source. The result is what sinks receive for bytes not verified upstream.
 */
export function verifying(src: Readable, digest: string, size: number, ctx: VerifyContext): VerifyingStream {
  const v = new VerifyingStream(digest, size, ctx);
  src.on('error', (e) => v.destroy(e));
  v.once('close', () => {
    if (!src.destroyed) src.destroy();
  });
  return src.pipe(v);
}

/** All of a stream's bytes, refusing (BLOB_MISMATCH, `what` named) more than `max`. */
export async function collectBytes(src: AsyncIterable<Buffer> & { destroy?: () => void }, max: number, what: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of src) {
    n += c.length;
    if (n > max) {
      src.destroy?.();
      throw new FerryError('BLOB_MISMATCH', `${what}: more than the expected ${max} bytes`);
    }
    parts.push(c);
  }
  return Buffer.concat(parts, n);
}

/** Check bytes already in memory (manifests). */
export function verifyBytes(bytes: Uint8Array, expectedDigest: string, expectedSize: number, ctx: VerifyContext): void {
  if (bytes.length !== expectedSize) {
    throw new FerryError('BLOB_MISMATCH', `${expectedDigest} in ${ctx.where}: ${bytes.length} bytes, expected ${expectedSize}`, { digest: expectedDigest, where: ctx.where });
  }
  const got = sha256Digest(bytes);
  if (got !== expectedDigest) {
    throw new FerryError('BLOB_MISMATCH', `${expectedDigest} in ${ctx.where}: content hashes to ${got}`, { digest: expectedDigest, actual: got, where: ctx.where });
  }
}
