// Correctly signed manifests that carry what the loader must not act on (issue 6): each is
// refused by `ferry-load verify` and by `ferry-load push --to oci:DIR --yes` with exit 4
// (SCHEMA_INVALID) or 11 (ARCHIVE_HOSTILE), and nothing is written outside the target. Also:
// create refuses paths that cannot coexist, and a damaged segment is blamed on its own volume.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { makeOciLayout } from '../helpers/images.js';
import { bundleCli, loadCli } from '../helpers/cli.js';
import { flipByte, resignBundle } from '../helpers/tamper.js';

let tmp = '';
let pristine = '';
let src = '';

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-hostile-manifest-'));
  src = join(tmp, 'src');
  // A 400 kB stored (gzip level 0) layer spans all four 128 KiB volumes.
  await makeOciLayout(src, [
    { tag: 'v1', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 400_000, seed: 'hm1', gzipLevel: 0 }, { size: 20_000, seed: 'hm2', gzipLevel: 0 }] }] },
  ]);
  assert.is((await bundleCli(['keygen', '--no-password', '--out', join(tmp, 'k')])).code, 0);
  await writeFile(join(tmp, 'readme.txt'), 'hello\n');
  pristine = join(tmp, 'pristine');
  const r = await bundleCli(['create', '--name', 'h', '--out', pristine, '--key', join(tmp, 'k.key'), '--image', `oci:${src}:v1`, '--file', 'readme.txt', '--public-key', join(tmp, 'k.pub'), '--volume-size', '128KiB'], { cwd: tmp });
  assert.is(r.code, 0, r.stderr);
});

test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Manifests are edited here as plain JSON, the way an attacker would. */
type Json = any;
let n = 0;
async function copyBundle(): Promise<string> {
  const d = join(tmp, 'cases', `c${++n}`);
  await mkdir(join(tmp, 'cases'), { recursive: true });
  await cp(pristine, d, { recursive: true });
  return d;
}
const manifestOf = async (d: string): Promise<Json> => JSON.parse(await readFile(join(d, 'h.manifest.json'), 'utf8'));
const trusted = () => ['--trusted-key', join(tmp, 'k.pub')];
const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface Outcome {
  verify: { code: number; out: string };
  push: { code: number; out: string };
  target: string;
  filesDir: string;
}

/** Verify, then push into targets/<case> (files into targets/<case>-files, the loader's default),
 *  outside the bundle directory (the loader refuses to write there). */
async function load(d: string): Promise<Outcome> {
  const v = await loadCli(['verify', d, ...trusted(), '--json']);
  const target = join(tmp, 'targets', basename(d));
  const p = await loadCli(['push', d, ...trusted(), '--to', `oci:${target}`, '--yes']);
  return { verify: { code: v.code, out: v.stdout + v.stderr }, push: { code: p.code, out: p.stdout + p.stderr }, target, filesDir: `${target}-files` };
}

async function tagsIn(target: string): Promise<number> {
  if (!existsSync(join(target, 'index.json'))) return 0;
  return (JSON.parse(await readFile(join(target, 'index.json'), 'utf8')) as { manifests: unknown[] }).manifests.length;
}

/** Refused by both commands with this exit code and code name, before anything is written. */
async function refusedBeforeWriting(d: string, exit: number, code: string, re: RegExp, label: string): Promise<Outcome> {
  const o = await load(d);
  assert.is(o.verify.code, exit, `${label}: verify exit ${o.verify.code}: ${o.verify.out}`);
  assert.match(o.verify.out, new RegExp(code), `${label}: verify`);
  assert.match(o.verify.out, re, `${label}: verify message`);
  assert.is(o.push.code, exit, `${label}: push exit ${o.push.code}: ${o.push.out}`);
  assert.match(o.push.out, new RegExp(code), `${label}: push`);
  assert.not.ok(existsSync(o.target), `${label}: the target was created`);
  assert.not.ok(existsSync(o.filesDir), `${label}: the files directory was created`);
  return o;
}

test('a control character or line separator in a file path: refused, and nothing lands where the path points', async () => {
  const chars: Array<[string, string]> = [['\n', 'lf'], ['\r', 'cr'], ['\u2028', 'ls'], ['\u2029', 'ps'], ['\u001b', 'esc']];
  for (const [c, name] of chars) {
    const d = await copyBundle();
    const path = `x${c}/../../../escaped-${name}.txt`;
    await resignBundle(d, { key: join(tmp, 'k.key'), manifest: (m) => void (m.files[0].path = path) });
    const o = await refusedBeforeWriting(d, 4, 'SCHEMA_INVALID', /\/files\/0\/path holds a control character or line separator/, name);
    // Where the old loader wrote it: the files directory joined with the path, normalised.
    const escape = resolve(o.filesDir, path);
    assert.ok(!escape.startsWith(o.filesDir), `${name}: the case really escapes (${escape})`);
    assert.not.ok(existsSync(escape), `${name}: written outside the target at ${escape}`);
    assert.not.ok(/[\r\u2028\u2029\u001b]/.test(o.verify.out + o.push.out), `${name}: the raw character reached the terminal`);
  }
});

test("a path in Ferry's reserved .ferry/ directory, a 300-byte segment and a trailing slash are refused", async () => {
  const cases: Array<[string, RegExp]> = [
    ['.ferry/state.json', /starts with \.ferry\/, which is reserved/],
    [`docs/${'s'.repeat(300)}`, /segment of 300 bytes, more than 255/],
    ['docs/', /ends with a slash/],
  ];
  for (const [path, re] of cases) {
    const d = await copyBundle();
    await resignBundle(d, { key: join(tmp, 'k.key'), manifest: (m) => void (m.files[0].path = path) });
    await refusedBeforeWriting(d, 4, 'SCHEMA_INVALID', re, path.slice(0, 20));
  }
  // In a key's path too.
  const d = await copyBundle();
  await resignBundle(d, { key: join(tmp, 'k.key'), manifest: (m) => void (m.keys[0].path = '.ferry/keys/k.pub') });
  await refusedBeforeWriting(d, 4, 'SCHEMA_INVALID', /keys\/0\/path.*reserved/, 'key in .ferry');
});

test('paths that cannot coexist (a file where a key directory goes) are refused, naming both', async () => {
  const d = await copyBundle();
  await resignBundle(d, { key: join(tmp, 'k.key'), manifest: (m) => void (m.files[0].path = 'keys') });
  await refusedBeforeWriting(d, 4, 'SCHEMA_INVALID', /files\[0\]\.path \\?"keys\\?" and keys\[0\]\.path \\?"keys\/k\.pub\\?" cannot both be carried/, 'keys vs keys/k.pub');
  const d2 = await copyBundle();
  await resignBundle(d2, { key: join(tmp, 'k.key'), manifest: (m) => { m.files[0].path = 'p/q'; m.files.push({ ...m.files[0], path: 'p' }); } });
  await refusedBeforeWriting(d2, 4, 'SCHEMA_INVALID', /"p\\?" and files\[0\]\.path \\?"p\/q\\?" cannot both be carried/, 'p vs p/q');
});

test('two images under one name, and a referrer tagged with an image name, are refused', async () => {
  const d = await copyBundle();
  await resignBundle(d, { key: join(tmp, 'k.key'), manifest: (m) => void m.images.push({ ...m.images[0], source: 'elsewhere' }) });
  await refusedBeforeWriting(d, 4, 'SCHEMA_INVALID', /images\[0\] and images\[1\] would both be loaded as \\?"src:v1\\?"/, 'duplicate ref');

  // The image tagged as its own cosign signature tag, and a signature referrer with that tag.
  const d2 = await copyBundle();
  await resignBundle(d2, {
    key: join(tmp, 'k.key'),
    manifest: (m) => {
      const img = m.images[0];
      img.tag = `sha256-${img.digest.slice(7)}.sig`;
      img.referrers = [{ digest: img.digest, mediaType: img.mediaType, size: img.size, scheme: 'cosign-tag', tag: img.tag, subject: img.digest, blobs: img.blobs }];
    },
  });
  await refusedBeforeWriting(d2, 4, 'SCHEMA_INVALID', /images\[0\]\.referrers\[0\] would be tagged \\?"src:sha256-[a-f0-9]{64}\.sig\\?", which is the name of images\[0\]/, 'referrer = image ref');

  // A cosign-tag referrer with the image's plain tag.
  const d3 = await copyBundle();
  await resignBundle(d3, {
    key: join(tmp, 'k.key'),
    manifest: (m) => {
      const img = m.images[0];
      img.referrers = [{ digest: img.digest, mediaType: img.mediaType, size: img.size, scheme: 'cosign-tag', tag: img.tag, subject: img.digest, blobs: img.blobs }];
    },
  });
  await refusedBeforeWriting(d3, 4, 'SCHEMA_INVALID', /referrers\[0\] has cosign tag \\?"v1\\?"/, 'referrer with the image tag');
});

test('an image blob of kind file, a key size mismatch and an unknown platform field are refused', async () => {
  const cases: Array<[string, (m: Json) => void, RegExp]> = [
    ['image blob of kind file', (m) => void (m.blobs.find((b: Json) => b.digest === m.images[0].blobs[1]).kind = 'file'), /images\[0\] \(\\?"src:v1\\?"\) needs sha256:[a-f0-9]{64}, which is a blob of kind file/],
    ['key size mismatch', (m) => { m.keys[0].size += 1; }, /keys\[0\] size differs from its blob entry/],
    ['unknown platform field', (m) => void (m.images[0].platforms[0].platform.features = ['sse4']), /\/images\/0\/platforms\/0\/platform: must NOT have additional properties \\?"features\\?"/],
  ];
  for (const [label, change, re] of cases) {
    const d = await copyBundle();
    await resignBundle(d, { key: join(tmp, 'k.key'), manifest: change });
    await refusedBeforeWriting(d, 4, 'SCHEMA_INVALID', re, label);
  }
});

test('an index.json that disagrees with images[] while layoutIndex matches its hash is hostile: nothing is tagged', async () => {
  const variants: Array<[string, (m: Json) => Buffer, RegExp]> = [
    ['an extra tag for plain tools', (m) => {
      const img = m.images[0];
      const entry = (name: string) => ({ mediaType: img.mediaType, digest: img.digest, size: img.size, annotations: { 'org.opencontainers.image.ref.name': name } });
      return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [entry('src:v1'), entry('evil:latest')] }));
    }, /manifests\[1\] .* is not an image or chart of the bundle/],
    ['another name', (m) => {
      const img = m.images[0];
      return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: img.mediaType, digest: img.digest, size: img.size, annotations: { 'org.opencontainers.image.ref.name': 'library/ubuntu:latest' } }] }));
    }, /manifests\[0\] is named \\?"library\/ubuntu:latest\\?", images\[0\] is src:v1/],
  ];
  for (const [label, index, re] of variants) {
    const d = await copyBundle();
    const bytes = index(await manifestOf(d));
    await resignBundle(d, { key: join(tmp, 'k.key'), layoutIndex: bytes });
    assert.equal((await manifestOf(d)).layoutIndex, { digest: sha(bytes), size: bytes.length }, 'layoutIndex matches the hostile bytes');
    const o = await load(d);
    assert.is(o.verify.code, 11, `${label}: verify ${o.verify.out}`);
    const rep = JSON.parse(o.verify.out.slice(0, o.verify.out.lastIndexOf('}') + 1)) as { volumes: Array<{ status: string; error?: { code: string; message: string } }> };
    assert.ok(rep.volumes.every((v) => v.status === 'bad' && v.error?.code === 'ARCHIVE_HOSTILE'), `${label}: every volume is refused`);
    assert.match(rep.volumes[0]!.error!.message, /h-001\.tar\.zst: index\.json disagrees with the signed manifest/);
    assert.match(rep.volumes[0]!.error!.message, re, label);
    assert.is(o.push.code, 11, `${label}: push ${o.push.out}`);
    assert.match(o.push.out, /ARCHIVE_HOSTILE/);
    assert.is(await tagsIn(o.target), 0, `${label}: something was tagged`);
    assert.not.ok(existsSync(join(o.filesDir, 'readme.txt')), `${label}: a file was written`);
  }
});

test('create refuses carried paths that cannot coexist (--file with --public-key, and a spec file), naming both', async () => {
  const w = join(tmp, 'create-conflict');
  await mkdir(w, { recursive: true });
  await writeFile(join(w, 'keys'), 'a file called keys');
  await cp(join(tmp, 'k.pub'), join(w, 'cosign.pub'));
  const out = join(w, 'out');
  const r = await bundleCli(['create', '--name', 'c', '--out', out, '--key', join(tmp, 'k.key'), '--image', `oci:${src}:v1`, '--file', 'keys', '--public-key', 'cosign.pub'], { cwd: w });
  assert.is(r.code, 4, r.stdout + r.stderr);
  assert.match(r.stderr, /SPEC_INVALID/);
  assert.match(r.stderr, /"keys" \(file [^)]*\/keys\) and "keys\/cosign\.pub" \(public key [^)]*cosign\.pub\) cannot both be carried/);
  assert.not.ok(existsSync(out) && (await readdir(out)).length > 0, 'no bundle files');

  await writeFile(join(w, 'p'), 'p');
  await writeFile(join(w, 'q'), 'q');
  await writeFile(join(w, 'spec.yaml'), ['schemaVersion: 1', 'name: s', 'files:', '  - p', '  - source: q', '    dest: p', ''].join('\n'));
  const s = await bundleCli(['create', join(w, 'spec.yaml'), '--out', out, '--key', join(tmp, 'k.key')], { cwd: w });
  assert.is(s.code, 4, s.stdout + s.stderr);
  assert.match(s.stderr, /"p" \(file [^)]*\/p\) and "p\/q" \(file [^)]*\/q\) cannot both be carried: "p" would have to be both a file and the directory holding "p\/q"/);
  // One path on its own that the loader would refuse: a 300-byte segment, a trailing slash via dest.
  await writeFile(join(w, 'spec2.yaml'), ['schemaVersion: 1', 'name: s2', 'files:', `  - source: q`, `    dest: ${'d'.repeat(300)}`, ''].join('\n'));
  const s2 = await bundleCli(['create', join(w, 'spec2.yaml'), '--out', out, '--key', join(tmp, 'k.key')], { cwd: w });
  assert.is(s2.code, 4, s2.stdout + s2.stderr);
  assert.match(s2.stderr, /segment of 300 bytes, more than 255/);
  assert.not.ok(existsSync(out) && (await readdir(out)).length > 0, 'no bundle files');
});

test('a damaged segment in volume 002 is reported in 002 (verify and checksum); the other volumes are OK', async () => {
  const d = await copyBundle();
  const m = await manifestOf(d);
  const layer = m.blobs.find((b: Json) => b.segments?.length >= 3);
  assert.ok(layer, 'a layer spans three or more volumes');
  const seg = layer.segments.find((s: Json) => s.volume === 2);
  assert.ok(seg && layer.segments[layer.segments.length - 1].volume > 2, 'segment 2 of the layer is in volume 002, the last one later');
  // Stored frames hold the layer's raw bytes: find a run from the middle of the segment in the file.
  const blob = await readFile(join(src, 'blobs', 'sha256', layer.digest.slice(7)));
  const vol = join(d, 'h-002.tar.zst');
  const raw = await readFile(vol);
  const probe = blob.subarray(seg.offset + Math.floor(seg.size / 2), seg.offset + Math.floor(seg.size / 2) + 64);
  const at = raw.indexOf(probe);
  assert.ok(at > 0 && raw.indexOf(probe, at + 1) === -1, 'the segment bytes are found once in volume 002');
  await flipByte(vol, at + 10);

  const v = await loadCli(['verify', d, ...trusted(), '--json']);
  assert.is(v.code, 9, v.stdout + v.stderr);
  const rep = JSON.parse(v.stdout) as { volumes: Array<{ file: string; status: string; error?: { code: string; message: string } }>; error: { code: string; message: string } };
  assert.equal(rep.volumes.map((x) => [x.file, x.status]), [['h-001.tar.zst', 'ok'], ['h-002.tar.zst', 'bad'], ['h-003.tar.zst', 'ok'], ['h-004.tar.zst', 'ok']]);
  assert.is(rep.volumes[1]!.error!.code, 'BLOB_MISMATCH');
  assert.match(rep.volumes[1]!.error!.message, new RegExp(`segment ${seg.index} of ${layer.segments.length} of ${layer.digest} .* in h-002\\.tar\\.zst: content hashes to`));
  assert.is(rep.error.code, 'BLOB_MISMATCH');
  assert.match(rep.error.message, /h-002\.tar\.zst/);
  const c = await loadCli(['checksum', d]);
  assert.is(c.code, 7, c.stdout);
  assert.match(c.stdout, /FAIL\s+h-002\.tar\.zst/);
  for (const ok of ['h-001', 'h-003', 'h-004']) assert.match(c.stdout, new RegExp(`PASS\\s+${ok}\\.tar\\.zst`));
});

test('segments that each verify but join to another digest: a manifest inconsistency naming the blob, not a volume', async () => {
  const d = await copyBundle();
  const m = await manifestOf(d);
  const layer = m.blobs.find((b: Json) => b.segments);
  const fake = sha('not the layer');
  const oldHex = layer.digest.slice(7);
  await resignBundle(d, {
    key: join(tmp, 'k.key'),
    manifest: (x) => {
      for (const b of x.blobs) if (b.digest === layer.digest) b.digest = fake;
      x.images[0].blobs = x.images[0].blobs.map((b: string) => (b === layer.digest ? fake : b));
    },
    entries: (_v, es) => es.map((e) => (e.name.startsWith(`segments/sha256/${oldHex}.`) ? { ...e, name: e.name.replace(oldHex, fake.slice(7)) } : e)),
  });
  const v = await loadCli(['verify', d, ...trusted(), '--json']);
  assert.is(v.code, 4, v.stdout + v.stderr);
  const rep = JSON.parse(v.stdout) as { volumes: Array<{ status: string }>; manifestProblems: Array<{ digest: string; message: string }>; error: { code: string; message: string } };
  assert.ok(rep.volumes.every((x) => x.status === 'ok'), JSON.stringify(rep.volumes));
  assert.is(rep.manifestProblems.length, 1);
  assert.is(rep.manifestProblems[0]!.digest, fake);
  assert.is(rep.error.code, 'SCHEMA_INVALID');
  assert.match(rep.error.message, new RegExp(`^h\\.manifest\\.json: blob ${fake}: each of its 4 segments matches its own digest, but joined they hash to ${layer.digest}`));
  assert.not.match(rep.error.message, /h-00\d\.tar\.zst/);
});

test.run();
