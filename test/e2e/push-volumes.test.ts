// Volumes as the operator meets them: a blob split across several discs, a damaged disc, discs
// brought over several runs. The volume with the bad bytes is the one named; restoring it
// completes the load (nothing is stuck); bundles that split a blob differently never poison
// each other; "bring these volumes" lists exactly what is still needed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cp, mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeOciLayout, type WrittenImage } from '../helpers/images.js';
import { bundleCli, loadCli, sh } from '../helpers/cli.js';
import { flipByte } from '../helpers/tamper.js';

let tmp = '';
let img: WrittenImage;

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-push-volumes-'));
  // One incompressible layer several volumes long (stored frames hold its bytes as they are).
  [img] = (await makeOciLayout(join(tmp, 'src'), [
    { tag: 'v1', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 600_000, seed: 'big', gzipLevel: 0 }, { size: 5_000, seed: 'small' }] }] },
  ])) as [WrittenImage];
  assert.is((await bundleCli(['keygen', '--no-password', '--out', join(tmp, 'k')])).code, 0);
});

test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function create(name: string, volumeSize: string): Promise<{ dir: string; manifest: { volumes: Array<{ file: string }>; blobs: Array<{ digest: string; volume?: number; segments?: Array<{ volume: number }> }> } }> {
  const dir = join(tmp, name);
  const r = await bundleCli(['create', '--name', name, '--out', dir, '--key', join(tmp, 'k.key'), '--image', `oci:${join(tmp, 'src')}:v1`, '--volume-size', volumeSize]);
  assert.is(r.code, 0, r.stderr);
  return { dir, manifest: JSON.parse(await readFile(join(dir, `${name}.manifest.json`), 'utf8')) };
}
const push = (dir: string, out: string, extra: string[] = []) => loadCli(['push', dir, '--trusted-key', join(tmp, 'k.pub'), '--to', `oci:${out}`, '--yes', ...extra]);
const bigLayer = () => img.layers[0]![0]!.digest;

test('a damaged segment in volume 002 is blamed on 002 by verify, checksum and push; a good copy of 002 then completes the load', async () => {
  const { dir, manifest } = await create('dmg', '160KiB');
  const split = manifest.blobs.find((b) => b.digest === bigLayer())!;
  assert.ok((split.segments?.length ?? 0) >= 3, 'the layer spans at least three volumes');
  assert.is(split.segments![1]!.volume, 2);
  const pristine = join(tmp, 'dmg-002.pristine');
  await cp(join(dir, 'dmg-002.tar.zst'), pristine);
  const size = (await readFile(join(dir, 'dmg-002.tar.zst'))).length;
  await flipByte(join(dir, 'dmg-002.tar.zst'), Math.floor(size / 2)); // inside the segment's raw bytes

  const v = await loadCli(['verify', dir, '--trusted-key', join(tmp, 'k.pub'), '--json']);
  assert.is.not(v.code, 0);
  const vr = JSON.parse(v.stdout);
  const status = Object.fromEntries(vr.volumes.map((x: { file: string; status: string }) => [x.file, x.status]));
  assert.is(status['dmg-002.tar.zst'], 'bad', v.stdout);
  for (const f of Object.keys(status)) if (f !== 'dmg-002.tar.zst') assert.is(status[f], 'ok', `${f} is fine: ${v.stdout}`);
  const c = await loadCli(['checksum', dir]);
  assert.match(c.stdout, /FAIL\s+dmg-002\.tar\.zst/);

  const out = join(tmp, 'dmg-out');
  const p = await push(dir, out, ['--json']);
  assert.is(p.code, 9, p.stdout + p.stderr);
  const rep = JSON.parse(p.stdout);
  assert.equal(rep.volumesDamaged.map((d: { file: string }) => d.file), ['dmg-002.tar.zst']);
  assert.match(rep.volumesDamaged[0].message, /dmg-002\.tar\.zst/);
  assert.equal(rep.volumesMissing, [], 'nothing is absent: 002 is here but damaged');
  assert.is(rep.images[0].status, 'pending');
  assert.match(rep.error.message, /dmg-002\.tar\.zst/);

  // The good copy arrives; the same command completes (the bad segment never counted).
  await cp(pristine, join(dir, 'dmg-002.tar.zst'));
  const again = await push(dir, out, ['--json']);
  assert.is(again.code, 0, again.stdout + again.stderr);
  assert.ok(JSON.parse(again.stdout).complete);
  const insp = await sh(`skopeo copy oci:${out}:src:v1 oci:${join(tmp, 'dmg-check')}:x`);
  assert.is(insp.code, 0, insp.stderr);
  assert.equal(await readdir(join(out, '.ferry', 'partial')), [], 'no partial state left');
});

test('two bundles that split the same blob at different boundaries do not poison each other', async () => {
  const a = await create('sa', '160KiB');
  const b = await create('sb', '224KiB');
  const segA = a.manifest.blobs.find((x) => x.digest === bigLayer())!.segments!;
  const segB = b.manifest.blobs.find((x) => x.digest === bigLayer())!.segments!;
  assert.is.not(JSON.stringify(segA), JSON.stringify(segB), 'the two bundles split the layer differently');
  const out = join(tmp, 'split-out');
  // Bundle a: only its first volume for now.
  const later = join(tmp, 'sa-later');
  await mkdir(later);
  for (const v of a.manifest.volumes.slice(1)) await rename(join(a.dir, v.file), join(later, v.file));
  const partA = await push(a.dir, out);
  assert.is(partA.code, 15, partA.stdout + partA.stderr);
  // Bundle b, complete: its own segments, no BLOB_MISMATCH from a's partial state.
  const fullB = await push(b.dir, out);
  assert.is(fullB.code, 0, fullB.stdout + fullB.stderr);
  for (const v of a.manifest.volumes.slice(1)) await rename(join(later, v.file), join(a.dir, v.file));
  const fullA = await push(a.dir, out);
  assert.is(fullA.code, 0, fullA.stdout + fullA.stderr);
  assert.equal(await readdir(join(out, '.ferry', 'partial')), [], 'a\'s partial state is gone once the blob is in place');
});

test('"bring these volumes" lists only what is still needed, never one already loaded, never an empty list', async () => {
  const { dir, manifest } = await create('bring', '128KiB');
  const files = manifest.volumes.map((v) => v.file);
  assert.ok(files.length >= 4, `several volumes: ${files.join(', ')}`);
  const away = join(tmp, 'bring-away');
  await mkdir(away);
  const out = join(tmp, 'bring-out');
  // Run 1: only the first volume.
  for (const f of files.slice(1)) await rename(join(dir, f), join(away, f));
  const r1 = await push(dir, out, ['--json']);
  assert.is(r1.code, 15, r1.stdout);
  const m1 = JSON.parse(r1.stdout).volumesMissing as string[];
  assert.ok(m1.length > 0 && !m1.includes(files[0]!), `run 1 asks for ${m1.join(', ')}`);
  // Run 2: the first volume is gone again (back in the drawer), the second is here.
  await rename(join(dir, files[0]!), join(away, files[0]!));
  await rename(join(away, files[1]!), join(dir, files[1]!));
  const r2 = await push(dir, out, ['--json']);
  assert.is(r2.code, 15, r2.stdout);
  const m2 = JSON.parse(r2.stdout).volumesMissing as string[];
  assert.not.ok(m2.includes(files[0]!), `volume 001 was loaded in run 1 and is not asked for again: ${m2.join(', ')}`);
  assert.not.ok(m2.includes(files[1]!));
  assert.ok(m2.length > 0);
  const plain = await push(dir, out);
  assert.match(plain.stdout, new RegExp(`Not complete: bring ${m2.join(', ').replace(/\./g, '\\.')} and run the same command again`));
  // The rest arrives.
  for (const f of files.slice(2)) await rename(join(away, f), join(dir, f));
  const r3 = await push(dir, out, ['--json']);
  assert.is(r3.code, 0, r3.stdout + r3.stderr);
  assert.equal(JSON.parse(r3.stdout).volumesMissing, []);
});

test.run();
