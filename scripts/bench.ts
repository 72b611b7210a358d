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
//   push-registry: ferry-load push --to HOST:PORT (empty loopback docker-registry)  vs
//             zstd -dc | tar -x of every volume, then skopeo copy oci:DIR:REF docker://… per image;
//             both against one curl PUT of a 1 GiB blob (the upload limit of this registry)
//
//   many:     1000 images of one small layer in one layout: create, verify, push into a layout and
//             into a registry, per image, against tar | zstd, zstd -dc | tar -x (+ sha256sum) and
//             skopeo copy ×1000 (scripts/bench-many.ts)
//
//   charts:   ferry-bundle create --chart URL ×N from nginx + ferry-load push --charts into a real
//             ChartMuseum and a static repository  vs  helm pull ×N + tar | zstd, then tar -x,
//             curl POST /api/charts ×N, cp + helm repo index (scripts/bench-charts.ts)
//   serve:    4 skopeo copies at once out of ferry-load serve  vs  zstd -dc | tar -x, then the same
//             4 skopeo copies out of the extracted layout; Ferry's peak RSS (scripts/bench-serve.ts)
//
//   loader-exe: the ferry-load single executable (npm run build:loader) vs the dev build, checksum
//             and verify of the same bundles (scripts/bench-loader-exe.ts)
//
// --only local|registry|push-registry|many|charts|serve|loader-exe runs one group (default: all). --gib N sets the full size
// (default 2); --images N the image count of the many group (default 1000).
//
// All inputs sit in the page cache (24 GiB RAM): this measures CPU and pipeline efficiency, not disks.

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, closeSync, constants as fsConstants, createWriteStream, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { makeOciLayout, seededBytes, type ImageSpec, type LayerSpec } from '../test/helpers/images.js';
import { startRegistry, type StartedRegistry } from '../test/harness/registry.js';
import { seedLayout } from '../test/harness/seed.js';
import { timed, timedAsync, type Measure } from './bench-measure.js';
import { chartsScenario } from './bench-charts.js';
import { loaderExeScenario } from './bench-loader-exe.js';
import { serveScenario } from './bench-serve.js';
import { manyLines, manyScenario } from './bench-many.js';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'bench-out');
const argGib = process.argv.indexOf('--gib');
const GIB = argGib > 0 ? Number(process.argv[argGib + 1]) : 2;
const argOnly = process.argv.indexOf('--only');
const ONLY = argOnly > 0 ? process.argv[argOnly + 1] : undefined;
const GROUPS = ['local', 'registry', 'push-registry', 'many', 'charts', 'serve', 'loader-exe'];
const argImages = process.argv.indexOf('--images');
const MANY = argImages > 0 ? Number(process.argv[argImages + 1]) : 1000;
if (ONLY !== undefined && !GROUPS.includes(ONLY)) {
  process.stderr.write(`--only takes ${GROUPS.join(', ')}, not ${ONLY}\n`);
  process.exit(2);
}
const MiB = 1 << 20;
const node = process.execPath;
const bundleBin = join(root, 'packages/bundler/bin/ferry-bundle.js');
const loadBin = join(root, 'packages/loader/bin/ferry-load.js');

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return n;
}

/** What the layers hold: 'mixed' (the local group's data): 256 MiB incompressible layers, a
 *  shared base, 32 MiB JSON-lines layers; 'random': only the incompressible layers and the base;
 *  'text': only JSON-lines layers (a shared base too). All are valid gzip of level 0 typed
 *  tar+gzip, so Ferry stores every layer as it is while the peer's zstd compresses the JSON. */
type DataKind = 'mixed' | 'random' | 'text';

/** Images totalling about `gib` GiB of the given kind of layers. */
function imageSpecs(gib: number, prefix: string, kind: DataKind = 'mixed'): ImageSpec[] {
  const total = gib * 1024 * MiB;
  // Below 512 MiB (the quarter scenario of --gib 1 or less) 256 MiB layers would leave no image.
  // The registry kinds want several images (downloads of different images in parallel): at
  // least 8 layers (a base and 7 images of one layer each).
  const big = kind === 'mixed' ? 256 * MiB : Math.min(256 * MiB, Math.floor(total / 8));
  const layer = total >= 2 * big ? big : Math.max(MiB, Math.floor(total / 4));
  const content = kind === 'text' ? ('text' as const) : ('random' as const);
  const base = { size: layer, seed: `${prefix}-base`, gzipLevel: 0, content };
  const specs: ImageSpec[] = [];
  let used = layer; // the shared base once
  for (let i = 0; used < total; i++) {
    const layers: LayerSpec[] = [base];
    if (used + layer <= total) { layers.push({ size: layer, seed: `${prefix}-img${i}-a`, gzipLevel: 0, content }); used += layer; }
    else if (kind !== 'mixed' && specs.length > 0) break; // less than a layer left
    if (kind === 'mixed') {
      const json = Math.min(32 * MiB, Math.max(MiB, total - used));
      layers.push({ size: json, seed: `${prefix}-img${i}-json`, content: 'text', gzipLevel: 0 });
      used += json;
    }
    specs.push({ tag: `img${i}`, platforms: [{ os: 'linux', architecture: 'amd64', layers }] });
    if (kind !== 'mixed' && layers.length === 1) break;
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
  // Pack and its two peers twice, alternating, the faster run of each counted: on a shared
  // machine one load spike otherwise decides the ratio (seen: 26.7 s against 6 s the next run).
  const create = `${node} ${bundleBin} create --name b --out ${bundle} --key ${join(out, 'bench.key')} ${images} --volume-size 1GiB`;
  const packPeer = `tar -C ${layout} -cf - . | zstd -q -3 -T0 -o ${join(dir, 'peer.tar.zst')}`;
  const bare = `cat $(find ${layout}/blobs -type f) | zstd -q -3 -T0 > /dev/null`;
  // The same create with its volumes on tmpfs: bare zstd writes to /dev/null, so this is the
  // comparison without the disk (on this VM's ext4 with `discard`, writes vary tenfold run to run).
  const shm = existsSync('/dev/shm') ? mkdtempSync(join('/dev/shm', 'ferry-bench-')) : undefined;
  const createShm = shm ? create.replace(`--out ${bundle}`, `--out ${join(shm, 'bundle')}`) : undefined;
  const runs: Record<'ferryCreate' | 'ferryCreateShm' | 'peerPack' | 'bareZstd', Measure[]> = { ferryCreate: [], ferryCreateShm: [], peerPack: [], bareZstd: [] };
  for (let k = 1; k <= 2; k++) {
    rmSync(bundle, { recursive: true, force: true });
    runs.ferryCreate.push(timed(`ferry-bundle create (${k}/2)`, create));
    if (shm && createShm) {
      runs.ferryCreateShm.push(timed(`ferry-bundle create, volumes on tmpfs (${k}/2)`, createShm));
      rmSync(join(shm, 'bundle'), { recursive: true, force: true });
    }
    runs.peerPack.push(timed(`tar -c | zstd -3 -T0 (${k}/2)`, packPeer));
    rmSync(join(dir, 'peer.tar.zst'), { force: true });
    runs.bareZstd.push(timed(`zstd -3 -T0 of the blob bytes, no tar (${k}/2)`, bare));
  }
  const best = (ms: Measure[]) => ms.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  r.ferryCreate = best(runs.ferryCreate);
  r.peerPack = best(runs.peerPack);
  r.bareZstd = best(runs.bareZstd);
  if (runs.ferryCreateShm.length) r.ferryCreateShm = best(runs.ferryCreateShm);
  if (shm) rmSync(shm, { recursive: true, force: true });
  r.loadAtPack = loadavg()[0]!;
  r.ferryChecksum = timed('ferry-load checksum', `${node} ${loadBin} checksum ${bundle}`);
  r.peerChecksum = timed('sha256sum -c', `cd ${bundle} && sha256sum -c --quiet b.sha256`);
  r.ferryVerify = timed('ferry-load verify', `${node} ${loadBin} verify ${bundle} --trusted-key ${join(out, 'bench.pub')}`);
  const x = join(dir, 'extract');
  r.peerVerify = timed('zstd -dc | tar -x; sha256sum every blob', `mkdir -p ${x} && for v in ${bundle}/b-*.tar.zst; do zstd -dc "$v" | tar -x -C ${x}; done && cd ${x}/blobs/sha256 && for f in *; do echo "$f  $f"; done | sha256sum -c --quiet`);
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
async function registryScenario(gib: number, tag: string, kind: DataKind): Promise<Record<string, Measure | number>> {
  const dir = join(out, tag);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const layout = join(dir, 'layout');
  process.stdout.write(`\n[${tag}] generating ~${gib} GiB of images and pushing them to a loopback registry (not timed)…\n`);
  const specs = imageSpecs(gib, tag, kind);
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

// ---- push into a registry ------------------------------------------------------------------

const REF_NAME = 'org.opencontainers.image.ref.name';
/** The registries' storage: a tmpfs, so that their 2 GiB do not show in the free space of the disk
 *  that holds /tmp and --state-dir (where Ferry must stage nothing). */
const REGISTRY_TMP = (() => {
  try { accessSync('/dev/shm', fsConstants.W_OK); return '/dev/shm'; } catch { return tmpdir(); }
})();

// A failing step exits at once (timed, fail), past reg.stop(): the harness kills the registry
// on exit, and this removes its storage, which on tmpfs would hold on to RAM.
const registryDirs = new Set<string>();
process.on('exit', () => {
  for (const d of registryDirs) rmSync(d, { recursive: true, force: true });
});

async function freshRegistry(): Promise<StartedRegistry> {
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = REGISTRY_TMP; // startRegistry makes its dir under os.tmpdir()
  try {
    const reg = await startRegistry();
    registryDirs.add(reg.dir);
    return reg;
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc/PID/stat (clock ticks of 1/100 s). */
function cpuOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' '); // fields from the 3rd (state) on
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime
}

/** timedAsync, plus the CPU the registry used meanwhile (registryCpuSeconds): client + server work, which a busy machine moves less than wall time. */
async function timedWithRegistry(label: string, script: string, reg: StartedRegistry): Promise<Measure & { registryCpuSeconds: number }> {
  const before = cpuOf(reg.pid);
  const m = await timedAsync(label, script);
  return { ...m, registryCpuSeconds: cpuOf(reg.pid) - before };
}

function fail(message: string): never {
  process.stderr.write(`push-registry: ${message}\n`);
  process.exit(1);
}

/** Free bytes (df -B1 --output=avail) of the file system holding `path`. */
function freeBytes(path: string): number {
  const r = spawnSync('df', ['-B1', '--output=avail', path], { encoding: 'utf8' });
  if (r.status !== 0) fail(`df ${path}: ${r.stderr}`);
  return Number(r.stdout.trim().split('\n').pop());
}

/**
 * Samples the free space of `paths` every 100 ms in a separate process (it keeps running while
 * spawnSync blocks this one), so space used and released again during a command shows too.
 * stop() returns the lowest free space seen per path.
 */
function sampleFree(paths: string[], file: string): { stop(): number[] } {
  const fd = openSync(file, 'w');
  const child = spawn('bash', ['-c', `while :; do df -B1 --output=avail ${paths.join(' ')} | tail -n +2 | paste -sd' '; sleep 0.1; done`], { stdio: ['ignore', fd, 'ignore'] });
  closeSync(fd);
  // A failing step exits the bench at once; the loop must not outlive it.
  const kill = () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); };
  process.once('exit', kill);
  return {
    stop() {
      process.off('exit', kill);
      kill();
      const rows = readFileSync(file, 'utf8').split('\n').map((l) => l.trim().split(/\s+/).map(Number)).filter((r) => r.length === paths.length && r.every((n) => Number.isFinite(n) && n > 0));
      if (rows.length === 0) fail(`no free-space samples in ${file}`);
      return paths.map((_, i) => Math.min(...rows.map((r) => r[i]!)));
    },
  };
}

interface PushedImage { repository: string; tag: string; digest: string }

/** skopeo inspect --raw of every image: the registry must hold each tag with the bundled digest. */
function verifyInRegistry(host: string, images: PushedImage[], side: string): void {
  if (images.length === 0) fail(`${side}: no images to check`);
  for (const i of images) {
    const ref = `docker://${host}/${i.repository}:${i.tag}`;
    const r = spawnSync('skopeo', ['inspect', '--raw', '--tls-verify=false', ref], { maxBuffer: 64 * MiB });
    if (r.status !== 0) fail(`${side}: skopeo inspect --raw ${ref} failed: ${r.stderr.toString()}`);
    const digest = 'sha256:' + createHash('sha256').update(r.stdout).digest('hex');
    if (digest !== i.digest) fail(`${side}: ${ref} is ${digest}, the bundle carries ${i.digest}`);
  }
  process.stdout.write(`  ${side}: all ${images.length} tags in ${host} have the bundled digest (skopeo inspect --raw)\n`);
}

/**
 * Load into an empty loopback docker-registry (plain HTTP, storage on tmpfs, a fresh one per
 * measured run): ferry-load push --to HOST:PORT straight from the volumes vs what a user scripts
 * today, zstd -dc | tar -x of every volume into a directory, then skopeo copy oci:DIR:REF
 * docker://HOST/REPO:TAG per image, one after the other. The bundle is ~gib GiB of the usual
 * images plus the first image a second time under another repository (same digest). The upload
 * limit of such a registry on this machine is one curl PUT of a 1 GiB blob.
 */
async function pushRegistryScenario(gib: number, tag: string): Promise<Record<string, Measure | number | string>> {
  const dir = join(out, tag);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const layout = join(dir, 'layout');
  process.stdout.write(`\n[${tag}] generating ~${gib} GiB of images and bundling them (not timed)…\n`);
  const specs = imageSpecs(gib, tag).map((s) => ({ ...s, tag: `bench/${s.tag}:v1` }));
  await makeOciLayout(layout, specs);
  // The first image once more under a second repository: same manifest, same digest.
  const indexFile = join(layout, 'index.json');
  const index = JSON.parse(readFileSync(indexFile, 'utf8')) as { manifests: Array<{ annotations?: Record<string, string> }> };
  const first = index.manifests.find((m) => m.annotations?.[REF_NAME] === specs[0]!.tag)!;
  const alias = specs[0]!.tag.replace(/^bench\//, 'mirror/');
  index.manifests.push({ ...first, annotations: { [REF_NAME]: alias } });
  writeFileSync(indexFile, JSON.stringify(index));
  const refs = [...specs.map((s) => s.tag), alias];
  const bundle = join(dir, 'bundle');
  const pub = join(out, 'bench.pub');
  const c = spawnSync(node, [bundleBin, 'create', '--name', 'b', '--out', bundle, '--key', join(out, 'bench.key'), ...refs.flatMap((x) => ['--image', `oci:${layout}:${x}`]), '--volume-size', '1GiB', '--json'], { encoding: 'utf8', env: { ...process.env, CI: 'true' }, maxBuffer: 64 * MiB });
  if (c.status !== 0) fail(`ferry-bundle create failed (${c.status}):\n${c.stdout}\n${c.stderr}`);
  rmSync(layout, { recursive: true, force: true });
  const manifest = JSON.parse(readFileSync(join(bundle, 'b.manifest.json'), 'utf8')) as { images: Array<{ repository: string; tag?: string; digest: string }> };
  const images: PushedImage[] = manifest.images.map((i) => ({ repository: i.repository, tag: i.tag ?? fail(`${i.repository} has no tag`), digest: i.digest }));
  if (images.length !== refs.length) fail(`the bundle holds ${images.length} images, ${refs.length} were asked for`);
  const digests = new Set(images.map((i) => i.digest));
  if (digests.size !== images.length - 1) fail(`expected one digest under two repositories, got ${digests.size} digests for ${images.length} images`);
  const volumes = readdirSync(bundle).filter((f) => /^b-\d+\.tar\.zst$/.test(f)).sort();
  const bytes = volumes.reduce((n, v) => n + statSync(join(bundle, v)).size, 0);
  spawnSync('bash', ['-c', `cat ${bundle}/* > /dev/null`]);
  process.stdout.write(`[${tag}] ${images.length} tags (${digests.size} images, one under two repositories), ${volumes.length} volumes, ${(bytes / MiB).toFixed(0)} MiB; registries on ${REGISTRY_TMP}\n`);
  const r: Record<string, Measure | number | string> = { bytes, volumes: volumes.length, tags: images.length, images: digests.size, registryStorage: REGISTRY_TMP, loadBefore: loadavg()[0]! };

  // The limit: one blob, one PUT, no client work but reading a file from the page cache.
  const blobFile = join(dir, 'curl-blob.bin');
  const blobSize = 1024 * MiB;
  const h = createHash('sha256');
  await pipeline(seededBytes(`${tag}-curl`, blobSize), async function* (src: AsyncIterable<Buffer>) {
    for await (const b of src) { h.update(b); yield b; }
  }, createWriteStream(blobFile));
  const blobDigest = `sha256:${h.digest('hex')}`;
  const curls: Measure[] = [];
  for (let k = 0; k < 2; k++) {
    const reg = await freshRegistry();
    spawnSync('sync'); // the peer's extracted layout is written back now, not during the next measurement
    try {
      const post = await fetch(`${reg.url}/v2/bench/raw/blobs/uploads/`, { method: 'POST' });
      if (post.status !== 202 || !post.headers.get('location')) fail(`POST blob upload: ${post.status}`);
      const loc = new URL(post.headers.get('location')!, reg.url).toString();
      const put = `${loc}${loc.includes('?') ? '&' : '?'}digest=${blobDigest}`;
      curls.push(await timedWithRegistry(`curl -T: one ${blobSize / MiB} MiB blob, one PUT (${k + 1}/2)`, `curl -fsS -o /dev/null -T ${blobFile} -X PUT '${put}'`, reg));
      const head = await fetch(`${reg.url}/v2/bench/raw/blobs/${blobDigest}`, { method: 'HEAD' });
      if (head.status !== 200 || Number(head.headers.get('content-length')) !== blobSize) fail(`curl upload not in the registry: HEAD ${head.status}, ${head.headers.get('content-length')} bytes`);
    } finally {
      await reg.stop();
    }
  }
  rmSync(blobFile, { force: true });
  r.curl = curls.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  r.curlBytes = blobSize;

  // The peer, as a user scripts it: extract every volume, then one skopeo copy per image.
  const policy = join(dir, 'policy.json');
  writeFileSync(policy, '{"default":[{"type":"insecureAcceptAnything"}]}');
  const x = join(dir, 'peer-oci');
  const extract = `mkdir -p ${x} && for v in ${bundle}/b-*.tar.zst; do zstd -dc "$v" | tar -x -C ${x}; done`;
  const copies = (host: string) => images.map((i) => `skopeo --policy ${policy} copy -q --dest-tls-verify=false oci:${x}:${i.repository}:${i.tag} docker://${host}/${i.repository}:${i.tag}`).join(' && ');
  {
    const reg = await freshRegistry();
    spawnSync('sync'); // the peer's extracted layout is written back now, not during the next measurement
    try {
      r.peerPush = await timedWithRegistry(`zstd -dc | tar -x; skopeo copy ×${images.length}`, `${extract} && ${copies(reg.host)}`, reg);
      r.peerTempBytes = dirBytes(x);
      verifyInRegistry(reg.host, images, 'peer');
    } finally {
      await reg.stop();
    }
    rmSync(x, { recursive: true, force: true });
  }
  // The same two stages again, timed apart, into another empty registry.
  {
    const reg = await freshRegistry();
    spawnSync('sync'); // the peer's extracted layout is written back now, not during the next measurement
    try {
      r.peerExtract = await timedAsync('  zstd -dc | tar -x of every volume only', extract);
      r.peerCopy = await timedWithRegistry(`  skopeo copy ×${images.length} only`, copies(reg.host), reg);
      verifyInRegistry(reg.host, images, 'peer (split)');
    } finally {
      await reg.stop();
    }
    rmSync(x, { recursive: true, force: true });
  }
  // Ferry: from the volumes straight into the registry (last, so a build without registry
  // targets still shows the peer's numbers first). /tmp and the state dir are watched.
  {
    const reg = await freshRegistry();
    spawnSync('sync'); // the peer's extracted layout is written back now, not during the next measurement
    try {
      const state = join(dir, 'state');
      mkdirSync(state, { recursive: true });
      const tmp = tmpdir();
      const before = [freeBytes(tmp), freeBytes(state)];
      const sampler = sampleFree([tmp, state], join(dir, 'free-samples.txt'));
      r.ferryPush = await timedWithRegistry('ferry-load push --to HOST:PORT', `${node} ${loadBin} push ${bundle} --trusted-key ${pub} --to ${reg.host} --insecure-registry ${reg.host} --state-dir ${state} --yes --json`, reg);
      const lowest = sampler.stop();
      const after = [freeBytes(tmp), freeBytes(state)];
      r.tmpDir = tmp;
      r.tmpFreeDelta = before[0]! - after[0]!;
      r.tmpFreePeakDelta = before[0]! - Math.min(lowest[0]!, after[0]!);
      r.stateFreeDelta = before[1]! - after[1]!;
      r.stateFreePeakDelta = before[1]! - Math.min(lowest[1]!, after[1]!);
      r.stateBytes = dirBytes(state);
      verifyInRegistry(reg.host, images, 'ferry');
    } finally {
      await reg.stop();
    }
  }
  r.loadAfter = loadavg()[0]!;
  return r;
}

mkdirSync(out, { recursive: true });
spawnSync(node, [bundleBin, 'keygen', '--out', join(out, 'bench'), '--force'], { stdio: 'ignore', env: { ...process.env, FERRY_KEY_PASSWORD: '' } });
const results: Record<string, unknown> = { date: new Date().toISOString(), gib: GIB };
if (ONLY === undefined || ONLY === 'local') {
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
    `Throughput vs bare zstd -3 -T0 on the same blob bytes (best of 2 each): Ferry create ${mbps(Number(full.bytes), m(full, 'ferryCreate'))} MiB/s, zstd ${mbps(Number(full.bytes), m(full, 'bareZstd'))} MiB/s = ${((m(full, 'bareZstd').seconds / m(full, 'ferryCreate').seconds) * 100).toFixed(0)}% (target ≥ 75%); CPU seconds: Ferry ${m(full, 'ferryCreate').cpuSeconds.toFixed(1)}, zstd ${m(full, 'bareZstd').cpuSeconds.toFixed(1)}.${full.ferryCreateShm ? ` With the volumes on tmpfs (no disk): ${mbps(Number(full.bytes), m(full, 'ferryCreateShm'))} MiB/s = ${((m(full, 'bareZstd').seconds / m(full, 'ferryCreateShm').seconds) * 100).toFixed(0)}% of bare zstd.` : ''} Load average (1 min) at pack: ${Number(full.loadAtPack).toFixed(1)} on ${cpus().length} CPUs.`,
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
if (ONLY === undefined || ONLY === 'registry') {
  // Both kinds of data, half the size each: incompressible layers (the peer's zstd stores them
  // too) and JSON-lines layers (which the peer's zstd compresses and Ferry stores as typed).
  const loadBefore = loadavg()[0]!;
  const kinds = [['random', 'incompressible layers, shared base'], ['text', 'JSON-lines layers, shared base']] as const;
  const rows: string[] = [];
  const mb = (bytes: number, s: Measure) => (bytes / MiB / s.seconds).toFixed(0);
  results.registry = {};
  for (const [kind, what] of kinds) {
    const reg = await registryScenario(GIB / 2, `registry-${kind}`, kind);
    (results.registry as Record<string, unknown>)[kind] = reg;
    const m = (k: string) => reg[k] as Measure;
    const f = m('ferryCreate');
    const p = m('peerPack');
    const bytes = Number(reg.bytes);
    rows.push(
      `| ${what} (${(bytes / MiB).toFixed(0)} MiB, ${reg.images} images) | ${f.seconds.toFixed(2)} | ${mb(bytes, f)} | ${f.rssMiB.toFixed(0)} | ${p.seconds.toFixed(2)} (${m('peerCopy').seconds.toFixed(2)} + ${m('peerTar').seconds.toFixed(2)}) | ${p.rssMiB.toFixed(0)} | **${(f.seconds / p.seconds).toFixed(2)}** | ${((m('bareZstd').seconds / f.seconds) * 100).toFixed(0)}% |`,
    );
  }
  const lines = [
    '',
    'Pack from a loopback registry — Ferry create --image vs skopeo copy ×N into one OCI dir + tar -c | zstd -3 -T0 (target ≤ 0.40)',
    '| data | Ferry s | MiB/s | RSS MiB | peer s (skopeo ×N + tar \\| zstd, timed apart) | peer RSS MiB | ratio Ferry/peer | Ferry vs bare zstd -3 -T0 |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    `Load average (1 min) before / after the group: ${loadBefore.toFixed(1)} / ${loadavg()[0]!.toFixed(1)} on ${cpus().length} CPUs.`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}
if (ONLY === undefined || ONLY === 'push-registry') {
  const pr = await pushRegistryScenario(GIB, 'push-registry');
  results.pushRegistry = pr;
  const m = (k: string) => pr[k] as Measure;
  const n = (k: string) => pr[k] as number;
  const mbps = (bytes: number, s: Measure) => bytes / MiB / s.seconds;
  const curlMbps = mbps(n('curlBytes'), m('curl'));
  const pct = (s: Measure) => `${((mbps(n('bytes'), s) / curlMbps) * 100).toFixed(0)}%`;
  const mib = (b: number) => `${(b / MiB).toFixed(1)} MiB`;
  const f = m('ferryPush');
  const p = m('peerPush');
  const total = (s: Measure & { registryCpuSeconds?: number }) => s.cpuSeconds + (s.registryCpuSeconds ?? 0);
  const cpu = (s: Measure & { registryCpuSeconds?: number }) => (s.registryCpuSeconds === undefined ? `${s.cpuSeconds.toFixed(1)}` : `${s.cpuSeconds.toFixed(1)} + ${s.registryCpuSeconds.toFixed(1)}`);
  const row = (step: string, cmd: string, s: Measure, bytes: number, ofCurl: string, temp: string) =>
    `| ${step} | ${cmd.replace(/\|/g, '\\|')} | ${s.seconds.toFixed(2)} | ${cpu(s)} | ${mbps(bytes, s).toFixed(0)} | ${ofCurl} | ${s.rssMiB.toFixed(0)} | ${s.writtenMiB.toFixed(0)} | ${temp} |`;
  const lines = [
    '',
    `Push into an empty loopback registry: ${pr.tags} tags (${pr.images} images, one under two repositories), ${(n('bytes') / MiB).toFixed(0)} MiB in ${pr.volumes} volumes — Ferry/peer wall time (target ≤ 0.50), peak RSS (target < 200 MiB), temp space (target 0)`,
    '| side | command | s | CPU s (client + registry) | MiB/s | % of curl | RSS MiB | disk writes MiB | temp space |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    row('Ferry', 'ferry-load push --to HOST:PORT', f, n('bytes'), pct(f), `${mib(n('tmpFreePeakDelta'))} at the peak, ${mib(n('tmpFreeDelta'))} after (df)`),
    row('peer', `zstd -dc | tar -x + skopeo copy ×${pr.tags}`, p, n('bytes'), pct(p), `${mib(n('peerTempBytes'))} (the extracted layout)`),
    row('(peer, split)', 'zstd -dc | tar -x', m('peerExtract'), n('bytes'), '', ''),
    row('(peer, split)', `skopeo copy ×${pr.tags}`, m('peerCopy'), n('bytes'), pct(m('peerCopy')), ''),
    row('limit', `curl -T one ${(n('curlBytes') / MiB).toFixed(0)} MiB blob (best of 2)`, m('curl'), n('curlBytes'), '100%', ''),
    '',
    `Ratio Ferry/peer wall time: ${(f.seconds / p.seconds).toFixed(2)} (target ≤ 0.50); CPU time, client + registry: ${(total(f) / total(p)).toFixed(2)}. Upload throughput: Ferry ${mbps(n('bytes'), f).toFixed(0)} MiB/s = ${pct(f)} of curl's ${curlMbps.toFixed(0)} MiB/s, peer ${mbps(n('bytes'), p).toFixed(0)} MiB/s = ${pct(p)}.`,
    `Ferry's temp space (free space taken, before minus after, and before minus the lowest seen during the push): ${pr.tmpDir} ${mib(n('tmpFreeDelta'))} after, ${mib(n('tmpFreePeakDelta'))} at the peak; --state-dir ${mib(n('stateFreeDelta'))} after, ${mib(n('stateFreePeakDelta'))} at the peak; ${n('stateBytes')} bytes left in --state-dir; ${f.writtenMiB.toFixed(1)} MiB written to disk by the push itself (GNU time %O). Registries store on ${pr.registryStorage}. Free space is of a shared disk: other processes move it too (negative: they freed some).`,
    `Load average (1 min) before / after the group: ${n('loadBefore').toFixed(1)} / ${n('loadAfter').toFixed(1)} on ${cpus().length} CPUs.`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}
if (ONLY === undefined || ONLY === 'many') {
  const loadBefore = loadavg()[0]!;
  const r = await manyScenario(out, MANY, { node, bundle: bundleBin, load: loadBin, key: join(out, 'bench.key'), pub: join(out, 'bench.pub'), registryTmp: REGISTRY_TMP });
  results.many = { ...r, loadBefore, loadAfter: loadavg()[0]! };
  process.stdout.write([...manyLines(r), `Load average (1 min) before / after the group: ${loadBefore.toFixed(1)} / ${loadavg()[0]!.toFixed(1)} on ${cpus().length} CPUs.`].join('\n') + '\n');
}
if (ONLY === undefined || ONLY === 'charts') {
  const c = await chartsScenario(out, 40, { bundle: bundleBin, load: loadBin, key: join(out, 'bench.key'), pub: join(out, 'bench.pub') });
  results.charts = c;
  const both = (a: Measure, b: Measure) => a.seconds + b.seconds;
  const lines = [
    '',
    `Charts: ${c.charts} charts (${(c.bytes / 1024).toFixed(0)} KiB of .tgz) from an nginx chart repository into a real ChartMuseum and a static repository — wall time Ferry/peer`,
    '| step | Ferry | s | RSS MiB | peer | s | RSS MiB | ratio |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    `| low side | ferry-bundle create --chart ×${c.charts} | ${c.ferryCreate.seconds.toFixed(2)} | ${c.ferryCreate.rssMiB.toFixed(0)} | helm pull ×${c.charts} + tar \| zstd | ${c.peerPull.seconds.toFixed(2)} | ${c.peerPull.rssMiB.toFixed(0)} | ${(c.ferryCreate.seconds / c.peerPull.seconds).toFixed(2)} |`,
    `| high side | ferry-load push --charts cm + dir | ${c.ferryPush.seconds.toFixed(2)} | ${c.ferryPush.rssMiB.toFixed(0)} | tar -x + curl POST ×${c.charts} + helm repo index | ${c.peerPublish.seconds.toFixed(2)} | ${c.peerPublish.rssMiB.toFixed(0)} | ${(c.ferryPush.seconds / c.peerPublish.seconds).toFixed(2)} |`,
    `| both | | ${both(c.ferryCreate, c.ferryPush).toFixed(2)} | | | ${both(c.peerPull, c.peerPublish).toFixed(2)} | | ${(both(c.ferryCreate, c.ferryPush) / both(c.peerPull, c.peerPublish)).toFixed(2)} |`,
    'Ferry also checks every index digest, signs the bundle, checks each chart as Helm loads it on both sides and the destinations after the load; the peer does none of that.',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}
if (ONLY === undefined || ONLY === 'serve') {
  const sv = await serveScenario(out, GIB, { node, bundle: bundleBin, load: loadBin, key: join(out, 'bench.key'), pub: join(out, 'bench.pub') });
  results.serve = sv;
  const peer = sv.peerExtract.seconds + sv.peerCopies.seconds;
  const mbps = (s: number) => (sv.bytes / MiB / s).toFixed(0);
  const lines = [
    '',
    `Serve: ${sv.images} images, ${(sv.bytes / MiB).toFixed(0)} MiB of blobs, read by 4 skopeo copies at once — wall time Ferry/peer (lower is better)`,
    '| side | command | s | MiB/s | RSS MiB |',
    '| --- | --- | --- | --- | --- |',
    `| Ferry | 4× skopeo copy docker:// from ferry-load serve | ${sv.ferryCopies.seconds.toFixed(2)} | ${mbps(sv.ferryCopies.seconds)} | serve ${sv.ferryPeakRssMiB.toFixed(0)} (skopeo ${sv.ferryCopies.rssMiB.toFixed(0)}) |`,
    `| peer | zstd -dc \\| tar -x + 4× skopeo copy oci: | ${peer.toFixed(2)} | ${mbps(peer)} | |`,
    `| (peer, split) | zstd -dc \\| tar -x | ${sv.peerExtract.seconds.toFixed(2)} | | ${sv.peerExtract.rssMiB.toFixed(0)} |`,
    `| (peer, split) | 4× skopeo copy oci: | ${sv.peerCopies.seconds.toFixed(2)} | ${mbps(sv.peerCopies.seconds)} | ${sv.peerCopies.rssMiB.toFixed(0)} |`,
    '',
    `Ratio Ferry/peer: ${(sv.ferryCopies.seconds / peer).toFixed(2)} against extract + copies, ${(sv.ferryCopies.seconds / sv.peerCopies.seconds).toFixed(2)} against the copies alone (the peer also needs the extracted layout's disk space; serve needs none).`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}
if (ONLY === undefined || ONLY === 'loader-exe') {
  const r = await loaderExeScenario(out, imageSpecs(GIB, 'exe'), { bundle: bundleBin, load: loadBin, key: join(out, 'bench.key'), pub: join(out, 'bench.pub') });
  results.loaderExe = r;
  const row = (c: (typeof r.cases)[number], what: 'checksum' | 'verify') => {
    const d = c.dev[what];
    const e = c.exe[what];
    return `| ${what} | ${c.name} (${(c.bytes / MiB).toFixed(0)} MiB, ${c.images} images) | ${d.seconds.toFixed(2)} | ${d.rssMiB.toFixed(0)} | ${e.seconds.toFixed(2)} | ${e.rssMiB.toFixed(0)} | ${(e.seconds / d.seconds).toFixed(2)} |`;
  };
  const lines = [
    '',
    `ferry-load as a single executable (${(r.exeBytes / MiB).toFixed(1)} MiB, build:loader ${r.buildSeconds.toFixed(1)} s this run) vs the dev build — wall time ratio exe/dev (best of 2 each; ≤ 1.00: no slower), peak RSS`,
    `dev: ${r.node.dev}; exe: ${r.node.exe}`,
    '| command | bundle | dev s | dev RSS MiB | exe s | exe RSS MiB | ratio |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...r.cases.flatMap((c) => [row(c, 'checksum'), row(c, 'verify')]),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}
writeFileSync(join(out, 'results.json'), JSON.stringify(results, null, 2));
if (!process.argv.includes('--keep')) {
  rmSync(join(out, 'quarter'), { recursive: true, force: true });
  rmSync(join(out, 'full'), { recursive: true, force: true });
  rmSync(join(out, 'registry-random'), { recursive: true, force: true });
  rmSync(join(out, 'registry-text'), { recursive: true, force: true });
  rmSync(join(out, 'many'), { recursive: true, force: true });
  rmSync(join(out, 'push-registry'), { recursive: true, force: true });
  rmSync(join(out, 'charts'), { recursive: true, force: true });
  rmSync(join(out, 'loader-exe'), { recursive: true, force: true });
}
