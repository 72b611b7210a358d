import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tar from 'tar-stream';
import { tarHeaderBytes } from '../src/plan.js';
import { tarEntryHeader } from '../src/tar-header.js';

/** What tar-stream's pack writes before the content of one entry. */
async function tarStreamHeader(name: string, size: number, mtime: Date): Promise<Buffer> {
  const pack = tar.pack();
  const parts: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) parts.push(c as Buffer);
  })();
  const sink = pack.entry({ name, size, mode: 0o644, uid: 0, gid: 0, mtime, type: 'file' });
  // Content is not needed to see the header: destroy after the header is out.
  await new Promise((r) => setImmediate(r));
  const head = Buffer.concat(parts);
  sink.destroy();
  pack.destroy();
  await done.catch(() => undefined);
  return head;
}

const mtime = new Date('2024-01-01T00:00:00Z');
const names = [
  'b.manifest.json',
  'oci-layout',
  'index.json',
  `blobs/sha256/${'a'.repeat(64)}`,
  `segments/sha256/${'b'.repeat(64)}.002`,
  'x'.repeat(100),
  'x'.repeat(101), // no slash: pax
  `${'d'.repeat(150)}/${'f'.repeat(99)}`, // ustar prefix
  `${'y'.repeat(200)}.manifest.json.sig`,
  'nön-ascii.json', // pax
];

test('tarEntryHeader writes exactly what tar-stream writes (ustar, prefix, pax; sizes up to base-256)', async () => {
  for (const name of names) {
    for (const size of [0, 1, 511, 512, 0o77777777777, 0o77777777777 + 1, 2 ** 40 + 3]) {
      const mine = tarEntryHeader(name, size, mtime);
      const theirs = await tarStreamHeader(name, size, mtime);
      assert.equal(mine.length, tarHeaderBytes(name), `${name}: length agrees with plan.ts`);
      assert.ok(mine.equals(theirs), `${name} size ${size}: header differs from tar-stream's`);
    }
  }
});

test.run();
