// Volumes fill the media: six images of one 170 KiB layer each with --volume-size 300K take 4
// volumes (the bytes need 4), not one volume per layer (no two layers fit one volume whole, so
// the old in-order planner wrote 6). The bundle
// verifies, plain tools read it, and a push into an OCI layout gives the source's digests.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeOciLayout, type WrittenImage } from '../helpers/images.js';
import { bundleCli, loadCli, sh } from '../helpers/cli.js';

let tmp = '';
let images: WrittenImage[] = [];
const PW = { FERRY_KEY_PASSWORD: 'correct horse' };
const KiB = 1024;

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-e2e-fill-'));
  // Layer tars hold one file; stored gzip of random bytes: each layer blob is a bit over its size.
  const sizes = Array.from({ length: 6 }, () => 170 * KiB - 2048);
  images = await makeOciLayout(join(tmp, 'src'), sizes.map((size, i) => ({
    tag: `app${i}`,
    platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size, seed: `fill-${i}`, gzipLevel: 0 }] }],
  })));
  const k = await bundleCli(['keygen', '--out', join(tmp, 'signer')], { env: PW });
  assert.is(k.code, 0, k.stderr);
});

test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

interface Manifest { blobs: Array<{ digest: string; size: number; kind: string; volume?: number; segments?: Array<{ volume: number }> }>; volumes: unknown[] }

test('six 170 KiB layers with --volume-size 300K: 4 volumes, not 6; verify passes; push gives the same digests', async () => {
  const out = join(tmp, 'fill');
  const r = await bundleCli(['create', '--name', 'fill', '--out', out, '--key', join(tmp, 'signer.key'), '--volume-size', '300K', '--json',
    ...images.map((i) => ['--image', `oci:${join(tmp, 'src')}:${i.tag}`]).flat()], { env: PW });
  assert.is(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { volumes: Array<{ file: string; size: number }> };
  const layerBytes = images.reduce((n, i) => n + i.layers[0]![0]!.size, 0);
  assert.ok(layerBytes > 3 * 300_000, `the layers need more than 3 volumes: ${layerBytes}`);
  assert.ok(2 * images[0]!.layers[0]![0]!.size > 300_000, 'no two layers fit one volume whole');
  assert.is(report.volumes.length, 4, `volumes: ${report.volumes.map((v) => v.file).join(', ')}`);
  for (const v of report.volumes) assert.ok(v.size <= 300_000, `${v.file} is ${v.size} bytes`);

  const m = JSON.parse(await readFile(join(out, 'fill.manifest.json'), 'utf8')) as Manifest;
  for (const b of m.blobs) if (b.kind !== 'layer') assert.ok(b.volume !== undefined, `${b.kind} ${b.digest} is whole`);
  assert.ok(m.blobs.some((b) => b.segments), 'some layer fills a gap as segments');

  const v = await loadCli(['verify', out, '--trusted-key', join(tmp, 'signer.pub')]);
  assert.is(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /RESULT: OK/);
  const sums = await sh('sha256sum -c fill.sha256', out);
  assert.is(sums.code, 0, sums.stdout + sums.stderr);

  // Manifests may sit in an earlier volume than their layers: the loader stages them.
  const target = join(tmp, 'target');
  const p = await loadCli(['push', out, '--trusted-key', join(tmp, 'signer.pub'), '--to', `oci:${target}`, '--yes', '--json']);
  assert.is(p.code, 0, p.stdout + p.stderr);
  const idx = JSON.parse(await readFile(join(target, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
  for (const img of images) {
    const entry = idx.manifests.find((x) => x.annotations?.['org.opencontainers.image.ref.name']?.endsWith(`:${img.tag}`));
    assert.ok(entry, `${img.tag} in the target's index.json`);
    assert.is(entry!.digest, img.root.digest, `${img.tag} keeps its digest`);
    const raw = await sh(`skopeo inspect --raw oci:${target}:${entry!.annotations!['org.opencontainers.image.ref.name']} | sha256sum`);
    assert.is(raw.code, 0, raw.stderr);
    assert.is(`sha256:${raw.stdout.split(' ')[0]}`, img.root.digest);
    const layer = img.layers[0]![0]!;
    const lb = await sh(`sha256sum ${join(target, 'blobs', 'sha256', layer.digest.slice(7))}`);
    assert.is(`sha256:${lb.stdout.split(' ')[0]}`, layer.digest);
  }
});

test.run();
