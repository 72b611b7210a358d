// The image-signature policy against what cosign v3 (3.1.3) writes by default: a Sigstore bundle
// v0.3 per signature and attestation, pushed as an OCI 1.1 referrer. Debian's docker-registry 2.8
// has no referrers API, so cosign keeps the `sha256-<hex>` fallback tag index, and that is where
// Ferry's registry source must find them (no `.sig`/`.att` tag exists at all). Key-based, no
// transparency log (signing config without services, empty trusted root: see test/harness/cosign.ts).
// `app` is signed and attested (slsaprovenance) with the trusted key, `other` signed with another
// key, and `stolen` has a hand-built fallback index listing app's trusted signature bundle (a valid
// signature, for another image). The bundle carries them with their referrers; `ferry-load push --image-key trusted.pub
// --require-signed-images --require-attestation slsaprovenance` loads app only (exit 24); in the
// target the fallback index lists the same referrers, and cosign v3's `verify --key` and
// `verify-attestation --type slsaprovenance` pass, `cosign tree` lists both; cosign v3 refuses
// `other` with the trusted key just as Ferry did (and accepts it with its own key), and `stolen`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BundleManifest } from '@ferry/format-spec';
import { makeOciLayout } from '../helpers/images.js';
import { bundleCli, loadCli } from '../helpers/cli.js';
import { startRegistry, type StartedRegistry } from '../harness/registry.js';
import { rawPutManifest, seedLayout, skopeo } from '../harness/seed.js';
import { cosignAttest, cosignKeyPair, cosignSign, cosignTree, cosignVerify, cosignVerifyAttestation, crane, craneDigest, type CosignKeys } from '../harness/cosign.js';
import { fetchReferrers, RegistryClient } from '../../packages/oci/src/index.js';

const PW = 'cosign3 pw';
const BUNDLE_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const v3 = { insecure: true, cosign: 'cosign3' } as const;

let tmp = '';
let src: StartedRegistry;
let dst: StartedRegistry;
let trusted: CosignKeys;
let other: CosignKeys;
let bundleDir = '';
const NAMES = ['app', 'other', 'stolen'] as const;
const digests: Record<(typeof NAMES)[number], string> = { app: '', other: '', stolen: '' };
/** What cosign v3 pushed for app in the low side: the referrer manifests' digests, by predicate type. */
let appReferrers: Array<{ digest: string; predicateType: string }> = [];

interface Report {
  images: Array<{ ref: string; status: string; reason?: string; policy?: boolean; signature?: { status: string; keys: string[]; attested: string[]; reason?: string } }>;
  error?: { code: string };
}
interface ReferrerIndex { manifests: Array<{ digest: string; mediaType: string; artifactType?: string }> }

const env = () => ({ HOME: join(tmp, 'home'), REGISTRY_AUTH_FILE: undefined, DOCKER_CONFIG: undefined, FERRY_REGISTRY_CREDS: undefined });
const hex = (d: string) => d.slice('sha256:'.length);

async function fallbackIndex(host: string, repo: string, digest: string): Promise<ReferrerIndex> {
  return JSON.parse((await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${host}/${repo}:sha256-${hex(digest)}`])).toString()) as ReferrerIndex;
}

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-e2e-cosign3-'));
  await mkdir(join(tmp, 'home'));
  [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
  const layout = join(tmp, 'layout');
  await makeOciLayout(layout, NAMES.map((t) => ({ tag: t, platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 2_000, seed: `cosign3-${t}` }] }] })));
  for (const t of NAMES) digests[t] = (await seedLayout(src, layout, t, `team/${t}:1`)).digest;
  trusted = await cosignKeyPair(join(tmp, 'trusted'), PW, 'trusted', 'cosign3');
  other = await cosignKeyPair(join(tmp, 'other'), PW, 'other', 'cosign3');
  await cosignSign(`${src.host}/team/app@${digests.app}`, trusted.key, PW, v3);
  const pred = join(tmp, 'provenance.json');
  await writeFile(pred, JSON.stringify({ builder: { id: 'https://ferry.test/builder' }, buildType: 'https://ferry.test/build', invocation: {} }));
  await cosignAttest(`${src.host}/team/app@${digests.app}`, trusted.key, PW, pred, 'slsaprovenance', v3);
  await cosignSign(`${src.host}/team/other@${digests.other}`, other.key, PW, v3);

  // What cosign v3 wrote: referrers in the fallback index, each a bundle manifest with a predicate type.
  const idx = await fallbackIndex(src.host, 'team/app', digests.app);
  for (const d of idx.manifests) {
    const m = JSON.parse((await crane(['manifest', '--insecure', `${src.host}/team/app@${d.digest}`], undefined)).stdout) as { annotations?: Record<string, string> };
    appReferrers.push({ digest: d.digest, predicateType: m.annotations?.['dev.sigstore.bundle.predicateType'] ?? '' });
  }
  appReferrers = appReferrers.sort((a, b) => a.predicateType.localeCompare(b.predicateType));

  // stolen: app's signature referrer (its subject and statement name app) copied into stolen's
  // repository by digest, and listed in a fallback index for stolen's digest written with fetch.
  const sigRef = idx.manifests.find((d) => d.digest === appReferrers[0]!.digest)!;
  const cp = await crane(['copy', '--insecure', `${src.host}/team/app@${sigRef.digest}`, `${src.host}/team/stolen@${sigRef.digest}`], undefined);
  assert.is(cp.code, 0, cp.stderr);
  const stolenIndex = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [sigRef] };
  await rawPutManifest(src.url, 'team/stolen', `sha256-${hex(digests.stolen)}`, Buffer.from(JSON.stringify(stolenIndex)), 'application/vnd.oci.image.index.v1+json');

  const k = await bundleCli(['keygen', '--out', join(tmp, 'ferry')], { env: { FERRY_KEY_PASSWORD: '' } });
  assert.is(k.code, 0, k.stderr);
  bundleDir = join(tmp, 'bundle');
  const c = await bundleCli(['create', '--name', 'v3', '--out', bundleDir, '--key', join(tmp, 'ferry.key'), '--insecure-registry', src.host,
    ...NAMES.flatMap((t) => ['--image', `${src.host}/team/${t}:1`]), '--json'], { env: { ...env(), FERRY_KEY_PASSWORD: '' } });
  assert.is(c.code, 0, c.stderr + c.stdout);
});

test.after(async () => {
  await Promise.all([src?.stop(), dst?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

test('cosign v3 wrote Sigstore bundle referrers (fallback tag index, no .sig/.att tag); Ferry\'s registry source finds them through that tag and the bundle carries them', async () => {
  assert.equal(appReferrers.map((r) => r.predicateType), ['https://sigstore.dev/cosign/sign/v1', 'https://slsa.dev/provenance/v0.2']);
  const idx = await fallbackIndex(src.host, 'team/app', digests.app);
  assert.ok(idx.manifests.every((d) => d.artifactType === BUNDLE_TYPE), JSON.stringify(idx));
  const tags = (await crane(['ls', '--insecure', `${src.host}/team/app`], undefined)).stdout.trim().split('\n').sort();
  assert.equal(tags, ['1', `sha256-${hex(digests.app)}`], 'only the image tag and the referrers fallback tag');

  const client = new RegistryClient(src.host, { insecure: [src.host] });
  try {
    const found = await fetchReferrers(client, 'team/app', digests.app);
    assert.is(found.via, 'tag-schema', 'distribution 2.8 has no referrers API');
    assert.equal(found.descriptors.map((d) => d.digest).sort(), appReferrers.map((r) => r.digest).sort());
    const bundles = await fetchReferrers(client, 'team/app', digests.app, { artifactType: BUNDLE_TYPE });
    assert.is(bundles.descriptors.length, 2);
  } finally {
    client.close();
  }

  const m = JSON.parse(await readFile(join(bundleDir, 'v3.manifest.json'), 'utf8')) as BundleManifest;
  const app = m.images.find((i) => i.digest === digests.app)!;
  assert.equal((app.referrers ?? []).filter((r) => r.scheme === 'oci-referrer' && r.artifactType === BUNDLE_TYPE).map((r) => r.digest).sort(), appReferrers.map((r) => r.digest).sort());
  assert.is(m.images.find((i) => i.digest === digests.other)!.referrers?.filter((r) => r.artifactType === BUNDLE_TYPE).length, 1);
  // stolen's fallback index lists app's signature bundle (its subject is app): not a referrer of stolen.
  assert.is(m.images.find((i) => i.digest === digests.stolen)!.referrers, undefined);
});

test('push --image-key --require-signed-images --require-attestation slsaprovenance loads app only; cosign v3 verify, verify-attestation and tree pass on what was loaded', async () => {
  const r = await loadCli(['push', bundleDir, '--trusted-key', join(tmp, 'ferry.pub'), '--to', dst.host, '--insecure-registry', dst.host, '--state-dir', join(tmp, 'state'),
    '--image-key', trusted.pub, '--require-signed-images', '--require-attestation', 'slsaprovenance', '--yes', '--json'], { env: env() });
  assert.is(r.code, 24, r.stdout + r.stderr);
  const rep = JSON.parse(r.stdout) as Report;
  assert.is(rep.error?.code, 'SIGNATURE_POLICY');
  const app = rep.images.find((i) => i.ref.includes('team/app:1'))!;
  const oth = rep.images.find((i) => i.ref.includes('team/other:1'))!;
  const stolen = rep.images.find((i) => i.ref.includes('team/stolen:1'))!;
  assert.is(stolen.status, 'refused', JSON.stringify(stolen));
  assert.is(stolen.signature?.status, 'unsigned', 'app\'s signature listed in stolen\'s fallback index was not carried as stolen\'s');
  assert.ok(stolen.policy, JSON.stringify(stolen));
  assert.is(app.status, 'loaded', JSON.stringify(app));
  assert.is(app.signature?.status, 'signed');
  assert.ok(app.signature?.attested.includes('https://slsa.dev/provenance/v0.2'), JSON.stringify(app.signature));
  assert.is(oth.status, 'refused');
  assert.ok(oth.policy);
  assert.is(oth.signature?.status, 'invalid', JSON.stringify(oth.signature));

  // The target: app by the same digest, its two referrers with their exact digests in a fallback index there.
  assert.is(await craneDigest(`${dst.host}/team/app:1`, { insecure: true }), digests.app);
  const idx = await fallbackIndex(dst.host, 'team/app', digests.app);
  assert.equal(idx.manifests.map((d) => d.digest).sort(), appReferrers.map((x) => x.digest).sort());
  assert.ok(idx.manifests.every((d) => d.artifactType === BUNDLE_TYPE));
  for (const t of ['other', 'stolen']) assert.is((await fetch(`${dst.url}/v2/team/${t}/tags/list`)).status, 404, `nothing of the refused image ${t}`);

  const loaded = `${dst.host}/team/app:1`;
  const v = await cosignVerify(loaded, trusted.pub, v3);
  assert.is(v.code, 0, v.stderr);
  assert.match(v.stdout, new RegExp(`"docker-manifest-digest":"${digests.app}"`));
  const a = await cosignVerifyAttestation(loaded, trusted.pub, 'slsaprovenance', v3);
  assert.is(a.code, 0, a.stderr);
  // The wrong key or a type that was never attested: cosign v3 refuses on the loaded image too.
  assert.is.not((await cosignVerify(loaded, other.pub, v3)).code, 0);
  assert.is.not((await cosignVerifyAttestation(loaded, trusted.pub, 'spdxjson', v3)).code, 0);

  // cosign tree lists both referrers Ferry loaded, by their digests.
  const t = await cosignTree(loaded, v3);
  assert.is(t.code, 0, t.stderr);
  for (const x of appReferrers) {
    assert.match(t.stdout, new RegExp(`${x.predicateType.replace(/[./]/g, (c) => `\\${c}`)} artifacts via OCI referrer: ${dst.host}/team/app@${x.digest}`), t.stdout);
  }
});

test('cosign v3 refuses the other-key image with the trusted key (and accepts it with its own) and the stolen signature, where Ferry refused them', async () => {
  const ref = `${src.host}/team/other:1`;
  const bad = await cosignVerify(ref, trusted.pub, v3);
  assert.is.not(bad.code, 0, bad.stdout);
  assert.is((await cosignVerify(ref, other.pub, v3)).code, 0, 'the signature itself is sound: only the key is not trusted');
  const st = await cosignVerify(`${src.host}/team/stolen:1`, trusted.pub, v3);
  assert.is.not(st.code, 0, `a trusted signature for app must not verify stolen: ${st.stdout}`);
  assert.is((await cosignVerify(`${src.host}/team/app:1`, trusted.pub, v3)).code, 0, 'the same bundle does verify the image it was made for');
  // And Ferry says the same per image without the policy: app signed, the others not, all loaded.
  const r = await loadCli(['push', bundleDir, '--trusted-key', join(tmp, 'ferry.pub'), '--to', `oci:${join(tmp, 'out')}`, '--image-key', trusted.pub, '--yes', '--json'], { env: env() });
  assert.is(r.code, 0, r.stdout + r.stderr);
  const rep = JSON.parse(r.stdout) as Report;
  assert.equal(rep.images.map((i) => [/team\/(\w+):1/.exec(i.ref)?.[1], i.status, i.signature?.status]).sort(), [['app', 'loaded', 'signed'], ['other', 'loaded', 'invalid'], ['stolen', 'loaded', 'unsigned']]);
});

test.run();
