// The many group of `npm run bench`: per-image overhead with 1000 small images (one 200-byte
// layer each, 3000 blobs) in one OCI layout, each named by its own --image oci:DIR:REF.
//   create:        ferry-bundle create ×1000 images   vs  tar -c | zstd -3 -T0 of the layout
//                  (per image: ms, and MiB of peak RSS above a 10-image create of the same layout)
//   verify:        ferry-load verify                  vs  zstd -dc | tar -x + sha256sum every blob
//   push oci:      ferry-load push --to oci:DIR       vs  zstd -dc | tar -x
//   push registry: ferry-load push --to HOST:PORT     vs  skopeo copy oci:DIR:REF docker://… of
//                  every image (a docker-registry on loopback, storage on /dev/shm)
// Targets (issue 11): create ≤ 5 ms and ≤ 0.05 MiB per image with peak RSS ≤ 200 MiB; verify
// ≤ 1 ms per image; push ≤ 3 ms per image into a layout and into a registry.

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeOciLayout, type ImageSpec } from '../test/helpers/images.js';
import { startRegistry } from '../test/harness/registry.js';
import { timed, timedAsync, type Measure } from './bench-measure.js';

export interface ManyResult {
  images: number;
  create: Measure;
  create10: Measure;
  peerPack: Measure;
  verify: Measure;
  peerVerify: Measure;
  pushOci: Measure;
  peerExtract: Measure;
  pushRegistry: Measure;
  peerRegistry: Measure;
  /** Peak RSS per image above the 10-image create, MiB. */
  rssPerImageMiB: number;
}

export interface ManyBins {
  node: string;
  bundle: string;
  load: string;
  key: string;
  pub: string;
  /** Where registries keep their storage (a tmpfs, so the disk is not measured). */
  registryTmp: string;
}

export async function manyScenario(out: string, count: number, bins: ManyBins): Promise<ManyResult> {
  const dir = join(out, 'many');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const layout = join(dir, 'layout');
  process.stdout.write(`\n[many] generating ${count} images of one 200-byte layer in one layout…\n`);
  const specs: ImageSpec[] = Array.from({ length: count }, (_, i) => ({ tag: `s${i}`, platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 200, seed: `many-${i}` }] }] }));
  await makeOciLayout(layout, specs);
  const imageArgs = (n: number) => specs.slice(0, n).map((s) => `--image oci:${layout}:${s.tag}`).join(' ');
  const args = join(dir, 'images.args');
  writeFileSync(args, imageArgs(count));
  const bundle = join(dir, 'bundle');
  const create = (n: number, to: string) => `${bins.node} ${bins.bundle} create --name b --out ${to} --key ${bins.key} ${n === count ? `$(cat ${args})` : imageArgs(n)} --volume-size 1GiB --json > /dev/null`;

  const r: Partial<ManyResult> = { images: count };
  r.create10 = timed('ferry-bundle create, 10 images (baseline)', create(10, join(dir, 'b10')));
  rmSync(join(dir, 'b10'), { recursive: true, force: true });
  r.create = timed(`ferry-bundle create, ${count} images`, create(count, bundle));
  r.peerPack = timed('tar -c | zstd -3 -T0 of the layout', `tar -C ${layout} -cf - . | zstd -q -3 -T0 -o ${join(dir, 'peer.tar.zst')}`);
  rmSync(join(dir, 'peer.tar.zst'), { force: true });
  r.verify = timed('ferry-load verify', `${bins.node} ${bins.load} verify ${bundle} --trusted-key ${bins.pub} > /dev/null`);
  const x = join(dir, 'extract');
  r.peerVerify = timed('zstd -dc | tar -x; sha256sum every blob', `mkdir -p ${x} && for v in ${bundle}/b-*.tar.zst; do zstd -dc "$v" | tar -x -C ${x}; done && cd ${x}/blobs/sha256 && for f in *; do echo "$f  $f"; done | sha256sum -c --quiet`);
  rmSync(x, { recursive: true, force: true });
  const loaded = join(dir, 'loaded');
  r.pushOci = timed('ferry-load push --to oci: (empty)', `${bins.node} ${bins.load} push ${bundle} --trusted-key ${bins.pub} --to oci:${loaded} --yes > /dev/null`);
  rmSync(loaded, { recursive: true, force: true });
  r.peerExtract = timed('zstd -dc | tar -x of the volume', `mkdir -p ${x} && for v in ${bundle}/b-*.tar.zst; do zstd -dc "$v" | tar -x -C ${x}; done`);
  rmSync(x, { recursive: true, force: true });

  // Registries: a fresh one per side. The peer copies every image with skopeo out of the
  // layout itself (what a user scripts, without even extracting a bundle first).
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = bins.registryTmp;
  try {
    const state = join(dir, 'state');
    mkdirSync(state, { recursive: true });
    let reg = await startRegistry();
    try {
      r.pushRegistry = await timedAsync('ferry-load push --to HOST:PORT (empty)', `${bins.node} ${bins.load} push ${bundle} --trusted-key ${bins.pub} --to ${reg.host} --insecure-registry ${reg.host} --state-dir ${state} --yes > /dev/null`);
    } finally {
      await reg.stop();
      rmSync(reg.dir, { recursive: true, force: true });
    }
    reg = await startRegistry();
    try {
      const policy = join(dir, 'policy.json');
      writeFileSync(policy, '{"default":[{"type":"insecureAcceptAnything"}]}');
      const script = join(dir, 'copies.sh');
      writeFileSync(script, specs.map((s) => `skopeo --policy ${policy} copy -q --dest-tls-verify=false oci:${layout}:${s.tag} docker://${reg.host}/bench/many:${s.tag}`).join('\n') + '\n');
      r.peerRegistry = await timedAsync(`skopeo copy ×${count}`, `bash -e ${script}`);
    } finally {
      await reg.stop();
      rmSync(reg.dir, { recursive: true, force: true });
    }
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
  r.rssPerImageMiB = (r.create.rssMiB - r.create10.rssMiB) / (count - 10);
  rmSync(dir, { recursive: true, force: true });
  return r as ManyResult;
}

/** The group's table: per-image figures, each beside its peer and its target. */
export function manyLines(m: ManyResult): string[] {
  const per = (s: Measure) => (s.seconds * 1000) / m.images;
  const row = (step: string, f: string, a: Measure, p: string, b: Measure, target: string) =>
    `| ${step} | ${f} | ${a.seconds.toFixed(2)} | ${per(a).toFixed(2)} | ${a.rssMiB.toFixed(0)} | ${p.replace(/\|/g, '\\|')} | ${b.seconds.toFixed(2)} | ${(a.seconds / b.seconds).toFixed(2)} | ${target} |`;
  return [
    '',
    `Many images: ${m.images} images of one 200-byte layer in one layout — ms per image, wall time ratio Ferry/peer, peak RSS`,
    '| step | Ferry | s | ms/image | RSS MiB | peer | s | ratio | target |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    row('create', `ferry-bundle create --image ×${m.images}`, m.create, 'tar -c | zstd -3 -T0', m.peerPack, '≤ 5 ms/image, RSS ≤ 200 MiB'),
    row('verify', 'ferry-load verify', m.verify, 'zstd -dc | tar -x + sha256sum', m.peerVerify, '≤ 1 ms/image'),
    row('push oci', 'ferry-load push --to oci:', m.pushOci, 'zstd -dc | tar -x', m.peerExtract, '≤ 3 ms/image'),
    row('push registry', 'ferry-load push --to HOST:PORT', m.pushRegistry, `skopeo copy ×${m.images}`, m.peerRegistry, '≤ 3 ms/image'),
    '',
    `create's peak RSS per image above a 10-image create (${m.create10.rssMiB.toFixed(0)} MiB): ${m.rssPerImageMiB.toFixed(3)} MiB (target ≤ 0.05).`,
  ];
}
