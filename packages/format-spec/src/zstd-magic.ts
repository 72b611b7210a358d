// Frame magics of zstd (RFC 8878 §3.1.1, §3.1.2) and of the seekable format's seek table.

/** Magic of a zstd frame. */
export const ZSTD_FRAME_MAGIC = 0xfd2fb528;
/** The seek table's skippable frame (facebook/zstd contrib/seekable_format). */
export const SEEKABLE_SKIPPABLE_MAGIC = 0x184d2a5e;
export const SEEKABLE_FOOTER_MAGIC = 0x8f92eab1;

/** Skippable frames have magics 0x184D2A50..0x184D2A5F. */
export function isSkippableMagic(magic: number): boolean {
  return magic >>> 4 === 0x184d2a5;
}
