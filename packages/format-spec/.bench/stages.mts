import { createReadStream, readFileSync } from 'node:fs';
import { pipeline } from 'node:stream';
import * as tar from 'tar-stream';
import { VerifyingStream } from '/work/main/packages/format-spec/src/digest.ts';
import { FrameEncoder } from '/work/main/packages/format-spec/src/zstd-frames.ts';
const file = '/tmp/ferrybench/rand1g'; const digest = 'sha256:' + readFileSync(file + '.sha256', 'utf8').trim(); const size = 1 << 30;
const stage = process.argv[2]; const hwm = Number(process.argv[3] ?? 64) * 1024;
const t0 = performance.now();
const rs = createReadStream(file, { highWaterMark: hwm });
let src: AsyncIterable<Buffer> = rs;
if (stage !== 'read' && !process.env.NOVERIFY) { const v = new VerifyingStream(digest, size, { where: 'x' }); pipeline(rs, v, () => {}); src = v; }
const big = Buffer.allocUnsafe(4 << 20); let fill = 0;
const sink = { space() { if (big.length - fill < 65536) fill = 0; return big.subarray(fill); }, commit(n: number) { fill += n; } };
const enc = new FrameEncoder(sink, { level: 3, workers: Number(process.argv[4] ?? 2) });
if (stage === 'read' || stage === 'verify') { for await (const c of src) {} }
else {
  const pack = tar.pack();
  const consume = (async () => { let n = 0; let inF = 0; const FM = 64 << 20; let left = size + 512 + 1024; enc.beginFrame(Math.min(FM, left));
    for await (const c0 of pack) { let c = c0 as Buffer; n += c.length; if (stage === 'compress') { while (c.length) { const cur = Math.min(FM, left); const take = Math.min(c.length, cur - inF); enc.write(c.subarray(0, take)); inF += take; c = c.subarray(take); if (inF === cur) { enc.endFrame(); left -= cur; inF = 0; if (left > 0) enc.beginFrame(Math.min(FM, left)); } } } } return n; })();
  await new Promise<void>((resolve, reject) => { const sinkE = pack.entry({ name: 'blobs/x', size, type: 'file' }, (e) => e ? reject(e) : resolve()); (async () => { for await (const c of src) { if (!sinkE.write(c)) await new Promise((r) => sinkE.once('drain', r)); } sinkE.end(undefined); })(); });
  pack.finalize(); await consume;
}
console.log(stage, hwm / 1024, 'KiB', ((performance.now() - t0) / 1000).toFixed(2), 's');
