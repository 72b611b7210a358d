import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Readable } from 'node:stream';
import type { BundleBlob } from '@ferry/format-spec';
import { Prefetcher } from '../src/prefetch.js';

const blob = (n: number): BundleBlob => ({ digest: `sha256:${String(n).repeat(64).slice(0, 64)}`, size: 1, mediaType: 'x/y', kind: 'layer', volume: 1 });
const blobs = [1, 2, 3, 4, 5].map(blob);

test('opens up to depth blobs ahead, each once, in plan order', async () => {
  const opened: string[] = [];
  const p = new Prefetcher(blobs, async (b) => { opened.push(b.digest[7]!); return Readable.from([Buffer.from(b.digest[7]!)]); }, 2);
  for (const b of blobs) {
    const s = await p.open(b);
    const got: Buffer[] = [];
    for await (const c of s) got.push(c as Buffer);
    assert.is(Buffer.concat(got).toString(), b.digest[7]);
  }
  assert.equal(opened, ['1', '2', '3', '4', '5']);
  p.close();
});

test('close destroys streams fetched early and not used', async () => {
  const streams: Readable[] = [];
  const p = new Prefetcher(blobs, async () => { const s = new Readable({ read() {} }); streams.push(s); return s; }, 2);
  await p.open(blobs[0]!);
  assert.is(streams.length, 3);
  p.close();
  await new Promise((r) => setImmediate(r));
  assert.ok(streams[1]!.destroyed && streams[2]!.destroyed);
  assert.not.ok(streams[0]!.destroyed, 'the stream handed to the writer is the writer\'s');
});

test('an early failure does not crash the process and surfaces when that blob is opened', async () => {
  const p = new Prefetcher(blobs, async (b) => {
    if (b === blobs[1]) throw new Error('registry said 404');
    if (b === blobs[2]) { const s = new Readable({ read() {} }); setImmediate(() => s.destroy(new Error('reset'))); return s; }
    return Readable.from([Buffer.from('ok')]);
  }, 2);
  await p.open(blobs[0]!);
  await new Promise((r) => setTimeout(r, 10));
  let msg = '';
  try { await p.open(blobs[1]!); } catch (e) { msg = (e as Error).message; }
  assert.is(msg, 'registry said 404');
  const s = await p.open(blobs[2]!);
  assert.ok(s.destroyed);
  assert.is(s.errored?.message, 'reset');
  p.close();
});

test('streams opened early read ahead in the background, up to the bound, and keep their bytes and errors', async () => {
  const MiB = 1 << 20;
  const pulled = new Map<string, number>();
  // Each source would give 64 MiB in 64 KiB chunks; the second one fails at 3 MiB.
  const source = (b: BundleBlob): Readable => {
    let n = 0;
    return new Readable({
      read() {
        if (b === blobs[2] && n >= 3 * MiB) { this.destroy(new Error('connection reset')); return; }
        if (n >= 64 * MiB) { this.push(null); return; }
        n += 64 * 1024;
        pulled.set(b.digest, n);
        this.push(Buffer.alloc(64 * 1024, b.digest.charCodeAt(7)));
      },
    });
  };
  const p = new Prefetcher(blobs, async (b) => source(b), 2, 128); // 128 chunks of 64 KiB: 8 MiB
  const first = await p.open(blobs[0]!);
  await new Promise((r) => setTimeout(r, 200));
  const ahead = pulled.get(blobs[1]!.digest) ?? 0;
  assert.ok(ahead >= 8 * MiB, `the next blob was read ahead (${ahead} bytes)`);
  assert.ok(ahead <= 8 * MiB + 2 * MiB, `but not beyond the bound (${ahead} bytes)`);
  assert.ok((pulled.get(blobs[0]!.digest) ?? 0) < 2 * MiB, 'the blob the writer holds is read at the writer\'s pace');
  first.destroy();
  const second = await p.open(blobs[1]!);
  let bytes = 0;
  for await (const c of second) {
    assert.ok((c as Buffer).length <= 64 * 1024, 'chunks come as the source gave them, not concatenated');
    assert.ok((c as Buffer).every((x) => x === blobs[1]!.digest.charCodeAt(7)));
    bytes += (c as Buffer).length;
  }
  assert.is(bytes, 64 * MiB, 'every byte arrives, in order, through the read-ahead buffer');
  const third = await p.open(blobs[2]!);
  let msg = '';
  try { for await (const _ of third) { /* drain */ } } catch (e) { msg = (e as Error).message; }
  assert.is(msg, 'connection reset', 'a failure while reading ahead reaches the writer');
  p.close();
});

test.run();
