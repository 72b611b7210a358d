// The image-signature policy at load time, proven with the real cosign v2.6.5: three images in a
// real registry, one signed with the key the high side trusts, one signed with another key, one
// not signed; one bundle carries them all with their signatures. `ferry-load push --image-key`
// reports signed / invalid / unsigned for each (and loads all); with --require-signed-images into a
// second registry only the signed one is pushed (exit 24 names the others), nothing of the others
// is there (no tag, no manifest), `cosign verify --key` passes against what Ferry loaded and
// `cosign tree` lists the signature, attestation and SBOM loaded beside it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { basename } from 'node:path';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeOciLayout } from '../helpers/images.js';
import { bundleCli, loadCli } from '../helpers/cli.js';
import { startRegistry, type StartedRegistry } from '../harness/registry.js';
import { seedLayout } from '../harness/seed.js';
import { cosignAttachSbom, cosignAttest, cosignKeyPair, cosignSign, cosignTree, cosignVerify, cosignVerifyAttestation, craneDigest, type CosignKeys } from '../harness/cosign.js';
import { writeFile } from 'node:fs/promises';
import { assertReport } from '../helpers/report-schemas.js';

let tmp = '';
let src: StartedRegistry;
let dst: StartedRegistry;
let trusted: CosignKeys;
let bundleDir = '';
const PW = 'cosign pw';

interface Report {
  images: Array<{ ref: string; status: string; reason?: string; policy?: boolean; signature?: { status: string; keys: string[] } }>;
  plan?: { signatures?: Array<{ status: string }> };
  error?: { code: string; message: string };
}

const env = () => ({ HOME: join(tmp, 'home'), REGISTRY_AUTH_FILE: undefined, DOCKER_CONFIG: undefined, FERRY_REGISTRY_CREDS: undefined });

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-e2e-sigpolicy-'));
  await mkdir(join(tmp, 'home'));
  [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
  const layout = join(tmp, 'layout');
  await makeOciLayout(layout, ['good', 'other', 'none'].map((t) => ({ tag: t, platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 30_000, seed: `sig-${t}` }] }] })));
  for (const t of ['good', 'other', 'none']) await seedLayout(src, layout, t, `team/${t}:1`);
  trusted = await cosignKeyPair(join(tmp, 'trusted'), PW);
  const untrusted = await cosignKeyPair(join(tmp, 'untrusted'), PW);
  await cosignSign(`${src.host}/team/good:1`, trusted.key, PW, { insecure: true });
  await cosignSign(`${src.host}/team/other:1`, untrusted.key, PW, { insecure: true });
  const pred = join(tmp, 'provenance.json');
  await writeFile(pred, JSON.stringify({ builder: { id: 'https://ferry.test/builder' }, buildType: 'https://ferry.test/build', invocation: {} }));
  await cosignAttest(`${src.host}/team/good:1`, trusted.key, PW, pred, 'slsaprovenance', { insecure: true });
  const sbom = join(tmp, 'sbom.spdx.json');
  await writeFile(sbom, JSON.stringify({ spdxVersion: 'SPDX-2.3', SPDXID: 'SPDXRef-DOCUMENT', name: 'good', dataLicense: 'CC0-1.0', documentNamespace: 'https://ferry.test/good', creationInfo: { created: '2026-12-01T00:00:00Z', creators: ['Tool: test'] }, packages: [] }));
  await cosignAttachSbom(`${src.host}/team/good:1`, sbom, 'spdx', { insecure: true });
  const k = await bundleCli(['keygen', '--out', join(tmp, 'ferry')], { env: { FERRY_KEY_PASSWORD: '' } });
  assert.is(k.code, 0, k.stderr);
  bundleDir = join(tmp, 'bundle');
  const c = await bundleCli(['create', '--name', 'sig', '--out', bundleDir, '--key', join(tmp, 'ferry.key'), '--insecure-registry', src.host,
    ...['good', 'other', 'none'].flatMap((t) => ['--image', `${src.host}/team/${t}:1`]), '--json'], { env: { ...env(), FERRY_KEY_PASSWORD: '' } });
  assert.is(c.code, 0, c.stderr + c.stdout);
});

test.after(async () => {
  await Promise.all([src?.stop(), dst?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

const sigOf = (r: Report, repo: string) => r.images.find((i) => i.ref.includes(`team/${repo}:1`))!;

test('--image-key reports signed / invalid / unsigned per image, in the plan and the report, and loads them all', async () => {
  const r = await loadCli(['push', bundleDir, '--trusted-key', join(tmp, 'ferry.pub'), '--to', `oci:${join(tmp, 'layout-out')}`, '--image-key', trusted.pub, '--yes', '--json'], { env: env() });
  assert.is(r.code, 0, r.stdout + r.stderr);
  const rep = assertReport('push-report', r.stdout) as unknown as Report;
  assert.is(sigOf(rep, 'good').signature?.status, 'signed');
  assert.is(sigOf(rep, 'good').signature?.keys.length, 1);
  assert.is(sigOf(rep, 'other').signature?.status, 'invalid', 'signed, but by a key the high side does not trust');
  assert.is(sigOf(rep, 'none').signature?.status, 'unsigned');
  assert.ok(rep.images.every((i) => i.status === 'loaded'), 'without the policy every image loads');
  assert.equal(rep.plan?.signatures?.map((s) => s.status).sort(), ['invalid', 'signed', 'unsigned']);
});

test('inspect --image-key shows per image: the signature and its key, the verified attestation types, the SBOMs', async () => {
  const j = await loadCli(['inspect', bundleDir, '--trusted-key', join(tmp, 'ferry.pub'), '--image-key', trusted.pub, '--json'], { env: env() });
  assert.is(j.code, 0, j.stderr);
  const doc = assertReport('inspect-report', j.stdout) as unknown as { images: Array<{ ref: string; signature?: { status: string; attested: string[]; sboms: Array<{ format: string; source: string }> } }> };
  const good = doc.images.find((i) => i.ref.includes('team/good'))!.signature!;
  assert.is(good.status, 'signed');
  assert.ok(good.attested.some((t) => t.startsWith('https://slsa.dev/provenance/')), JSON.stringify(good));
  assert.ok(good.sboms.some((b) => b.format === 'spdx-json' && b.source === 'attachment'), JSON.stringify(good.sboms));
  assert.is(doc.images.find((i) => i.ref.includes('team/other'))!.signature!.status, 'invalid');
  const t = await loadCli(['inspect', bundleDir, '--image-key', trusted.pub], { env: env() });
  assert.match(t.stdout, /signature VERIFIED by sha256:/);
  assert.match(t.stdout, /signature UNSIGNED/);
});

test('ferry-load sbom writes the SBOM cosign attached, named by image and format; attestations prints the verified SLSA predicate, and refuses with an untrusted key', async () => {
  const out = join(tmp, 'sboms');
  const r = await loadCli(['sbom', bundleDir, '--trusted-key', join(tmp, 'ferry.pub'), '--image', 'team/good:1', '--out', out, '--json'], { env: env() });
  assert.is(r.code, 0, r.stdout + r.stderr);
  const doc = assertReport('sbom-report', r.stdout) as { sboms: Array<{ format: string; file?: string }> };
  const spdx = doc.sboms.find((x) => x.format === 'spdx-json' && x.file)!;
  assert.ok(spdx, r.stdout);
  assert.is(basename(spdx.file!), 'team_good_1.spdx.json');
  assert.is((JSON.parse(await readFile(spdx.file!, 'utf8')) as { spdxVersion: string }).spdxVersion, 'SPDX-2.3', 'the exact document cosign attached');
  const bad = await loadCli(['sbom', bundleDir, '--trusted-key', join(tmp, 'ferry.pub'), '--image', 'nope/nothing:1'], { env: env() });
  assert.is(bad.code, 2, bad.stderr);
  const a = await loadCli(['attestations', bundleDir, '--trusted-key', join(tmp, 'ferry.pub'), '--image', 'team/good:1', '--type', 'slsaprovenance', '--image-key', trusted.pub], { env: env() });
  assert.is(a.code, 0, a.stdout + a.stderr);
  const att = assertReport('attestations-report', a.stdout) as { attestations: Array<{ verified: boolean; predicate?: { builder?: { id: string } } }> };
  assert.is(att.attestations.find((x) => x.verified)?.predicate?.builder?.id, 'https://ferry.test/builder');
  const untrusted = await loadCli(['attestations', bundleDir, '--trusted-key', join(tmp, 'ferry.pub'), '--image', 'team/good:1', '--image-key', join(tmp, 'untrusted', 'cosign.pub')], { env: env() });
  assert.is(untrusted.code, 24, untrusted.stdout + untrusted.stderr);
  assertReport('attestations-report', untrusted.stdout, 'attestations, none verified');
  assert.not.ok(untrusted.stdout.includes('ferry.test/builder'), 'an unverified predicate is never printed');
});

test('--require-signed-images: only the image a trusted key signed is pushed (exit 24 names the others); cosign verify agrees on what was loaded', async () => {
  const k8s = join(tmp, 'k8s');
  const r = await loadCli(['push', bundleDir, '--trusted-key', join(tmp, 'ferry.pub'), '--to', dst.host, '--insecure-registry', dst.host, '--state-dir', join(tmp, 'state'),
    '--image-key', trusted.pub, '--require-signed-images', '--k8s-out', k8s, '--yes', '--json'], { env: env() });
  assert.is(r.code, 24, r.stdout + r.stderr);
  const rep = assertReport('push-report', r.stdout) as unknown as Report & { k8s?: Array<{ path: string }> };
  // --k8s-out: the cluster side of this load, with the trusted key in the ConfigMap and policy.
  assert.ok(rep.k8s?.some((f) => f.path === 'cosign-keys.yaml'), JSON.stringify(rep.k8s));
  const pub = (await readFile(trusted.pub, 'utf8')).trim().split('\n')[1]!;
  assert.ok((await readFile(join(k8s, 'cosign-keys.yaml'), 'utf8')).includes(pub), 'the trusted cosign key is in the ConfigMap');
  assert.match(await readFile(join(k8s, 'kyverno', 'cluster-policy.yaml'), 'utf8'), new RegExp(`${dst.host.replace(/[.:]/g, (c) => `\\${c}`)}/team/`));
  assert.is(rep.error?.code, 'SIGNATURE_POLICY');
  assert.is(sigOf(rep, 'good').status, 'loaded');
  for (const t of ['other', 'none']) {
    const i = sigOf(rep, t);
    assert.is(i.status, 'refused', t);
    assert.ok(i.policy, `${t}: refused by the policy, not as hostile content`);
  }
  // Nothing of the refused images is in the target: no tag, not even a manifest or layer.
  for (const t of ['other', 'none']) {
    const tags = await fetch(`${dst.url}/v2/team/${t}/tags/list`);
    assert.is(tags.status, 404, `${t}: no repository at all`);
  }
  assert.is((await cosignVerify(`${dst.host}/team/good:1`, trusted.pub, { insecure: true })).code, 0, 'cosign verifies the loaded image with the trusted key');
  // cosign tree lists the signature, attestation and SBOM Ferry loaded beside it, with the same
  // layers (payload, envelope, document) as on the low side.
  const tree = await cosignTree(`${dst.host}/team/good:1`, { insecure: true });
  assert.is(tree.code, 0, tree.stderr);
  const hex = (await craneDigest(`${dst.host}/team/good:1`, { insecure: true })).slice('sha256:'.length);
  const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  for (const [kind, suffix] of [['Signatures', 'sig'], ['Attestations', 'att'], ['SBOMs', 'sbom']] as const) {
    assert.match(tree.stdout, new RegExp(`${kind} for an image tag: ${esc(dst.host)}/team/good:sha256-${hex}\\.${suffix}\\n\\s+└── 🍒 sha256:[0-9a-f]{64}\\n`), tree.stdout);
  }
  const low = await cosignTree(`${src.host}/team/good:1`, { insecure: true });
  // cosign prints the three groups in map order (it varies from run to run): compare as sets of lines.
  const lines = (t: string, host: string) => t.replaceAll(host, 'HOST').split('\n').map((l) => l.trim()).filter(Boolean).sort();
  assert.equal(lines(tree.stdout, dst.host), lines(low.stdout, src.host), 'the same artifacts and layers as cosign lists on the low side');
  // Without keys the policy cannot be applied: refused before anything is asked of the target.
  const noKey = await loadCli(['push', bundleDir, '--trusted-key', join(tmp, 'ferry.pub'), '--to', `oci:${join(tmp, 'never')}`, '--require-signed-images', '--yes', '--json'], { env: env() });
  assert.is(noKey.code, 2, noKey.stdout);
  assert.match(noKey.stdout, /--image-key/);
});

test('--require-attestation: a verified slsaprovenance attestation lets the image through, a type it lacks keeps it out; cosign verify-attestation agrees', async () => {
  const push = (to: string, state: string, types: string[]) => loadCli(['push', bundleDir, '--trusted-key', join(tmp, 'ferry.pub'), '--to', to, '--insecure-registry', to, '--state-dir', join(tmp, state),
    '--image-key', trusted.pub, ...types.flatMap((t) => ['--require-attestation', t]), '--yes', '--json'], { env: env() });
  const dst2 = await startRegistry();
  try {
    const ok = await push(dst2.host, 's2', ['slsaprovenance']);
    // Only the attested image passes; the other two have no attestation at all.
    assert.is(ok.code, 24, ok.stdout + ok.stderr);
    const rep = assertReport('push-report', ok.stdout) as unknown as Report & { images: Array<{ signature?: { attested: string[]; required?: Array<{ type: string; satisfied: boolean }> } }> };
    assert.is(sigOf(rep, 'good').status, 'loaded');
    assert.ok((sigOf(rep, 'good') as { signature?: { attested: string[] } }).signature?.attested.some((p) => p.startsWith('https://slsa.dev/provenance/')));
    assert.is(sigOf(rep, 'none').status, 'refused');
    assert.is((await cosignVerifyAttestation(`${dst2.host}/team/good:1`, trusted.pub, 'slsaprovenance', { insecure: true })).code, 0, 'cosign verify-attestation passes on what was loaded');
    const lacking = await push(`oci:${join(tmp, 'att-layout')}`, 's3', ['spdxjson']);
    assert.is(lacking.code, 24, lacking.stdout);
    const r2 = assertReport('push-report', lacking.stdout) as unknown as Report;
    assert.is(sigOf(r2, 'good').status, 'refused', 'signed and attested, but not with the type asked for');
    assert.match(sigOf(r2, 'good').reason ?? '', /spdxjson/);
  } finally {
    await dst2.stop();
  }
});

test.run();
