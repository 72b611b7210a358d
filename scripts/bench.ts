// npm run bench [-- --gib N] : Ferry side by side with the plain-tool pipeline it replaces, in one
// run, on generated data (incompressible gzip layers plus compressible JSON layers). Prints wall
// time ratios and peak RSS (GNU time), and writes bench-out/results.json.
//
//   pack:     ferry-bundle create (from an OCI layout)   vs  tar -c | zstd -3 -T0
//   checksum: ferry-load checksum                         vs  sha256sum -c
//   verify:   ferry-load verify                           vs  zstd -dc | tar -x, then sha256sum of every blob
//   load:     ferry-load push --to oci:DIR (empty target)  vs  zstd -dc | tar -x of every volume
//   reload:   ferry-load push again (all there: re-verified) vs  sha256sum of every blob in the layout
//   memory:   ferry-bundle create / ferry-load verify peak RSS at 1/4 size and full size
//   registry: ferry-bundle create --image HOST/… from a loopback docker-registry  vs
//             skopeo copy of each image into one OCI dir, then tar -c | zstd -3 -T0
//
// --only local|registry runs one group (default: both). --gib N sets the full size (default 2).
//
// All inputs sit in the page cache (24 GiB RAM): this measures CPU and pipeline efficiency, not disks.

import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { makeOciLayout, type ImageSpec, type LayerSpec } from '../test/helpers/images.js';
import { startRegistry } from '../test/harness/registry.js';
import { seedLayout } from '../test/harness/seed.js';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'bench-out');
const argGib = process.argv.indexOf('--gib');
const GIB = argGib > 0 ? Number(process.argv[argGib + 1]) : 2;
const argOnly = process.argv.indexOf('--only');
const ONLY = argOnly > 0 ? process.argv[argOnly + 1] : undefined;
if (ONLY !== undefined && ONLY !== 'local' && ONLY !== 'registry') {
  process.stderr.write(`--only takes local or registry, not ${ONLY}\n`);
  process.exit(2);
}
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
  // Below 512 MiB (the quarter scenario of --gib 1 or less) 256 MiB layers would leave no image.
  const layer = total >= 512 * MiB ? 256 * MiB : Math.max(MiB, Math.floor(total / 4));
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
  const loaded = join(dir, 'loaded');
  const push = `${node} ${loadBin} push ${bundle} --trusted-key ${join(out, 'bench.pub')} --to oci:${loaded} --yes`;
  r.ferryPush = timed('ferry-load push --to oci: (empty target)', push);
  r.peerExtract = timed('zstd -dc | tar -x of every volume', `mkdir -p ${x} && for v in ${bundle}/b-*.tar.zst; do zstd -dc "$v" | tar -x -C ${x}; done`);
  r.ferryRepush = timed('ferry-load push again (all there, re-verified)', push);
  r.peerRehash = timed('sha256sum of every blob in the layout', `cd ${x}/blobs/sha256 && for f in *; do echo "$f  $f"; done | sha256sum -c --quiet`);
  rmSync(x, { recursive: true, force: true });
  rmSync(loaded, { recursive: true, force: true });
  rmSync(`${loaded}-files`, { recursive: true, force: true });
  rmSync(join(dir, 'peer.tar.zst'), { force: true });
  return r;
}

/**
 * Pack from a registry: the same kind of images (shared 256 MiB base, 256 MiB layers, JSON) pushed
 * once into a loopback docker-registry with skopeo (not timed), then Ferry bundling them straight
 * from the registry vs the plain-tool pipeline: skopeo copy of each image into one OCI directory,
 * then tar -c | zstd -3 -T0. The registry's files are read once first so both sides find them in
 * the page cache.
 */
async function registryScenario(gib: number, tag: string): Promise<Record<string, Measure | number>> {
  const dir = join(out, tag);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const layout = join(dir, 'layout');
  process.stdout.write(`\n[${tag}] generating ~${gib} GiB of images and pushing them to a loopback registry (not timed)…\n`);
  const specs = imageSpecs(gib, tag);
  await makeOciLayout(layout, specs);
  const bytes = dirBytes(join(layout, 'blobs'));
  const reg = await startRegistry();
  try {
    const refs: string[] = [];
    for (const s of specs) {
      await seedLayout(reg, layout, s.tag, `bench/${s.tag}:v1`);
      refs.push(`${reg.host}/bench/${s.tag}:v1`);
    }
    spawnSync('bash', ['-c', `cat $(find ${reg.dir}/data -type f) > /dev/null`]);
    process.stdout.write(`[${tag}] ${specs.length} images, ${(bytes / MiB).toFixed(0)} MiB of blobs, in registry ${reg.host}\n`);

    const r: Record<string, Measure | number> = { bytes, images: specs.length };
    const bundle = join(dir, 'bundle');
    r.ferryCreate = timed('ferry-bundle create --image (registry)', `${node} ${bundleBin} create --name b --out ${bundle} --key ${join(out, 'bench.key')} ${refs.map((x) => `--image ${x}`).join(' ')} --insecure-registry ${reg.host} --volume-size 1GiB`);
    rmSync(bundle, { recursive: true, force: true });
    const policy = join(dir, 'policy.json');
    writeFileSync(policy, '{"default":[{"type":"insecureAcceptAnything"}]}');
    const oci = join(dir, 'peer-oci');
    const copies = refs.map((x, i) => `skopeo --policy ${policy} copy -q --src-tls-verify=false docker://${x} oci:${oci}:${specs[i]!.tag}`).join(' && ');
    const tarZstd = `tar -C ${oci} -cf - . | zstd -q -3 -T0 -o ${join(dir, 'peer.tar.zst')}`;
    r.peerPack = timed(`skopeo copy ×${specs.length}; tar -c | zstd -3 -T0`, `${copies} && ${tarZstd}`);
    // The same two steps again, timed apart, to show where the peer's time goes.
    rmSync(oci, { recursive: true, force: true });
    rmSync(join(dir, 'peer.tar.zst'), { force: true });
    r.peerCopy = timed(`  skopeo copy ×${specs.length} only`, copies);
    r.peerTar = timed('  tar -c | zstd -3 -T0 only', tarZstd);
    r.bareZstd = timed('zstd -3 -T0 of the same blob bytes (no tar)', `cat $(find ${layout}/blobs -type f) | zstd -q -3 -T0 > /dev/null`);
    rmSync(oci, { recursive: true, force: true });
    rmSync(join(dir, 'peer.tar.zst'), { force: true });
    return r;
  } finally {
    await reg.stop();
  }
}

mkdirSync(out, { recursive: true });
spawnSync(node, [bundleBin, 'keygen', '--out', join(out, 'bench'), '--force'], { stdio: 'ignore', env: { ...process.env, FERRY_KEY_PASSWORD: '' } });
const results: Record<string, unknown> = { date: new Date().toISOString(), gib: GIB };
if (ONLY !== 'registry') {
  const small = await scenario(GIB / 4, 'quarter');
  const full = await scenario(GIB, 'full');

  const m = (r: Record<string, Measure | number>, k: string) => r[k] as Measure;
  const ratio = (a: Measure, b: Measure) => (a.seconds / b.seconds).toFixed(2);
  const mbps = (bytes: number, s: Measure) => (bytes / MiB / s.seconds).toFixed(0);
  const rows = [
    ['pack', 'ferry-bundle create', 'tar | zstd -3 -T0', m(full, 'ferryCreate'), m(full, 'peerPack')],
    ['checksum', 'ferry-load checksum', 'sha256sum -c', m(full, 'ferryChecksum'), m(full, 'peerChecksum')],
    ['verify', 'ferry-load verify', 'zstd -dc | tar -x + sha256sum', m(full, 'ferryVerify'), m(full, 'peerVerify')],
    ['load', 'ferry-load push --to oci:', 'zstd -dc | tar -x', m(full, 'ferryPush'), m(full, 'peerExtract')],
    ['reload', 'ferry-load push (all there)', 'sha256sum every blob', m(full, 'ferryRepush'), m(full, 'peerRehash')],
  ] as const;
  const lines = [
    '',
    `Results on ${(Number(full.bytes) / MiB).toFixed(0)} MiB (full) — wall time ratio Ferry/peer (lower is better), peak RSS`,
    '| step | Ferry | s | MiB/s | RSS MiB | peer | s | RSS MiB | ratio |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(([step, f, p, a, b]) => `| ${step} | ${f} | ${a.seconds.toFixed(2)} | ${mbps(Number(full.bytes), a)} | ${a.rssMiB.toFixed(0)} | ${p.replace(/\|/g, '\\|')} | ${b.seconds.toFixed(2)} | ${b.rssMiB.toFixed(0)} | ${ratio(a, b)} |`),
    '',
    `Throughput vs bare zstd -3 -T0 on the same blob bytes: Ferry create ${mbps(Number(full.bytes), m(full, 'ferryCreate'))} MiB/s, zstd ${mbps(Number(full.bytes), m(full, 'bareZstd'))} MiB/s = ${((m(full, 'bareZstd').seconds / m(full, 'ferryCreate').seconds) * 100).toFixed(0)}% (target ≥ 70%)`,
    '',
    'Peak RSS as the bundle grows (flat = streaming):',
    `| command | ${(Number(small.bytes) / MiB).toFixed(0)} MiB | ${(Number(full.bytes) / MiB).toFixed(0)} MiB |`,
    '| --- | --- | --- |',
    `| ferry-bundle create | ${m(small, 'ferryCreate').rssMiB.toFixed(0)} MiB | ${m(full, 'ferryCreate').rssMiB.toFixed(0)} MiB |`,
    `| ferry-load checksum | ${m(small, 'ferryChecksum').rssMiB.toFixed(0)} MiB | ${m(full, 'ferryChecksum').rssMiB.toFixed(0)} MiB |`,
    `| ferry-load verify | ${m(small, 'ferryVerify').rssMiB.toFixed(0)} MiB | ${m(full, 'ferryVerify').rssMiB.toFixed(0)} MiB |`,
    `| ferry-load push --to oci: | ${m(small, 'ferryPush').rssMiB.toFixed(0)} MiB | ${m(full, 'ferryPush').rssMiB.toFixed(0)} MiB |`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  results.small = small;
  results.full = full;
}
if (ONLY !== 'local') {
  const reg = await registryScenario(GIB, 'registry');
  results.registry = reg;
  const m = (k: string) => reg[k] as Measure;
  const mbps = (s: Measure) => (Number(reg.bytes) / MiB / s.seconds).toFixed(0);
  const f = m('ferryCreate');
  const p = m('peerPack');
  const lines = [
    '',
    `Pack from a loopback registry: ${reg.images} images, ${(Number(reg.bytes) / MiB).toFixed(0)} MiB of blobs (shared base layer counted once) — wall time ratio Ferry/peer (target ≤ 0.50)`,
    '| step | Ferry | s | MiB/s | RSS MiB | peer | s | RSS MiB | ratio |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    `| registry pack | ferry-bundle create --image | ${f.seconds.toFixed(2)} | ${mbps(f)} | ${f.rssMiB.toFixed(0)} | skopeo copy ×${reg.images} + tar \\| zstd -3 -T0 | ${p.seconds.toFixed(2)} | ${p.rssMiB.toFixed(0)} | ${(f.seconds / p.seconds).toFixed(2)} |`,
    `| (peer, split) | | | | | skopeo copy ×${reg.images} | ${m('peerCopy').seconds.toFixed(2)} | ${m('peerCopy').rssMiB.toFixed(0)} | |`,
    `| (peer, split) | | | | | tar -c \\| zstd -3 -T0 | ${m('peerTar').seconds.toFixed(2)} | ${m('peerTar').rssMiB.toFixed(0)} | |`,
    '',
    `Throughput vs bare zstd -3 -T0 on the same blob bytes: Ferry create ${mbps(f)} MiB/s, zstd ${mbps(m('bareZstd'))} MiB/s = ${((m('bareZstd').seconds / f.seconds) * 100).toFixed(0)}% (target ≥ 70%)`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}
writeFileSync(join(out, 'results.json'), JSON.stringify(results, null, 2));
if (!process.argv.includes('--keep')) {
  rmSync(join(out, 'quarter'), { recursive: true, force: true });
  rmSync(join(out, 'full'), { recursive: true, force: true });
  rmSync(join(out, 'registry'), { recursive: true, force: true });
}
