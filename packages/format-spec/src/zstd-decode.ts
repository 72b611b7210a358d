// The one zstd decoder entry point: node:zlib's zstd where the runtime has it (Node >= 22.15,
// and the runtime inside the ferry-load executable, which cannot load a native addon), else
// zstd-napi (Node 20). Both refuse the same inputs with the same messages; encoding stays on
// zstd-napi (zstd-frames.ts), which only ferry-bundle uses.

import type { DecodeOptions } from './zstd-decode-options.js';
import { decodeZstdWithNapi } from './zstd-decode-napi.js';
import { decodeZstdWithZlib, zlibHasZstd } from './zstd-decode-zlib.js';

export type ZstdDecoderName = 'node:zlib' | 'zstd-napi';

/** The decoder this process uses. */
export function zstdDecoderName(): ZstdDecoderName {
  return zlibHasZstd() ? 'node:zlib' : 'zstd-napi';
}

/** Whether `decoder` is done with each input chunk when it asks for the next one, so a reader
 *  may read the next chunk into the same buffer: zstd-napi decodes each chunk synchronously
 *  (and copies what it keeps); node:zlib queues chunks and reads them later. */
export function decoderReleasesInput(decoder: ZstdDecoderName = zstdDecoderName()): boolean {
  return decoder === 'zstd-napi';
}

/**
 * Decompress a zstd stream (any number of frames, then at most one skippable frame: the seek
 * table) chunk by chunk, pulling input only as the consumer takes output, and refusing to
 * produce more than maxOutput bytes. Content checksums are verified by libzstd. `decoder`
 * picks one explicitly (tests run both where both exist).
 */
export function decodeZstd(source: AsyncIterable<Buffer>, opts: DecodeOptions, decoder: ZstdDecoderName = zstdDecoderName()): AsyncGenerator<Buffer, void, undefined> {
  return decoder === 'node:zlib' ? decodeZstdWithZlib(source, opts) : decodeZstdWithNapi(source, opts);
}
