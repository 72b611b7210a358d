import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm, readFile, writeFile, mkdir, readdir, stat, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Readable } from 'node:stream';
import { sha256Digest, type Descriptor } from '@ferry/format-spec';
import { OciLayoutSink } from '../src/layout-sink.js';
import { openOciLayout } from '../src/layout-source.js';
import { makeOciLayout, type WrittenImage } from '../../../test/helpers/images.js';
import { rejectsCode as rejects } from '../../../test/helpers/assert.js';

const run = promisify(execFile);
let root: string;
let srcDir: string;
let written: WrittenImage[];


const blob = (s: string): { desc: Descriptor; data: Buffer } => {
  const data = Buffer.from(s);
  return { desc: { mediaType: 'application/octet-stream', digest: sha256Digest(data), size: data.length }, data };
};

/** Copy one image (all platforms) from the source layout into the sink, children first. */
async function copyImage(sink: OciLayoutSink, ref: string, tag: string): Promise<string> {
  const src = await openOciLayout(srcDir, ref);
  const root = await src.resolve();
  const doc = JSON.parse(root.bytes.toString()) as { manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] };
  const manifests = doc.manifests ? await Promise.all(doc.manifests.map((d) => src.fetchManifest(d))) : [root];
  for (const m of manifests) {
    const md = JSON.parse(m.bytes.toString()) as { config: Descriptor; layers: Descriptor[] };
    for (const d of [md.config, ...md.layers]) await sink.writeBlob(d, await src.openBlob(d));
    if (m !== root) await sink.writeManifest(m.descriptor, m.bytes);
  }
  await sink.writeManifest(root.descriptor, root.bytes, tag);
  return root.descriptor.digest;
}

/** Temp files left behind: anything in Ferry's temp area, or old-style temp names anywhere. */
async function leftovers(dir: string): Promise<string[]> {
  const names = [...(await readdir(dir)), ...(await readdir(join(dir, 'blobs/sha256')))];
  const tmp = await readdir(join(dir, '.ferry/tmp')).catch(() => [] as string[]);
  return [...names.filter((n) => n.includes('ferry-tmp')), ...tmp];
}

test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'ferry-layout-sink-'));
  srcDir = join(root, 'src');
  written = await makeOciLayout(srcDir, [
    { tag: 'v1', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 300_000, seed: 'k1' }, { size: 1000, seed: 'k2' }] }] },
    {
      tag: 'multi',
      platforms: [
        { os: 'linux', architecture: 'amd64', layers: [{ size: 1000, seed: 'q1' }] },
        { os: 'linux', architecture: 'arm64', layers: [{ size: 1000, seed: 'q2' }] },
      ],
    },
  ]);
});

test.after(async () => {
  await rm(root, { recursive: true, force: true });
});

test('a new layout written by the sink is read by skopeo with the same digests', async () => {
  const dir = join(root, 'out1');
  const sink = await OciLayoutSink.open(dir);
  assert.is(await readFile(join(dir, 'oci-layout'), 'utf8'), '{"imageLayoutVersion":"1.0.0"}');
  const d1 = await copyImage(sink, 'v1', 'v1');
  const d2 = await copyImage(sink, 'multi', 'release-2');
  await sink.close();
  assert.is(d1, written[0]!.root.digest);

  const { stdout } = await run('skopeo', ['inspect', `oci:${dir}:v1`]);
  assert.is((JSON.parse(stdout) as { Digest: string }).Digest, d1);
  const raw = await run('skopeo', ['inspect', '--raw', `oci:${dir}:release-2`], { encoding: 'buffer' });
  assert.is(sha256Digest(raw.stdout), d2);
  // skopeo copy reads and checks every blob of every platform
  await run('skopeo', ['copy', '--all', `oci:${dir}:release-2`, `oci:${join(root, 'roundtrip')}:x`]);
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  assert.equal(index.manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name']), ['v1', 'release-2']);
  assert.equal(await leftovers(dir), []);
});

test('a blob with the wrong content or size is refused and never becomes visible', async () => {
  const dir = join(root, 'out2');
  const sink = await OciLayoutSink.open(dir);
  const { desc } = blob('the real content');
  await rejects(sink.writeBlob(desc, Readable.from([Buffer.from('the fake content')])), 'BLOB_MISMATCH', /hashes to/);
  await rejects(sink.writeBlob(desc, Readable.from([Buffer.from('short')])), 'BLOB_MISMATCH', /expected/);
  await rejects(sink.writeBlob(desc, Readable.from([Buffer.from('the real content and more')])), 'BLOB_MISMATCH', /more than/);
  assert.is(await sink.hasBlob(desc.digest), false);
  assert.equal(await leftovers(dir), []);
  // a source stream failing half way is reported and leaves nothing behind
  const failing = new Readable({
    read() {
      this.destroy(new Error('disc read error'));
    },
  });
  await rejects(sink.writeBlob(desc, failing), 'TARGET_ERROR', /disc read error/);
  assert.equal(await leftovers(dir), []);
});

test('writing a blob that is already there replaces it with the verified stream: a damaged copy is repaired, never trusted', async () => {
  const dir = join(root, 'out3');
  const sink = await OciLayoutSink.open(dir);
  const { desc, data } = blob('hello blob');
  await sink.writeBlob(desc, Readable.from([data]));
  const path = join(dir, 'blobs/sha256', desc.digest.slice(7));
  assert.is(await sink.blobState(desc), 'present');
  assert.ok(await sink.verifyBlob(desc));
  await rejects(sink.writeBlob(desc, Readable.from([Buffer.from('hello BLOB')])), 'BLOB_MISMATCH');
  assert.is(await readFile(path, 'utf8'), 'hello blob', 'a refused stream leaves the stored blob alone');
  // a same-size but corrupt blob (bit rot, a power cut) is found by verifyBlob and replaced
  await writeFile(path, 'hello BLOB');
  assert.is(await sink.blobState(desc), 'present');
  assert.is(await sink.verifyBlob(desc), false);
  await sink.writeBlob(desc, Readable.from([data]));
  assert.is(await readFile(path, 'utf8'), 'hello blob');
  // a short (crash-truncated) blob on disk is reported damaged by size alone and replaced
  await writeFile(path, 'hel');
  assert.is(await sink.blobState(desc), 'damaged');
  await sink.writeBlob(desc, Readable.from([data]));
  assert.is(await readFile(path, 'utf8'), 'hello blob');
  assert.equal(await leftovers(dir), []);
});

test('presentBlobs and hasBlob', async () => {
  const dir = join(root, 'out4');
  const sink = await OciLayoutSink.open(dir);
  const a = blob('a');
  const b = blob('b');
  await sink.writeBlob(a.desc, Readable.from([a.data]));
  const present = await sink.presentBlobs([a.desc.digest, b.desc.digest, a.desc.digest]);
  assert.equal([...present], [a.desc.digest]);
  assert.is(await sink.hasBlob(b.desc.digest), false);
  await rejects(sink.presentBlobs(['sha256:../../etc/passwd']), 'TARGET_ERROR', /refusing digest/);
});

test('digests with path tricks are refused before anything is written', async () => {
  const dir = join(root, 'out5');
  const sink = await OciLayoutSink.open(dir);
  const evil: Descriptor = { mediaType: 'x', digest: 'sha256:../../../escaped', size: 3 };
  await rejects(sink.writeBlob(evil, Readable.from([Buffer.from('abc')])), 'TARGET_ERROR', /refusing digest/);
  await rejects(sink.writeManifest(evil, Buffer.from('abc'), 'x'), 'TARGET_ERROR', /refusing digest/);
  assert.is(await stat(join(root, 'escaped')).then(() => true, () => false), false);
});

test('writeManifest checks the bytes; the index entry for a tag is replaced in place, others kept as they were', async () => {
  const dir = join(root, 'out6');
  await mkdir(join(dir, 'blobs/sha256'), { recursive: true });
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const other = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'1'.repeat(64)}`, size: 7, 'x-unknown': { z: 1, a: 2 }, annotations: { 'org.opencontainers.image.ref.name': 'keep', 'b-note': 'x' } };
  const seed = { schemaVersion: 2, zzz: 'top-level field first', manifests: [other, { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'2'.repeat(64)}`, size: 9, annotations: { 'org.opencontainers.image.ref.name': 'app' } }, other], aaa: true };
  await writeFile(join(dir, 'index.json'), JSON.stringify(seed));
  const sink = await OciLayoutSink.open(dir);

  const m1 = blob('{"schemaVersion":2,"n":1}');
  m1.desc.mediaType = 'application/vnd.oci.image.manifest.v1+json';
  await rejects(sink.writeManifest(m1.desc, Buffer.from('{"schemaVersion":2,"n":2}'), 'app'), 'BLOB_MISMATCH');
  assert.is(await readFile(join(dir, 'index.json'), 'utf8'), JSON.stringify(seed), 'index untouched after a refused manifest');

  await sink.writeManifest(m1.desc, m1.data, 'app');
  const text = await readFile(join(dir, 'index.json'), 'utf8');
  const idx = JSON.parse(text) as { manifests: Array<Descriptor & Record<string, unknown>> };
  assert.equal(Object.keys(idx), ['schemaVersion', 'zzz', 'manifests', 'aaa']);
  assert.is(idx.manifests.length, 3);
  assert.equal(idx.manifests[0], other);
  assert.equal(idx.manifests[2], other);
  assert.equal(idx.manifests[1], { mediaType: m1.desc.mediaType, digest: m1.desc.digest, size: m1.desc.size, annotations: { 'org.opencontainers.image.ref.name': 'app' } });
  assert.ok(text.includes('"x-unknown":{"z":1,"a":2}'), 'unknown fields keep their order');
  assert.is(await readFile(join(dir, 'blobs/sha256', m1.desc.digest.slice(7)), 'utf8'), m1.data.toString());

  // Untagged: blob only, index unchanged.
  const m2 = blob('{"schemaVersion":2,"n":3}');
  await sink.writeManifest(m2.desc, m2.data);
  assert.is(await readFile(join(dir, 'index.json'), 'utf8'), text);
  assert.ok(await sink.hasBlob(m2.desc.digest));
  await rejects(sink.writeManifest(m2.desc, m2.data, 'bad tag!'), 'TARGET_ERROR', /not a valid OCI layout reference name/);
});

test('concurrent tag writes all land in index.json', async () => {
  const dir = join(root, 'out7');
  const sink = await OciLayoutSink.open(dir);
  const tags = Array.from({ length: 12 }, (_, i) => `t${i}`);
  await Promise.all(tags.map((t) => {
    const m = blob(`{"schemaVersion":2,"tag":"${t}"}`);
    return sink.writeManifest(m.desc, m.data, t);
  }));
  const idx = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  assert.equal(idx.manifests.map((m) => m.annotations!['org.opencontainers.image.ref.name']).sort(), [...tags].sort());
});

test('refuses a non-empty directory that is not a layout, a file, and a broken index.json', async () => {
  const dir = join(root, 'busy');
  await mkdir(dir);
  await writeFile(join(dir, 'notes.txt'), 'mine');
  await rejects(OciLayoutSink.open(dir), 'TARGET_ERROR', /not empty and is not an OCI layout/);
  assert.equal(await readdir(dir), ['notes.txt']);
  await rejects(OciLayoutSink.open(join(dir, 'notes.txt')), 'TARGET_ERROR', /not a directory/);
  const broken = join(root, 'broken');
  await mkdir(broken);
  await writeFile(join(broken, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(join(broken, 'index.json'), '{"manifests":');
  await rejects(OciLayoutSink.open(broken), 'TARGET_ERROR', /index\.json is not valid JSON/);
});

test('an interrupted creation (oci-layout only) is completed on the next open; an empty dir is accepted', async () => {
  const dir = join(root, 'half');
  await mkdir(dir);
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const sink = await OciLayoutSink.open(dir);
  assert.equal(JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')), { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] });
  assert.ok((await stat(join(dir, 'blobs/sha256'))).isDirectory());
  await sink.close();
  const empty = join(root, 'empty');
  await mkdir(empty);
  const s2 = new OciLayoutSink(empty, { durable: true });
  await s2.init();
  const b = blob('durable');
  await s2.writeBlob(b.desc, Readable.from([b.data]));
  assert.ok(await s2.hasBlob(b.desc.digest));
});

test('check() is read-only: a missing target is not created, an existing one is not changed', async () => {
  const dir = join(root, 'not-yet');
  const sink = new OciLayoutSink(dir);
  assert.is(await sink.check(), false);
  assert.is(await sink.resolveTag('x:1'), undefined);
  assert.is(await sink.blobState(blob('nothing').desc), 'absent');
  assert.not.ok(existsSync(dir), 'nothing created before init()');
});

test('links the sink did not make are refused, not followed: blobs/sha256, index.json, oci-layout, a blob, Ferry\'s own area', async () => {
  const outside = join(root, 'outside');
  await mkdir(outside, { recursive: true });
  const victim = join(outside, 'victim');
  await writeFile(victim, 'precious');
  const b = blob('content');
  const cases: Array<[string, (dir: string) => Promise<void>, RegExp]> = [
    ['blobs/sha256 -> outside', async (dir) => { await rm(join(dir, 'blobs/sha256'), { recursive: true }); await symlink(outside, join(dir, 'blobs/sha256')); }, /blobs\/sha256 is a symbolic link/],
    ['index.json -> victim', async (dir) => { await rm(join(dir, 'index.json')); await symlink(victim, join(dir, 'index.json')); }, /index\.json is a symbolic link/],
    ['oci-layout -> victim', async (dir) => { await rm(join(dir, 'oci-layout')); await symlink(victim, join(dir, 'oci-layout')); }, /oci-layout is a symbolic link/],
    ['.ferry/tmp -> outside', async (dir) => { await rm(join(dir, '.ferry/tmp'), { recursive: true }); await symlink(outside, join(dir, '.ferry/tmp')); }, /\.ferry\/tmp is a symbolic link/],
    ['.ferry/partial -> outside', async (dir) => { await rm(join(dir, '.ferry/partial'), { recursive: true }); await symlink(outside, join(dir, '.ferry/partial')); }, /\.ferry\/partial is a symbolic link/],
  ];
  for (const [label, plant, re] of cases) {
    const dir = join(root, `links-${label.replace(/\W+/g, '-')}`);
    await (await OciLayoutSink.open(dir)).close();
    await plant(dir);
    await rejects(OciLayoutSink.open(dir), 'TARGET_ERROR', re);
    const sink = new OciLayoutSink(dir);
    await rejects(sink.check(), 'TARGET_ERROR', re);
    assert.is(await readFile(victim, 'utf8'), 'precious', label);
    assert.equal(await readdir(outside), ['victim'], label);
  }
  // A blob that is a link is neither trusted nor replaced through.
  const dir = join(root, 'links-blob');
  const sink = await OciLayoutSink.open(dir);
  await symlink(victim, join(dir, 'blobs/sha256', b.desc.digest.slice(7)));
  await rejects(sink.blobState(b.desc), 'TARGET_ERROR', /symbolic link/);
  await rejects(sink.verifyBlob(b.desc), 'TARGET_ERROR', /symbolic link/);
  assert.is(await readFile(victim, 'utf8'), 'precious');
});

test('temp files live in .ferry/tmp, and a run lock refuses a second holder', async () => {
  const dir = join(root, 'tmp-area');
  const sink = await OciLayoutSink.open(dir);
  await writeFile(join(dir, '.ferry/tmp', 'left-by-a-crash'), 'x');
  await sink.lock('loading a test bundle');
  assert.equal(await readdir(join(dir, '.ferry/tmp')), [], 'lock() clears what interrupted runs left');
  const other = new OciLayoutSink(dir);
  await rejects(other.lock('loading another'), 'TARGET_BUSY', /another ferry-load \(PID \d+.*is loading a test bundle/);
  await sink.close();
  await other.lock('loading another');
  await other.close();
  assert.not.ok(existsSync(join(dir, '.ferry/lock')));
});

test('tag() and resolveTag(): storing and making visible are separate steps', async () => {
  const dir = join(root, 'tagging');
  const sink = await OciLayoutSink.open(dir);
  const m = blob('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}');
  m.desc.mediaType = 'application/vnd.oci.image.manifest.v1+json';
  await rejects(sink.tag('app:1', m.desc), 'INTERNAL', /not stored/);
  await sink.writeManifest(m.desc, m.data);
  assert.is(await sink.resolveTag('app:1'), undefined);
  await sink.tag('app:1', m.desc);
  assert.is((await sink.resolveTag('app:1'))?.digest, m.desc.digest);
});

test('two processes tagging into one layout at once lose no tag (cross-process index lock)', async () => {
  const dir = join(root, 'two-procs');
  await (await OciLayoutSink.open(dir)).close();
  const script = (who: string) => `
    import { OciLayoutSink } from ${JSON.stringify(new URL('../src/layout-sink.ts', import.meta.url).pathname)};
    import { createHash } from 'node:crypto';
    const sink = await OciLayoutSink.open(${JSON.stringify(dir)});
    await Promise.all(Array.from({ length: 40 }, async (_, i) => {
      const data = Buffer.from(JSON.stringify({ schemaVersion: 2, who: ${JSON.stringify(who)}, i }));
      const desc = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:' + createHash('sha256').update(data).digest('hex'), size: data.length };
      await sink.writeManifest(desc, data, ${JSON.stringify(who)} + '-' + i);
    }));
    await sink.close();
  `;
  const runOne = (who: string) => new Promise<number>((resolve) => {
    const c = spawn(process.execPath, ['--conditions=ferry-src', '--import', 'tsx', '--input-type=module', '-e', script(who)], { stdio: ['ignore', 'inherit', 'inherit'] });
    c.on('close', (code) => resolve(code ?? -1));
  });
  const codes = await Promise.all([runOne('a'), runOne('b'), runOne('c')]);
  assert.equal(codes, [0, 0, 0]);
  const idx = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  const names = idx.manifests.map((m) => m.annotations!['org.opencontainers.image.ref.name']);
  assert.is(names.length, 120);
  assert.is(new Set(names).size, 120);
});

test.run();
