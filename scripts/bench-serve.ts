// npm run bench -- --only serve: reading a bundle through `ferry-load serve` vs the plain-tool
// way of reading it. Four images (an incompressible gzip layer and a compressible JSON layer
// each, about 3/4 GiB in all) in a bundle (made first, not timed); then
//   Ferry: ferry-load serve on a free port, 4 skopeo copy docker://… -> oci:DIR at once;
//   peer:  zstd -dc | tar -x of every volume, then the same 4 skopeo copy oci:LAYOUT -> oci:DIR.
// Wall time ratio, and Ferry's peak RSS (VmHWM of the serve process, read before it stops).

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeOciLayout, type ImageSpec } from '../test/helpers/images.js';
import { timedAsync, type Measure } from './bench-measure.js';

const MiB = 1 << 20;

export interface ServeResult {
  bytes: number;
  images: number;
  ferryCopies: Measure;
  ferryPeakRssMiB: number;
  peerExtract: Measure;
  peerCopies: Measure;
}

function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export async function serveScenario(out: string, gib: number, bins: { node: string; bundle: string; load: string; key: string; pub: string }): Promise<ServeResult> {
  const dir = join(out, 'serve');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const layout = join(dir, 'layout');
  const per = Math.floor((Math.min(gib, 1) * 1024 * MiB * 0.75) / 4);
  const specs: ImageSpec[] = [0, 1, 2, 3].map((i) => ({
    tag: `bench/serve${i}:v1`,
    platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: Math.floor(per * 0.8), seed: `serve-${i}-bin`, gzipLevel: 0 }, { size: Math.floor(per * 0.2), seed: `serve-${i}-json`, content: 'text', gzipLevel: 0 }] }],
  }));
  process.stdout.write(`\n[serve] generating 4 images of ~${(per / MiB).toFixed(0)} MiB and bundling them (not timed)…\n`);
  await makeOciLayout(layout, specs);
  const bundle = join(dir, 'bundle');
  const c = spawnSync(bins.node, [bins.bundle, 'create', '--name', 'b', '--out', bundle, '--key', bins.key, ...specs.flatMap((s) => ['--image', `oci:${layout}:${s.tag}`]), '--volume-size', '1GiB', '--json'], { encoding: 'utf8', env: { ...process.env, CI: 'true' }, maxBuffer: 64 * MiB });
  if (c.status !== 0) throw new Error(`ferry-bundle create failed: ${c.stderr}`);
  rmSync(layout, { recursive: true, force: true });
  const manifest = JSON.parse(readFileSync(join(bundle, 'b.manifest.json'), 'utf8')) as { images: Array<{ repository: string; tag: string }>; blobs: Array<{ size: number }> };
  const bytes = manifest.blobs.reduce((n, b) => n + b.size, 0);
  spawnSync('bash', ['-c', `cat ${bundle}/* > /dev/null`]);
  const policy = join(dir, 'policy.json');
  writeFileSync(policy, '{"default":[{"type":"insecureAcceptAnything"}]}');
  const copies = (src: (ref: string) => string, tag: string): string =>
    manifest.images.map((img, i) => `skopeo --policy ${policy} copy -q ${src(`${img.repository}:${img.tag}`)} oci:${join(dir, `${tag}-${i}`)}:v1 &`).join(' ') + ' wait -n && wait -n && wait -n && wait -n';

  // Ferry: the registry straight from the volumes.
  const srv = spawn(bins.node, [bins.load, 'serve', bundle, '--trusted-key', bins.pub, '--listen', '127.0.0.1:0', '--json', '--quiet'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    srv.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\n')) resolve((JSON.parse(buf.split('\n')[0]!) as { port: number }).port);
    });
    srv.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
  });
  let ferryCopies: Measure;
  let ferryPeakRssMiB: number;
  try {
    ferryCopies = await timedAsync('4× skopeo copy docker:// from ferry-load serve', copies((r) => `--src-tls-verify=false docker://127.0.0.1:${port}/${r}`, 'ferry'));
    ferryPeakRssMiB = peakRssMiB(srv.pid!);
  } finally {
    srv.kill('SIGTERM');
    await new Promise((r) => srv.once('exit', r));
  }
  process.stdout.write(`  ${'ferry-load serve peak RSS (VmHWM)'.padEnd(44)} ${ferryPeakRssMiB.toFixed(0).padStart(7)} MiB\n`);
  for (let i = 0; i < 4; i++) rmSync(join(dir, `ferry-${i}`), { recursive: true, force: true });

  // The peer: extract, then the same four copies from the layout.
  const x = join(dir, 'extract');
  const peerExtract = await timedAsync('zstd -dc | tar -x of every volume', `mkdir -p ${x} && for v in ${bundle}/b-*.tar.zst; do zstd -dc "$v" | tar -x -C ${x}; done`);
  const peerCopies = await timedAsync('4× skopeo copy oci: from the extracted layout', copies((r) => `oci:${x}:${r}`, 'peer'));
  rmSync(dir, { recursive: true, force: true });
  return { bytes, images: manifest.images.length, ferryCopies, ferryPeakRssMiB, peerExtract, peerCopies };
}
