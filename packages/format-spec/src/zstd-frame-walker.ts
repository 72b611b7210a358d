// Walks the frame structure of a zstd stream (RFC 8878 §3.1) without decompressing it: frame
// header, block headers, checksum. A decoder that must be fed one frame per write (node:zlib's
// zstd stops at the end of the first frame inside one input chunk and drops the rest) gets its
// input cut at frame ends, and every frame's magic is judged before a decoder sees the frame:
// the seek table (0x184D2A5E) may only be the last frame, any other skippable frame is refused.
// The walker only counts bytes; a hostile header cannot make it allocate anything.

import { SEEKABLE_SKIPPABLE_MAGIC, ZSTD_FRAME_MAGIC, isSkippableMagic } from './zstd-magic.js';

/** A run of input bytes inside one frame (views of the input, not copies). */
export interface FramePiece {
  bytes: Buffer;
  kind: 'zstd' | 'skippable';
  /** This piece holds the frame's last byte. */
  endsFrame: boolean;
}

/** Why the walk stopped. The pieces returned with it belong to well-formed frames before it. */
export type WalkProblem =
  | { kind: 'skippable'; offset: number; message: string }
  | { kind: 'corrupt'; message: string };

export interface WalkStep {
  pieces: FramePiece[];
  problem?: WalkProblem;
}

const hex32 = (n: number): string => `0x${n.toString(16).toUpperCase().padStart(8, '0')}`;

type State = 'magic' | 'fhd' | 'header' | 'block' | 'skippableSize' | 'skip';
type AfterSkip = 'block' | 'checksum' | 'end';

export class ZstdFrameWalker {
  /** Offset in the stream of the next byte. */
  private offset = 0;
  private state: State = 'magic';
  /** A fixed-size field being collected (magic, frame header, block header, skippable size). */
  private readonly field = Buffer.alloc(16);
  private have = 0;
  private want = 4;
  private skipLeft = 0;
  private afterSkip: AfterSkip = 'end';
  private checksum = false;
  private kind: FramePiece['kind'] = 'zstd';
  private frameStart = 0;
  /** Offset of the seek table once seen: nothing may follow it. */
  private skippableAt = -1;
  private failed = false;

  /** Cut `chunk` into per-frame pieces, stopping at the first problem. */
  push(chunk: Buffer): WalkStep {
    const pieces: FramePiece[] = [];
    if (this.failed) return { pieces, problem: { kind: 'corrupt', message: 'zstd: input after an error' } };
    let i = 0;
    let start = 0;
    /** Magic bytes that arrived with an earlier chunk. */
    let carried = this.state === 'magic' ? this.have : 0;
    const cut = (end: number, endsFrame: boolean): void => {
      if (end > start) pieces.push({ bytes: chunk.subarray(start, end), kind: this.kind, endsFrame });
      else if (endsFrame) pieces.push({ bytes: chunk.subarray(end, end), kind: this.kind, endsFrame });
      start = end;
    };
    for (;;) {
      if (this.state === 'skip' && this.skipLeft === 0) {
        if (this.afterSkip === 'block') this.expect('block', 3);
        else if (this.afterSkip === 'checksum') this.skip(4, 'end');
        else {
          cut(i, true);
          this.expect('magic', 4);
        }
        continue;
      }
      if (i >= chunk.length) break;
      if (this.state === 'skip') {
        const n = Math.min(this.skipLeft, chunk.length - i);
        this.skipLeft -= n;
        i += n;
        this.offset += n;
        continue;
      }
      const n = Math.min(this.want - this.have, chunk.length - i);
      chunk.copy(this.field, this.have, i, i + n);
      this.have += n;
      i += n;
      this.offset += n;
      if (this.have < this.want) break;
      if (this.state === 'magic') {
        const problem = this.frameMagic();
        if (problem) {
          this.failed = true;
          return { pieces, problem };
        }
        if (carried) pieces.push({ bytes: Buffer.from(this.field.subarray(0, carried)), kind: this.kind, endsFrame: false });
        start = i - (4 - carried);
        carried = 0;
        continue;
      }
      const problem = this.fieldDone();
      if (problem) {
        this.failed = true;
        return { pieces, problem };
      }
    }
    if (this.state !== 'magic') cut(chunk.length, false);
    return { pieces };
  }

  /** At the end of the input: a problem if it held no frame or ended inside one. */
  end(): WalkProblem | undefined {
    if (this.failed) return undefined;
    if (this.offset === 0) return { kind: 'corrupt', message: 'empty file, no zstd frame' };
    if (this.state !== 'magic' || this.have > 0) return { kind: 'corrupt', message: 'the zstd stream ends in the middle of a frame (truncated)' };
    return undefined;
  }

  private expect(state: State, want: number): void {
    this.state = state;
    this.want = want;
    this.have = 0;
  }

  private skip(n: number, then: AfterSkip): void {
    this.state = 'skip';
    this.skipLeft = n;
    this.afterSkip = then;
    this.have = 0;
  }

  private frameMagic(): WalkProblem | undefined {
    const magic = this.field.readUInt32LE(0);
    const at = this.offset - 4;
    if (this.skippableAt >= 0 && (magic === ZSTD_FRAME_MAGIC || isSkippableMagic(magic))) {
      return { kind: 'skippable', offset: at, message: `a ${magic === ZSTD_FRAME_MAGIC ? 'zstd frame' : `skippable frame (magic ${hex32(magic)})`} at offset ${at} follows the seek table at offset ${this.skippableAt}; the seek table is always the last frame` };
    }
    this.frameStart = at;
    if (magic === ZSTD_FRAME_MAGIC) {
      this.kind = 'zstd';
      this.expect('fhd', 1);
      return undefined;
    }
    if (isSkippableMagic(magic)) {
      if (magic !== SEEKABLE_SKIPPABLE_MAGIC) return { kind: 'skippable', offset: at, message: `a skippable frame with magic ${hex32(magic)} at offset ${at}; the only skippable frame Ferry writes is the seek table (${hex32(SEEKABLE_SKIPPABLE_MAGIC)}), last` };
      this.skippableAt = at;
      this.kind = 'skippable';
      this.expect('skippableSize', 4);
      return undefined;
    }
    // Neither a zstd nor a skippable frame: damage, in the words libzstd uses for it.
    return { kind: 'corrupt', message: 'zstd: Unknown frame descriptor' };
  }

  private fieldDone(): WalkProblem | undefined {
    switch (this.state) {
      case 'fhd': {
        const fhd = this.field[0]!;
        if (fhd & 0x08) return { kind: 'corrupt', message: `zstd: the frame at offset ${this.frameStart} sets a reserved header bit` };
        const single = (fhd & 0x20) !== 0;
        this.checksum = (fhd & 0x04) !== 0;
        const dictionaryId = [0, 1, 2, 4][fhd & 3]!;
        const contentSize = [single ? 1 : 0, 2, 4, 8][fhd >> 6]!;
        const rest = (single ? 0 : 1) + dictionaryId + contentSize;
        if (rest) this.expect('header', rest);
        else this.expect('block', 3);
        return undefined;
      }
      case 'header':
        this.expect('block', 3);
        return undefined;
      case 'block': {
        const h = this.field.readUIntLE(0, 3);
        const last = (h & 1) === 1;
        const type = (h >> 1) & 3;
        if (type === 3) return { kind: 'corrupt', message: `zstd: a block of the reserved type in the frame at offset ${this.frameStart}` };
        // Raw and compressed blocks carry Block_Size bytes; an RLE block one byte.
        this.skip(type === 1 ? 1 : h >>> 3, !last ? 'block' : this.checksum ? 'checksum' : 'end');
        return undefined;
      }
      case 'skippableSize':
        this.skip(this.field.readUInt32LE(0), 'end');
        return undefined;
      default:
        return undefined;
    }
  }
}
