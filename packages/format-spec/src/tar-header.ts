// The tar header blocks of a volume entry, byte for byte as tar-stream's pack writes them for a
// regular file (mode 0644, uid/gid 0): a ustar block, or for a name ustar cannot hold a pax
// header (path only), its record and the ustar block. The volume writer emits these around the
// entry content itself, so blob bytes can go straight into the output buffers; plan.ts's
// tarHeaderBytes gives the same lengths (tested against tar-stream).

import { TAR_BLOCK, needsPaxHeader } from './plan.js';

const MODE = 0o644;
const USTAR_MAGIC_VERSION = Buffer.from('ustar\x0000', 'latin1');

function octal(value: number, digits: number): string {
  const s = value.toString(8);
  return s.length > digits ? '7'.repeat(digits) + ' ' : s.padStart(digits, '0') + ' ';
}

function checksum(block: Buffer): number {
  let sum = 8 * 32; // the checksum field itself counts as spaces
  for (let i = 0; i < 148; i++) sum += block[i]!;
  for (let i = 156; i < TAR_BLOCK; i++) sum += block[i]!;
  return sum;
}

/** One ustar block; `name` must fit (needsPaxHeader false) unless it is the fixed PaxHeader. */
function ustarBlock(out: Buffer, at: number, name: string, size: number, mtime: Date, typeflag: number): void {
  const b = out.subarray(at, at + TAR_BLOCK);
  b.fill(0);
  let rest = name;
  let prefix = '';
  while (rest.length > 100) {
    const i = rest.indexOf('/');
    prefix += prefix ? '/' + rest.slice(0, i) : rest.slice(0, i);
    rest = rest.slice(i + 1);
  }
  b.write(rest, 0, 'utf8');
  b.write(octal(MODE, 6), 100, 'latin1');
  b.write(octal(0, 6), 108, 'latin1');
  b.write(octal(0, 6), 116, 'latin1');
  if (size.toString(8).length > 11) {
    // base-256 size, as tar-stream's encodeSizeBin
    b[124] = 0x80;
    let n = size;
    for (let i = 11; i > 0; i--) {
      b[124 + i] = n & 0xff;
      n = Math.floor(n / 0x100);
    }
  } else {
    b.write(octal(size, 11), 124, 'latin1');
  }
  b.write(octal((mtime.getTime() / 1000) | 0, 11), 136, 'latin1');
  b[156] = 0x30 + typeflag;
  USTAR_MAGIC_VERSION.copy(b, 257);
  b.write(octal(0, 6), 329, 'latin1');
  b.write(octal(0, 6), 337, 'latin1');
  if (prefix) b.write(prefix, 345, 'utf8');
  b.write(octal(checksum(b), 6), 148, 'latin1');
}

/** "<len> path=<name>\n" with len counting itself, as tar-stream's encodePax. */
function paxRecord(name: string): Buffer {
  const body = ` path=${name}\n`;
  const len = Buffer.byteLength(body);
  let digits = Math.floor(Math.log(len) / Math.log(10)) + 1;
  if (len + digits >= 10 ** digits) digits++;
  return Buffer.from(`${len + digits}${body}`);
}

/** The header blocks tar-stream writes before an entry of `size` bytes named `name`. */
export function tarEntryHeader(name: string, size: number, mtime: Date): Buffer {
  if (!needsPaxHeader(name)) {
    const out = Buffer.allocUnsafe(TAR_BLOCK);
    ustarBlock(out, 0, name, size, mtime, 0);
    return out;
  }
  const record = paxRecord(name);
  const padded = Math.ceil(record.length / TAR_BLOCK) * TAR_BLOCK;
  const out = Buffer.alloc(TAR_BLOCK + padded + TAR_BLOCK);
  ustarBlock(out, 0, 'PaxHeader', record.length, mtime, 72); // typeflag 'x' (0x30 + 72)
  record.copy(out, TAR_BLOCK);
  ustarBlock(out, TAR_BLOCK + padded, 'PaxHeader', size, mtime, 0);
  return out;
}
