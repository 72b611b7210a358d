// End to end with local sources: keygen -> create -> checksum -> verify -> inspect -> push, and
// the interop checks with plain tools (sha256sum, openssl, zstd | tar, skopeo).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readFile, readdir, rename, rm, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeOciLayout, type WrittenImage } from '../helpers/images.js';
import { bundleCli, loadCli, sh } from '../helpers/cli.js';

let tmp = '';
let img: WrittenImage;
const PW = { FERRY_KEY_PASSWORD: 'correct horse' };

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-e2e-'));
  [img] = (await makeOciLayout(join(tmp, 'src'), [
    {
      tag: 'v1',
      platforms: [
        { os: 'linux', architecture: 'amd64', layers: [{ size: 600_000, seed: 'base', gzipLevel: 0 }, { size: 20_000, seed: 'amd' }] },
        { os: 'linux', architecture: 'arm64', layers: [{ size: 600_000, seed: 'base', gzipLevel: 0 }, { size: 20_000, seed: 'arm' }] },
      ],
    },
  ])) as [WrittenImage];
  await mkdir(join(tmp, 'files', 'docs'), { recursive: true });
  await writeFile(join(tmp, 'files', 'docs', 'a.txt'), 'hello air gap\n');
  await writeFile(join(tmp, 'files', 'b.bin'), Buffer.alloc(70_000, 7));
  const k = await bundleCli(['keygen', '--out', join(tmp, 'signer')], { env: PW });
  assert.is(k.code, 0, k.stderr);
  const other = await bundleCli(['keygen', '--no-password', '--out', join(tmp, 'other'), '--algorithm', 'ed25519']);
  assert.is(other.code, 0, other.stderr);
});

test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function create(name: string, extra: string[] = [], env: Record<string, string> = PW) {
  return bundleCli(
    ['create', '--name', name, '--out', join(tmp, name), '--key', join(tmp, 'signer.key'), '--image', `oci:${join(tmp, 'src')}:v1`,
      '--file', 'docs/*.txt', '--file', 'b.bin', '--public-key', join(tmp, 'other.pub'), '--volume-size', '256KiB', ...extra],
    { env, cwd: join(tmp, 'files') },
  );
}

test('an encrypted key without FERRY_KEY_PASSWORD is refused before any work', async () => {
  const r = await create('nopw', [], { FERRY_KEY_PASSWORD: '' });
  assert.is(r.code, 5);
  assert.match(r.stderr, /KEY_PASSWORD_REQUIRED/);
  assert.match(r.stderr, /FERRY_KEY_PASSWORD/);
  assert.not.ok(existsSync(join(tmp, 'nopw', 'nopw.manifest.json')));
  const wrong = await create('wrongpw', [], { FERRY_KEY_PASSWORD: 'nope' });
  assert.is(wrong.code, 5);
  assert.match(wrong.stderr, /KEY_PASSWORD_WRONG/);
});

test('create writes several volumes, a signed manifest and a checksum list that plain tools accept', async () => {
  const r = await create('b1', ['--json']);
  assert.is(r.code, 0, r.stderr + r.stdout);
  const report = JSON.parse(r.stdout);
  assert.ok(report.volumes.length >= 3, `expected several volumes, got ${report.volumes.length}`);
  const dir = join(tmp, 'b1');
  const names = (await readdir(dir)).sort();
  assert.ok(names.includes('b1.manifest.json') && names.includes('b1.manifest.json.sig') && names.includes('b1.sha256') && names.includes('b1.sha256.sig'));
  assert.not.ok(names.some((n) => n.endsWith('.partial')), 'no temp files left');

  const sums = await sh('sha256sum -c b1.sha256', dir);
  assert.is(sums.code, 0, sums.stdout + sums.stderr);
  const ossl = await sh(`openssl dgst -sha256 -verify ${join(tmp, 'signer.pub')} -signature <(base64 -d b1.manifest.json.sig) b1.manifest.json`, dir);
  assert.match(ossl.stdout, /Verified OK/);
  const list = await sh('zstd -dc b1-001.tar.zst | tar -t', dir);
  assert.is(list.code, 0, list.stderr);
  const entries = list.stdout.trim().split('\n');
  assert.equal(entries.slice(0, 4), ['b1.manifest.json', 'b1.manifest.json.sig', 'oci-layout', 'index.json']);
  // Every volume carries a byte-identical copy of the manifest.
  for (const v of report.volumes) {
    const copy = await sh(`zstd -dc ${v.file} | tar -xO b1.manifest.json | cmp - b1.manifest.json`, dir);
    assert.is(copy.code, 0, `${v.file}: ${copy.stdout}${copy.stderr}`);
  }
});

test('all volumes extracted into one directory form an OCI layout skopeo reads with the original digest', async () => {
  const dir = join(tmp, 'b1');
  const x = join(tmp, 'extracted');
  await mkdir(x);
  const ex = await sh(`for v in ${dir}/b1-*.tar.zst; do zstd -dc "$v" | tar -x -C ${x} || exit 1; done
    if [ -d ${x}/segments/sha256 ]; then for f in ${x}/segments/sha256/*.001; do h=$(basename "$f" .001); cat ${x}/segments/sha256/$h.* > ${x}/blobs/sha256/$h; done; fi`);
  assert.is(ex.code, 0, ex.stderr);
  assert.ok(existsSync(join(x, 'segments')), 'the 600 KB base layer is larger than a volume, so it was split');
  const insp = await sh(`skopeo inspect --raw oci:${x}:src:v1 | sha256sum`);
  assert.is(insp.code, 0, insp.stderr);
  assert.is(`sha256:${insp.stdout.split(' ')[0]}`, img.root.digest);
  const cp = await sh(`skopeo copy -q oci:${x}:src:v1 oci:${join(tmp, 'skopeo-copy')}:v1 && echo ok`);
  assert.is(cp.code, 0, cp.stderr);
});

test('checksum, verify and inspect accept the untouched bundle', async () => {
  const dir = join(tmp, 'b1');
  const c = await loadCli(['checksum', join(dir, 'b1.sha256'), '--key', join(tmp, 'signer.pub')]);
  assert.is(c.code, 0, c.stdout + c.stderr);
  assert.match(c.stdout, /RESULT: PASS/);
  assert.match(c.stdout, /List signature: verified/);
  const v = await loadCli(['verify', dir, '--trusted-key', join(tmp, 'signer.pub')]);
  assert.is(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /RESULT: OK/);
  const i = await loadCli(['inspect', join(dir, 'b1.manifest.json'), '--json']);
  assert.is(i.code, 0, i.stderr);
  const rep = JSON.parse(i.stdout);
  assert.is(rep.images[0].digest, img.root.digest);
  assert.equal(rep.images[0].platforms.sort(), ['linux/amd64', 'linux/arm64']);
  assert.is(rep.signature.status, 'not-checked');
  assert.equal(rep.files.map((f: { path: string }) => f.path).sort(), ['b.bin', 'docs/a.txt']);
  assert.is(rep.keys[0].path, 'keys/other.pub');
});

test('push into an OCI layout: skopeo reads the same digest; files and keys land beside it', async () => {
  const out = join(tmp, 'load1', 'oci');
  const r = await loadCli(['push', join(tmp, 'b1'), '--trusted-key', join(tmp, 'signer.pub'), '--to', `oci:${out}`, '--yes', '--json']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const rep = JSON.parse(r.stdout);
  assert.ok(rep.complete);
  const insp = await sh(`skopeo inspect --raw oci:${out}:src:v1 | sha256sum`);
  assert.is(`sha256:${insp.stdout.split(' ')[0]}`, img.root.digest);
  const arm = await sh(`skopeo inspect --override-arch arm64 oci:${out}:src:v1`);
  assert.is(arm.code, 0, arm.stderr);
  assert.is(JSON.parse(arm.stdout).Digest, img.root.digest);
  assert.is(await readFile(join(tmp, 'load1', 'oci-files', 'docs', 'a.txt'), 'utf8'), 'hello air gap\n');
  assert.equal(await readFile(join(tmp, 'load1', 'oci-files', 'b.bin')), Buffer.alloc(70_000, 7));
  assert.equal(await readFile(join(tmp, 'load1', 'oci-files', 'keys', 'other.pub')), await readFile(join(tmp, 'other.pub')));
  // Running it again is a no-op that still succeeds.
  const again = await loadCli(['push', join(tmp, 'b1'), '--trusted-key', join(tmp, 'signer.pub'), '--to', `oci:${out}`, '--yes', '--json']);
  assert.is(again.code, 0, again.stderr);
  assert.is(JSON.parse(again.stdout).blobsWritten, 0);
});

test('a carried file identical to an image layer is stored once and still lands as a file', async () => {
  const layer = img.layers[0]![1]!; // a small layer
  const hex = layer.digest.slice(7);
  const r = await bundleCli(['create', '--name', 'dup', '--out', join(tmp, 'dup'), '--key', join(tmp, 'signer.key'),
    '--image', `oci:${join(tmp, 'src')}:v1`, '--file', join(tmp, 'src', 'blobs', 'sha256', hex)], { env: PW });
  assert.is(r.code, 0, r.stderr);
  const m = JSON.parse(await readFile(join(tmp, 'dup', 'dup.manifest.json'), 'utf8'));
  assert.is(m.blobs.filter((b: { digest: string }) => b.digest === layer.digest).length, 1);
  const out = join(tmp, 'dup-load', 'oci');
  const p = await loadCli(['push', join(tmp, 'dup'), '--trusted-key', join(tmp, 'signer.pub'), '--to', `oci:${out}`, '--yes', '--json']);
  assert.is(p.code, 0, p.stdout + p.stderr);
  assert.equal(await readFile(join(tmp, 'dup-load', 'oci-files', hex)), await readFile(join(tmp, 'src', 'blobs', 'sha256', hex)));
});

test('volumes in any order over several runs: nothing is tagged until all its blobs are there', async () => {
  const dir = join(tmp, 'b1');
  const m = JSON.parse(await readFile(join(dir, 'b1.manifest.json'), 'utf8'));
  // Hold back the volume holding the image's root index: the image must stay untagged.
  const rootBlob = m.blobs.find((b: { digest: string }) => b.digest === img.root.digest);
  const last = m.volumes[rootBlob.volume - 1].file as string;
  await mkdir(join(tmp, 'later'), { recursive: true });
  await rename(join(dir, last), join(tmp, 'later', last));
  const out = join(tmp, 'load2', 'oci');
  try {
    const r1 = await loadCli(['push', dir, '--trusted-key', join(tmp, 'signer.pub'), '--to', `oci:${out}`, '--yes', '--json']);
    assert.is(r1.code, 15, r1.stdout + r1.stderr);
    const rep = JSON.parse(r1.stdout);
    assert.equal(rep.volumesMissing, [last]);
    const idx = JSON.parse(await readFile(join(out, 'index.json'), 'utf8'));
    assert.is(idx.manifests.length, 0, 'no image is referenced before all its blobs are present');
  } finally {
    await rename(join(tmp, 'later', last), join(dir, last));
  }
  const r2 = await loadCli(['push', dir, '--trusted-key', join(tmp, 'signer.pub'), '--to', `oci:${out}`, '--yes', '--json']);
  assert.is(r2.code, 0, r2.stdout + r2.stderr);
  const insp = await sh(`skopeo inspect --raw oci:${out}:src:v1 | sha256sum`);
  assert.is(`sha256:${insp.stdout.split(' ')[0]}`, img.root.digest);
});

test('--platform keeps one child manifest unchanged and says so in the manifest', async () => {
  const r = await create('arm', ['--platform', 'linux/arm64', '--json']);
  assert.is(r.code, 0, r.stderr + r.stdout);
  const m = JSON.parse(await readFile(join(tmp, 'arm', 'arm.manifest.json'), 'utf8'));
  const armDigest = img.manifests[1]!.digest;
  assert.is(m.images[0].digest, armDigest);
  assert.is(m.images[0].platformFilter.mode, 'filtered');
  assert.is(m.images[0].platformFilter.target, 'child');
  assert.is(m.images[0].platformFilter.sourceIndex.digest, img.root.digest);
  assert.not.ok(m.blobs.some((b: { digest: string }) => b.digest === img.manifests[0]!.digest), 'amd64 manifest not carried');
  const bad = await create('mips', ['--platform', 'linux/mips64']);
  assert.is(bad.code, 12);
  assert.match(bad.stderr, /linux\/amd64, linux\/arm64/);
});

test('Ed25519 signing works end to end; the wrong trusted key is refused', async () => {
  const r = await bundleCli(['create', '--name', 'ed', '--out', join(tmp, 'ed'), '--key', join(tmp, 'other.key'), '--file', join(tmp, 'files', 'b.bin')]);
  assert.is(r.code, 0, r.stderr);
  const ok = await loadCli(['verify', join(tmp, 'ed'), '--trusted-key', join(tmp, 'other.pub')]);
  assert.is(ok.code, 0, ok.stdout + ok.stderr);
  const bad = await loadCli(['verify', join(tmp, 'ed'), '--trusted-key', join(tmp, 'signer.pub')]);
  assert.is(bad.code, 6);
  assert.match(bad.stderr, /SIGNATURE_INVALID/);
});

test('unsigned bundles are refused unless --allow-unsigned', async () => {
  const r = await bundleCli(['create', '--name', 'uns', '--out', join(tmp, 'uns'), '--unsigned', '--file', join(tmp, 'files', 'b.bin')]);
  assert.is(r.code, 0, r.stderr);
  const refused = await loadCli(['push', join(tmp, 'uns'), '--trusted-key', join(tmp, 'signer.pub'), '--to', `oci:${join(tmp, 'uns-out')}`, '--yes']);
  assert.is(refused.code, 6);
  assert.match(refused.stderr, /SIGNATURE_MISSING/);
  assert.not.ok(existsSync(join(tmp, 'uns-out')), 'nothing written for a refused bundle');
  const allowed = await loadCli(['push', join(tmp, 'uns'), '--allow-unsigned', '--to', `oci:${join(tmp, 'uns-out')}`, '--yes']);
  assert.is(allowed.code, 0, allowed.stdout + allowed.stderr);
});

test('a key missing from the command line is asked for, never taken from the bundle', async () => {
  const r = await loadCli(['verify', join(tmp, 'b1')]);
  assert.is(r.code, 6);
  assert.match(r.stderr, /TRUSTED_KEY_REQUIRED/);
});

test.run();
