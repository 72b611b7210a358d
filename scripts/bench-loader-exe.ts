// The loader-exe group of `npm run bench`: the ferry-load single executable (npm run
// build:loader: Node 24's runtime, zstd from node:zlib, one bundled script) against the dev
// build (node packages/loader/bin/ferry-load.js on this Node, zstd-napi), side by side on the
// same bundles:
//   - the big bundle of the local group (256 MiB layers, JSON layers): throughput;
//   - 1000 images of one 200-byte layer (3000 small blobs, a zstd frame each): per-frame cost.
// Each command runs twice, alternating dev and executable, and the faster run counts (the
// machine is shared). The ratio is executable / dev wall time: at most 1.0 means no slower.

import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { makeOciLayout, type ImageSpec } from '../test/helpers/images.js';
import { timed, type Measure } from './bench-measure.js';

const root = new URL('..', import.meta.url).pathname;

export interface LoaderExeCase {
  name: string;
  bytes: number;
  images: number;
  dev: Record<'checksum' | 'verify', Measure>;
  exe: Record<'checksum' | 'verify', Measure>;
}

export interface LoaderExeResult {
  exe: string;
  exeBytes: number;
  buildSeconds: number;
  node: { dev: string; exe: string };
  cases: LoaderExeCase[];
}

function best(a: Measure, b: Measure): Measure {
  return a.seconds <= b.seconds ? a : b;
}

export async function loaderExeScenario(out: string, bigSpecs: ImageSpec[], bins: { bundle: string; load: string; key: string; pub: string }): Promise<LoaderExeResult> {
  const dir = join(out, 'loader-exe');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  process.stdout.write('\n[loader-exe] building the linux-x64 executable (kept when unchanged)…\n');
  const started = Date.now();
  const b = spawnSync(process.execPath, [join(root, 'scripts/build-loader.mjs'), '--platforms', 'linux-x64', '--quiet'], { encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`build-loader failed: ${b.stderr}`);
  const buildSeconds = (Date.now() - started) / 1000;
  const exe = join(root, 'dist/loader/ferry-load-linux-x64');
  const version = (cmd: string[]) => spawnSync(cmd[0]!, [...cmd.slice(1), '--version'], { encoding: 'utf8' }).stdout.trim();
  const node = { dev: `${version([process.execPath, bins.load])} (zstd-napi)`, exe: `${version([exe])} (node:zlib zstd)` };

  const cases: LoaderExeCase[] = [];
  const small: ImageSpec[] = Array.from({ length: 1000 }, (_, i) => ({ tag: `s${i}`, platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 200, seed: `exe-small-${i}` }] }] }));
  for (const [name, specs] of [['big layers', bigSpecs], ['1000 small images', small]] as const) {
    const layout = join(dir, `${name.replace(/\W+/g, '-')}-layout`);
    process.stdout.write(`[loader-exe] ${name}: generating ${specs.length} images…\n`);
    await makeOciLayout(layout, specs);
    const bundle = join(dir, `${name.replace(/\W+/g, '-')}-bundle`);
    const images = specs.map((s) => `--image oci:${layout}:${s.tag}`).join(' ');
    const c = spawnSync('bash', ['-c', `${process.execPath} ${bins.bundle} create --name b --out ${bundle} --key ${bins.key} ${images} --volume-size 1GiB --json > /dev/null`], { encoding: 'utf8', env: { ...process.env, FERRY_KEY_PASSWORD: '' } });
    if (c.status !== 0) throw new Error(`create (${name}) failed: ${c.stderr}`);
    rmSync(layout, { recursive: true, force: true });
    spawnSync('bash', ['-c', `cat ${bundle}/* > /dev/null`]);
    const bytes = Number(spawnSync('bash', ['-c', `cat ${bundle}/b-*.tar.zst | wc -c`], { encoding: 'utf8' }).stdout.trim());
    const dev = `${process.execPath} ${bins.load}`;
    const run = (label: string, cmd: string, what: 'checksum' | 'verify') =>
      timed(`${label} ${what} (${name})`, what === 'checksum' ? `${cmd} checksum ${bundle} > /dev/null` : `${cmd} verify ${bundle} --trusted-key ${bins.pub} > /dev/null`);
    const m = { dev: {} as LoaderExeCase['dev'], exe: {} as LoaderExeCase['exe'] };
    for (const what of ['checksum', 'verify'] as const) {
      const d1 = run('dev', dev, what);
      const e1 = run('exe', exe, what);
      const d2 = run('dev', dev, what);
      const e2 = run('exe', exe, what);
      m.dev[what] = best(d1, d2);
      m.exe[what] = best(e1, e2);
    }
    cases.push({ name, bytes, images: specs.length, ...m });
    rmSync(bundle, { recursive: true, force: true });
  }
  return { exe, exeBytes: statSync(exe).size, buildSeconds, node, cases };
}
