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

test.run();
