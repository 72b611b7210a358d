// Multi-platform images and the identity check, proven with the real cosign v2.6.5. A
// multi-platform image is signed as `cosign sign --recursive` signs it (the index and each
// platform manifest, each under its own sha256-<hex>.sig tag), another one only per platform, a
// third only at the index; a bundle that keeps one platform of the recursive one has a root no
// signer saw. `ferry-load verify|push --image-key` must judge each the way a cluster pulling it
// would: the index's signature or every platform's. `--image-identity` counts a signature only
// when its payload names an allowed repository (the name signed on the low side).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeOciLayout } from '../helpers/images.js';
import { bundleCli, loadCli } from '../helpers/cli.js';
import { startRegistry, type StartedRegistry } from '../harness/registry.js';
import { seedLayout } from '../harness/seed.js';
import { cosignKeyPair, cosignSign, cosignVerify, crane, type CosignKeys } from '../harness/cosign.js';

let tmp = '';
let src: StartedRegistry;
let dst: StartedRegistry;
let trusted: CosignKeys;
let full = '';
let filtered = '';
const PW = 'cosign pw';
const NAMES = ['recursive', 'platforms', 'index', 'partial'] as const;

interface Sig { status: string; signedVia?: string; keys: string[]; reason?: string; platforms?: Array<{ platform: string; status: string }> }
interface VerifyJson { ok: boolean; images?: Array<{ ref: string; signature: Sig; refused?: string }>; error?: { code: string; message: string } }
interface PushJson { images: Array<{ ref: string; status: string; signature?: Sig }>; error?: { code: string } }

const env = () => ({ HOME: join(tmp, 'home'), REGISTRY_AUTH_FILE: undefined, DOCKER_CONFIG: undefined, FERRY_REGISTRY_CREDS: undefined, FERRY_KEY_PASSWORD: '' });

async function children(ref: string): Promise<string[]> {
  const m = await crane(['manifest', '--insecure', ref], ref);
  assert.is(m.code, 0, m.stderr);
  return (JSON.parse(m.stdout) as { manifests: Array<{ digest: string }> }).manifests.map((d) => d.digest);
}

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-e2e-sigrec-'));
  await mkdir(join(tmp, 'home'));
  [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
  const layout = join(tmp, 'layout');
  const plat = (n: string) => [
    { os: 'linux', architecture: 'amd64', layers: [{ size: 2_000, seed: `${n}-amd64` }] },
    { os: 'linux', architecture: 'arm64', layers: [{ size: 2_000, seed: `${n}-arm64` }] },
  ];
  await makeOciLayout(layout, NAMES.map((t) => ({ tag: t, platforms: plat(t) })));
  for (const t of NAMES) await seedLayout(src, layout, t, `team/${t}:1`);
  trusted = await cosignKeyPair(join(tmp, 'trusted'), PW);
  const o = { insecure: true } as const;
  const repo = (t: string) => `${src.host}/team/${t}`;
  // --recursive: the index and every platform manifest.
  await cosignSign(`${repo('recursive')}:1`, trusted.key, PW, o);
  for (const d of await children(`${repo('recursive')}:1`)) await cosignSign(`${repo('recursive')}@${d}`, trusted.key, PW, o);
  // Every platform, not the index.
  for (const d of await children(`${repo('platforms')}:1`)) await cosignSign(`${repo('platforms')}@${d}`, trusted.key, PW, o);
  // The index only (cosign sign without --recursive).
  await cosignSign(`${repo('index')}:1`, trusted.key, PW, o);
  // One platform of two.
  await cosignSign(`${repo('partial')}@${(await children(`${repo('partial')}:1`))[0]!}`, trusted.key, PW, o);
  const k = await bundleCli(['keygen', '--out', join(tmp, 'ferry')], { env: env() });
  assert.is(k.code, 0, k.stderr);
  const create = async (out: string, extra: string[]) => {
    const c = await bundleCli(['create', '--name', 'rec', '--out', out, '--key', join(tmp, 'ferry.key'), '--insecure-registry', src.host, ...extra, '--json'], { env: env() });
    assert.is(c.code, 0, c.stderr + c.stdout);
  };
  full = join(tmp, 'full');
  filtered = join(tmp, 'filtered');
  await create(full, NAMES.flatMap((t) => ['--image', `${repo(t)}:1`]));
  await create(filtered, ['--image', `${repo('recursive')}:1`, '--image', `${repo('index')}:1`, '--platform', 'linux/arm64']);
});

test.after(async () => {
  await Promise.all([src?.stop(), dst?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

const of = <T extends { ref: string }>(list: T[] | undefined, name: string): T => list!.find((i) => i.ref.includes(`team/${name}:1`))!;

async function verify(dir: string, extra: string[]): Promise<{ code: number; json: VerifyJson; stderr: string }> {
  const r = await loadCli(['verify', dir, '--trusted-key', join(tmp, 'ferry.pub'), '--image-key', trusted.pub, ...extra, '--json'], { env: env() });
  return { code: r.code, json: JSON.parse(r.stdout) as VerifyJson, stderr: r.stderr };
}

test('verify --image-key: an index is signed by its own signature or by every platform\'s; one platform of two is not enough', async () => {
  const r = await verify(full, []);
  assert.is(r.code, 0, r.stderr + JSON.stringify(r.json));
  const rec = of(r.json.images, 'recursive').signature;
  assert.is(rec.status, 'signed');
  assert.is(rec.signedVia, 'index');
  assert.equal(rec.platforms?.map((p) => p.status), ['signed', 'signed'], 'each platform manifest checked against the signature whose subject it is');
  const plats = of(r.json.images, 'platforms').signature;
  assert.is(plats.status, 'signed', JSON.stringify(plats));
  assert.is(plats.signedVia, 'platforms');
  const idx = of(r.json.images, 'index').signature;
  assert.is(idx.status, 'signed');
  assert.equal(idx.platforms?.map((p) => p.status), ['unsigned', 'unsigned']);
  const partial = of(r.json.images, 'partial').signature;
  assert.is(partial.status, 'unsigned', JSON.stringify(partial));
  assert.match(partial.reason ?? '', /linux\/arm64|linux\/amd64/);
  assert.equal(partial.platforms?.map((p) => p.status).sort(), ['signed', 'unsigned']);
});

test('verify --require-signed-images fails (exit 24) naming the image the policy refuses; push leaves exactly that one out', async () => {
  const r = await verify(full, ['--require-signed-images']);
  assert.is(r.code, 24, r.stderr);
  assert.is(r.json.ok, false);
  assert.is(r.json.error?.code, 'SIGNATURE_POLICY');
  assert.match(r.json.error?.message ?? '', /team\/partial:1/);
  assert.equal(r.json.images!.filter((i) => i.refused).map((i) => i.ref.split('/').slice(-1)[0]), ['partial:1']);
  const p = await loadCli(['push', full, '--trusted-key', join(tmp, 'ferry.pub'), '--to', dst.host, '--insecure-registry', dst.host, '--state-dir', join(tmp, 'state'),
    '--image-key', trusted.pub, '--require-signed-images', '--yes', '--json'], { env: env() });
  assert.is(p.code, 24, p.stdout + p.stderr);
  const rep = JSON.parse(p.stdout) as PushJson;
  assert.equal(rep.images.filter((i) => i.status === 'loaded').map((i) => i.ref.split('/').slice(-1)[0]).sort(), ['index:1', 'platforms:1', 'recursive:1']);
  const gone = await crane(['digest', '--insecure', `${dst.host}/team/partial:1`], dst.host);
  assert.is.not(gone.code, 0, 'the refused image has no tag in the target');
  // cosign agrees on what was loaded: the recursive image verifies at its index and at a platform.
  const at = `${dst.host}/team/recursive`;
  assert.is((await cosignVerify(`${at}:1`, trusted.pub, { insecure: true })).code, 0);
  const child = (await children(`${at}:1`))[1]!;
  assert.is((await cosignVerify(`${at}@${child}`, trusted.pub, { insecure: true })).code, 0, 'the platform signature travelled with it');
});

test('a platform-filtered image has a root no signer saw: signed through its platform\'s signature, and not at all when only the index was signed', async () => {
  const r = await verify(filtered, ['--require-signed-images']);
  const rec = of(r.json.images, 'recursive').signature;
  assert.is(rec.status, 'signed', JSON.stringify(rec));
  assert.is(rec.signedVia ?? 'platforms', 'platforms');
  const idx = of(r.json.images, 'index');
  assert.is.not(idx.signature.status, 'signed', 'the index signature binds the upstream index, which this bundle does not carry');
  assert.ok(idx.refused);
  assert.is(r.code, 24);
});

test('--image-identity: a signature counts only when its payload names an allowed repository (as signed on the low side)', async () => {
  const ok = await verify(full, ['--require-signed-images', '--image-identity', `${src.host}/team/recursive`, '--image-identity', `${src.host}/team/index`]);
  assert.is(of(ok.json.images, 'recursive').signature.status, 'signed');
  assert.is(of(ok.json.images, 'index').signature.status, 'signed');
  const plats = of(ok.json.images, 'platforms').signature;
  assert.is(plats.status, 'invalid', 'signed by the trusted key, but under a name not allowed');
  assert.match(plats.reason ?? '', /--image-identity/);
  const prefix = await verify(full, ['--image-identity', `${src.host}/team/*`]);
  assert.is(of(prefix.json.images, 'platforms').signature.status, 'signed');
  const mirrored = await verify(full, ['--image-identity', `${dst.host}/team/*`]);
  assert.ok(mirrored.json.images!.every((i) => i.signature.status !== 'signed'), 'the high-side name is not what was signed');
  const bad = await loadCli(['verify', full, '--trusted-key', join(tmp, 'ferry.pub'), '--image-identity', 'Not A Repo', '--image-key', trusted.pub], { env: env() });
  assert.is(bad.code, 2, bad.stderr);
  const nokey = await loadCli(['verify', full, '--trusted-key', join(tmp, 'ferry.pub'), '--image-identity', `${src.host}/team/*`], { env: env() });
  assert.is(nokey.code, 2, 'an identity without keys to check with is a usage error');
  assert.match(nokey.stderr, /--image-key/);
});

test('--trusted-root: signatures made with --tlog-upload=false carry no log entry and do not count; a trusted root that is not one is refused', async () => {
  // A log of our own (no Rekor runs here); the per-entry checks are in packages/trust/test/tlog.test.ts.
  const der = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' });
  const root = join(tmp, 'trusted_root.json');
  await writeFile(root, JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [{ baseUrl: 'https://rekor.internal', hashAlgorithm: 'SHA2_256', publicKey: { rawBytes: der.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start: '2020-01-01T00:00:00Z' } }, logId: { keyId: createHash('sha256').update(der).digest('base64') } }] }));
  const r = await verify(full, ['--trusted-root', root, '--require-signed-images']);
  assert.is(r.code, 24, r.stderr);
  const rec = of(r.json.images, 'recursive').signature;
  assert.is(rec.status, 'invalid');
  assert.match(rec.reason ?? '', /no transparency-log entry/);
  await writeFile(join(tmp, 'not-a-root.json'), '{"hello":1}');
  const bad = await loadCli(['verify', full, '--trusted-key', join(tmp, 'ferry.pub'), '--image-key', trusted.pub, '--trusted-root', join(tmp, 'not-a-root.json')], { env: env() });
  assert.is(bad.code, 5, bad.stderr);
  assert.match(bad.stderr, /not-a-root\.json/);
});

test.run();
