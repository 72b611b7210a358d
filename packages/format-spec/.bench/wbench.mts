// usage: wbench.mts FILE COPIES WORKERS READ_HWM_KB VOLUME_SIZE
import { createReadStream, statSync, createWriteStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { planVolumes, writeVolumes } from '/work/main/packages/format-spec/src/index.ts';
const [,, file, copiesS, workersS, hwmS, volS] = process.argv;
const size = statSync(file).size;
const copies = Number(copiesS);
// The digest of the file, computed once (cached in FILE.sha256).
let hex: string;
try { hex = (await import('node:fs')).readFileSync(file + '.sha256', 'utf8').trim(); } catch { const h = createHash('sha256'); for await (const c of createReadStream(file, { highWaterMark: 1 << 20 })) h.update(c); hex = h.digest('hex'); (await import('node:fs')).writeFileSync(file + '.sha256', hex); }
// Distinct digests are needed per copy: copies > 1 use the same file content, so fake by prefixing? Use same blob once per copy of a different file.
const files = Array.from({ length: copies }, (_, i) => i === 0 ? file : `${file}.${i}`);
const input = [];
for (const f of files) {
  let d: string; try { d = (await import('node:fs')).readFileSync(f + '.sha256', 'utf8').trim(); } catch { const h = createHash('sha256'); for await (const c of createReadStream(f, { highWaterMark: 1 << 20 })) h.update(c); d = h.digest('hex'); (await import('node:fs')).writeFileSync(f + '.sha256', d); }
  input.push({ digest: 'sha256:' + d, size: statSync(f).size, mediaType: 'application/octet-stream', kind: 'layer' as const, file: f });
}
const volumeSize = Number(volS);
const plan = planVolumes(input, { volumeSize, headerReserve: 4096 });
let peak = 0; const iv = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 50);
const t0 = performance.now();
const res = await writeVolumes({ dir: process.env.OUTDIR ?? '/tmp/ferrybench/out', name: 'bench', volumeCount: plan.volumeCount, header: [{ name: 'bench.manifest.json', bytes: Buffer.from('{}') }, { name: 'oci-layout', bytes: Buffer.from('{"imageLayoutVersion":"1.0.0"}') }, { name: 'index.json', bytes: Buffer.from('{}') }], blobs: plan.blobs, openBlob: async (b) => { const rs = createReadStream(input.find((x) => x.digest === b.digest)!.file, { highWaterMark: Number(hwmS) * 1024 }); if (process.env.RA) { const pt = new PassThrough({ highWaterMark: Number(process.env.RA) << 20 }); rs.pipe(pt); return pt; } return rs; }, volumeSize, workers: Number(workersS) });
const s = (performance.now() - t0) / 1000;
clearInterval(iv); peak = Math.max(peak, process.memoryUsage().rss);
const total = input.reduce((n, b) => n + b.size, 0);
console.log(`ferry writeVolumes: ${(total / 1048576).toFixed(0)} MiB in ${s.toFixed(2)} s = ${(total / 1048576 / s).toFixed(0)} MiB/s, workers=${workersS}, read hwm ${hwmS} KiB, volumes=${res.length}, peak rss ${(peak / 1048576).toFixed(0)} MiB`);
