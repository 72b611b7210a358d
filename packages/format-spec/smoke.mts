import { Readable } from 'node:stream';
import { randomBytes, createHash } from 'node:crypto';
import { planVolumes, writeVolumes, readSeekTable } from './src/index.ts';
const blobs = [randomBytes(10000), randomBytes(300000), Buffer.alloc(0), randomBytes(50000)];
const dg = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');
const input = blobs.map((b) => ({ digest: dg(b), size: b.length, mediaType: 'x', kind: 'layer' as const }));
const header = [{ name: 'demo.manifest.json', bytes: Buffer.from('{"hello":1}') }, { name: 'oci-layout', bytes: Buffer.from('{"imageLayoutVersion":"1.0.0"}') }, { name: 'index.json', bytes: Buffer.from('{}') }];
const volumeSize = 150000;
const plan = planVolumes(input, { volumeSize, headerReserve: 100 });
console.log(JSON.stringify(plan, null, 0));
const byDigest = new Map(blobs.map((b) => [dg(b), b]));
const res = await writeVolumes({ dir: '/tmp/ferrysmoke', name: 'demo', volumeCount: plan.volumeCount, header, blobs: plan.blobs, openBlob: async (b) => Readable.from([byDigest.get(b.digest)!]), volumeSize, workers: 0, mtime: new Date(0) });
console.log(res);
for (const r of res) console.log((await readSeekTable(r.path)).frames);
import { readVolume, readEmbeddedManifest } from './src/index.ts';
const manifest: any = { name: 'demo', volumes: res.map((r) => ({ index: r.index, file: r.file })), blobs: plan.blobs, layoutIndex: { digest: dg(Buffer.from('{}')), size: 2 }, compression: { algorithm: 'zstd', level: 3, framing: 'entry', seekTable: true } };
for (const r of res) {
  const got: string[] = [];
  const out = await readVolume({ path: r.path, volume: r.index, manifest, manifestBytes: Buffer.from('{"hello":1}'), onEntry: async (info, s) => { let n = 0; for await (const c of s) n += c.length; got.push(`${info.kind} ${info.name.slice(0, 30)} ${n}`); } });
  console.log(out, got);
  console.log(await readEmbeddedManifest(r.path));
}
