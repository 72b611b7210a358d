// What every zstd decoder of Ferry takes (zstd-decode-napi.ts, zstd-decode-zlib.ts).

/** Decoder window cap: 2^23 = 8 MiB, the spec's interoperability limit. Levels 1..19 never need
 *  more, and a hostile frame cannot make the reader allocate a larger window. */
export const DECODER_WINDOW_LOG_MAX = 23;

export interface DecodeOptions {
  /** Most decompressed bytes accepted; one more is an error. */
  maxOutput: number;
  /** Called when maxOutput would be exceeded; its error is thrown. */
  onTooLarge: (limit: number) => Error;
  /** Called for a libzstd error (an unknown frame magic among them) or a stream that ends inside a frame. */
  onCorrupt: (message: string) => Error;
  /** Called for a skippable frame Ferry does not write: the only one allowed is the seek table
   *  (magic 0x184D2A5E) as the last frame, so any other skippable magic, or any frame after a
   *  skippable one, ends here. `offset` is the frame's offset in the compressed input. Default:
   *  onCorrupt(message). */
  onSkippable?: (offset: number, message: string) => Error;
  /** Output chunk size (default 1 MiB). */
  chunkBytes?: number;
}
