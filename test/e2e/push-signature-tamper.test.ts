// Tampered cosign signatures at load time, with the real cosign v2.6.5 agreeing. In the low-side
// registry, beside one image correctly signed with the key the high side trusts:
//   untrusted  signed with another key
//   wrongsig   its `sha256-<hex>.sig` tag holds a valid trusted signature made for another image
//              (good's signature manifest, copied there with crane)
//   payload    its simple-signing payload was rewritten (another docker-reference, the digest
//              claim still right) with the signature annotation kept: manifest built by hand and
//              pushed with crane
//   repushed   signed, then re-pushed under the same tag with another layer (new digest; the old
//              signature stays at the old digest's tag)
// One bundle carries them all. `ferry-load push --image-key trusted.pub --require-signed-images`
// pushes only the good one (exit 24, each refused image with its status and reason) and nothing of
// the others reaches the target; `cosign verify --key trusted.pub` fails on each tampered image in
// the low-side registry too. Without the policy all five are pushed and still reported as
// signed / invalid / unsigned.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeOciLayout } from '../helpers/images.js';
import { bundleCli, loadCli } from '../helpers/cli.js';
import { startRegistry, type StartedRegistry } from '../harness/registry.js';
import { rawPushBlob, seedLayout, skopeo } from '../harness/seed.js';
import { cosignKeyPair, cosignSign, cosignVerify, crane, craneDigest, type CosignKeys } from '../harness/cosign.js';

const PW = 'tamper pw';
const NAMES = ['good', 'untrusted', 'wrongsig', 'payload', 'repushed'] as const;
type Name = (typeof NAMES)[number];

let tmp = '';
let src: StartedRegistry;
let dst: StartedRegistry;
let trusted: CosignKeys;
let bundleDir = '';
/** The digest each name's tag resolves to in the low-side registry (what was bundled). */
const digests = {} as Record<Name, string>;
let goodSigDigest = '';
let repushedOld = '';

interface Report {
  images: Array<{ ref: string; status: string; reason?: string; policy?: boolean; signature?: { status: string; keys: string[]; reason?: string } }>;
  error?: { code: string; message: string };
}

const env = () => ({ HOME: join(tmp, 'home'), REGISTRY_AUTH_FILE: undefined, DOCKER_CONFIG: undefined, FERRY_REGISTRY_CREDS: undefined });
const hex = (d: string) => d.slice('sha256:'.length);
const ok = (r: { code: number; stdout: string; stderr: string }, what: string) => assert.is(r.code, 0, `${what}: ${r.stderr}${r.stdout}`);

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-e2e-tamper-'));
  await mkdir(join(tmp, 'home'));
  [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
  const layout = join(tmp, 'layout');
  const tags = [...NAMES, 'repushed-v2'];
  await makeOciLayout(layout, tags.map((t) => ({ tag: t, platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 2_000, seed: `tamper-${t}` }] }] })));
  for (const t of NAMES) digests[t] = (await seedLayout(src, layout, t, `team/${t}:1`)).digest;
  trusted = await cosignKeyPair(join(tmp, 'trusted'), PW, 'trusted');
  const other = await cosignKeyPair(join(tmp, 'other'), PW, 'other');
  const ref = (t: Name) => `${src.host}/team/${t}@${digests[t]}`;
  const sigTag = (t: Name, digest = digests[t]) => `${src.host}/team/${t}:sha256-${hex(digest)}.sig`;

  await cosignSign(ref('good'), trusted.key, PW, { insecure: true });
  goodSigDigest = await craneDigest(sigTag('good'), { insecure: true });
  await cosignSign(ref('untrusted'), other.key, PW, { insecure: true });

  // (b) good's valid signature manifest (payload claims good's digest) under wrongsig's .sig tag.
  ok(await crane(['copy', '--insecure', sigTag('good'), sigTag('wrongsig')], sigTag('good')), 'crane copy');

  // (c) a real trusted signature, then its payload rewritten by hand, the annotation kept.
  await cosignSign(ref('payload'), trusted.key, PW, { insecure: true });
  const m = await crane(['manifest', '--insecure', sigTag('payload')], sigTag('payload'));
  ok(m, 'crane manifest');
  const sigManifest = JSON.parse(m.stdout) as { layers: Array<{ digest: string; size: number; annotations: Record<string, string> }> };
  const layer = sigManifest.layers[0]!;
  const blob = await crane(['blob', '--insecure', `${src.host}/team/payload@${layer.digest}`], undefined);
  ok(blob, 'crane blob');
  const claims = JSON.parse(blob.stdout) as { critical: { identity: { 'docker-reference': string }; image: { 'docker-manifest-digest': string } } };
  assert.is(claims.critical.image['docker-manifest-digest'], digests.payload, 'cosign signed the payload image');
  claims.critical.identity['docker-reference'] = 'evil.example/team/payload';
  const forged = await rawPushBlob(src.url, 'team/payload', Buffer.from(JSON.stringify(claims)));
  sigManifest.layers[0] = { ...layer, digest: forged.digest, size: forged.size }; // annotations (the signature) kept
  const edit = await crane(['edit', 'manifest', '--insecure', sigTag('payload')], sigTag('payload'), { input: JSON.stringify(sigManifest) });
  ok(edit, 'crane edit manifest');
  const after = JSON.parse((await crane(['manifest', '--insecure', sigTag('payload')], sigTag('payload'))).stdout) as typeof sigManifest;
  assert.is(after.layers[0]!.digest, forged.digest, 'the .sig tag now points at the rewritten payload');
  assert.is(after.layers[0]!.annotations['dev.cosignproject.cosign/signature'], layer.annotations['dev.cosignproject.cosign/signature']);

  // (d) signed, then another image pushed under the same tag.
  await cosignSign(ref('repushed'), trusted.key, PW, { insecure: true });
  repushedOld = digests.repushed;
  digests.repushed = (await seedLayout(src, layout, 'repushed-v2', 'team/repushed:1')).digest;
  assert.is.not(digests.repushed, repushedOld);
  const oldSig = await crane(['digest', '--insecure', sigTag('repushed', repushedOld)], undefined);
  assert.is(oldSig.code, 0, `the old signature stays at the old digest's tag: ${oldSig.stderr}`);
  const newSig = await crane(['digest', '--insecure', sigTag('repushed')], undefined);
  assert.is.not(newSig.code, 0, 'and there is none for the new digest');

  const k = await bundleCli(['keygen', '--out', join(tmp, 'ferry')], { env: { FERRY_KEY_PASSWORD: '' } });
  ok(k, 'keygen');
  bundleDir = join(tmp, 'bundle');
  const c = await bundleCli(['create', '--name', 'tamper', '--out', bundleDir, '--key', join(tmp, 'ferry.key'), '--insecure-registry', src.host,
    ...NAMES.flatMap((t) => ['--image', `${src.host}/team/${t}:1`]), '--json'], { env: { ...env(), FERRY_KEY_PASSWORD: '' } });
  ok(c, 'ferry-bundle create');
});

test.after(async () => {
  await Promise.all([src?.stop(), dst?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

const entry = (r: Report, t: Name) => {
  const e = r.images.find((i) => i.ref.includes(`team/${t}:1`));
  assert.ok(e, `${t} is in the report: ${JSON.stringify(r.images.map((i) => i.ref))}`);
  return e!;
};

/** What Ferry must say about each tampered image: its status and why. */
const expected: Record<Exclude<Name, 'good'>, { status: string; reason: () => RegExp }> = {
  untrusted: { status: 'invalid', reason: () => /does not verify with the trusted key/ },
  wrongsig: { status: 'invalid', reason: () => new RegExp(`signed by a trusted key for image ${goodDigest()}, not for ${digests.wrongsig}`) },
  payload: { status: 'invalid', reason: () => /does not verify with the trusted key: signed by another key, or the payload was changed/ },
  repushed: { status: 'unsigned', reason: () => /no cosign signature/ },
};
const goodDigest = () => digests.good;
const TAMPERED = Object.keys(expected) as Array<keyof typeof expected>;

test('the low side is what the test means: cosign verify passes on the good image and fails on each tampered one', async () => {
  ok(await cosignVerify(`${src.host}/team/good:1`, trusted.pub, { insecure: true }), 'cosign verify good');
  for (const t of TAMPERED) {
    const r = await cosignVerify(`${src.host}/team/${t}:1`, trusted.pub, { insecure: true });
    assert.is.not(r.code, 0, `cosign must refuse ${t}: ${r.stdout}`);
  }
  // wrongsig's .sig tag is byte for byte good's signature manifest, which cosign does accept for good.
  assert.is(await craneDigest(`${src.host}/team/wrongsig:sha256-${hex(digests.wrongsig)}.sig`, { insecure: true }), goodSigDigest);
});

test('--require-signed-images: only the good image is pushed (exit 24); each tampered one is refused with its status and reason, and nothing of it is in the target', async () => {
  const r = await loadCli(['push', bundleDir, '--trusted-key', join(tmp, 'ferry.pub'), '--to', dst.host, '--insecure-registry', dst.host, '--state-dir', join(tmp, 'state'),
    '--image-key', trusted.pub, '--require-signed-images', '--yes', '--json'], { env: env() });
  assert.is(r.code, 24, r.stdout + r.stderr);
  const rep = JSON.parse(r.stdout) as Report;
  assert.is(rep.error?.code, 'SIGNATURE_POLICY');
  assert.match(rep.error?.message ?? '', /^4 image\(s\) not pushed under the signature policy/);
  assert.is(entry(rep, 'good').status, 'loaded');
  assert.is(entry(rep, 'good').signature?.status, 'signed');
  for (const t of TAMPERED) {
    const e = entry(rep, t);
    assert.is(e.status, 'refused', t);
    assert.ok(e.policy, `${t}: refused by the policy`);
    assert.is(e.signature?.status, expected[t].status, `${t}: ${JSON.stringify(e.signature)}`);
    assert.match(e.signature?.reason ?? '', expected[t].reason(), `${t}: ${JSON.stringify(e.signature)}`);
    assert.ok(e.reason?.startsWith(`${expected[t].status}: `), `${t}: the refusal says the status and why: ${e.reason}`);
    assert.match(e.reason ?? '', expected[t].reason(), t);
  }
  // The target: the good image under its tag with the same digest, and its signature beside it.
  assert.is(await craneDigest(`${dst.host}/team/good:1`, { insecure: true }), digests.good);
  ok(await cosignVerify(`${dst.host}/team/good:1`, trusted.pub, { insecure: true }), 'cosign verify on the loaded good image');
  for (const t of TAMPERED) {
    const tag = await crane(['digest', '--insecure', `${dst.host}/team/${t}:1`], undefined);
    assert.is.not(tag.code, 0, `${t}:1 must not exist in the target`);
    const byDigest = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${dst.host}/team/${t}@${digests[t]}`]).then(() => 'found', (e: Error) => e.message);
    assert.match(byDigest, /manifest unknown|not found|name unknown/i, `${t}: not even its manifest by digest`);
    const list = await fetch(`${dst.url}/v2/team/${t}/tags/list`);
    assert.is(list.status, 404, `${t}: no repository at all`);
  }
});

test('without --require-signed-images every image is pushed and the report still says signed / invalid / unsigned per image', async () => {
  const dst2 = await startRegistry();
  try {
    const r = await loadCli(['push', bundleDir, '--trusted-key', join(tmp, 'ferry.pub'), '--to', dst2.host, '--insecure-registry', dst2.host, '--state-dir', join(tmp, 'state2'),
      '--image-key', trusted.pub, '--yes', '--json'], { env: env() });
    assert.is(r.code, 0, r.stdout + r.stderr);
    const rep = JSON.parse(r.stdout) as Report;
    assert.is(entry(rep, 'good').signature?.status, 'signed');
    for (const t of TAMPERED) {
      assert.is(entry(rep, t).status, 'loaded', t);
      assert.is(entry(rep, t).signature?.status, expected[t].status, t);
      assert.match(entry(rep, t).signature?.reason ?? '', expected[t].reason(), t);
    }
    for (const t of NAMES) assert.is(await craneDigest(`${dst2.host}/team/${t}:1`, { insecure: true }), digests[t], `${t} is loaded with its digest`);
    // What was carried is what was there: cosign refuses the tampered ones in the target as well.
    for (const t of TAMPERED) assert.is.not((await cosignVerify(`${dst2.host}/team/${t}:1`, trusted.pub, { insecure: true })).code, 0, t);
  } finally {
    await dst2.stop();
  }
});

test.run();
