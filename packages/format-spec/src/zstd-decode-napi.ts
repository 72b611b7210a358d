// zstd decoding with zstd-napi's low-level binding (the native addon; Node 20 has no zstd).
// It pulls input only when the consumer wants more output, so a bomb stops at maxOutput
// (zstd-napi's DecompressStream would push a whole input chunk's output in one go).

// binding.js is CommonJS (module.exports = the native addon): import it whole.
import binding from 'zstd-napi/binding.js';
import { DECODER_WINDOW_LOG_MAX, type DecodeOptions } from './zstd-decode-options.js';
import { SEEKABLE_SKIPPABLE_MAGIC, ZSTD_FRAME_MAGIC, isSkippableMagic } from './zstd-magic.js';

const hex32 = (n: number): string => `0x${n.toString(16).toUpperCase().padStart(8, '0')}`;

/**
 * Decompress a zstd stream (any number of frames, then at most one skippable frame: the seek
 * table) chunk by chunk, pulling input only when the consumer wants more output, and refusing
 * to produce more than maxOutput bytes. Content checksums are verified by libzstd.
 *
 * Frame boundaries: decompressStream returns 0 exactly when a frame has been decoded and
 * flushed, having consumed the input up to that frame's end and no further (checked against
 * every chunking down to one byte, skippable and empty frames included). So the next four input
 * bytes, which may straddle chunks, are the next frame's magic; each is checked before libzstd
 * sees the frame.
 *
 * Each input chunk is done with (decoded, or the few bytes kept copied) before the next is
 * asked for, so the source may reuse one buffer for all of them (decoderReleasesInput).
 */
export async function* decodeZstdWithNapi(source: AsyncIterable<Buffer>, opts: DecodeOptions): AsyncGenerator<Buffer, void, undefined> {
  const dctx = new binding.DCtx();
  dctx.setParameter(binding.DParameter.windowLogMax, DECODER_WINDOW_LOG_MAX);
  const chunkBytes = opts.chunkBytes ?? 1024 * 1024;
  const skippable = (offset: number, message: string): Error => (opts.onSkippable ? opts.onSkippable(offset, message) : opts.onCorrupt(message));
  let total = 0;
  let inFrame = false;
  let sawInput = false;
  /** Compressed bytes libzstd has consumed: the offset of the next byte it will see. */
  let consumedTotal = 0;
  /** At a frame start whose magic is not checked yet. */
  let atFrameStart = true;
  /** Offset of the skippable frame seen (the seek table); nothing may follow it. */
  let skippableAt = -1;
  /** The first bytes of a frame start, held back until the magic is complete. */
  let carry: Buffer | null = null;
  let dst = Buffer.allocUnsafe(chunkBytes);
  for await (const input of source) {
    if (input.length === 0) continue;
    sawInput = true;
    let src: Buffer = carry ? Buffer.concat([carry, input]) : input;
    carry = null;
    for (;;) {
      if (atFrameStart) {
        if (src.length < 4) {
          carry = src.length ? Buffer.from(src) : null;
          break;
        }
        const magic = src.readUInt32LE(0);
        const at = consumedTotal;
        // Anything that is neither a zstd nor a skippable frame is left to libzstd, which refuses
        // it as "Unknown frame descriptor" (no legacy formats are compiled in): damage, not hostility.
        if (skippableAt >= 0 && (magic === ZSTD_FRAME_MAGIC || isSkippableMagic(magic))) {
          throw skippable(at, `a ${magic === ZSTD_FRAME_MAGIC ? 'zstd frame' : `skippable frame (magic ${hex32(magic)})`} at offset ${at} follows the seek table at offset ${skippableAt}; the seek table is always the last frame`);
        }
        if (isSkippableMagic(magic)) {
          if (magic !== SEEKABLE_SKIPPABLE_MAGIC) throw skippable(at, `a skippable frame with magic ${hex32(magic)} at offset ${at}; the only skippable frame Ferry writes is the seek table (${hex32(SEEKABLE_SKIPPABLE_MAGIC)}), last`);
          skippableAt = at;
        }
        atFrameStart = false;
      }
      let ret: number;
      let produced: number;
      let consumed: number;
      try {
        [ret, produced, consumed] = dctx.decompressStream(dst, src);
      } catch (e) {
        throw opts.onCorrupt(`zstd: ${e instanceof Error ? e.message : String(e)}`);
      }
      src = src.subarray(consumed);
      consumedTotal += consumed;
      const full = produced === dst.length;
      if (produced > 0) {
        total += produced;
        if (total > opts.maxOutput) {
          // Hand over what is within the limit first, so the consumer can judge it.
          const allowed = produced - (total - opts.maxOutput);
          if (allowed > 0) yield Buffer.from(dst.subarray(0, allowed));
          throw opts.onTooLarge(opts.maxOutput);
        }
        let out: Buffer;
        if (produced < dst.length / 4) {
          out = Buffer.from(dst.subarray(0, produced)); // small: copy, keep the big buffer
        } else {
          out = dst.subarray(0, produced);
          dst = Buffer.allocUnsafe(chunkBytes);
        }
        yield out;
      }
      // ret 0: a frame just ended, and src starts at the next one.
      if (ret === 0) atFrameStart = true;
      // A full output buffer may mean more output is pending.
      if (src.length === 0 && (!full || ret === 0)) {
        inFrame = ret !== 0;
        break;
      }
    }
  }
  if (!sawInput) throw opts.onCorrupt('empty file, no zstd frame');
  if (inFrame || carry) throw opts.onCorrupt('the zstd stream ends in the middle of a frame (truncated)');
}
