// End to end from real registries: docker-registry (distribution 2.8) seeded by skopeo, cosign-
// format signature/attestation tags and an OCI referrer; `ferry-bundle create --image REF` over
// plain HTTP and over htpasswd + TLS; missing tags with and without --keep-going; a blob download
// cut mid-way (resumed); --cache reused by a second run. Every bundle is checked with
// `ferry-load verify`, and the extracted layout is read back with skopeo against the registry's
// own digests.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeOciLayout, fileDigest, type WrittenImage } from '../helpers/images.js';
import { bundleCli, loadCli, sh } from '../helpers/cli.js';
import { startRegistry, type StartedRegistry } from '../harness/registry.js';
import { startProxy, type Proxy } from '../harness/proxy.js';
import { seedLayout, generateSigningKey, writeCosignSignature, writeCosignAttestation, writeOciReferrer } from '../harness/seed.js';
import { RegistryClient } from '../../packages/oci/src/index.js';

const USER = 'ferry-bot';
const PASSWORD = 'Reg1stry-Pa55word-7f3c';
const WRONG = 'Wrong-Pa55word-91ab';
const PW = 'correct horse';

let tmp = '';
let home = '';
let plain: StartedRegistry;
let secure: StartedRegistry;
let proxy: Proxy;
let multi: WrittenImage;
let single: WrittenImage;
let multiDigest = '';
let singleDigest = '';
let sig: Awaited<ReturnType<typeof writeCosignSignature>>;
let att: Awaited<ReturnType<typeof writeCosignAttestation>>;
let sbom: { digest: string; size: number; bytes: Buffer };

interface ManifestBlob { digest: string; size: number; mediaType: string; kind: string; volume?: number; segments?: Array<{ volume: number }> }
interface ManifestImage {
  source: string; repository: string; tag?: string; digest: string; blobs: string[];
  referrers?: Array<{ digest: string; scheme: string; tag?: string; subject: string; artifactType?: string; blobs: string[] }>;
}
interface Manifest { images: ManifestImage[]; blobs: ManifestBlob[]; volumes: Array<{ file: string }> }

/** The CLI environment: no ambient credentials, auth files or key passwords from the host. */
function env(extra: Record<string, string> = {}): Record<string, string | undefined> {
  return {
    FERRY_KEY_PASSWORD: PW, HOME: home, REGISTRY_AUTH_FILE: undefined, XDG_RUNTIME_DIR: undefined, XDG_CONFIG_HOME: undefined,
    DOCKER_CONFIG: undefined, FERRY_REGISTRY_CREDS: undefined, SSL_CERT_FILE: undefined, NODE_EXTRA_CA_CERTS: undefined, ...extra,
  };
}

async function create(name: string, args: string[], extraEnv: Record<string, string> = {}) {
  const r = await bundleCli(['create', '--name', name, '--out', join(tmp, name), '--key', join(tmp, 'signer.key'), '--volume-size', '256KiB', ...args], { env: env(extraEnv) });
  return { ...r, out: join(tmp, name) };
}

async function manifestOf(name: string): Promise<Manifest> {
  return JSON.parse(await readFile(join(tmp, name, `${name}.manifest.json`), 'utf8')) as Manifest;
}

async function verify(name: string): Promise<void> {
  const v = await loadCli(['verify', join(tmp, name), '--trusted-key', join(tmp, 'signer.pub')], { env: env() });
  assert.is(v.code, 0, `${name}: ${v.stdout}${v.stderr}`);
  assert.match(v.stdout, /RESULT: OK/);
}

/** sha256 of the manifest bytes skopeo reads from a registry (the independent client). */
async function registryDigest(reg: { host: string }, ref: string): Promise<string> {
  const r = await sh(`set -e; skopeo inspect --raw --tls-verify=false docker://${reg.host}/${ref} | sha256sum`);
  assert.is(r.code, 0, r.stderr);
  return `sha256:${r.stdout.split(' ')[0]}`;
}

/** Every volume extracted into one directory, segments joined (docs/format.md §4.1). */
async function extract(name: string): Promise<string> {
  const x = join(tmp, `${name}-x`);
  await mkdir(x);
  const ex = await sh(`for v in ${join(tmp, name)}/${name}-*.tar.zst; do zstd -dc "$v" | tar -x -C ${x} || exit 1; done
    if [ -d ${x}/segments/sha256 ]; then for f in ${x}/segments/sha256/*.001; do h=$(basename "$f" .001); cat ${x}/segments/sha256/$h.* > ${x}/blobs/sha256/$h; done; fi`);
  assert.is(ex.code, 0, ex.stderr);
  return x;
}

/** Tar entry names of every volume of a bundle. */
async function entries(name: string): Promise<string[]> {
  const r = await sh(`for v in ${join(tmp, name)}/${name}-*.tar.zst; do zstd -dc "$v" | tar -t || exit 1; done`);
  assert.is(r.code, 0, r.stderr);
  return r.stdout.trim().split('\n');
}

const hex = (d: string) => d.slice('sha256:'.length);
const blobGets = (p: Proxy, from = 0) => p.requests.slice(from).filter((l) => /^GET \/v2\/[^ ]+\/blobs\/sha256:/.test(l));

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-e2e-reg-'));
  home = join(tmp, 'home');
  await mkdir(home);
  // A two-platform index sharing a 400 KB base layer (larger than a 256 KiB volume: it is split
  // into segments), and a single-platform image.
  [multi, single] = (await makeOciLayout(join(tmp, 'layout'), [
    {
      tag: 'multi',
      platforms: [
        { os: 'linux', architecture: 'amd64', layers: [{ size: 400_000, seed: 'reg-base', gzipLevel: 0 }, { size: 30_000, seed: 'reg-amd' }] },
        { os: 'linux', architecture: 'arm64', layers: [{ size: 400_000, seed: 'reg-base', gzipLevel: 0 }, { size: 30_000, seed: 'reg-arm' }] },
      ],
    },
    { tag: 'single', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 120_000, seed: 'reg-single', gzipLevel: 0 }] }] },
  ])) as [WrittenImage, WrittenImage];
  const k = await bundleCli(['keygen', '--out', join(tmp, 'signer')], { env: { FERRY_KEY_PASSWORD: PW } });
  assert.is(k.code, 0, k.stderr);

  [plain, secure] = await Promise.all([startRegistry(), startRegistry({ tls: true, auth: { user: USER, password: PASSWORD } })]);
  ({ digest: multiDigest } = await seedLayout(plain, join(tmp, 'layout'), 'multi', 'ns/multi:v1'));
  ({ digest: singleDigest } = await seedLayout(plain, join(tmp, 'layout'), 'single', 'ns/single:v1'));
  await seedLayout(secure, join(tmp, 'layout'), 'single', 'secure/app:v1', `${USER}:${PASSWORD}`);
  const key = generateSigningKey();
  sig = await writeCosignSignature(plain.url, 'ns/multi', multiDigest, key.privatePem, `${plain.host}/ns/multi`);
  att = await writeCosignAttestation(plain.url, 'ns/multi', multiDigest, key.privatePem, 'https://slsa.dev/provenance/v0.2', { builder: { id: 'ferry-test' } });
  const client = new RegistryClient(plain.host, { insecure: [plain.host] });
  sbom = await writeOciReferrer(client, 'ns/single', single.root, 'application/spdx+json', Buffer.from('{"spdxVersion":"SPDX-2.3","name":"single"}'));
  client.close();
  proxy = await startProxy(plain.host);
});

test.after(async () => {
  await proxy?.stop();
  await Promise.all([plain?.stop(), secure?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

test('create from a plain-HTTP registry: registry digests, referrers by scheme, shared layer once, verify passes', async () => {
  const r = await create('reg1', ['--image', `${plain.host}/ns/multi:v1`, '--image', `docker://${plain.host}/ns/single:v1`, '--insecure-registry', plain.host, '--json']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const report = JSON.parse(r.stdout) as { ok: boolean; volumes: unknown[]; failures: unknown[] };
  assert.ok(report.ok);
  assert.equal(report.failures, []);
  assert.ok(report.volumes.length >= 3, `expected several volumes, got ${report.volumes.length}`);

  // The registry's digests, as skopeo computes them, equal the ones recorded (and the seeded layout's).
  assert.is(await registryDigest(plain, 'ns/multi:v1'), multi.root.digest);
  assert.is(await registryDigest(plain, 'ns/single:v1'), single.root.digest);
  const m = await manifestOf('reg1');
  assert.is(m.images.length, 2);
  const [mi, si] = m.images as [ManifestImage, ManifestImage];
  assert.equal([mi.repository, mi.tag, mi.digest], ['ns/multi', 'v1', multiDigest]);
  assert.equal([si.repository, si.tag, si.digest], ['ns/single', 'v1', singleDigest]);
  assert.is(mi.digest, multi.root.digest);
  assert.is(si.digest, single.root.digest);

  // Referrers: cosign tags against the index, the OCI referrer against the single image.
  const mref = (mi.referrers ?? []).map((x) => [x.scheme, x.tag ?? null, x.digest, x.subject]);
  assert.equal(mref, [
    ['cosign-tag', `sha256-${hex(multiDigest)}.sig`, sig.digest, multiDigest],
    ['cosign-tag', `sha256-${hex(multiDigest)}.att`, att.digest, multiDigest],
  ]);
  const sref = (si.referrers ?? []).map((x) => [x.scheme, x.tag ?? null, x.digest, x.subject, x.artifactType]);
  assert.equal(sref, [['oci-referrer', null, sbom.digest, singleDigest, 'application/spdx+json']]);
  // Each referrer travels whole: its manifest, config and layer are blobs of the bundle.
  const digests = m.blobs.map((b) => b.digest);
  for (const d of [sig.digest, sig.layer.digest, sig.config.digest, att.digest, att.layer.digest, sbom.digest]) assert.ok(digests.includes(d), `${d} missing from blobs`);
  // A signature comes after what it signs.
  assert.ok(digests.indexOf(sig.digest) > digests.indexOf(multiDigest));

  // The shared base layer: in both platforms' image blob lists, once in the table and once on disk.
  const base = multi.layers[0]![0]!.digest;
  assert.is(multi.layers[1]![0]!.digest, base);
  assert.is(digests.filter((d) => d === base).length, 1);
  assert.is(new Set(digests).size, digests.length, 'blob digests are unique');
  const baseBlob = m.blobs.find((b) => b.digest === base)!;
  assert.ok(baseBlob.segments && baseBlob.segments.length >= 2, 'the base layer is larger than a volume, so it is split');
  const names = await entries('reg1');
  assert.is(names.filter((n) => n === `segments/sha256/${hex(base)}.001`).length, 1);
  assert.is(names.filter((n) => n === `blobs/sha256/${hex(base)}`).length, 0);
  for (const l of [multi.layers[0]![1]!, multi.layers[1]![1]!, single.layers[0]![0]!]) {
    assert.is(names.filter((n) => n === `blobs/sha256/${hex(l.digest)}`).length, 1, `${l.digest} once`);
  }

  await verify('reg1');
  const x = await extract('reg1');
  const insp = await sh(`set -e; skopeo inspect --raw oci:${x}:ns/multi:v1 | sha256sum`);
  assert.is(insp.code, 0, insp.stderr);
  assert.is(`sha256:${insp.stdout.split(' ')[0]}`, multiDigest);
  const insp2 = await sh(`set -e; skopeo inspect --raw oci:${x}:ns/single:v1 | sha256sum`);
  assert.is(`sha256:${insp2.stdout.split(' ')[0]}`, singleDigest);
  // Every blob of both platforms is there: skopeo copies the whole index out of the layout.
  const cp = await sh(`skopeo --policy <(echo '{"default":[{"type":"insecureAcceptAnything"}]}') copy -q --all --preserve-digests oci:${x}:ns/multi:v1 oci:${join(tmp, 'reg1-copy')}:v1 && echo ok`);
  assert.is(cp.code, 0, cp.stderr);
  // The signature's layer is the exact payload cosign would verify.
  assert.equal(await readFile(join(x, 'blobs', 'sha256', hex(sig.layer.digest))), sig.payload);
});

test('push into an OCI layout tags cosign signatures and attestations beside their image', async () => {
  const out = join(tmp, 'reg1-load', 'oci');
  const r = await loadCli(['push', join(tmp, 'reg1'), '--trusted-key', join(tmp, 'signer.pub'), '--to', `oci:${out}`, '--yes', '--json'], { env: env() });
  assert.is(r.code, 0, r.stdout + r.stderr);
  const rep = JSON.parse(r.stdout) as { images: Array<{ ref: string; referrers: number }> };
  assert.equal(rep.images.map((i) => [i.ref, i.referrers]), [['ns/multi:v1', 2], ['ns/single:v1', 0]]);
  for (const [tag, d] of [[`sha256-${hex(multiDigest)}.sig`, sig.digest], [`sha256-${hex(multiDigest)}.att`, att.digest]] as const) {
    const insp = await sh(`set -e; skopeo inspect --raw oci:${out}:ns/multi:${tag} | sha256sum`);
    assert.is(insp.code, 0, insp.stderr);
    assert.is(`sha256:${insp.stdout.split(' ')[0]}`, d, tag);
  }
});

test('--no-referrers carries no signatures, attestations or SBOMs', async () => {
  const r = await create('noref', ['--image', `${plain.host}/ns/multi:v1`, '--image', `${plain.host}/ns/single:v1`, '--insecure-registry', plain.host, '--no-referrers', '--json']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const m = await manifestOf('noref');
  assert.equal(m.images.map((i) => i.referrers), [undefined, undefined]);
  const digests = m.blobs.map((b) => b.digest);
  for (const d of [sig.digest, att.digest, sbom.digest, sig.layer.digest]) assert.not.ok(digests.includes(d), `${d} should be left out`);
  assert.equal(m.images.map((i) => i.digest), [multiDigest, singleDigest]);
  await verify('noref');
});

test('--images-file: one reference a line, comments and blank lines ignored', async () => {
  const list = join(tmp, 'images-to-mirror.txt');
  await writeFile(list, [
    '# images to mirror, weekly',
    '',
    `${plain.host}/ns/multi:v1`,
    '   ',
    '    # an indented comment',
    `docker://${plain.host}/ns/single:v1   # the app`,
    '',
  ].join('\n'));
  const r = await create('listed', ['--images-file', list, '--insecure-registry', plain.host, '--json']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const m = await manifestOf('listed');
  assert.equal(m.images.map((i) => [i.repository, i.tag, i.digest]), [
    ['ns/multi', 'v1', multiDigest],
    ['ns/single', 'v1', singleDigest],
  ]);
  assert.is(m.images[0]!.source, `${plain.host}/ns/multi:v1`);
  // The trailing comment is gone; the transport prefix may be kept or normalised away.
  assert.ok([`docker://${plain.host}/ns/single:v1`, `${plain.host}/ns/single:v1`].includes(m.images[1]!.source), m.images[1]!.source);
  await verify('listed');
});

test('basic auth + TLS: --ca-file with --creds (or FERRY_REGISTRY_CREDS) works', async () => {
  const ref = `${secure.host}/secure/app:v1`;
  const r = await create('tls1', ['--image', ref, '--ca-file', secure.caFile!, '--creds', `${USER}:${PASSWORD}`, '--json']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const m = await manifestOf('tls1');
  assert.equal([m.images[0]!.repository, m.images[0]!.tag, m.images[0]!.digest], ['secure/app', 'v1', single.root.digest]);
  await verify('tls1');
  const bundleText = await sh(`for v in ${r.out}/tls1-*.tar.zst; do zstd -dc "$v"; done; cat ${r.out}/tls1.*`);
  assert.not.ok(bundleText.stdout.includes(PASSWORD), 'the password never enters the bundle');
  const viaEnv = await create('tls2', ['--image', ref, '--ca-file', secure.caFile!, '--json'], { FERRY_REGISTRY_CREDS: `${USER}:${PASSWORD}` });
  assert.is(viaEnv.code, 0, viaEnv.stdout + viaEnv.stderr);
  assert.is((await manifestOf('tls2')).images[0]!.digest, single.root.digest);
});

test('TLS without --ca-file: exit 13, REGISTRY_TLS, names the certificate problem and suggests --ca-file', async () => {
  const r = await create('tls-noca', ['--image', `${secure.host}/secure/app:v1`, '--creds', `${USER}:${PASSWORD}`]);
  assert.is(r.code, 13, r.stdout + r.stderr);
  assert.match(r.stderr, /REGISTRY_TLS/);
  assert.match(r.stderr, /certificate|CERT/i);
  assert.match(r.stderr, /--ca-file/);
  assert.ok(r.stderr.includes(secure.host), 'names the registry');
  assert.not.ok((r.stdout + r.stderr).includes(PASSWORD));
  assert.not.ok(existsSync(join(r.out, 'tls-noca.manifest.json')));
});

test('wrong password: exit 13, REGISTRY_AUTH, and no password anywhere in the output', async () => {
  const b64 = Buffer.from(`${USER}:${WRONG}`).toString('base64');
  for (const json of [false, true]) {
    const r = await create(`badpw${json ? 'j' : ''}`, ['--image', `${secure.host}/secure/app:v1`, '--ca-file', secure.caFile!, '--creds', `${USER}:${WRONG}`, ...(json ? ['--json'] : [])]);
    assert.is(r.code, 13, r.stdout + r.stderr);
    assert.match(json ? r.stdout : r.stderr, /REGISTRY_AUTH/);
    assert.ok((r.stdout + r.stderr).includes(secure.host), 'names the registry');
    for (const s of [WRONG, PASSWORD, b64]) assert.not.ok((r.stdout + r.stderr).includes(s), `secret in output: ${r.stdout}${r.stderr}`);
  }
});

test('--authfile: a docker config.json with a base64 auth entry', async () => {
  const authfile = join(tmp, 'config.json');
  const auth = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
  await writeFile(authfile, JSON.stringify({ auths: { [secure.host]: { auth } } }), { mode: 0o600 });
  const r = await create('authfile', ['--image', `${secure.host}/secure/app:v1`, '--ca-file', secure.caFile!, '--authfile', authfile, '--json']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.is((await manifestOf('authfile')).images[0]!.digest, single.root.digest);
  assert.not.ok((r.stdout + r.stderr).includes(auth));
  await verify('authfile');
  // Without any credentials the same registry refuses: the auth file is what made it work.
  const anon = await create('anon', ['--image', `${secure.host}/secure/app:v1`, '--ca-file', secure.caFile!]);
  assert.is(anon.code, 13, anon.stdout + anon.stderr);
  assert.match(anon.stderr, /REGISTRY_AUTH/);
});

test('a tag that does not exist: exit 12 SOURCE_NOT_FOUND naming the reference, no bundle', async () => {
  const missing = `${plain.host}/ns/single:does-not-exist`;
  const r = await create('missing', ['--image', `${plain.host}/ns/multi:v1`, '--image', missing, '--insecure-registry', plain.host]);
  assert.is(r.code, 12, r.stdout + r.stderr);
  assert.match(r.stderr, /SOURCE_NOT_FOUND/);
  assert.ok(r.stderr.includes('ns/single:does-not-exist'), r.stderr);
  assert.not.ok(existsSync(join(r.out, 'missing.manifest.json')));
  assert.not.ok(existsSync(join(r.out, 'missing.sha256')));
});

test('--keep-going: exit 16, the good image is bundled and verifies, the failure is listed', async () => {
  const missing = `${plain.host}/ns/single:does-not-exist`;
  const r = await create('partial', ['--image', missing, '--image', `${plain.host}/ns/multi:v1`, '--insecure-registry', plain.host, '--keep-going', '--json']);
  assert.is(r.code, 16, r.stdout + r.stderr);
  const report = JSON.parse(r.stdout) as { ok: boolean; failures: Array<{ source: string; code: string; message: string }>; images: Array<{ digest: string }> };
  assert.is(report.ok, false);
  assert.is(report.failures.length, 1);
  assert.is(report.failures[0]!.source, missing);
  assert.is(report.failures[0]!.code, 'SOURCE_NOT_FOUND');
  assert.ok(report.failures[0]!.message.includes('does-not-exist'));
  assert.equal(report.images.map((i) => i.digest), [multiDigest]);
  const m = await manifestOf('partial');
  assert.equal(m.images.map((i) => [i.repository, i.tag, i.digest]), [['ns/multi', 'v1', multiDigest]]);
  assert.ok(existsSync(join(r.out, 'partial.sha256')));
  await verify('partial');
  // Plain output (not a TTY, not CI: a cron job) says it too, a line per image.
  const p = await create('partial2', ['--image', missing, '--image', `${plain.host}/ns/multi:v1`, '--insecure-registry', plain.host, '--keep-going'], { CI: '' });
  assert.is(p.code, 16, p.stdout + p.stderr);
  assert.match(p.stdout + p.stderr, /FAIL [^\n]*does-not-exist/);
  assert.match(p.stdout + p.stderr, /OK [^\n]*ns\/multi:v1/);
});

test('a registry that keeps dying mid-blob: a clear error naming the blob, and no bundle files left', async () => {
  const base = multi.layers[0]![0]!.digest;
  const from = proxy.requests.length;
  // The first try and the client's 5 resumes all break off (times: 6 leaves nothing armed).
  proxy.arm({ match: new RegExp(`^GET /v2/ns/multi/blobs/${base}`), cutAfterBytes: 20_000, times: 6 });
  const r = await create('dies', ['--image', `${proxy.host}/ns/multi:v1`, '--insecure-registry', proxy.host]);
  assert.is(r.code, 13, r.stdout + r.stderr);
  assert.match(r.stderr, /REGISTRY_ERROR/);
  assert.match(r.stderr, new RegExp(`${base.slice(7, 19)}`), 'names the blob');
  assert.match(r.stderr, /broke off at byte/);
  assert.is(blobGets(proxy, from).filter((l) => l.includes(base)).length, 6);
  const left = existsSync(r.out) ? await readdir(r.out) : [];
  assert.equal(left, [], `nothing written: ${left.join(', ')}`);
});

test('a blob download cut mid-way is resumed with Range; the bundle completes and verifies', async () => {
  const base = multi.layers[0]![0]!.digest;
  const from = proxy.requests.length;
  const headsFrom = proxy.heads.length;
  proxy.arm({ match: new RegExp(`^GET /v2/ns/multi/blobs/${base}`), cutAfterBytes: 150_000 });
  const r = await create('resume', ['--image', `${proxy.host}/ns/multi:v1`, '--insecure-registry', proxy.host, '--json']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const gets = blobGets(proxy, from).filter((l) => l.includes(base));
  // The 400 kB layer is larger than a 256 KiB volume: the segment-digest pre-pass reads it
  // (cut, then resumed), and the volume writer reads it once more (docs/format.md §3.2).
  assert.is(gets.length, 3, `one cut download and one resumed, then the writer's read: ${gets.join(', ')}`);
  const heads = proxy.heads.slice(headsFrom).filter((h) => h.startsWith('GET ') && h.includes(`/blobs/${base}`));
  assert.not.match(heads[0]!, /^range:/im);
  const range = /^range:\s*bytes=(\d+)-\s*$/im.exec(heads[1]!);
  assert.ok(range, `the second request asks for the rest: ${heads[1]}`);
  assert.ok(Number(range![1]) > 0 && Number(range![1]) < 400_000);
  await verify('resume');
  // Same blobs as the uninterrupted bundle of the same image (reg1 holds it among others).
  const m = await manifestOf('resume');
  const reg1 = new Set((await manifestOf('reg1')).blobs.map((b) => b.digest));
  for (const b of m.blobs) assert.ok(reg1.has(b.digest), `${b.digest} not in the uninterrupted bundle`);
  assert.is(m.images[0]!.digest, multiDigest);
});

test('--cache DIR: a second run reads every layer from the cache (no blob GETs) and gives the same blobs', async () => {
  const cache = join(tmp, 'cache');
  const images = ['--image', `${proxy.host}/ns/multi:v1`, '--image', `${proxy.host}/ns/single:v1`, '--insecure-registry', proxy.host, '--cache', cache, '--json'];
  const from1 = proxy.requests.length;
  const r1 = await create('cache1', images);
  assert.is(r1.code, 0, r1.stdout + r1.stderr);
  const m1 = await manifestOf('cache1');
  const streamed = m1.blobs.filter((b) => b.kind === 'layer' || b.kind === 'config');
  assert.ok(blobGets(proxy, from1).length >= streamed.length, 'the first run downloads the blobs');
  const cached = (await readdir(join(cache, 'blobs', 'sha256'))).sort();
  assert.not.ok(cached.some((f) => f.includes('.partial')), 'no partial files left in the cache');
  for (const b of streamed) {
    assert.ok(cached.includes(hex(b.digest)), `${b.digest} (${b.kind}) is in the cache`);
    assert.is(await fileDigest(join(cache, 'blobs', 'sha256', hex(b.digest))), b.digest);
  }

  const from2 = proxy.requests.length;
  const r2 = await create('cache2', images);
  assert.is(r2.code, 0, r2.stdout + r2.stderr);
  assert.equal(blobGets(proxy, from2), [], 'the second run fetched no blob from the registry');
  assert.ok(proxy.requests.length > from2, 'it still resolved the manifests from the registry');
  const m2 = await manifestOf('cache2');
  assert.equal(m2.blobs.map((b) => [b.digest, b.size]), m1.blobs.map((b) => [b.digest, b.size]));
  assert.equal(m2.images.map((i) => i.digest), [multiDigest, singleDigest]);
  await verify('cache2');
  // The volumes carry byte-identical blobs: every blob entry hashes to its name in both bundles.
  const x = await extract('cache2');
  for (const b of m2.blobs) {
    const got = createHash('sha256').update(await readFile(join(x, 'blobs', 'sha256', hex(b.digest)))).digest('hex');
    assert.is(got, hex(b.digest));
  }

  // A damaged cache entry (same size, wrong bytes) is not trusted: that one blob is fetched
  // again, the bundle still completes, and the entry is repaired.
  const victim = single.layers[0]![0]!;
  const entry = join(cache, 'blobs', 'sha256', hex(victim.digest));
  await writeFile(entry, Buffer.alloc(victim.size, 0x5a));
  const from3 = proxy.requests.length;
  const r3 = await create('cache3', images);
  assert.is(r3.code, 0, r3.stdout + r3.stderr);
  assert.equal(blobGets(proxy, from3).map((l) => l.split(' ')[1]), [`/v2/ns/single/blobs/${victim.digest}`]);
  assert.is(await fileDigest(entry), victim.digest);
  await verify('cache3');
});

test.run();
