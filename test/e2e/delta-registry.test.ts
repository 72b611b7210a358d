// Blob-level deltas against real registries (distribution), read back with skopeo and plain HTTP.
// Week 1: a full bundle from the source registry, pushed into the target. Then upstream pushes a
// new tag sharing the base layer, re-tags another image to new content, and adds an image in a
// new repository on the same base. Week 2: `create --baseline week1.manifest.json` carries only
// the new blobs (bytes asserted, old layers absent from the volumes), push loads it (mounting the
// base layer into the new repository), skopeo reads the new digests. The same delta is refused
// with BASELINE_MISSING (exit 25) by an empty registry and by an OCI layout missing a baseline
// blob, before anything is written. An unchanged upstream gives a delta that carries no config or
// layer; `--baseline last --state-dir` finds week 1; a baseline that is not a Ferry manifest is
// refused (BASELINE_INVALID, exit 4); serve refuses a delta; verify/inspect report it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeOciLayout, type WrittenImage } from '../helpers/images.js';
import { bundleCli, loadCli, sh, type RunResult } from '../helpers/cli.js';
import { startRegistry, type StartedRegistry } from '../harness/registry.js';
import { seedLayout, skopeoInspectRaw } from '../harness/seed.js';
import { reportValidator } from '../helpers/report-schemas.js';

interface Blob { digest: string; size: number; kind: string; mediaType: string }
interface Required extends Blob { baseline: string; repositories: string[] }
interface Manifest {
  schemaVersion: number;
  mediaType: string;
  name: string;
  images: Array<{ repository: string; tag?: string; digest: string; blobs: string[] }>;
  blobs: Blob[];
  required?: Required[];
  baselines?: Array<{ name: string; kind: string; digest: string }>;
  delta?: { carriedBytes: number; referencedBytes: number; requiredBytes: number; requiredBlobs: number };
  volumes: Array<{ file: string }>;
}

let tmp = '';
let home = '';
let src: StartedRegistry;
let dst: StartedRegistry;
let app1: WrittenImage;
let tool1: WrittenImage;
let app2: WrittenImage;
let tool1b: WrittenImage;
let other: WrittenImage;

function env(): Record<string, string | undefined> {
  return { HOME: home, REGISTRY_AUTH_FILE: undefined, XDG_RUNTIME_DIR: undefined, XDG_CONFIG_HOME: undefined, DOCKER_CONFIG: undefined, FERRY_REGISTRY_CREDS: undefined, FERRY_KEY_PASSWORD: undefined };
}
const pub = () => join(tmp, 'signer.pub');
const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');
const hex = (d: string) => d.slice('sha256:'.length);

async function create(name: string, images: string[], extra: string[] = []): Promise<RunResult> {
  return bundleCli(['create', '--name', name, '--out', join(tmp, 'bundles', name), '--key', join(tmp, 'signer.key'), '--volume-size', '1MiB',
    ...images.flatMap((i) => ['--image', `${src.host}/${i}`]), '--insecure-registry', src.host, ...extra], { env: env() });
}
async function created(name: string, images: string[], extra: string[] = []): Promise<{ dir: string; m: Manifest; bytes: Buffer; out: RunResult }> {
  const out = await create(name, images, extra);
  assert.is(out.code, 0, `create ${name}: ${out.stdout}${out.stderr}`);
  const dir = join(tmp, 'bundles', name);
  const bytes = await readFile(join(dir, `${name}.manifest.json`));
  return { dir, m: JSON.parse(bytes.toString()) as Manifest, bytes, out };
}
function push(bundle: string, to: string, extra: string[] = []): Promise<RunResult> {
  return loadCli(['push', bundle, '--trusted-key', pub(), '--to', to, '--state-dir', join(tmp, 'push-state'), '--yes', '--json', ...extra], { env: env() });
}
const insecure = (r: StartedRegistry) => ['--insecure-registry', r.host];

async function catalog(r: StartedRegistry): Promise<string[]> {
  const res = await fetch(`${r.url}/v2/_catalog?n=1000`);
  return (((await res.json()) as { repositories: string[] | null }).repositories ?? []).sort();
}
async function headBlob(r: StartedRegistry, repo: string, digest: string): Promise<number> {
  return (await fetch(`${r.url}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' })).status;
}
/** The tar entries of every volume of a bundle (zstd and tar, independent of Ferry). */
async function volumeEntries(dir: string, m: Manifest): Promise<string[]> {
  const out: string[] = [];
  for (const v of m.volumes) {
    const r = await sh(`zstd -dc ${JSON.stringify(join(dir, v.file))} | tar -t`);
    assert.is(r.code, 0, r.stderr);
    out.push(...r.stdout.split('\n').filter(Boolean));
  }
  return out;
}
const configAndLayers = (...imgs: WrittenImage[]) => imgs.flatMap((i) => [...i.configs, ...i.layers.flat()]);

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-e2e-delta-'));
  home = join(tmp, 'home');
  await mkdir(home);
  const layout = join(tmp, 'upstream');
  // Layers named by seed: the same seed is the same blob in every image (a shared base).
  [app1, tool1, app2, tool1b, other] = (await makeOciLayout(layout, [
    { tag: 'app1', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 300_000, seed: 'd-base', gzipLevel: 0 }, { size: 40_000, seed: 'd-app1', gzipLevel: 0 }] }] },
    { tag: 'tool1', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 200_000, seed: 'd-base2', gzipLevel: 0 }, { size: 30_000, seed: 'd-tool1', gzipLevel: 0 }] }] },
    { tag: 'app2', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 300_000, seed: 'd-base', gzipLevel: 0 }, { size: 50_000, seed: 'd-app2', gzipLevel: 0 }] }] },
    { tag: 'tool1b', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 200_000, seed: 'd-base2', gzipLevel: 0 }, { size: 35_000, seed: 'd-tool1b', gzipLevel: 0 }] }] },
    { tag: 'other', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 300_000, seed: 'd-base', gzipLevel: 0 }, { size: 20_000, seed: 'd-other', gzipLevel: 0 }] }] },
  ])) as [WrittenImage, WrittenImage, WrittenImage, WrittenImage, WrittenImage];
  const k = await bundleCli(['keygen', '--no-password', '--out', join(tmp, 'signer')], { env: env() });
  assert.is(k.code, 0, k.stderr);
  [src, dst] = await Promise.all([startRegistry(), startRegistry({ accessLog: true })]);
  await seedLayout(src, layout, 'app1', 'ns/app:1');
  await seedLayout(src, layout, 'tool1', 'ns/tool:1');
  (globalThis as { upstreamLayout?: string }).upstreamLayout = layout;
});

test.after(async () => {
  await Promise.all([src?.stop(), dst?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

let week1: Awaited<ReturnType<typeof created>>;
let week2: Awaited<ReturnType<typeof created>>;
const state = () => join(tmp, 'state');

test('week 1: a full bundle (no baseline keeps format v1), kept in the state dir, pushed into the target', async () => {
  week1 = await created('week1', ['ns/app:1', 'ns/tool:1'], ['--state-dir', state()]);
  assert.is(week1.m.schemaVersion, 1);
  assert.is(week1.m.required, undefined);
  assert.equal(await readFile(join(state(), 'manifests', 'week1.manifest.json')), week1.bytes, 'the state dir keeps the exact manifest');
  const r = await push(week1.dir, dst.host, insecure(dst));
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.equal(await catalog(dst), ['ns/app', 'ns/tool']);
});

test('a failed create records nothing in the state dir', async () => {
  const s = join(tmp, 'state-failed');
  const r = await create('broken', ['ns/nothing:here'], ['--state-dir', s]);
  assert.is.not(r.code, 0);
  assert.is(await stat(join(s, 'manifests', 'broken.manifest.json')).then(() => true, () => false), false);
});

test('week 2: upstream adds a tag on the same base and re-tags another; the delta carries only the new blobs', async () => {
  const layout = (globalThis as { upstreamLayout?: string }).upstreamLayout!;
  await seedLayout(src, layout, 'app2', 'ns/app:2');
  await seedLayout(src, layout, 'tool1b', 'ns/tool:1'); // re-tagged: same name, new digest
  await seedLayout(src, layout, 'other', 'ns/other:1'); // a new repository on the same base
  week2 = await created('week2', ['ns/app:1', 'ns/app:2', 'ns/tool:1', 'ns/other:1'], ['--baseline', join(week1.dir, 'week1.manifest.json')]);
  const m = week2.m;
  assert.is(m.schemaVersion, 4);
  assert.is(m.mediaType, 'application/vnd.ferry.bundle.manifest.v4+json');
  assert.equal(m.baselines!.map((b) => [b.name, b.kind, b.digest]), [['week1', 'bundle', sha(week1.bytes)]]);

  const old = configAndLayers(app1, tool1);
  const isOld = (d: { digest: string }) => old.some((o) => o.digest === d.digest);
  const fresh = configAndLayers(app2, tool1b, other).filter((d) => !isOld(d));
  // What week 2's images need that week 1 carried: app:1's config and layers, and tool's base.
  const expectRequired = [...new Set(configAndLayers(app1, app2, tool1b, other).filter(isOld).map((d) => d.digest))].sort();
  assert.is(expectRequired.length, 4);
  // Carried config and layer content is exactly the new blobs.
  const carried = m.blobs.filter((b) => b.kind === 'config' || b.kind === 'layer');
  assert.equal(carried.map((b) => b.digest).sort(), [...new Set(fresh.map((d) => d.digest))].sort());
  assert.is(carried.reduce((n, b) => n + b.size, 0), [...new Map(fresh.map((d) => [d.digest, d.size])).values()].reduce((n, s) => n + s, 0));
  // Every old config and layer week 2 needs is required, none carried; manifests always carried.
  assert.equal(m.required!.map((r) => r.digest).sort(), expectRequired);
  for (const r of m.required!) assert.is(r.baseline, 'week1');
  const base = app1.layers[0]![0]!;
  assert.equal(m.required!.find((r) => r.digest === base.digest)!.repositories, ['ns/app']);
  for (const img of [app1, app2, tool1b, other]) assert.ok(m.blobs.some((b) => b.digest === img.root.digest && b.kind === 'manifest'), `manifest ${img.tag} carried`);
  assert.equal(m.delta, {
    carriedBytes: m.blobs.reduce((n, b) => n + b.size, 0),
    referencedBytes: m.blobs.reduce((n, b) => n + b.size, 0) + m.required!.reduce((n, b) => n + b.size, 0),
    requiredBytes: m.required!.reduce((n, b) => n + b.size, 0),
    requiredBlobs: 4,
  });
  // No old layer in any volume (read with zstd and tar, not Ferry).
  const entries = await volumeEntries(week2.dir, m);
  for (const o of old) assert.not.ok(entries.includes(`blobs/sha256/${hex(o.digest)}`), `old blob ${o.digest} is in a volume`);
  for (const f of fresh) assert.ok(entries.includes(`blobs/sha256/${hex(f.digest)}`), `new blob ${f.digest} is in a volume`);
  // The saving line.
  assert.match(week2.out.stdout, /Delta: carried [\d.]+ [KM]iB of [\d.]+ [KM]iB \(saved [\d.]+ [KM]iB: 4 blob\(s\) required from week1\)/);
});

test('verify and inspect report the delta (text and --json, against their schemas)', async () => {
  const v = await loadCli(['verify', week2.dir, '--trusted-key', pub(), '--json'], { env: env() });
  assert.is(v.code, 0, v.stdout + v.stderr);
  const vj = JSON.parse(v.stdout) as { delta: { requiredBlobs: number; requiredBytes: number; baselines: Array<{ name: string; requiredBlobs: number }> } };
  assert.ok(reportValidator('verify-report')(vj), JSON.stringify(reportValidator('verify-report').errors));
  assert.is(vj.delta.requiredBlobs, 4);
  assert.is(vj.delta.requiredBytes, week2.m.delta!.requiredBytes);
  assert.equal(vj.delta.baselines.map((b) => [b.name, b.requiredBlobs]), [['week1', 4]]);
  const i = await loadCli(['inspect', week2.dir, '--trusted-key', pub(), '--json'], { env: env() });
  assert.is(i.code, 0, i.stderr);
  const ij = JSON.parse(i.stdout) as { delta: { requiredBlobs: number } };
  assert.ok(reportValidator('inspect-report')(ij), JSON.stringify(reportValidator('inspect-report').errors));
  assert.is(ij.delta.requiredBlobs, 4);
  const it = await loadCli(['inspect', week2.dir, '--trusted-key', pub()], { env: env() });
  assert.match(it.stdout, /Delta: +4 blob\(s\), [\d.]+ [KM]iB not carried, required in the target \(baselines week1: 4 blob\(s\)\)/);
});

test('the delta pushed into a fresh empty registry is refused before anything is written (BASELINE_MISSING, exit 25)', async () => {
  const fresh = await startRegistry();
  try {
    const r = await push(week2.dir, fresh.host, insecure(fresh));
    assert.is(r.code, 25, r.stdout + r.stderr);
    const e = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
    assert.is(e.code, 'BASELINE_MISSING');
    // Names the missing digests (first few and a count), the image needing each, the baseline.
    assert.match(e.message, /4 blob\(s\) it requires are not in/);
    assert.match(e.message, new RegExp(`${app1.layers[0]![0]!.digest} for ${fresh.host.replace(/\./g, '\\.')}/ns/app:1, carried by week1`));
    assert.match(e.message, /load week1 into this target first/);
    assert.equal(await catalog(fresh), [], 'no repository, tag or blob was written');
  } finally {
    await fresh.stop();
  }
});

test('week 2 pushed into the target: new digests read back with skopeo; the base layer mounted into the new repository', async () => {
  const base = app1.layers[0]![0]!;
  assert.is(await headBlob(dst, 'ns/other', base.digest), 404, 'the new repository does not hold the base layer yet');
  const logFrom = dst.log().length;
  const r = await push(week2.dir, dst.host, insecure(dst));
  assert.is(r.code, 0, r.stdout + r.stderr);
  // The plan is made twice (before the yes and under the lock); each required blob is asked
  // about once per repository all the same (distribution's access log, not Ferry's word).
  const heads = [...dst.log().slice(logFrom).matchAll(/"HEAD (\/v2\/\S+\/blobs\/sha256:[0-9a-f]{64})/g)].map((m) => m[1]!);
  const twice = heads.filter((h, i) => heads.indexOf(h) !== i);
  assert.equal(twice, [], `blob HEADs asked twice in one push: ${twice.join(', ')}`);
  assert.ok(heads.length >= 4, `the required blobs were asked about: ${heads.length}`);
  const rep = JSON.parse(r.stdout) as { images: Array<{ ref: string; status: string }>; notes: string[]; blobsWritten: number; delta: { requiredBlobs: number } };
  assert.ok(reportValidator('push-report')(rep), JSON.stringify(reportValidator('push-report').errors));
  assert.ok(rep.images.every((i) => i.status === 'loaded'), r.stdout);
  assert.is(rep.delta.requiredBlobs, 4);
  assert.ok(rep.notes.some((n) => /delta: 4 blob\(s\).*1 mount\(s\)/.test(n)), rep.notes.join('\n'));
  for (const [ref, img] of [['ns/app:2', app2], ['ns/tool:1', tool1b], ['ns/other:1', other], ['ns/app:1', app1]] as const) {
    assert.is(sha(await skopeoInspectRaw(dst, ref)), img.root.digest, `skopeo reads ${ref} at the bundled digest`);
  }
  assert.is(await headBlob(dst, 'ns/other', base.digest), 200, 'mounted from ns/app');
  const c = await loadCli(['check', week2.dir, '--trusted-key', pub(), '--to', dst.host, ...insecure(dst), '--json'], { env: env() });
  assert.is(c.code, 0, c.stdout + c.stderr);
});

test('an OCI layout target: accepted when it holds the baseline, refused (nothing written) when a baseline blob is gone or a link', async () => {
  const good = join(tmp, 'layout-good');
  assert.is((await push(week1.dir, `oci:${good}`)).code, 0);
  const bad = join(tmp, 'layout-bad');
  await cp(good, bad, { recursive: true });
  const linked = join(tmp, 'layout-link');
  await cp(good, linked, { recursive: true });

  const ok = await push(week2.dir, `oci:${good}`);
  assert.is(ok.code, 0, ok.stdout + ok.stderr);
  const idx = JSON.parse(await readFile(join(good, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  assert.ok(idx.manifests.some((x) => x.digest === app2.root.digest));

  const gone = tool1.layers[0]![0]!;
  await rm(join(bad, 'blobs', 'sha256', hex(gone.digest)));
  const before = await readFile(join(bad, 'index.json'));
  const blobsBefore = (await readdir(join(bad, 'blobs', 'sha256'))).sort();
  const r = await push(week2.dir, `oci:${bad}`);
  assert.is(r.code, 25, r.stdout + r.stderr);
  const e = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
  assert.is(e.code, 'BASELINE_MISSING');
  assert.match(e.message, new RegExp(`1 blob\\(s\\) it requires are not in .*${gone.digest} for ns/tool:1, carried by week1`));
  assert.equal(await readFile(join(bad, 'index.json')), before, 'index.json untouched');
  assert.equal((await readdir(join(bad, 'blobs', 'sha256'))).sort(), blobsBefore, 'no blob written');

  // A link in the blob's place is not the blob (a layout holds regular files only).
  const p = join(linked, 'blobs', 'sha256', hex(gone.digest));
  await cp(p, join(tmp, 'elsewhere.blob'));
  await rm(p);
  await symlink(join(tmp, 'elsewhere.blob'), p);
  const l = await push(week2.dir, `oci:${linked}`);
  assert.is(l.code, 25, l.stdout + l.stderr);
  assert.match((JSON.parse(l.stdout) as { error: { message: string } }).error.message, /not a regular file/);
});

test('an unchanged upstream: the delta against last week carries no config or layer bytes', async () => {
  const w3 = await created('week3', ['ns/app:1', 'ns/app:2', 'ns/tool:1', 'ns/other:1'], ['--baseline', join(week2.dir, 'week2.manifest.json'), '--baseline', join(week1.dir, 'week1.manifest.json')]);
  assert.is(w3.m.schemaVersion, 4);
  assert.equal([...new Set(w3.m.blobs.map((b) => b.kind))], ['manifest']);
  assert.is(w3.m.delta!.carriedBytes, w3.m.blobs.reduce((n, b) => n + b.size, 0));
  // week2 is given first: what it carried is required from it, what it required comes from week1 or week2.
  assert.ok(w3.m.required!.every((r) => r.baseline === 'week2'), 'week2 knows every blob (its own and what it required)');
  const r = await push(w3.dir, dst.host, insecure(dst));
  assert.is(r.code, 0, r.stdout + r.stderr);
});

test('--baseline last --state-dir: the newest bundle kept there', async () => {
  const w = await created('week2-last', ['ns/app:2'], ['--baseline', 'last', '--state-dir', state()]);
  assert.equal(w.m.baselines!.map((b) => b.name), ['week1']);
  assert.ok(w.m.required!.some((r) => r.digest === app1.layers[0]![0]!.digest));
  // It is kept in turn, and is now the newest.
  const w2 = await created('week2-last2', ['ns/app:2'], ['--baseline', 'last', '--state-dir', state()]);
  assert.equal(w2.m.baselines!.map((b) => b.name), ['week2-last']);
  // Rebuilt with --replace: the state dir keeps the new manifest once it is swapped in.
  const again = await created('week2-last2', ['ns/app:2', 'ns/tool:1'], ['--baseline', join(week1.dir, 'week1.manifest.json'), '--state-dir', state(), '--replace']);
  assert.equal(await readFile(join(state(), 'manifests', 'week2-last2.manifest.json')), again.bytes);
  assert.not.equal(again.bytes, w2.bytes);
  const none = await create('no-state', ['ns/app:2'], ['--baseline', 'last', '--state-dir', join(tmp, 'empty-state')]);
  assert.is(none.code, 4, none.stderr);
  assert.match(none.stderr, /BASELINE_INVALID|no earlier bundle is recorded/);
  const noDir = await create('no-dir', ['ns/app:2'], ['--baseline', 'last']);
  assert.is(noDir.code, 2, noDir.stderr);
  assert.match(noDir.stderr, /needs --state-dir/);
});

test('a baseline that is not a Ferry manifest is refused (BASELINE_INVALID, exit 4), before any source is read', async () => {
  const cases: Array<[string, string | Buffer, RegExp]> = [
    ['other.json', JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }), /neither a Ferry bundle manifest .* nor an inventory/],
    ['garbage.json', Buffer.from([0xff, 0x00, 0x7b]), /is not JSON/],
    ['array.json', '[1,2]', /mediaType none/],
    ['forged.manifest.json', JSON.stringify({ ...week1.m, blobs: [] }), /not a bundle manifest this Ferry reads/],
  ];
  for (const [name, content, re] of cases) {
    const p = join(tmp, name);
    await writeFile(p, content);
    const r = await create(`bad-${name.split('.')[0]}`, ['ns/app:2'], ['--baseline', p, '--json']);
    assert.is(r.code, 4, `${name}: ${r.stdout}${r.stderr}`);
    const e = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
    assert.is(e.code, 'BASELINE_INVALID', name);
    assert.match(e.message, re, name);
  }
  const dir = await create('bad-dir', ['ns/app:2'], ['--baseline', week1.dir]);
  assert.is(dir.code, 4);
  assert.match(dir.stderr, /is a directory; give the NAME.manifest.json/);
});

test('serve refuses a delta bundle at start: it cannot serve blobs it does not carry', async () => {
  const r = await loadCli(['serve', week2.dir, '--trusted-key', pub(), '--listen', '127.0.0.1:0'], { env: env() });
  assert.is(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /week2 is a delta bundle: 4 blob\(s\) its images need are not carried/);
});

test.run();
