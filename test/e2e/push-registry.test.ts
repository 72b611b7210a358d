// `ferry-load push --to HOST:PORT` into real registries (distribution 2.8), checked with clients
// independent of Ferry: skopeo, crane and the real cosign v2.6.5. A bundle is built from
// registry A (a single-platform image, a two-platform index, the same image in two
// repositories, an image signed and attested with cosign) and pushed into an empty registry;
// every tag reads back at the bundle's digest and cosign verifies against the target. Then:
// htpasswd + TLS targets (and a wrong password, a missing CA, a read-only registry: refused
// before any byte), a second push that uploads nothing, a registry killed mid-push and
// restarted (never a tag whose blobs are missing), a tampered layer (that image is never
// tagged), and `ferry-load check` against the target.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import https from 'node:https';
import { makeOciLayout, type WrittenImage } from '../helpers/images.js';
import { bundleCli, loadCli, type RunResult } from '../helpers/cli.js';
import { resignBundle } from '../helpers/tamper.js';
import { startRegistry, type StartedRegistry } from '../harness/registry.js';
import { startProxy, type Proxy } from '../harness/proxy.js';
import { seedLayout, skopeo, skopeoInspectRaw } from '../harness/seed.js';
import { reportValidator } from '../helpers/report-schemas.js';
import { cosignAttest, cosignKeyPair, cosignSign, cosignVerify, cosignVerifyAttestation, craneDigest, type CosignKeys } from '../harness/cosign.js';

const USER = 'loader-bot';
const PASSWORD = 'Target-Pa55word-4d1e';
const WRONG = 'Wrong-Pa55word-0b7c';
const COSIGN_PW = 'cosign key password';

let tmp = '';
let home = '';
let src: StartedRegistry; // registry A: the source
let single: WrittenImage;
let multi: WrittenImage;
let cosignKeys: CosignKeys;

interface ManifestImage {
  repository: string; tag?: string; digest: string; mediaType: string; blobs: string[];
  referrers?: Array<{ digest: string; scheme: string; tag?: string; subject: string; blobs: string[] }>;
}
interface BundleManifest { name: string; images: ManifestImage[]; blobs: Array<{ digest: string; size: number; kind: string; volume?: number; segments?: Array<{ volume: number }> }>; volumes: Array<{ file: string }> }
interface PushJson {
  images: Array<{ ref: string; digest: string; status: string; referrers: number; reason?: string }>;
  volumesDamaged?: Array<{ file: string; code: string; message: string }>;
  complete?: boolean;
  blobsWritten?: number;
  error?: { code: string; message: string };
}

/** The CLI environment: no ambient credentials, auth files, CA settings or key passwords. */
function env(extra: Record<string, string> = {}): Record<string, string | undefined> {
  return {
    HOME: home, REGISTRY_AUTH_FILE: undefined, XDG_RUNTIME_DIR: undefined, XDG_CONFIG_HOME: undefined, DOCKER_CONFIG: undefined,
    FERRY_REGISTRY_CREDS: undefined, FERRY_KEY_PASSWORD: undefined, SSL_CERT_FILE: undefined, SSL_CERT_DIR: undefined, NODE_EXTRA_CA_CERTS: undefined, ...extra,
  };
}

const signerPub = () => join(tmp, 'signer.pub');
let states = 0;
const stateDir = () => join(tmp, 'state', String(++states));

const reportSchema = reportValidator('push-report');

/**
 * `ferry-load push DIR --trusted-key K --to HOST --state-dir S --yes --json` plus `extra`; a
 * report it prints must match schemas/push-report.schema.json.
 */
async function push(bundle: string, to: string, extra: string[], state = stateDir()): Promise<RunResult> {
  const r = await loadCli(['push', bundle, '--trusted-key', signerPub(), '--to', to, '--state-dir', state, '--yes', '--json', ...extra], { env: env() });
  if (r.stdout.trim()) {
    const doc = parseJson(r);
    if ('images' in doc) assert.ok(reportSchema(doc), `report matches the schema: ${JSON.stringify(reportSchema.errors)}\n${r.stdout}`);
  }
  return r;
}
/** A report's ref without the target host: `127.0.0.1:5000/ns/app:v1` -> `ns/app:v1`. */
const rel = (ref: string) => ref.replace(/^[^/]*[:.][^/]*\//, '');
const statusOf = (rep: PushJson) => Object.fromEntries(rep.images.map((i) => [rel(i.ref), i.status]));
const insecure = (host: string) => ['--insecure-registry', host];

function parseJson(r: RunResult): PushJson {
  try {
    return JSON.parse(r.stdout) as PushJson;
  } catch {
    assert.unreachable(`--json printed no JSON (exit ${r.code}):\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    throw new Error('unreachable');
  }
}

async function manifestOf(bundle: string): Promise<BundleManifest> {
  const f = (await readdir(bundle)).find((x) => x.endsWith('.manifest.json'));
  assert.ok(f, `no manifest in ${bundle}`);
  return JSON.parse(await readFile(join(bundle, f!), 'utf8')) as BundleManifest;
}

// ---- reading a registry with plain HTTP(S), independent of Ferry ----

interface Reg { host: string; url: string; caFile?: string }

function request(reg: Reg, method: string, path: string, o: { creds?: string; accept?: string } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return (reg.caFile ? readFile(reg.caFile) : Promise.resolve(undefined)).then((ca) => new Promise((resolve, reject) => {
    const mod = reg.url.startsWith('https:') ? https : http;
    const headers: Record<string, string> = {};
    if (o.accept) headers.Accept = o.accept;
    if (o.creds) headers.Authorization = `Basic ${Buffer.from(o.creds).toString('base64')}`;
    const req = mod.request(`${reg.url}${path}`, { method, headers, agent: false, timeout: 10_000, ...(ca ? { ca } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${path}`)));
    req.end();
  }));
}

async function catalog(reg: Reg, creds?: string): Promise<string[]> {
  const r = await request(reg, 'GET', '/v2/_catalog?n=1000', { ...(creds ? { creds } : {}) });
  assert.is(r.status, 200, `catalog of ${reg.host}: ${r.status} ${r.body.toString()}`);
  return ((JSON.parse(r.body.toString()) as { repositories: string[] | null }).repositories ?? []).sort();
}

async function tagsOf(reg: Reg, repo: string, creds?: string): Promise<string[]> {
  const r = await request(reg, 'GET', `/v2/${repo}/tags/list`, { ...(creds ? { creds } : {}) });
  if (r.status === 404) return [];
  assert.is(r.status, 200, `tags of ${repo}: ${r.status} ${r.body.toString()}`);
  return ((JSON.parse(r.body.toString()) as { tags: string[] | null }).tags ?? []).sort();
}

const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

/**
 * Every tag of every repository resolves (skopeo inspect --raw) to a manifest whose children
 * and blobs all exist with their declared size (HEAD). Returns `repo:tag -> digest`.
 */
async function walkAll(reg: Reg, creds?: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const repo of await catalog(reg, creds)) {
    for (const tag of await tagsOf(reg, repo, creds)) {
      const bytes = await skopeoInspectRaw(reg, `${repo}:${tag}`, creds);
      out.set(`${repo}:${tag}`, sha(bytes));
      await walkManifest(reg, repo, bytes, `${repo}:${tag}`, creds);
    }
  }
  return out;
}

async function walkManifest(reg: Reg, repo: string, bytes: Buffer, what: string, creds?: string): Promise<void> {
  const m = JSON.parse(bytes.toString()) as { manifests?: Array<{ digest: string }>; config?: { digest: string; size: number }; layers?: Array<{ digest: string; size: number }> };
  for (const child of m.manifests ?? []) {
    const b = await skopeoInspectRaw(reg, `${repo}@${child.digest}`, creds);
    assert.is(sha(b), child.digest, `${what}: child manifest ${child.digest} reads back with other bytes`);
    await walkManifest(reg, repo, b, `${what} -> ${child.digest.slice(0, 19)}`, creds);
  }
  for (const blob of [...(m.config ? [m.config] : []), ...(m.layers ?? [])]) {
    const h = await request(reg, 'HEAD', `/v2/${repo}/blobs/${blob.digest}`, { ...(creds ? { creds } : {}) });
    assert.is(h.status, 200, `${what}: blob ${blob.digest} is missing (HEAD ${h.status})`);
    assert.is(Number(h.headers['content-length']), blob.size, `${what}: blob ${blob.digest} has the wrong size`);
  }
}

/** Each image tag and each cosign referrer tag of a bundle, with the digest the bundle records. */
function expectedTags(m: BundleManifest): Array<{ repo: string; tag: string; digest: string }> {
  const out: Array<{ repo: string; tag: string; digest: string }> = [];
  for (const i of m.images) {
    if (i.tag) out.push({ repo: i.repository, tag: i.tag, digest: i.digest });
    for (const r of i.referrers ?? []) if (r.tag) out.push({ repo: i.repository, tag: r.tag, digest: r.digest });
  }
  return out;
}

/** Every expected tag reads back at its digest with skopeo (raw bytes hashed) and crane digest. */
async function assertTags(reg: Reg, m: BundleManifest, o: { creds?: string; label: string }): Promise<void> {
  for (const t of expectedTags(m)) {
    const raw = await skopeoInspectRaw(reg, `${t.repo}:${t.tag}`, o.creds);
    assert.is(sha(raw), t.digest, `${o.label}: skopeo reads ${t.repo}:${t.tag} at another digest`);
    const cd = await craneDigest(`${reg.host}/${t.repo}:${t.tag}`, reg.caFile ? { caFile: reg.caFile, ...(o.creds ? { creds: o.creds } : {}) } : { insecure: true });
    assert.is(cd, t.digest, `${o.label}: crane digest of ${t.repo}:${t.tag}`);
  }
}

// ---- proxy request lines ----
const blobUploads = (p: Proxy, from = 0) => p.requests.slice(from).filter((l) => /^(PATCH|PUT) \/v2\/\S+\/blobs\/uploads\//.test(l));
const sessions = (p: Proxy, from = 0) => p.requests.slice(from).filter((l) => /^POST \/v2\/\S+\/blobs\/uploads\/(?!\S*mount=)/.test(l));
const mounts = (p: Proxy, from = 0) => p.requests.slice(from).filter((l) => /^POST \/v2\/\S+\/blobs\/uploads\/\?\S*mount=/.test(l));
const manifestPuts = (p: Proxy, from = 0) => p.requests.slice(from).filter((l) => /^PUT \/v2\/\S+\/manifests\//.test(l));
/** The blob digest a finishing PUT ...?digest= carries. */
const putDigest = (line: string) => {
  const u = new URL(line.split(' ')[1]!, 'http://x');
  return u.searchParams.get('digest');
};

const seedAll = async (reg: StartedRegistry, layout: string, pairs: Array<[string, string]>) => {
  for (const [tag, dest] of pairs) await seedLayout(reg, layout, tag, dest);
};

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-e2e-push-reg-'));
  home = join(tmp, 'home');
  await mkdir(home);
  const layout = join(tmp, 'layout');
  const written = await makeOciLayout(layout, [
    { tag: 'single', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 150_000, seed: 'pr-single', gzipLevel: 0 }, { size: 20_000, seed: 'pr-single-2' }] }] },
    {
      tag: 'multi',
      platforms: [
        { os: 'linux', architecture: 'amd64', layers: [{ size: 200_000, seed: 'pr-base', gzipLevel: 0 }, { size: 30_000, seed: 'pr-amd' }] },
        { os: 'linux', architecture: 'arm64', layers: [{ size: 200_000, seed: 'pr-base', gzipLevel: 0 }, { size: 30_000, seed: 'pr-arm' }] },
      ],
    },
    { tag: 'tamper', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 100_000, seed: 'pr-tamper', gzipLevel: 0 }] }] },
    // For the crash test: a few MiB in several blobs, so a kill lands mid-push.
    { tag: 'heavy1', platforms: [{ os: 'linux', architecture: 'amd64', layers: [0, 1, 2, 3].map((i) => ({ size: 700_000, seed: `pr-h1-${i}`, gzipLevel: 0 })) }] },
    { tag: 'heavy2', platforms: [{ os: 'linux', architecture: 'amd64', layers: [0, 1, 2].map((i) => ({ size: 700_000, seed: `pr-h2-${i}`, gzipLevel: 0 })) }] },
  ]);
  [single, multi] = written as [WrittenImage, WrittenImage];

  const k = await bundleCli(['keygen', '--no-password', '--out', join(tmp, 'signer')], { env: env() });
  assert.is(k.code, 0, k.stderr);
  src = await startRegistry();
  await seedAll(src, layout, [
    ['single', 'ns/single:v1'], ['single', 'mirror/single:v1'], ['multi', 'ns/multi:v1'], ['tamper', 'ns/tamper:v1'],
    ['heavy1', 'crash/one:v1'], ['heavy2', 'crash/two:v1'],
  ]);
  cosignKeys = await cosignKeyPair(join(tmp, 'cosign'), COSIGN_PW);
  await cosignSign(`${src.host}/ns/multi:v1`, cosignKeys.key, COSIGN_PW, { insecure: true });
  await cosignSign(`${src.host}/ns/single:v1`, cosignKeys.key, COSIGN_PW, { insecure: true });
  const pred = join(tmp, 'provenance.json');
  await writeFile(pred, JSON.stringify({ builder: { id: 'https://ferry.test/builder' }, buildType: 'https://ferry.test/build', invocation: {} }));
  await cosignAttest(`${src.host}/ns/multi:v1`, cosignKeys.key, COSIGN_PW, pred, 'slsaprovenance', { insecure: true });
  // The signatures verify at the source (so a failure later is the push's).
  assert.is((await cosignVerify(`${src.host}/ns/multi:v1`, cosignKeys.pub, { insecure: true })).code, 0);
});

test.after(async () => {
  await proxyB?.stop();
  await Promise.all([src?.stop(), plainB?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

async function create(name: string, images: string[], extra: string[] = [], volumeSize = '256KiB'): Promise<string> {
  const out = join(tmp, 'bundles', name);
  const r = await bundleCli(['create', '--name', name, '--out', out, '--key', join(tmp, 'signer.key'), '--volume-size', volumeSize,
    ...images.flatMap((i) => ['--image', `${src.host}/${i}`]), '--insecure-registry', src.host, '--json', ...extra], { env: env() });
  assert.is(r.code, 0, `create ${name}: ${r.stdout}${r.stderr}`);
  return out;
}

let main = '';
let mainManifest: BundleManifest;

test('the bundle from registry A carries the cosign signatures and the attestation as tag artifacts', async () => {
  main = await create('main', ['ns/single:v1', 'ns/multi:v1', 'mirror/single:v1']);
  mainManifest = await manifestOf(main);
  const byRef = Object.fromEntries(mainManifest.images.map((i) => [`${i.repository}:${i.tag}`, i]));
  assert.equal(Object.keys(byRef).sort(), ['mirror/single:v1', 'ns/multi:v1', 'ns/single:v1']);
  assert.is(byRef['ns/single:v1']!.digest, single.root.digest);
  assert.is(byRef['mirror/single:v1']!.digest, single.root.digest);
  assert.is(byRef['ns/multi:v1']!.digest, multi.root.digest);
  const hex = (d: string) => d.slice(7);
  const mref = (byRef['ns/multi:v1']!.referrers ?? []).map((r) => [r.scheme, r.tag]).sort();
  assert.equal(mref, [['cosign-tag', `sha256-${hex(multi.root.digest)}.att`], ['cosign-tag', `sha256-${hex(multi.root.digest)}.sig`]]);
  const sref = (byRef['ns/single:v1']!.referrers ?? []).map((r) => [r.scheme, r.tag]);
  assert.equal(sref, [['cosign-tag', `sha256-${hex(single.root.digest)}.sig`]]);
  assert.equal(byRef['mirror/single:v1']!.referrers ?? [], [], 'mirror/single was never signed in its repository');
  const v = await loadCli(['verify', main, '--trusted-key', signerPub()], { env: env() });
  assert.is(v.code, 0, v.stdout + v.stderr);
});

let plainB: StartedRegistry;
let proxyB: Proxy;
let firstRunFrom = 0;

test('push into an empty registry: every tag at the bundle digest (skopeo, crane), .sig/.att there, cosign verify passes', async () => {
  plainB = await startRegistry();
  proxyB = await startProxy(plainB.host);
  firstRunFrom = proxyB.requests.length;
  const state = join(tmp, 'state-main');
  const r = await push(main, proxyB.host, insecure(proxyB.host), state);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const rep = parseJson(r);
  assert.equal(statusOf(rep), { 'mirror/single:v1': 'loaded', 'ns/multi:v1': 'loaded', 'ns/single:v1': 'loaded' });
  assert.equal(rep.images.map((i) => i.ref).sort(), [`${proxyB.host}/mirror/single:v1`, `${proxyB.host}/ns/multi:v1`, `${proxyB.host}/ns/single:v1`]);

  // Read back from B directly (not through the proxy Ferry was given).
  await assertTags(plainB, mainManifest, { label: 'B' });
  assert.equal(await catalog(plainB), ['mirror/single', 'ns/multi', 'ns/single']);
  const hexM = multi.root.digest.slice(7);
  const mtags = await tagsOf(plainB, 'ns/multi');
  assert.ok(mtags.includes(`sha256-${hexM}.sig`) && mtags.includes(`sha256-${hexM}.att`), mtags.join(', '));
  await walkAll(plainB);

  // The real cosign verifies the signatures and the attestation in B with the cosign key.
  for (const ref of [`${plainB.host}/ns/multi:v1`, `${plainB.host}/ns/multi@${multi.root.digest}`, `${plainB.host}/ns/single:v1`]) {
    const cv = await cosignVerify(ref, cosignKeys.pub, { insecure: true });
    assert.is(cv.code, 0, `cosign verify ${ref}: ${cv.stderr}`);
  }
  const va = await cosignVerifyAttestation(`${plainB.host}/ns/multi:v1`, cosignKeys.pub, 'slsaprovenance', { insecure: true });
  assert.is(va.code, 0, va.stderr);
  // mirror/single carries no signature: cosign says so (nothing was invented).
  assert.is.not((await cosignVerify(`${plainB.host}/mirror/single:v1`, cosignKeys.pub, { insecure: true })).code, 0);
});

test('first push: each blob is uploaded once; the image shared by two repositories is mounted, not uploaded twice', async () => {
  const uploads = blobUploads(proxyB, firstRunFrom);
  const finished = uploads.filter((l) => l.startsWith('PUT ')).map(putDigest);
  const dup = finished.filter((d, i) => finished.indexOf(d) !== i);
  assert.equal(dup, [], `blobs uploaded more than once: ${dup.join(', ')}`);
  const shared = [single.configs[0]!.digest, ...single.layers[0]!.map((l) => l.digest)];
  const m = mounts(proxyB, firstRunFrom);
  for (const d of shared) {
    const ups = finished.filter((x) => x === d).length;
    const mnt = m.filter((l) => l.includes(encodeURIComponent(d)) || l.includes(d)).length;
    assert.is(ups, 1, `${d} is uploaded once (${ups})`);
    assert.ok(mnt >= 1, `${d} is mounted into the second repository: mounts seen ${m.join(' | ') || 'none'}`);
  }
  assert.ok(m.every((l) => /from=(ns|mirror)(%2F|\/)single/.test(l)), `mounts come from the other repository of the image: ${m.join(' | ')}`);
});

test('first push into repositories that do not exist: one tag-list GET each, then no question about their blobs, manifests or tags before writing them', async () => {
  // Every repository of the bundle is new in B: the registry says so once (404 NAME_UNKNOWN),
  // and nothing in it is asked about (a first load of many small images makes half the requests).
  const run = proxyB.requests.slice(firstRunFrom) // the first run only: the next test pushes again;
  const lists = run.filter((l) => /^GET \/v2\/\S+\/tags\/list/.test(l)).map((l) => /^GET \/v2\/(\S+)\/tags\/list/.exec(l)![1]!).sort();
  assert.equal(lists, ['mirror/single', 'ns/multi', 'ns/single'], `one tag-list GET per repository: ${lists.join(', ')}`);
  const blobHeads = run.filter((l) => /^HEAD \/v2\/\S+\/blobs\//.test(l));
  assert.equal(blobHeads, [], 'no blob HEAD in a repository that did not exist');
  // Manifests and tags are asked about only once this run has written into their repository.
  run.forEach((l, i) => {
    const m = /^HEAD \/v2\/(\S+)\/manifests\//.exec(l);
    if (m) assert.ok(run.slice(0, i).some((x) => x.startsWith(`PUT /v2/${m[1]}/`) || (x.startsWith(`POST /v2/${m[1]}/blobs/uploads/`) && x.includes('mount='))), `${l} is asked only after this run wrote into ${m[1]}`);
  });
});

test('a second push of the same bundle exits 0 and uploads nothing (same state dir, then a fresh one)', async () => {
  const rewritten: Record<string, string[]> = {};
  for (const [label, state] of [['same state', join(tmp, 'state-main')], ['fresh state', stateDir()]] as const) {
    const from = proxyB.requests.length;
    const r = await push(main, proxyB.host, insecure(proxyB.host), state);
    assert.is(r.code, 0, `${label}: ${r.stdout}${r.stderr}`);
    const rep = parseJson(r);
    assert.ok(rep.images.every((i) => i.status === 'loaded'), `${label}: ${r.stdout}`);
    assert.equal(blobUploads(proxyB, from), [], `${label}: blob uploads on a no-op push`);
    // The pre-flight opens one upload session per namespace (here ns/ and mirror/) to learn
    // whether pushing is allowed; each is cancelled (DELETE) at once, so nothing is left behind.
    const posts = sessions(proxyB, from);
    const deletes = proxyB.requests.slice(from).filter((l) => /^DELETE \/v2\/\S+\/blobs\/uploads\//.test(l));
    const namespaces = new Set(posts.map((l) => /^POST \/v2\/([^/]+)\//.exec(l)?.[1]));
    assert.is(namespaces.size, posts.length, `${label}: one pre-flight session per namespace at most: ${posts.join(' | ')}`);
    assert.ok(posts.length <= 2, `${label}: only the pre-flight's sessions: ${posts.join(' | ')}`);
    assert.is(deletes.length, posts.length, `${label}: every session opened is cancelled`);
    assert.equal(mounts(proxyB, from), [], `${label}: mounts on a no-op push`);
    if (rep.blobsWritten !== undefined) assert.is(rep.blobsWritten, 0, label);
    rewritten[label] = manifestPuts(proxyB, from);
  }
  await assertTags(plainB, mainManifest, { label: 'B after no-op pushes' });
  // Nor is a tag that already points at the bundled digest PUT again (a registry with immutable
  // tags would refuse it, and every PUT fires the registry's push notifications).
  assert.equal(rewritten, { 'same state': [], 'fresh state': [] }, 'manifest PUTs on a no-op push');
});

test('ferry-load check: exit 0 after a good push; non-zero naming the ref once a tag is moved to another digest', async () => {
  const ok = await loadCli(['check', main, '--trusted-key', signerPub(), '--to', plainB.host, ...insecure(plainB.host), '--json'], { env: env() });
  assert.is(ok.code, 0, ok.stdout + ok.stderr);
  // Retag ns/single:v1 in B to other content (the tamper image from A), with skopeo.
  await skopeo(['copy', '-q', '--preserve-digests', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${src.host}/ns/tamper:v1`, `docker://${plainB.host}/ns/single:v1`]);
  assert.is.not(sha(await skopeoInspectRaw(plainB, 'ns/single:v1')), single.root.digest);
  const moved = sha(await skopeoInspectRaw(plainB, 'ns/single:v1'));
  const bad = await loadCli(['check', main, '--trusted-key', signerPub(), '--to', plainB.host, ...insecure(plainB.host), '--json'], { env: env() });
  assert.is(bad.code, 21, bad.stdout + bad.stderr);
  const rep = JSON.parse(bad.stdout) as { ok: boolean; items: Array<{ kind: string; ref: string; expected: string; status: string; found?: string }>; error: { code: string; message: string } };
  assert.is(rep.ok, false);
  assert.is(rep.error.code, 'CHECK_FAILED');
  assert.match(rep.error.message, /ns\/single:v1/);
  const notOk = rep.items.filter((i) => i.status !== 'ok');
  assert.equal(notOk.map((i) => [rel(i.ref), i.status, i.expected, i.found]), [['ns/single:v1', 'different', single.root.digest, moved]], bad.stdout);
  assert.ok(rep.items.some((i) => rel(i.ref) === 'mirror/single:v1' && i.status === 'ok'), 'the same image in the other repository is fine');
  const text = await loadCli(['check', main, '--trusted-key', signerPub(), '--to', plainB.host, ...insecure(plainB.host)], { env: env() });
  assert.is(text.code, 21, text.stdout + text.stderr);
  assert.match(text.stdout, new RegExp(`FAIL DIFFERENT ${plainB.host}/ns/single:v1 `), 'words, not symbols, off a terminal');
  assert.match(text.stderr, /CHECK_FAILED.*ns\/single:v1 different/);
  // Put it back with a push (the tag moves back), and check passes again.
  const fix = await push(main, plainB.host, insecure(plainB.host));
  assert.is(fix.code, 0, fix.stdout + fix.stderr);
  const again = await loadCli(['check', main, '--trusted-key', signerPub(), '--to', plainB.host, ...insecure(plainB.host)], { env: env() });
  assert.is(again.code, 0, again.stdout + again.stderr);
});

test('htpasswd + TLS target with --ca-file and --creds: tags read back, cosign verifies, the password is never printed', async () => {
  const b2 = await startRegistry({ tls: true, auth: { user: USER, password: PASSWORD } });
  try {
    const creds = `${USER}:${PASSWORD}`;
    const r = await push(main, b2.host, ['--ca-file', b2.caFile!, '--creds', creds]);
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.not.ok((r.stdout + r.stderr).includes(PASSWORD), 'no password in the output');
    await assertTags(b2, mainManifest, { creds, label: 'B2' });
    await walkAll(b2, creds);
    const cv = await cosignVerify(`${b2.host}/ns/multi:v1`, cosignKeys.pub, { caFile: b2.caFile!, creds });
    assert.is(cv.code, 0, cv.stderr);
  } finally {
    await b2.stop();
  }
});

test('htpasswd + TLS target: a wrong password, or no --ca-file, exits non-zero before any blob is written', async () => {
  const b3 = await startRegistry({ tls: true, auth: { user: USER, password: PASSWORD } });
  try {
    const creds = `${USER}:${PASSWORD}`;
    const bad = await push(main, b3.host, ['--ca-file', b3.caFile!, '--creds', `${USER}:${WRONG}`]);
    assert.is(bad.code, 13, bad.stdout + bad.stderr);
    assert.match(bad.stdout + bad.stderr, /REGISTRY_AUTH/);
    assert.ok((bad.stdout + bad.stderr).includes(b3.host), `names the registry: ${bad.stdout}${bad.stderr}`);
    for (const s of [WRONG, PASSWORD, Buffer.from(`${USER}:${WRONG}`).toString('base64')]) assert.not.ok((bad.stdout + bad.stderr).includes(s), 'no secret in the output');
    assert.equal(await catalog(b3, creds), [], 'no repository was created');

    const noca = await push(main, b3.host, ['--creds', creds]);
    assert.is(noca.code, 13, noca.stdout + noca.stderr);
    assert.match(noca.stdout + noca.stderr, /REGISTRY_TLS/);
    assert.match(noca.stdout + noca.stderr, /--ca-file/);
    assert.equal(await catalog(b3, creds), [], 'no repository was created');
  } finally {
    await b3.stop();
  }
});

test('a read-only registry (no push permission): a clear error before any byte is uploaded', async () => {
  const ro = await startRegistry({ readOnly: true });
  const p = await startProxy(ro.host);
  try {
    const r = await push(main, p.host, insecure(p.host));
    assert.is(r.code, 13, r.stdout + r.stderr);
    const text = r.stdout + r.stderr;
    assert.ok(text.includes(p.host), `names the registry: ${text}`);
    assert.match(text, /REGISTRY_DENIED/);
    assert.match(text, /ask its administrator for push permission/, 'the hint is about permission, not credentials');
    assert.not.match(text, /Check the credentials/);
    assert.match(text, /HTTP 405/);
    assert.match(text, /read-only/);
    assert.match(text, /nothing was sent/);
    assert.equal(blobUploads(p), [], 'no blob bytes went up');
    assert.equal(manifestPuts(p), [], 'no manifest went up');
    assert.equal(await catalog(ro), []);
  } finally {
    await p.stop();
    await ro.stop();
  }
});

test('the registry is killed mid-push (three times) and restarted: the next push completes; no tag ever lacks a blob', async () => {
  const crash = await create('crash', ['crash/one:v1', 'crash/two:v1', 'ns/single:v1'], [], '4MiB');
  const cm = await manifestOf(crash);
  const reg = await startRegistry();
  const p = await startProxy(reg.host);
  const state = stateDir();
  try {
    // Kill (SIGKILL) when the Nth request of a kind is seen in this run: in the first blob
    // upload; after 8 uploads (at most 6 requests are in flight, so some blobs got in and others
    // were cut off); and right before the first manifest PUT reaches the registry (blobs done,
    // images about to be stored and tagged). That last kill is made by the proxy before it
    // forwards the PUT: distribution's filesystem driver writes a manifest's data file in place,
    // so a kill in the middle of that write can leave a truncated file that the restarted
    // registry answers with HTTP 500 for ever — its own damage, not something a client can undo.
    const kills: Array<{ label: string; seen: (from: number) => number; n: number; beforeForward?: RegExp }> = [
      { label: 'first blob upload', seen: (from) => blobUploads(p, from).length, n: 1 },
      { label: 'eighth blob upload', seen: (from) => blobUploads(p, from).length, n: 8 },
      { label: 'first manifest PUT', seen: (from) => manifestPuts(p, from).length, n: 1, beforeForward: /^PUT \/v2\/.+\/manifests\// },
    ];
    for (const k of kills) {
      const from = p.requests.length;
      let killed = false;
      if (k.beforeForward) {
        p.arm({ match: k.beforeForward, before: async () => { killed = true; await reg.kill(); } });
      }
      const watcher = setInterval(() => {
        if (!k.beforeForward && !killed && k.seen(from) >= k.n) {
          killed = true;
          void reg.kill();
        }
      }, 2);
      const r = await push(crash, p.host, insecure(p.host), state);
      clearInterval(watcher);
      assert.ok(killed, `${k.label}: the push (exit ${r.code}) finished before the kill: ${r.stdout}${r.stderr}`);
      assert.is(r.code, 13, `${k.label}: a push whose registry died mid-way fails with a registry error: ${r.stdout}${r.stderr}`);
      assert.is(parseJson(r).error?.code, 'REGISTRY_ERROR', r.stdout);
      assert.ok(parseJson(r).error!.message.includes(p.host), 'names the registry');
      assert.not.ok(reg.running());
      await reg.restart();
      // Whatever tags exist now point at complete manifests with the bundled digests.
      const tags = await walkAll(reg);
      for (const [ref, d] of tags) {
        const want = expectedTags(cm).find((t) => `${t.repo}:${t.tag}` === ref);
        assert.ok(want, `${k.label}: unexpected tag ${ref}`);
        assert.is(d, want!.digest, `${k.label}: ${ref}`);
      }
    }
    // What the registry holds after the crashes (blobs by repository, as HEAD sees them).
    const before = new Set<string>();
    for (const img of cm.images) {
      for (const d of [...img.blobs, ...(img.referrers ?? []).flatMap((x) => x.blobs)]) {
        if ((await request(reg, 'HEAD', `/v2/${img.repository}/blobs/${d}`)).status === 200) before.add(d);
      }
    }
    assert.ok(before.size > 0, 'the crashed runs got something in');
    const from = p.requests.length;
    const r = await push(crash, p.host, insecure(p.host), state);
    assert.is(r.code, 0, `after three crashes the same push completes: ${r.stdout}${r.stderr}`);
    assert.ok(parseJson(r).images.every((i) => i.status === 'loaded'), r.stdout);
    await assertTags(reg, cm, { label: 'after crashes' });
    const all = await walkAll(reg);
    assert.is(all.size, expectedTags(cm).length);
    // Blobs the registry already holds are not sent again on the final run.
    const finished = blobUploads(p, from).filter((l) => l.startsWith('PUT ')).map(putDigest);
    assert.is(new Set(finished).size, finished.length, 'no blob uploaded twice in one run');
    const again = finished.filter((d) => before.has(d!));
    assert.equal(again, [], `the last run sends no blob the registry already had (${before.size} there, ${finished.length} uploaded)`);
  } finally {
    await p.stop();
    await reg.stop();
  }
});

test('a tampered layer in a volume: that image is never tagged, the others are, exit non-zero, the report names it', async () => {
  const good = await create('tamper', ['ns/single:v1', 'ns/tamper:v1'], ['--no-referrers'], '128KiB');
  const d = join(tmp, 'bundles', 'tamper-bad');
  await cp(good, d, { recursive: true });
  const m = await manifestOf(good);
  const ti = m.images.find((i) => i.repository === 'ns/tamper')!;
  const si = m.images.find((i) => i.repository === 'ns/single')!;
  const layerDigest = ti.blobs.find((b) => m.blobs.find((x) => x.digest === b)?.kind === 'layer')!;
  const layer = m.blobs.find((b) => b.digest === layerDigest)!;
  assert.ok(layer.volume, 'the tampered layer is whole in one volume');
  const siVolumes = new Set(si.blobs.flatMap((b) => { const x = m.blobs.find((y) => y.digest === b)!; return x.volume ? [x.volume] : (x.segments ?? []).map((s) => s.volume); }));
  assert.not.ok(siVolumes.has(layer.volume!), 'ns/single has nothing in the tampered volume');
  await resignBundle(d, {
    key: join(tmp, 'signer.key'),
    entries: (v, es) => (v !== layer.volume ? es : es.map((e) => {
      if (e.name !== `blobs/sha256/${layerDigest.slice(7)}`) return e;
      const data = Buffer.from(e.data);
      data[Math.floor(data.length / 2)] ^= 0xff;
      return { ...e, data };
    })),
  });
  const reg = await startRegistry();
  try {
    const r = await push(d, reg.host, insecure(reg.host));
    assert.is(r.code, 9, r.stdout + r.stderr);
    const rep = parseJson(r);
    const st = statusOf(rep);
    assert.is(st['ns/single:v1'], 'loaded', r.stdout);
    assert.ok(st['ns/tamper:v1'] && st['ns/tamper:v1'] !== 'loaded', `ns/tamper:v1 is not loaded: ${r.stdout}`);
    assert.ok(r.stdout.includes('ns/tamper:v1'), 'the report names the image');
    assert.equal((rep.volumesDamaged ?? []).map((v) => [v.file, v.code]), [[m.volumes[layer.volume! - 1]!.file, 'BLOB_MISMATCH']], r.stdout);
    assert.ok(rep.volumesDamaged![0]!.message.includes(layerDigest), 'names the tampered blob');
    assert.is(rep.error?.code, 'BLOB_MISMATCH');
    assert.equal(await tagsOf(reg, 'ns/tamper'), [], 'the tampered image has no tag in the target');
    assert.equal(sha(await skopeoInspectRaw(reg, 'ns/single:v1')), si.digest);
    await walkAll(reg);
    // The tampered blob never became visible under its digest.
    assert.is.not((await request(reg, 'HEAD', `/v2/ns/tamper/blobs/${layerDigest}`)).status, 200);
  } finally {
    await reg.stop();
  }
});

test.run();
