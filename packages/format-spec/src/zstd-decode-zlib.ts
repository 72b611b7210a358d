// zstd decoding with node:zlib (Node >= 22.15, and the runtime inside the ferry-load
// executable, which cannot load a native addon). node:zlib's decompressor stops at the end of
// the first frame in one input chunk and silently drops what follows it, so the input is cut
// at frame ends (zstd-frame-walker.ts) and fed one frame piece per write; the walker also
// judges every frame's magic before the decoder sees the frame, and the seek table is never
// fed to it. libzstd still checks every content checksum and the window limit.

import { once } from 'node:events';
import * as zlib from 'node:zlib';
import { DECODER_WINDOW_LOG_MAX, type DecodeOptions } from './zstd-decode-options.js';
import { ZstdFrameWalker, type WalkProblem } from './zstd-frame-walker.js';

/** The zlib API of a runtime with zstd (absent from the Node 20 type definitions). */
interface ZstdZlib {
  createZstdDecompress(options: { chunkSize?: number; params?: Record<number, number> }): zlib.Zlib & NodeJS.ReadWriteStream & { destroy(err?: Error): void; destroyed: boolean };
  constants: Record<string, number>;
}

/** Whether this runtime's node:zlib decodes zstd. */
export function zlibHasZstd(): boolean {
  return typeof (zlib as unknown as Partial<ZstdZlib>).createZstdDecompress === 'function';
}

export async function* decodeZstdWithZlib(source: AsyncIterable<Buffer>, opts: DecodeOptions): AsyncGenerator<Buffer, void, undefined> {
  const z = zlib as unknown as ZstdZlib;
  const windowParam = z.constants.ZSTD_d_windowLogMax;
  const chunkBytes = opts.chunkBytes ?? 1024 * 1024;
  const dec = z.createZstdDecompress({ chunkSize: chunkBytes, ...(windowParam !== undefined ? { params: { [windowParam]: DECODER_WINDOW_LOG_MAX } } : {}) });
  const walker = new ZstdFrameWalker();
  const problemError = (p: WalkProblem): Error =>
    p.kind === 'skippable' ? (opts.onSkippable ? opts.onSkippable(p.offset, p.message) : opts.onCorrupt(p.message)) : opts.onCorrupt(p.message);
  /** What the walker found wrong: thrown once the decoder has handed over what came before it
   *  (the error is made then: its message may describe how far the consumer got). */
  let walkProblem: WalkProblem | undefined;
  /** An error of the input itself (reading the file): thrown as is. */
  let sourceError: unknown;
  let sourceFailed = false;
  const stop = new AbortController();

  /** Wait for the decoder to take more; false when it failed or was stopped (the reading side reports why). */
  const drained = async (): Promise<boolean> => {
    try {
      await once(dec, 'drain', { signal: stop.signal });
      return true;
    } catch {
      return false;
    }
  };
  const feed = async (): Promise<void> => {
    try {
      for await (const chunk of source) {
        const step = walker.push(chunk);
        for (const piece of step.pieces) {
          if (piece.kind !== 'zstd' || piece.bytes.length === 0) continue;
          if (!dec.write(piece.bytes) && !(await drained())) return;
        }
        if (step.problem) {
          walkProblem = step.problem;
          break;
        }
      }
      walkProblem ??= walker.end();
      dec.end();
    } catch (e) {
      // Reading the input failed (the file, a size limit): that is the error to report.
      if (stop.signal.aborted) return;
      sourceFailed = true;
      sourceError = e;
      dec.destroy(e instanceof Error ? e : new Error(String(e)));
    }
  };
  const feeding = feed();

  let total = 0;
  let tooLarge = false;
  try {
    try {
      for await (const out of dec as AsyncIterable<Buffer>) {
        total += out.length;
        if (total > opts.maxOutput) {
          // Hand over what is within the limit first, so the consumer can judge it.
          const allowed = out.length - (total - opts.maxOutput);
          if (allowed > 0) yield out.subarray(0, allowed);
          tooLarge = true;
          break;
        }
        yield out;
      }
    } catch (e) {
      if (sourceFailed) throw sourceError;
      if (walkProblem) throw problemError(walkProblem); // e.g. libzstd's complaint about a truncated frame
      throw isZstdError(e) ? opts.onCorrupt(`zstd: ${e.message}`) : e;
    }
    if (tooLarge) throw opts.onTooLarge(opts.maxOutput);
    await feeding;
    if (sourceFailed) throw sourceError;
    if (walkProblem) throw problemError(walkProblem);
  } finally {
    stop.abort();
    if (!dec.destroyed) dec.destroy();
  }
}

/** An error libzstd reported through node:zlib (code ZSTD_error_…). */
function isZstdError(e: unknown): e is Error {
  const code: unknown = e instanceof Error ? (e as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('ZSTD_');
}
