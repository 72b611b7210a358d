// ferry-load serve against real clients: a bundle made by ferry-bundle create from a real
// docker-registry (a two-platform index with a layer split across volumes and a cosign signature
// tag, a single image with an OCI referrer) and a Helm chart; served on port 0; read back with
// skopeo (copy, inspect), crane (manifest, ls, catalog), helm pull oci:// and curl/fetch (Range,
// errors, writes refused, referrers). Then: four skopeo copies at once; a byte flipped in a
// layer (the client fails, the log says why, a later request is refused up front); a damaged
// seek table, a truncated volume, a tampered manifest (serve refuses to start, with the exit
// code of the error table); a missing volume (404 for its blobs, the rest served); HTTPS with a
// private CA for skopeo and crane; SIGTERM stops it with exit 0.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cp, mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeOciLayout, type WrittenImage } from '../helpers/images.js';
import { bundleCli, loadCli, sh } from '../helpers/cli.js';
import { startServe, type Served } from '../helpers/serve.js';
import { startRegistry, type StartedRegistry } from '../harness/registry.js';
import { seedLayout, generateSigningKey, writeCosignSignature, writeOciReferrer } from '../harness/seed.js';
import { makeChart, newHelm, type HelmClient } from '../harness/helm.js';
import { makeCerts, type TestCerts } from '../harness/certs.js';
import { goTool, runTool } from '../harness/tools.js';
import { RegistryClient } from '../../packages/oci/src/index.js';
import { blobEntryName, loadTrustedKeys } from '../../packages/format-spec/src/index.js';
import { openTrusted } from '../../packages/loader/src/bundle.js';
import { indexVolume } from '../../packages/loader/src/serve/volume-index.js';

const PW = 'serve-pw';
let tmp = '';
let home = '';
let reg: StartedRegistry;
let helm: HelmClient;
let crane = '';
let certs: TestCerts;
let multi: WrittenImage;
let single: WrittenImage;
let sig: { digest: string };
let sbom: { digest: string };
let chartTgz: Buffer;
let bundleDir = '';

interface MBlob { digest: string; size: number; mediaType: string; kind: string; volume?: number; segments?: Array<{ volume: number }> }
interface Manifest { images: Array<{ repository: string; tag?: string; digest: string; blobs: string[] }>; blobs: MBlob[]; volumes: Array<{ index: number; file: string }>; charts?: Array<{ name: string; version: string; digest: string; manifest: { digest: string } }> }
let manifest: Manifest;

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const env = { FERRY_KEY_PASSWORD: PW, HOME: '', REGISTRY_AUTH_FILE: undefined, DOCKER_CONFIG: undefined };

/** Start `ferry-load serve` on a free port and wait for its JSON startup line. */
const serve = (dir: string, extra: string[] = []): Promise<Served> => startServe(dir, join(tmp, 'signer.pub'), extra);

/** Run serve expecting it to refuse to start. */
async function refused(dir: string): Promise<{ code: number; stderr: string }> {
  const r = await loadCli(['serve', dir, '--trusted-key', join(tmp, 'signer.pub'), '--listen', '127.0.0.1:0']);
  return { code: r.code, stderr: r.stderr + r.stdout };
}

/** The log lines are written when a response closes, which may be just after the client returned. */
async function logMatches(s: Served, re: RegExp): Promise<void> {
  for (let i = 0; i < 50 && !re.test(s.log()); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(s.log(), re);
}

const skopeo = (args: string) => sh(`skopeo --policy <(echo '{"default":[{"type":"insecureAcceptAnything"}]}') ${args}`);
const craneRun = (args: string[], extraEnv: Record<string, string> = {}) => runTool(crane, args, home, { env: extraEnv });
const blob = (d: string): MBlob => manifest.blobs.find((b) => b.digest === d)!;
const volumesOf = (b: MBlob): number[] => (b.volume !== undefined ? [b.volume] : b.segments!.map((s) => s.volume));

test.before(async () => {
  try {
    tmp = await mkdtemp(join(tmpdir(), 'ferry-e2e-serve-'));
    home = join(tmp, 'home');
    env.HOME = home;
    await mkdir(home);
    [multi, single] = (await makeOciLayout(join(tmp, 'layout'), [
      {
        tag: 'multi',
        platforms: [
          { os: 'linux', architecture: 'amd64', layers: [{ size: 400_000, seed: 'srv-base', gzipLevel: 0 }, { size: 30_000, seed: 'srv-amd' }] },
          { os: 'linux', architecture: 'arm64', layers: [{ size: 400_000, seed: 'srv-base', gzipLevel: 0 }, { size: 30_000, seed: 'srv-arm' }] },
        ],
      },
      { tag: 'single', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 150_000, seed: 'srv-single', gzipLevel: 0 }] }] },
    ])) as [WrittenImage, WrittenImage];
    const k = await bundleCli(['keygen', '--out', join(tmp, 'signer')], { env: { FERRY_KEY_PASSWORD: PW } });
    assert.is(k.code, 0, k.stderr);
    [reg, helm, crane, certs] = await Promise.all([startRegistry(), newHelm(), goTool('crane'), makeCerts(join(tmp, 'certs'))]);
    await seedLayout(reg, join(tmp, 'layout'), 'multi', 'ns/multi:v1');
    await seedLayout(reg, join(tmp, 'layout'), 'single', 'ns/single:v1');
    const key = generateSigningKey();
    sig = await writeCosignSignature(reg.url, 'ns/multi', multi.root.digest, key.privatePem, `${reg.host}/ns/multi`);
    const client = new RegistryClient(reg.host, { insecure: [reg.host] });
    sbom = await writeOciReferrer(client, 'ns/single', single.root, 'application/spdx+json', Buffer.from('{"spdxVersion":"SPDX-2.3","name":"single"}'));
    client.close();
    const chartDir = await makeChart(join(tmp, 'chart-src', 'webapp'), { name: 'webapp', version: '1.2.3', appVersion: '1.0' });
    const pkg = await helm.helmPackage(chartDir, join(tmp, 'charts'));
    chartTgz = await readFile(pkg.tgz);
    bundleDir = join(tmp, 'srv');
    const r = await bundleCli(['create', '--name', 'srv', '--out', bundleDir, '--key', join(tmp, 'signer.key'), '--volume-size', '256KiB', '--insecure-registry', reg.host,
      '--image', `${reg.host}/ns/multi:v1`, '--image', `${reg.host}/ns/single:v1`, '--chart', pkg.tgz, '--json'], { env });
    assert.is(r.code, 0, r.stdout + r.stderr);
    manifest = JSON.parse(await readFile(join(bundleDir, 'srv.manifest.json'), 'utf8')) as Manifest;
  } catch (e) {
    console.error('setup failed:', e);
    throw e;
  }
});

test.after(async () => {
  await reg?.stop();
  await helm?.cleanup();
  await rm(tmp, { recursive: true, force: true });
});

test('skopeo copy, skopeo inspect, crane manifest/ls/catalog read every image with the bundled digests', async () => {
  const s = await serve(bundleDir);
  await mkdir(join(tmp, 'copy'));
  try {
    for (const img of manifest.images) {
      const ref = `${img.repository}:${img.tag}`;
      const dir = join(tmp, 'copy', img.repository.replaceAll('/', '_'));
      const c = await skopeo(`copy -q --all --preserve-digests --src-tls-verify=false docker://${s.host}/${ref} oci:${dir}:${img.tag}`);
      assert.is(c.code, 0, c.stderr + s.log());
      const raw = await sh(`skopeo inspect --raw oci:${dir}:${img.tag} | sha256sum`);
      assert.is(`sha256:${raw.stdout.split(' ')[0]}`, img.digest, ref);
      // Every blob skopeo wrote hashes to its name (skopeo checks as well; this is the belt).
      const bad = await sh(`cd ${dir}/blobs/sha256 && for f in *; do [ "$(sha256sum < $f | cut -d' ' -f1)" = "$f" ] || echo BAD $f; done`);
      assert.is(bad.stdout.trim(), '', bad.stdout);
      const insp = await sh(`skopeo inspect --tls-verify=false docker://${s.host}/${ref}`);
      assert.is(insp.code, 0, insp.stderr);
      assert.is((JSON.parse(insp.stdout) as { Digest: string }).Digest, img.digest);
      const cm = await craneRun(['manifest', '--insecure', `${s.host}/${ref}`]);
      assert.is(cm.code, 0, cm.stderr);
      assert.is(sha(Buffer.from(cm.stdout)), img.digest, `crane manifest ${ref}`);
    }
    const ls = await craneRun(['ls', '--insecure', `${s.host}/ns/multi`]);
    assert.is(ls.code, 0, ls.stderr);
    assert.equal(ls.stdout.trim().split('\n').sort(), [`sha256-${multi.root.digest.slice(7)}.sig`, 'v1'].sort());
    const cat = await craneRun(['catalog', '--insecure', s.host]);
    assert.equal(cat.stdout.trim().split('\n'), ['charts/webapp', 'ns/multi', 'ns/single']);
    // The cosign signature is served under its tag with the bundled digest.
    const sm = await craneRun(['digest', '--insecure', `${s.host}/ns/multi:sha256-${multi.root.digest.slice(7)}.sig`]);
    assert.is(sm.stdout.trim(), sig.digest);
    // One log line per request: method, path, status, bytes.
    await logMatches(s, /"method":"GET","path":"\/v2\/ns\/multi\/manifests\/v1","status":200,"bytes":\d+/);
  } finally {
    assert.is(await s.stop(), 0, 'SIGTERM stops serve cleanly');
  }
});

test('helm pull oci:// gets the bundled chart; referrers API with artifactType filter; tags/list pagination', async () => {
  const s = await serve(bundleDir);
  try {
    const c = manifest.charts![0]!;
    const pulled = await helm.helmPull(`oci://${s.host}/charts/webapp`, { version: '1.2.3', destination: join(tmp, 'helm-pull'), plainHttp: true });
    assert.equal(await readFile(pulled.tgz), chartTgz, 'helm pulled the exact bytes packaged on the low side');
    assert.is(sha(chartTgz), c.digest);
    const refs = await fetch(`${s.url}/v2/ns/single/referrers/${single.root.digest}`);
    assert.is(refs.status, 200);
    assert.is(refs.headers.get('content-type'), 'application/vnd.oci.image.index.v1+json');
    const idx = (await refs.json()) as { manifests: Array<{ digest: string; artifactType: string }> };
    assert.equal(idx.manifests.map((d) => [d.digest, d.artifactType]), [[sbom.digest, 'application/spdx+json']]);
    const f1 = await fetch(`${s.url}/v2/ns/single/referrers/${single.root.digest}?artifactType=application/spdx%2Bjson`);
    assert.is(f1.headers.get('oci-filters-applied'), 'artifactType');
    assert.is(((await f1.json()) as { manifests: unknown[] }).manifests.length, 1);
    const f2 = await fetch(`${s.url}/v2/ns/single/referrers/${single.root.digest}?artifactType=application/other`);
    assert.is(((await f2.json()) as { manifests: unknown[] }).manifests.length, 0);
    const none = await fetch(`${s.url}/v2/ns/single/referrers/sha256:${'0'.repeat(64)}`);
    assert.is(none.status, 200, 'no referrers is an empty index, never 404');
    const bad = await fetch(`${s.url}/v2/ns/single/referrers/nope`);
    assert.is(bad.status, 400);
    const p1 = await fetch(`${s.url}/v2/ns/multi/tags/list?n=1`);
    assert.equal(await p1.json(), { name: 'ns/multi', tags: [`sha256-${multi.root.digest.slice(7)}.sig`] });
    assert.match(p1.headers.get('link') ?? '', /rel="next"/);
    const p2 = await fetch(`${s.url}/v2/ns/multi/tags/list?n=1&last=sha256-${multi.root.digest.slice(7)}.sig`);
    assert.equal(await p2.json(), { name: 'ns/multi', tags: ['v1'] });
    assert.is(p2.headers.get('link'), null);
  } finally {
    await s.stop();
  }
});

test('Range requests: 206 with the right bytes (across a segment boundary), suffix ranges, 416; errors in the spec shape; writes are 405 UNSUPPORTED', async () => {
  const s = await serve(bundleDir);
  try {
    const base = multi.layers[0]![0]!;
    assert.ok(blob(base.digest).segments, 'the base layer is split across volumes');
    const url = `${s.url}/v2/ns/multi/blobs/${base.digest}`;
    const full = Buffer.from(await (await fetch(url)).arrayBuffer());
    assert.is(sha(full), base.digest);
    const cut = (blob(base.digest) as unknown as { segments: Array<{ offset: number }> }).segments[1]!.offset;
    const r = await fetch(url, { headers: { Range: `bytes=${cut - 100}-${cut + 99}` } });
    assert.is(r.status, 206);
    assert.is(r.headers.get('content-range'), `bytes ${cut - 100}-${cut + 99}/${base.size}`);
    assert.equal(Buffer.from(await r.arrayBuffer()), full.subarray(cut - 100, cut + 100));
    const suffix = await fetch(url, { headers: { Range: 'bytes=-10' } });
    assert.equal(Buffer.from(await suffix.arrayBuffer()), full.subarray(full.length - 10));
    const open = await fetch(url, { headers: { Range: `bytes=${base.size - 5}-` } });
    assert.is(open.status, 206);
    assert.equal(Buffer.from(await open.arrayBuffer()), full.subarray(base.size - 5));
    const out = await fetch(url, { headers: { Range: `bytes=${base.size}-` } });
    assert.is(out.status, 416);
    assert.is(out.headers.get('content-range'), `bytes */${base.size}`);
    // A range of a blob not read whole before: verified whole first, then served.
    const lone = single.layers[0]![0]!;
    const lr = await sh(`curl -s -H 'Range: bytes=1000-1999' ${s.url}/v2/ns/single/blobs/${lone.digest} | wc -c`);
    assert.is(lr.stdout.trim(), '1000');
    await logMatches(s, /verified whole before serving the range/);
    const head = await fetch(url, { method: 'HEAD' });
    assert.is(head.headers.get('content-length'), String(base.size));
    assert.is(head.headers.get('docker-content-digest'), base.digest);

    const v2 = await fetch(`${s.url}/v2/`);
    assert.is(v2.status, 200);
    assert.is(v2.headers.get('docker-distribution-api-version'), 'registry/2.0');
    const err = async (path: string, status: number, code: string): Promise<void> => {
      const e = await fetch(`${s.url}${path}`);
      assert.is(e.status, status, path);
      assert.is(((await e.json()) as { errors: Array<{ code: string }> }).errors[0]!.code, code, path);
    };
    await err('/v2/no/such/manifests/v1', 404, 'NAME_UNKNOWN');
    await err('/v2/ns/multi/manifests/v9', 404, 'MANIFEST_UNKNOWN');
    await err(`/v2/ns/multi/blobs/sha256:${'1'.repeat(64)}`, 404, 'BLOB_UNKNOWN');
    // A blob of another repository is not a blob of this one.
    await err(`/v2/ns/single/blobs/${base.digest}`, 404, 'BLOB_UNKNOWN');
    for (const [method, path] of [['PUT', '/v2/ns/multi/manifests/v2'], ['POST', '/v2/ns/multi/blobs/uploads/'], ['DELETE', `/v2/ns/multi/manifests/${multi.root.digest}`], ['PATCH', '/v2/ns/multi/blobs/uploads/x']] as const) {
      const w = await fetch(`${s.url}${path}`, { method, ...(method === 'PUT' ? { body: '{}' } : {}) });
      assert.is(w.status, 405, `${method} ${path}`);
      assert.is(((await w.json()) as { errors: Array<{ code: string }> }).errors[0]!.code, 'UNSUPPORTED');
    }
    // A client that takes no index gets the linux/amd64 manifest (as distribution does).
    const one = await fetch(`${s.url}/v2/ns/multi/manifests/v1`, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.is(one.headers.get('docker-content-digest'), multi.manifests[0]!.digest);
  } finally {
    await s.stop();
  }
});

test('four skopeo copies at once', async () => {
  const s = await serve(bundleDir, ['--quiet']);
  try {
    const runs = await Promise.all([0, 1, 2, 3].map((i) => skopeo(`copy -q --all --src-tls-verify=false docker://${s.host}/ns/${i % 2 ? 'single' : 'multi'}:v1 oci:${join(tmp, `par-${i}`)}:v1`)));
    for (const r of runs) assert.is(r.code, 0, r.stderr);
    for (const i of [0, 1, 2, 3]) {
      const d = await sh(`skopeo inspect --raw oci:${join(tmp, `par-${i}`)}:v1 | sha256sum`);
      assert.is(`sha256:${d.stdout.split(' ')[0]}`, (i % 2 ? single : multi).root.digest);
    }
    assert.is(s.log().trim(), '', '--quiet logs only failures');
  } finally {
    await s.stop();
  }
});

/** A copy of the bundle to damage. */
async function copyBundle(name: string): Promise<string> {
  const dir = join(tmp, name);
  await cp(bundleDir, dir, { recursive: true });
  return dir;
}

async function flipByte(file: string, at: number): Promise<void> {
  const fh = await open(file, 'r+');
  const b = Buffer.alloc(1);
  await fh.read(b, 0, 1, at);
  b[0] = b[0]! ^ 0xff;
  await fh.write(b, 0, 1, at);
  await fh.close();
}

test('a byte flipped inside a layer: the client fails, the log names it, the blob is refused afterwards; the rest is served', async () => {
  const dir = await copyBundle('flipped');
  const lone = single.layers[0]![0]!;
  const v = blob(lone.digest).volume!;
  // Where the layer's bytes sit in the volume file: through the seek table, as serve finds them.
  const tm = await openTrusted(dir, { trustedKeys: await loadTrustedKeys([join(tmp, 'signer.pub')]) });
  const vi = (await indexVolume(tm, v))!;
  const e = vi.entries.get(blobEntryName(lone.digest))!;
  const frame = vi.frames.find((f) => f.dOff <= e.dataStart + e.size / 2 && e.dataStart + e.size / 2 < f.dOff + f.dSize)!;
  await flipByte(vi.path, frame.cOff + Math.floor(frame.cSize / 2));

  const s = await serve(dir);
  try {
    const c = await skopeo(`copy -q --retry-times 0 --src-tls-verify=false docker://${s.host}/ns/single:v1 oci:${join(tmp, 'flip-out')}:v1`);
    assert.is.not(c.code, 0, 'skopeo must fail on a damaged layer');
    await logMatches(s, new RegExp(`${lone.digest}.*(hashes to|damaged)`));
    await logMatches(s, /"aborted":true/);
    // curl gets fewer bytes than announced (the last chunk is held back), never the whole blob.
    const got = await sh(`curl -s -o ${join(tmp, 'flip.bin')} -w '%{size_download}' ${s.url}/v2/ns/single/blobs/${lone.digest}; echo " $?"`);
    const [n] = got.stdout.trim().split(' ');
    assert.ok(Number(n) < lone.size, `delivered ${n} of ${lone.size} bytes`);
    const again = await fetch(`${s.url}/v2/ns/single/blobs/${lone.digest}`);
    assert.is(again.status, 500, 'a blob known to be damaged is refused up front');
    const range = await fetch(`${s.url}/v2/ns/single/blobs/${lone.digest}`, { headers: { Range: 'bytes=0-9' } });
    assert.is(range.status, 500);
    // The other image is intact and served.
    const ok = await skopeo(`copy -q --all --src-tls-verify=false docker://${s.host}/ns/multi:v1 oci:${join(tmp, 'flip-multi')}:v1`);
    assert.is(ok.code, 0, ok.stderr);
  } finally {
    await s.stop();
  }
});

test('refuses to start: damaged seek table (10), truncated volume (10), tampered manifest (6), wrong key (6)', async () => {
  const seek = await copyBundle('bad-seek');
  const f1 = join(seek, manifest.volumes[0]!.file);
  const size = (await readFile(f1)).length;
  await flipByte(f1, size - 20); // inside the seek table's entries
  const r1 = await refused(seek);
  assert.is(r1.code, 10, r1.stderr);
  assert.match(r1.stderr, /ARCHIVE_CORRUPT|seek table/);

  const trunc = await copyBundle('truncated');
  const f2 = join(trunc, manifest.volumes[1]!.file);
  const bytes = await readFile(f2);
  await writeFile(f2, bytes.subarray(0, bytes.length - 1000));
  const r2 = await refused(trunc);
  assert.is(r2.code, 10, r2.stderr);

  const tampered = await copyBundle('tampered');
  const mf = join(tampered, 'srv.manifest.json');
  await writeFile(mf, (await readFile(mf, 'utf8')).replace('"ns/single"', '"ns/evil"'));
  const r3 = await refused(tampered);
  assert.is(r3.code, 6, r3.stderr);
  assert.match(r3.stderr, /SIGNATURE_INVALID|signature/i);

  const k = await bundleCli(['keygen', '--out', join(tmp, 'other')], { env: { FERRY_KEY_PASSWORD: PW } });
  assert.is(k.code, 0);
  const r4 = await loadCli(['serve', bundleDir, '--trusted-key', join(tmp, 'other.pub'), '--listen', '127.0.0.1:0']);
  assert.is(r4.code, 6, r4.stderr);
});

test('a missing volume: its blobs answer 404 BLOB_UNKNOWN naming the volume, the rest is served', async () => {
  const dir = await copyBundle('missing');
  const lone = single.layers[0]![0]!;
  const gone = blob(lone.digest).volume!;
  const goneFile = manifest.volumes[gone - 1]!.file;
  await rm(join(dir, goneFile));
  const s = await serve(dir);
  try {
    const r = await fetch(`${s.url}/v2/ns/single/blobs/${lone.digest}`);
    assert.is(r.status, 404);
    assert.is(((await r.json()) as { errors: Array<{ code: string; message: string }> }).errors[0]!.code, 'BLOB_UNKNOWN');
    await logMatches(s, new RegExp(`"status":404.*${goneFile.replaceAll('.', '\\.')}`));
    // Every blob in the volumes that are here is served and matches.
    let served = 0;
    for (const img of manifest.images) {
      for (const d of img.blobs) {
        if (volumesOf(blob(d)).includes(gone)) continue;
        const b = Buffer.from(await (await fetch(`${s.url}/v2/${img.repository}/blobs/${d}`)).arrayBuffer());
        assert.is(sha(b), d);
        served++;
      }
    }
    assert.ok(served > 3, `served ${served} blobs`);
  } finally {
    await s.stop();
  }
});

test('HTTPS with --tls-cert/--tls-key: skopeo with --src-cert-dir, crane with the CA in SSL_CERT_FILE', async () => {
  const s = await serve(bundleDir, ['--tls-cert', certs.certFile, '--tls-key', certs.keyFile]);
  try {
    assert.match(s.url, /^https:/);
    const caDir = join(tmp, 'ca-dir');
    await mkdir(caDir, { recursive: true });
    await cp(certs.caFile, join(caDir, 'ca.crt'));
    const c = await skopeo(`copy -q --src-cert-dir ${caDir} docker://${s.host}/ns/single:v1 oci:${join(tmp, 'tls-out')}:v1`);
    assert.is(c.code, 0, c.stderr);
    const cm = await craneRun(['manifest', `${s.host}/ns/multi:v1`], { SSL_CERT_FILE: certs.caFile });
    assert.is(cm.code, 0, cm.stderr);
    assert.is(sha(Buffer.from(cm.stdout)), multi.root.digest);
    // Without the CA the client refuses the certificate: it is really TLS with that CA.
    const no = await skopeo(`inspect docker://${s.host}/ns/single:v1`);
    assert.is.not(no.code, 0);
  } finally {
    await s.stop();
  }
});

test.run();
