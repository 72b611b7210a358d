// What `ferry-load push` checks about what it loads, beyond the signature: each image's own
// bytes against what the bundle carries, names that collide, the files' second hash, files that
// changed locally, and tags that move — through the real CLI, with correctly signed bundles.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { makeOciLayout, type WrittenImage } from '../helpers/images.js';
import { bundleCli, loadCli, sh } from '../helpers/cli.js';
import { resignBundle } from '../helpers/tamper.js';

let tmp = '';
let imgA: WrittenImage;
let imgB: WrittenImage;
const key = () => join(tmp, 'k.key');
const pub = () => join(tmp, 'k.pub');

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-push-content-'));
  // Two images that load under the same name (src:v1) with different content, and a third repo.
  [imgA] = (await makeOciLayout(join(tmp, 'a', 'src'), [{ tag: 'v1', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 30_000, seed: 'ca1' }, { size: 20_000, seed: 'ca2' }] }] }])) as [WrittenImage];
  [imgB] = (await makeOciLayout(join(tmp, 'b', 'src'), [{ tag: 'v1', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 30_000, seed: 'cb1' }] }] }])) as [WrittenImage];
  await makeOciLayout(join(tmp, 'c', 'alt'), [{ tag: 'v1', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 10_000, seed: 'cc1' }] }] }]);
  assert.is((await bundleCli(['keygen', '--no-password', '--out', join(tmp, 'k')])).code, 0);
});

test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

let n = 0;
async function create(args: string[], cwd?: string): Promise<string> {
  const name = `c${++n}`;
  const out = join(tmp, 'bundles', name);
  const r = await bundleCli(['create', '--name', name, '--out', out, '--key', key(), ...args], cwd ? { cwd } : {});
  assert.is(r.code, 0, r.stderr);
  return out;
}
const verify = (bundle: string) => loadCli(['verify', bundle, '--trusted-key', pub(), '--json']);
const push = (bundle: string, to: string, extra: string[] = []) => loadCli(['push', bundle, '--trusted-key', pub(), '--to', `oci:${to}`, '--yes', ...extra]);
const indexOf = async (out: string) => (existsSync(join(out, 'index.json')) ? (JSON.parse(await readFile(join(out, 'index.json'), 'utf8')).manifests as unknown[]) : []);

let imageBundle = '';
test.before(async () => {
  imageBundle = await create(['--image', `oci:${join(tmp, 'a', 'src')}:v1`, '--volume-size', '64KiB']);
});

test('an image whose manifest references a layer the signed bundle leaves out is refused, not tagged', async () => {
  const d = join(tmp, 'omit');
  await cp(imageBundle, d, { recursive: true });
  const layer = imgA.layers[0]![1]!.digest;
  const m = JSON.parse(await readFile(join(d, 'c1.manifest.json'), 'utf8'));
  const vol = m.blobs.find((b: { digest: string }) => b.digest === layer).volume as number;
  await resignBundle(d, {
    key: key(),
    manifest: (mm) => {
      mm.images[0].blobs = mm.images[0].blobs.filter((x: string) => x !== layer);
      mm.blobs = mm.blobs.filter((b: { digest: string }) => b.digest !== layer);
    },
    entries: (v, es) => (v === vol ? es.filter((e) => e.name !== `blobs/sha256/${layer.slice(7)}`) : es),
  });
  const v = await verify(d);
  assert.is(v.code, 11, v.stdout);
  assert.match(JSON.parse(v.stdout).error.message, /image src:v1: .* references layer .* does not carry/);
  const out = join(tmp, 'omit-out');
  const r = await push(d, out, ['--json']);
  assert.is(r.code, 11, r.stdout + r.stderr);
  const rep = JSON.parse(r.stdout);
  assert.is(rep.images[0].status, 'refused');
  assert.match(rep.images[0].reason, /references layer .* does not carry/);
  assert.equal(await indexOf(out), [], 'nothing tagged: skopeo would not be able to read it');
});

test('an image whose declared media type lies about its bytes (manifest declared as an index) is refused', async () => {
  const d = join(tmp, 'lie');
  await cp(imageBundle, d, { recursive: true });
  const root = imgA.root.digest;
  await resignBundle(d, {
    key: key(),
    manifest: (mm) => {
      mm.images[0].mediaType = 'application/vnd.oci.image.index.v1+json';
      for (const b of mm.blobs) if (b.digest === root) b.mediaType = 'application/vnd.oci.image.index.v1+json';
    },
  });
  const v = await verify(d);
  assert.is(v.code, 11, v.stdout);
  assert.match(v.stdout, /declared as application\/vnd\.oci\.image\.index\.v1\+json but its content says/);
  const out = join(tmp, 'lie-out');
  const r = await push(d, out);
  assert.is(r.code, 11, r.stdout + r.stderr);
  assert.match(r.stderr, /declared as application\/vnd\.oci\.image\.index\.v1\+json but its content says/);
  assert.equal(await indexOf(out), []);
});

test('a referrer given the image\'s own tag is refused before anything is written', async () => {
  const d = join(tmp, 'reftag');
  await cp(imageBundle, d, { recursive: true });
  await resignBundle(d, {
    key: key(),
    manifest: (mm) => {
      const i = mm.images[0];
      i.referrers = [{ digest: i.digest, mediaType: i.mediaType, size: i.size, scheme: 'cosign-tag', tag: 'v1', subject: i.digest, blobs: i.blobs }];
    },
  });
  const out = join(tmp, 'reftag-out');
  const r = await push(d, out);
  assert.is(r.code, 4, r.stderr); // the manifest rules refuse it before the loader's own name check would
  assert.match(r.stderr, /SCHEMA_INVALID.*images\[0\]\.referrers\[0\] has cosign tag "v1"/);
  assert.not.ok(existsSync(out), 'nothing written');
});

test('two images that --rewrite would load under one name with different content are refused before anything is written', async () => {
  const d = await create(['--image', `oci:${join(tmp, 'a', 'src')}:v1`, '--image', `oci:${join(tmp, 'c', 'alt')}:v1`]);
  const out = join(tmp, 'collide-out');
  const r = await push(d, out, ['--rewrite', 'src=same', '--rewrite', 'alt=same']);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, /would both be loaded as same:v1/);
  assert.not.ok(existsSync(out));
});

test('a carried file whose content does not match the manifest\'s sha512 integrity is refused and not written', async () => {
  await mkdir(join(tmp, 'f-int'), { recursive: true });
  await writeFile(join(tmp, 'f-int', 'notes.txt'), 'what was signed\n');
  const d = await create(['--file', 'notes.txt'], join(tmp, 'f-int'));
  const other = `sha512-${createHash('sha512').update('something else').digest('base64')}`;
  await resignBundle(d, { key: key(), manifest: (mm) => { mm.files[0].integrity = other; } });
  const v = await verify(d);
  assert.is(v.code, 11, v.stdout);
  assert.match(v.stdout, /sha512 integrity/);
  const out = join(tmp, 'int-out');
  const r = await push(d, out);
  assert.is(r.code, 11, r.stdout + r.stderr);
  assert.match(r.stderr, /sha512 integrity/);
  assert.not.ok(existsSync(join(tmp, 'int-out-files', 'notes.txt')));
});

test('a newer carried file of the same size is written; a locally changed one is reported and kept unless --overwrite-files', async () => {
  const src = join(tmp, 'f-ver');
  await mkdir(join(src, 'docs'), { recursive: true });
  const out = join(tmp, 'ver-out');
  const files = join(tmp, 'ver-out-files', 'docs', 'runbook.txt');
  const bundleWith = async (text: string) => {
    await writeFile(join(src, 'docs', 'runbook.txt'), text);
    return create(['--file', 'docs/runbook.txt'], src);
  };
  assert.is((await push(await bundleWith('version 1'), out)).code, 0);
  assert.is(await readFile(files, 'utf8'), 'version 1');
  const v2 = await push(await bundleWith('version 2'), out, ['--json']);
  assert.is(v2.code, 0, v2.stdout + v2.stderr);
  assert.is(await readFile(files, 'utf8'), 'version 2', 'same size, newer content: written');
  assert.is(JSON.parse(v2.stdout).files[0].status, 'written');

  await writeFile(files, 'edited! 2'); // the operator changed it on the high side
  const v3 = await bundleWith('version 3');
  const kept = await push(v3, out, ['--json']);
  assert.is(kept.code, 16, kept.stdout + kept.stderr);
  const rep = JSON.parse(kept.stdout);
  assert.equal(rep.plan.fileConflicts, [{ path: 'docs/runbook.txt', action: 'keep' }]);
  assert.is(rep.files[0].status, 'kept');
  assert.is(rep.error.code, 'PARTIAL_FAILURE');
  assert.is(await readFile(files, 'utf8'), 'edited! 2', 'the local change is kept');
  const plain = await push(v3, out);
  assert.is(plain.code, 16);
  assert.match(plain.stderr, /local files that differ from the bundle are KEPT[\s\S]*docs\/runbook\.txt/);
  assert.match(plain.stdout, /Kept as they are .*docs\/runbook\.txt/);
  const over = await push(v3, out, ['--overwrite-files']);
  assert.is(over.code, 0, over.stdout + over.stderr);
  assert.is(await readFile(files, 'utf8'), 'version 3');
});

test('a tag that moves is reported before and after; --no-retag refuses the load before writing anything', async () => {
  const out = join(tmp, 'retag-out');
  const first = await push(await create(['--image', `oci:${join(tmp, 'a', 'src')}:v1`]), out);
  assert.is(first.code, 0, first.stderr);
  const moving = await create(['--image', `oci:${join(tmp, 'b', 'src')}:v1`]);
  const indexBefore = await readFile(join(out, 'index.json'));
  const blobsBefore = (await readdir(join(out, 'blobs', 'sha256'))).sort();
  const refused = await push(moving, out, ['--no-retag']);
  assert.is(refused.code, 19, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /TAG_CONFLICT.*src:v1/);
  assert.equal(await readFile(join(out, 'index.json')), indexBefore, 'index.json untouched');
  assert.equal((await readdir(join(out, 'blobs', 'sha256'))).sort(), blobsBefore, 'no blob written');

  const json = await push(moving, out, ['--json']);
  assert.is(json.code, 0, json.stdout + json.stderr);
  const rep = JSON.parse(json.stdout);
  assert.equal(rep.plan.retags, [{ ref: 'src:v1', from: imgA.root.digest, to: imgB.root.digest }]);
  assert.equal(rep.retagged, [{ ref: 'src:v1', from: imgA.root.digest, to: imgB.root.digest }]);
  assert.is(rep.images[0].retaggedFrom, imgA.root.digest);
  const insp = await sh(`skopeo inspect --raw oci:${out}:src:v1 | sha256sum`);
  assert.is(`sha256:${insp.stdout.split(' ')[0]}`, imgB.root.digest);

  const back = await push(await create(['--image', `oci:${join(tmp, 'a', 'src')}:v1`]), out);
  assert.is(back.code, 0);
  assert.match(back.stderr, /tags that will MOVE[\s\S]*src:v1/);
  assert.match(back.stdout, /src:v1 .*tag moved from sha256:/);
});

test.run();
