// npm run bench [-- --gib N] : Ferry side by side with the plain-tool pipeline it replaces, in one
// run, on generated data (incompressible gzip layers plus compressible JSON layers). Prints wall
// time ratios and peak RSS (GNU time), and writes bench-out/results.json.
//
//   pack:     ferry-bundle create (from an OCI layout)   vs  tar -c | zstd -3 -T0
//   checksum: ferry-load checksum                         vs  sha256sum -c
//   verify:   ferry-load verify                           vs  zstd -dc | tar -x, then sha256sum of every blob
//   memory:   ferry-bundle create / ferry-load verify peak RSS at 1/4 size and full size
//
// All inputs sit in the page cache (24 GiB RAM): this measures CPU and pipeline efficiency, not disks.

import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { makeOciLayout, type ImageSpec, type LayerSpec } from '../test/helpers/images.js';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'bench-out');
const argGib = process.argv.indexOf('--gib');
const GIB = argGib > 0 ? Number(process.argv[argGib + 1]) : 2;
const MiB = 1 << 20;
const node = process.execPath;
const bundleBin = join(root, 'packages/bundler/bin/ferry-bundle.js');
const loadBin = join(root, 'packages/loader/bin/ferry-load.js');

interface Measure { seconds: number; rssMiB: number }

function timed(label: string, script: string, cwd = root): Measure {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', 'bash', '-o', 'pipefail', '-c', script], { cwd, encoding: 'utf8', env: { ...process.env, CI: 'true' }, maxBuffer: 64 * MiB });
  if (r.status !== 0) {
    process.stderr.write(`${label} failed (${r.status}):\n${r.stdout}\n${r.stderr}\n`);
    process.exit(1);
  }
  const last = r.stderr.trim().split('\n').pop()!.split(' ');
  const m = { seconds: Number(last[0]), rssMiB: Number(last[1]) / 1024 };
  process.stdout.write(`  ${label.padEnd(44)} ${m.seconds.toFixed(2).padStart(7)} s  ${m.rssMiB.toFixed(0).padStart(5)} MiB RSS\n`);
  return m;
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return n;
}

/** Images totalling about `gib` GiB: 256 MiB incompressible layers, a shared base, some JSON. */
function imageSpecs(gib: number, prefix: string): ImageSpec[] {
  const total = gib * 1024 * MiB;
  const layer = 256 * MiB;
  const base = { size: layer, seed: `${prefix}-base`, gzipLevel: 0 };
  const specs: ImageSpec[] = [];
  let used = layer; // the shared base once
  for (let i = 0; used < total; i++) {
    const layers: LayerSpec[] = [base];
    if (used + layer <= total) { layers.push({ size: layer, seed: `${prefix}-img${i}-a`, gzipLevel: 0 }); used += layer; }
    const json = Math.min(32 * MiB, Math.max(MiB, total - used));
    layers.push({ size: json, seed: `${prefix}-img${i}-json`, content: 'text', gzipLevel: 0 });
    used += json;
    specs.push({ tag: `img${i}`, platforms: [{ os: 'linux', architecture: 'amd64', layers }] });
  }
  return specs;
}

async function scenario(gib: number, tag: string): Promise<Record<string, Measure | number>> {
  const dir = join(out, tag);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const layout = join(dir, 'layout');
  process.stdout.write(`\n[${tag}] generating ~${gib} GiB OCI layout…\n`);
  const specs = imageSpecs(gib, tag);
  await makeOciLayout(layout, specs);
  const bytes = dirBytes(layout);
  process.stdout.write(`[${tag}] ${specs.length} images, ${(bytes / MiB).toFixed(0)} MiB on disk; warming the page cache\n`);
  spawnSync('bash', ['-c', `cat $(find ${layout} -type f) > /dev/null`]);

  const images = specs.map((s) => `--image oci:${layout}:${s.tag}`).join(' ');
  const bundle = join(dir, 'bundle');
  const r: Record<string, Measure | number> = { bytes };
  r.ferryCreate = timed('ferry-bundle create', `${node} ${bundleBin} create --name b --out ${bundle} --key ${join(out, 'bench.key')} ${images} --volume-size 1GiB`);
  r.peerPack = timed('tar -c | zstd -3 -T0', `tar -C ${layout} -cf - . | zstd -q -3 -T0 -o ${join(dir, 'peer.tar.zst')}`);
  r.ferryChecksum = timed('ferry-load checksum', `${node} ${loadBin} checksum ${bundle}`);
  r.peerChecksum = timed('sha256sum -c', `cd ${bundle} && sha256sum -c --quiet b.sha256`);
  r.ferryVerify = timed('ferry-load verify', `${node} ${loadBin} verify ${bundle} --trusted-key ${join(out, 'bench.pub')}`);
  const x = join(dir, 'extract');
  r.peerVerify = timed('zstd -dc | tar -x; sha256sum every blob', `mkdir -p ${x} && for v in ${bundle}/b-*.tar.zst; do zstd -dc "$v" | tar -x -C ${x}; done && cd ${x}/blobs/sha256 && for f in *; do echo "$f  $f"; done | sha256sum -c --quiet`);
  r.bareZstd = timed('zstd -3 -T0 of the bundle tar bytes (no tar)', `cat $(find ${layout}/blobs -type f) | zstd -q -3 -T0 > /dev/null`);
  rmSync(x, { recursive: true, force: true });
  rmSync(join(dir, 'peer.tar.zst'), { force: true });
  return r;
}

mkdirSync(out, { recursive: true });
spawnSync(node, [bundleBin, 'keygen', '--out', join(out, 'bench'), '--force'], { stdio: 'ignore', env: { ...process.env, FERRY_KEY_PASSWORD: '' } });
const small = await scenario(GIB / 4, 'quarter');
const full = await scenario(GIB, 'full');

const m = (r: Record<string, Measure | number>, k: string) => r[k] as Measure;
const ratio = (a: Measure, b: Measure) => (a.seconds / b.seconds).toFixed(2);
const mbps = (bytes: number, s: Measure) => (bytes / MiB / s.seconds).toFixed(0);
const rows = [
  ['pack', 'ferry-bundle create', 'tar | zstd -3 -T0', m(full, 'ferryCreate'), m(full, 'peerPack')],
  ['checksum', 'ferry-load checksum', 'sha256sum -c', m(full, 'ferryChecksum'), m(full, 'peerChecksum')],
  ['verify', 'ferry-load verify', 'zstd -dc | tar -x + sha256sum', m(full, 'ferryVerify'), m(full, 'peerVerify')],
] as const;
const lines = [
  '',
  `Results on ${(Number(full.bytes) / MiB).toFixed(0)} MiB (full) — wall time ratio Ferry/peer (lower is better), peak RSS`,
  '| step | Ferry | s | MiB/s | RSS MiB | peer | s | RSS MiB | ratio |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...rows.map(([step, f, p, a, b]) => `| ${step} | ${f} | ${a.seconds.toFixed(2)} | ${mbps(Number(full.bytes), a)} | ${a.rssMiB.toFixed(0)} | ${p} | ${b.seconds.toFixed(2)} | ${b.rssMiB.toFixed(0)} | ${ratio(a, b)} |`),
  '',
  `Throughput vs bare zstd -3 -T0 on the same blob bytes: Ferry create ${mbps(Number(full.bytes), m(full, 'ferryCreate'))} MiB/s, zstd ${mbps(Number(full.bytes), m(full, 'bareZstd'))} MiB/s = ${((m(full, 'bareZstd').seconds / m(full, 'ferryCreate').seconds) * 100).toFixed(0)}% (target ≥ 70%)`,
  '',
  'Peak RSS as the bundle grows (flat = streaming):',
  `| command | ${(Number(small.bytes) / MiB).toFixed(0)} MiB | ${(Number(full.bytes) / MiB).toFixed(0)} MiB |`,
  '| --- | --- | --- |',
  `| ferry-bundle create | ${m(small, 'ferryCreate').rssMiB.toFixed(0)} MiB | ${m(full, 'ferryCreate').rssMiB.toFixed(0)} MiB |`,
  `| ferry-load checksum | ${m(small, 'ferryChecksum').rssMiB.toFixed(0)} MiB | ${m(full, 'ferryChecksum').rssMiB.toFixed(0)} MiB |`,
  `| ferry-load verify | ${m(small, 'ferryVerify').rssMiB.toFixed(0)} MiB | ${m(full, 'ferryVerify').rssMiB.toFixed(0)} MiB |`,
];
process.stdout.write(lines.join('\n') + '\n');
writeFileSync(join(out, 'results.json'), JSON.stringify({ date: new Date().toISOString(), gib: GIB, small, full }, null, 2));
if (!process.argv.includes('--keep')) {
  rmSync(join(out, 'quarter'), { recursive: true, force: true });
  rmSync(join(out, 'full'), { recursive: true, force: true });
}
