// verifyCosignSignatures against signatures the real cosign v2.6.5 wrote into a real registry
// (legacy `sha256-<hex>.sig` tags, `--registry-referrers-mode=oci-1-1` referrers,
// `--new-bundle-format` Sigstore bundle referrers, a `sign-blob` message-signature bundle), read
// back as the bundler reads them, with `cosign verify` as the second opinion wherever cosign
// itself can verify.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { constants, createPrivateKey, sign } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crane, cosignSign, cosignSignBlobBundle, cosignVerify, type CosignKeys } from '../../../test/harness/cosign.js';
import { writeOciReferrer } from '../../../test/harness/seed.js';
import { RegistryClient } from '../../oci/src/index.js'; // the class test/harness/seed.ts takes
import { isFerryError } from '@ferry/format-spec';
import { loadImageKeys, verifyCosignSignatures, type ImageKey, type ReferrerInput } from '../src/index.js';
import { carried, cosignKeys, importedKeys, inputFor, layersOf, pick, startLab, withBlob, PASSWORD, type Lab, type LabImage } from './helpers/lab.js';

const NAMES = ['legacy', 'multi', 'victim', 'unsigned', 'ed', 'rsa', 'p384', 'bundle', 'bundle-ed', 'bundle-rsa', 'bundle-p384', 'oci11', 'msg'] as const;
let lab: Lab;
let img: Record<(typeof NAMES)[number], LabImage>;
let alice: CosignKeys, bob: CosignKeys, ed: CosignKeys, rsa: CosignKeys, p384: CosignKeys;
let aliceKey: ImageKey, bobKey: ImageKey, edKey: ImageKey, rsaKey: ImageKey, p384Key: ImageKey;
let emptyRoot: string;
const hex = (d: string) => d.slice('sha256:'.length);
const access = { insecure: true } as const;

test.before(async () => {
  lab = await startLab(NAMES);
  img = lab.images as typeof img;
  alice = await cosignKeys(lab, 'alice');
  bob = await cosignKeys(lab, 'bob');
  ed = await importedKeys(lab, 'ed', 'ed25519');
  rsa = await importedKeys(lab, 'rsa', 'rsa');
  p384 = await importedKeys(lab, 'p384', 'p384');
  [aliceKey, bobKey, edKey, rsaKey, p384Key] = (await loadImageKeys([alice.pub, bob.pub, ed.pub, rsa.pub, p384.pub])) as [ImageKey, ImageKey, ImageKey, ImageKey, ImageKey];

  await cosignSign(img.legacy.ref, alice.key, PASSWORD, access);
  await cosignSign(img.multi.ref, bob.key, PASSWORD, access);
  await cosignSign(img.multi.ref, alice.key, PASSWORD, access);
  await cosignSign(img.ed.ref, ed.key, PASSWORD, access);
  await cosignSign(img.rsa.ref, rsa.key, PASSWORD, access);
  await cosignSign(img.p384.ref, p384.key, PASSWORD, access);
  await cosignSign(img.bundle.ref, alice.key, PASSWORD, { ...access, newBundleFormat: true });
  await cosignSign(img['bundle-ed'].ref, ed.key, PASSWORD, { ...access, newBundleFormat: true });
  await cosignSign(img['bundle-rsa'].ref, rsa.key, PASSWORD, { ...access, newBundleFormat: true });
  await cosignSign(img['bundle-p384'].ref, p384.key, PASSWORD, { ...access, newBundleFormat: true });
  await cosignSign(img.oci11.ref, alice.key, PASSWORD, { ...access, referrersMode: 'oci-1-1' });
  // legacy's signature, copied under the victim's tag: a real cosign signature for another digest.
  const cp = await crane(['copy', '--insecure', `${img.legacy.repo}:sha256-${hex(img.legacy.digest)}.sig`, `${img.victim.repo}:sha256-${hex(img.victim.digest)}.sig`], img.legacy.repo);
  assert.is(cp.code, 0, cp.stderr);
  // A message-signature bundle over msg's manifest bytes (cosign sign-blob), pushed as a referrer.
  const manifestFile = join(lab.dir, 'msg-manifest.json');
  await writeFile(manifestFile, img.msg.manifest);
  const bundle = await cosignSignBlobBundle(manifestFile, alice.key, PASSWORD, join(lab.dir, 'msg.bundle.json'));
  const c = new RegistryClient(lab.reg.host, { insecure: [lab.reg.host] });
  await writeOciReferrer(c, img.msg.path, { mediaType: img.msg.mediaType, digest: img.msg.digest, size: img.msg.size }, 'application/vnd.dev.sigstore.bundle.v0.3+json', bundle);
  c.close();
  // What `cosign trusted-root create` writes when given no service: cosign v2.6.5 needs a trusted
  // root to verify a bundle at all, even with --key and --insecure-ignore-tlog.
  emptyRoot = join(lab.dir, 'trusted_root.json');
  await writeFile(emptyRoot, '{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}');
});

test.after(async () => {
  await lab?.stop();
});

const cosignBundleVerify = (ref: string, pub: string) => cosignVerify(ref, pub, { ...access, args: ['--new-bundle-format', '--trusted-root', emptyRoot] });

test('legacy .sig by a cosign-generated P-256 key: signed, by that key, naming the repository; cosign verify agrees', async () => {
  const r = verifyCosignSignatures(inputFor(img.legacy, await carried(lab, img.legacy), [aliceKey]));
  assert.is(r.status, 'signed');
  assert.is(r.digest, img.legacy.digest);
  assert.is(r.signatures.length, 1);
  const s = r.signatures[0]!;
  assert.equal(
    { scheme: s.scheme, format: s.format, tag: s.tag, verified: s.verified, key: s.keyFingerprint, path: s.keyPath, alg: s.algorithm, ref: s.dockerReference, reason: s.reason },
    { scheme: 'cosign-tag', format: 'simple-signing', tag: `sha256-${hex(img.legacy.digest)}.sig`, verified: true, key: aliceKey.fingerprint, path: alice.pub, alg: 'ecdsa-sha256', ref: img.legacy.repo, reason: undefined },
  );
  assert.match(s.referrer, /^sha256:[0-9a-f]{64}$/);
  assert.is((await cosignVerify(img.legacy.ref, alice.pub, access)).code, 0);
});

test('signed by a key that is not trusted: invalid, no key named; cosign verify with that key refuses too', async () => {
  const r = verifyCosignSignatures(inputFor(img.legacy, await carried(lab, img.legacy), [bobKey]));
  assert.is(r.status, 'invalid');
  assert.is(r.signatures[0]!.verified, false);
  assert.is(r.signatures[0]!.keyFingerprint, null);
  assert.match(r.signatures[0]!.reason ?? '', /does not verify with the trusted key/);
  assert.is.not((await cosignVerify(img.legacy.ref, bob.pub, access)).code, 0);
});

test('a keyless signature (a certificate beside it) is not accepted offline, and the reason says so', async () => {
  const sig = pick(await carried(lab, img.legacy), '.sig');
  const m = JSON.parse(sig.manifest.toString()) as { layers: Array<{ annotations: Record<string, string> }> };
  m.layers[0]!.annotations['dev.sigstore.cosign/certificate'] = '-----BEGIN CERTIFICATE-----\nMAo=\n-----END CERTIFICATE-----\n';
  const r = verifyCosignSignatures(inputFor(img.legacy, [{ ...sig, manifest: Buffer.from(JSON.stringify(m)) }], [bobKey]));
  assert.is(r.status, 'invalid');
  assert.match(r.signatures[0]!.reason ?? '', /keyless/);
  const [ref] = await carried(lab, img.bundle) as [ReferrerInput];
  const layer = layersOf(ref)[0]!;
  const b = JSON.parse(ref.blobs.get(layer.digest)!.toString()) as { verificationMaterial: unknown };
  b.verificationMaterial = { certificate: { rawBytes: 'MAo=' } };
  const rb = verifyCosignSignatures(inputFor(img.bundle, [withBlob(ref, layer.digest, Buffer.from(JSON.stringify(b)), true)], [bobKey]));
  assert.is(rb.status, 'invalid');
  assert.match(rb.signatures[0]!.reason ?? '', /keyless/);
});

test('several trusted keys: the one that signed is named', async () => {
  const r = verifyCosignSignatures(inputFor(img.legacy, await carried(lab, img.legacy), [bobKey, aliceKey]));
  assert.is(r.status, 'signed');
  assert.is(r.signatures[0]!.keyPath, alice.pub);
});

test('no trusted key at all: the signature is there but not valid (invalid, not unsigned)', async () => {
  const r = verifyCosignSignatures(inputFor(img.legacy, await carried(lab, img.legacy), []));
  assert.is(r.status, 'invalid');
  assert.match(r.signatures[0]!.reason ?? '', /no trusted key/);
});

test('two signatures in one .sig (an untrusted one, then a trusted one): signed, both shown', async () => {
  const r = verifyCosignSignatures(inputFor(img.multi, await carried(lab, img.multi), [aliceKey]));
  assert.is(r.status, 'signed');
  assert.equal(r.signatures.map((s) => s.verified).sort(), [false, true]);
  assert.is(new Set(r.signatures.map((s) => s.referrer)).size, 1, 'one manifest, two layers');
});

test('a real cosign signature for another image, carried under this image: invalid, naming the other digest; cosign agrees', async () => {
  const refs = await carried(lab, img.victim);
  assert.is(pick(refs, '.sig').tag, `sha256-${hex(img.victim.digest)}.sig`);
  const r = verifyCosignSignatures(inputFor(img.victim, refs, [aliceKey]));
  assert.is(r.status, 'invalid');
  const s = r.signatures[0]!;
  assert.is(s.verified, false);
  assert.is(s.keyFingerprint, aliceKey.fingerprint, 'the signature itself is by the trusted key');
  assert.ok(s.reason?.includes(img.legacy.digest), s.reason);
  assert.is.not((await cosignVerify(img.victim.ref, alice.pub, access)).code, 0);
});

test('tampered payload: changed with its descriptor updated → the signature fails; changed alone → the digest check fails', async () => {
  const sig = pick(await carried(lab, img.legacy), '.sig');
  const layer = layersOf(sig)[0]!;
  const payload = sig.blobs.get(layer.digest)!;
  // Same length, so the size check does not catch it first.
  const forged = Buffer.from(payload.toString().replace(img.legacy.repo, `${img.legacy.repo.slice(0, -1)}X`));
  assert.is.not(forged.toString(), payload.toString());
  const a = verifyCosignSignatures(inputFor(img.legacy, [withBlob(sig, layer.digest, forged, true)], [aliceKey]));
  assert.is(a.status, 'invalid');
  assert.match(a.signatures[0]!.reason ?? '', /does not verify/);
  const b = verifyCosignSignatures(inputFor(img.legacy, [withBlob(sig, layer.digest, forged, false)], [aliceKey]));
  assert.is(b.status, 'invalid');
  assert.match(b.signatures[0]!.reason ?? '', /does not match its digest/);
  const gone = verifyCosignSignatures(inputFor(img.legacy, [{ ...sig, blobs: new Map() }], [aliceKey]));
  assert.match(gone.signatures[0]!.reason ?? '', /not carried/);
});

test('no signature carried: unsigned', async () => {
  assert.equal(await carried(lab, img.unsigned), []);
  const r = verifyCosignSignatures(inputFor(img.unsigned, [], [aliceKey]));
  assert.equal(r, { digest: img.unsigned.digest, status: 'unsigned', signatures: [] });
});

test('identity: the repository the payload names must be the one asked for (Docker Hub names normalised)', async () => {
  const refs = await carried(lab, img.legacy);
  assert.is(verifyCosignSignatures(inputFor(img.legacy, refs, [aliceKey], { identity: img.legacy.repo })).status, 'signed');
  assert.is(verifyCosignSignatures(inputFor(img.legacy, refs, [aliceKey], { identity: `${img.legacy.repo}:v1` })).status, 'signed', 'a tag in the identity is not part of the repository');
  const other = verifyCosignSignatures(inputFor(img.legacy, refs, [aliceKey], { identity: img.multi.repo }));
  assert.is(other.status, 'invalid');
  assert.ok(other.signatures[0]!.reason?.includes(img.multi.repo), other.signatures[0]!.reason);
  assert.is(other.signatures[0]!.keyFingerprint, aliceKey.fingerprint);
});

test('identity patterns: REPO/* allows what is under REPO only, several patterns are alternatives, a bundle signature proves no name', async () => {
  const refs = await carried(lab, img.legacy);
  const repo = img.legacy.repo; // HOST:PORT/NAME
  const parent = repo.slice(0, repo.lastIndexOf('/'));
  assert.is(verifyCosignSignatures(inputFor(img.legacy, refs, [aliceKey], { identity: [`${parent}/*`] })).status, 'signed');
  assert.is(verifyCosignSignatures(inputFor(img.legacy, refs, [aliceKey], { identity: [`${repo}/*`] })).status, 'invalid', 'REPO/* is what is under REPO, not a name that starts with it');
  assert.is(verifyCosignSignatures(inputFor(img.legacy, refs, [aliceKey], { identity: [`${repo}x`] })).status, 'invalid', 'no prefix match without /*');
  assert.is(verifyCosignSignatures(inputFor(img.legacy, refs, [aliceKey], { identity: [img.multi.repo, repo] })).status, 'signed');
  const b = verifyCosignSignatures(inputFor(img.bundle, await carried(lab, img.bundle), [aliceKey], { identity: [img.bundle.repo] }));
  assert.is(b.status, 'invalid');
  assert.match(b.signatures[0]!.reason ?? '', /names no repository/);
  assert.is(verifyCosignSignatures(inputFor(img.bundle, await carried(lab, img.bundle), [aliceKey])).status, 'signed', 'without identities the bundle signature counts');
});

test('an identity that is not a repository is a usage error', async () => {
  let err: unknown;
  try {
    verifyCosignSignatures(inputFor(img.legacy, [], [aliceKey], { identity: 'Not A Repo' }));
  } catch (e) {
    err = e;
  }
  assert.ok(isFerryError(err, 'USAGE'), String(err));
});

test('Ed25519 key imported into cosign: cosign signs with Ed25519ph, which verifies (cosign v2.6.5 verify itself cannot)', async () => {
  const r = verifyCosignSignatures(inputFor(img.ed, await carried(lab, img.ed), [edKey]));
  assert.is(r.status, 'signed', r.signatures[0]?.reason);
  assert.is(r.signatures[0]!.algorithm, 'ed25519ph');
  // cosign v2.6.5 signs Ed25519 keys with Ed25519ph (pkg/cosign/keys.go) but `verify --key` loads a
  // pure Ed25519 verifier: it refuses its own signature. Should a later pin fix that, this says so.
  assert.is.not((await cosignVerify(img.ed.ref, ed.pub, access)).code, 0);
  assert.is(verifyCosignSignatures(inputFor(img.ed, await carried(lab, img.ed), [aliceKey])).status, 'invalid');
});

/** The .sig referrer of `image` with its one layer's signature annotation replaced. */
async function resigned(image: LabImage, make: (payload: Buffer) => Buffer): Promise<ReferrerInput> {
  const sig = pick(await carried(lab, image), '.sig');
  const m = JSON.parse(sig.manifest.toString()) as { layers: Array<{ digest: string; annotations: Record<string, string> }> };
  const payload = sig.blobs.get(m.layers[0]!.digest)!;
  m.layers[0]!.annotations['dev.cosignproject.cosign/signature'] = make(payload).toString('base64');
  return { ...sig, manifest: Buffer.from(JSON.stringify(m)) };
}

async function privateKeyOf(k: CosignKeys, name: string) {
  // The openssl PEM the cosign key was imported from (importedKeys keeps it beside the key).
  return createPrivateKey(await readFile(join(lab.dir, 'keys', name, `${name}.pem`)));
}

test('Ed25519: a pure Ed25519 signature over the real cosign payload verifies too (older cosign, other signers)', async () => {
  const priv = await privateKeyOf(ed, 'ed');
  const r = verifyCosignSignatures(inputFor(img.ed, [await resigned(img.ed, (p) => sign(null, p, priv))], [edKey]));
  assert.is(r.status, 'signed');
  assert.is(r.signatures[0]!.algorithm, 'ed25519');
});

test('RSA key imported into cosign: PKCS#1 v1.5 SHA-256 verifies, and cosign agrees; an RSA-PSS signature over the payload verifies too', async () => {
  const r = verifyCosignSignatures(inputFor(img.rsa, await carried(lab, img.rsa), [rsaKey]));
  assert.is(r.status, 'signed', r.signatures[0]?.reason);
  assert.is(r.signatures[0]!.algorithm, 'rsa-pkcs1v15-sha256');
  assert.is((await cosignVerify(img.rsa.ref, rsa.pub, access)).code, 0);
  const priv = await privateKeyOf(rsa, 'rsa');
  const pss = verifyCosignSignatures(inputFor(img.rsa, [await resigned(img.rsa, (p) => sign('sha256', p, { key: priv, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }))], [rsaKey]));
  assert.is(pss.status, 'signed');
  assert.is(pss.signatures[0]!.algorithm, 'rsa-pss-sha256');
  // PKCS#1 v1.5 over SHA-512 is nothing cosign writes: refused.
  const other = verifyCosignSignatures(inputFor(img.rsa, [await resigned(img.rsa, (p) => sign('sha512', p, priv))], [rsaKey]));
  assert.is(other.status, 'invalid');
});

test('P-384 key imported into cosign: cosign signs over SHA-384, which verifies (cosign verify needs --signature-digest-algorithm sha384)', async () => {
  const r = verifyCosignSignatures(inputFor(img.p384, await carried(lab, img.p384), [p384Key]));
  assert.is(r.status, 'signed', r.signatures[0]?.reason);
  assert.is(r.signatures[0]!.algorithm, 'ecdsa-sha384');
  assert.is.not((await cosignVerify(img.p384.ref, p384.pub, access)).code, 0);
  assert.is((await cosignVerify(img.p384.ref, p384.pub, { ...access, args: ['--signature-digest-algorithm', 'sha384'] })).code, 0);
  const priv = await privateKeyOf(p384, 'p384');
  const s256 = verifyCosignSignatures(inputFor(img.p384, [await resigned(img.p384, (p) => sign('sha256', p, priv))], [p384Key]));
  assert.is(s256.signatures[0]!.algorithm, 'ecdsa-sha256', 'what cosign verify checks by default');
});

test('--new-bundle-format: a Sigstore bundle referrer (DSSE, cosign sign predicate) is a signature; cosign verify agrees', async () => {
  const refs = await carried(lab, img.bundle);
  assert.is(refs.length, 1);
  assert.is(refs[0]!.scheme, 'oci-referrer');
  const r = verifyCosignSignatures(inputFor(img.bundle, refs, [aliceKey]));
  assert.is(r.status, 'signed', r.signatures[0]?.reason);
  const s = r.signatures[0]!;
  assert.equal([s.scheme, s.format, s.algorithm, s.keyFingerprint, s.tag], ['oci-referrer', 'sigstore-bundle', 'ecdsa-sha256', aliceKey.fingerprint, undefined]);
  assert.is((await cosignBundleVerify(img.bundle.ref, alice.pub)).code, 0);
  assert.is.not((await cosignBundleVerify(img.bundle.ref, bob.pub)).code, 0);
});

test('bundle signed by an untrusted key: invalid, naming the key the bundle claims', async () => {
  const r = verifyCosignSignatures(inputFor(img.bundle, await carried(lab, img.bundle), [bobKey]));
  assert.is(r.status, 'invalid');
  assert.ok(r.signatures[0]!.reason?.includes(`names key ${aliceKey.fingerprint}, which is not a trusted key`), r.signatures[0]!.reason);
});

test('bundle for another image: moved under another subject it is refused twice over (subject, then the signed statement)', async () => {
  const [ref] = await carried(lab, img.bundle) as [ReferrerInput];
  const asIs = verifyCosignSignatures(inputFor(img.victim, [ref], [aliceKey]));
  assert.is(asIs.status, 'invalid');
  assert.match(asIs.signatures[0]!.reason ?? '', /subject is/);
  // The referrer manifest is not signed: re-point its subject, and the signed statement still names the old image.
  const m = JSON.parse(ref.manifest.toString()) as { subject: { digest: string; size: number } };
  m.subject = { ...m.subject, digest: img.victim.digest, size: img.victim.size };
  const moved = verifyCosignSignatures(inputFor(img.victim, [{ ...ref, manifest: Buffer.from(JSON.stringify(m)) }], [aliceKey]));
  assert.is(moved.status, 'invalid');
  assert.is(moved.signatures[0]!.keyFingerprint, aliceKey.fingerprint);
  assert.ok(moved.signatures[0]!.reason?.includes(img.bundle.digest), moved.signatures[0]!.reason);
});

test('bundle with its DSSE payload changed: the signature fails', async () => {
  const [ref] = await carried(lab, img.bundle) as [ReferrerInput];
  const layer = layersOf(ref)[0]!;
  const b = JSON.parse(ref.blobs.get(layer.digest)!.toString()) as { dsseEnvelope: { payload: string } };
  const statement = Buffer.from(b.dsseEnvelope.payload, 'base64').toString();
  b.dsseEnvelope.payload = Buffer.from(statement.replace(hex(img.bundle.digest), hex(img.victim.digest))).toString('base64');
  const r = verifyCosignSignatures(inputFor(img.bundle, [withBlob(ref, layer.digest, Buffer.from(JSON.stringify(b)), true)], [aliceKey]));
  assert.is(r.status, 'invalid');
  assert.match(r.signatures[0]!.reason ?? '', /does not verify/);
  assert.match(r.signatures[0]!.reason ?? '', /names the trusted key .* changed after signing/);
});

test('bundles made with Ed25519, RSA and P-384 keys verify (ed25519ph, PKCS#1 v1.5, SHA-384); cosign agrees on RSA', async () => {
  const cases: Array<[LabImage, ImageKey, string]> = [[img['bundle-ed'], edKey, 'ed25519ph'], [img['bundle-rsa'], rsaKey, 'rsa-pkcs1v15-sha256'], [img['bundle-p384'], p384Key, 'ecdsa-sha384']];
  for (const [image, key, alg] of cases) {
    const r = verifyCosignSignatures(inputFor(image, await carried(lab, image), [key]));
    assert.is(r.status, 'signed', `${image.path}: ${r.signatures[0]?.reason}`);
    assert.is(r.signatures[0]!.algorithm, alg);
    assert.is(verifyCosignSignatures(inputFor(image, await carried(lab, image), [aliceKey])).status, 'invalid');
  }
  assert.is((await cosignBundleVerify(img['bundle-rsa'].ref, rsa.pub)).code, 0);
});

test('--registry-referrers-mode=oci-1-1: the simple-signing signature as an OCI 1.1 referrer verifies; cosign agrees', async () => {
  const refs = await carried(lab, img.oci11);
  assert.equal(refs.map((r) => [r.scheme, r.artifactType]), [['oci-referrer', 'application/vnd.dev.cosign.artifact.sig.v1+json']]);
  const r = verifyCosignSignatures(inputFor(img.oci11, refs, [aliceKey]));
  assert.is(r.status, 'signed', r.signatures[0]?.reason);
  assert.equal([r.signatures[0]!.scheme, r.signatures[0]!.format], ['oci-referrer', 'simple-signing']);
  assert.is((await cosignVerify(img.oci11.ref, alice.pub, { ...access, args: ['--experimental-oci11'], env: { COSIGN_EXPERIMENTAL: '1' } })).code, 0);
});

test('a cosign sign-blob message-signature bundle over the manifest verifies with the manifest bytes, and only with them', async () => {
  const refs = await carried(lab, img.msg);
  const withManifest = verifyCosignSignatures({ ...inputFor(img.msg, refs, [aliceKey]), image: { digest: img.msg.digest, mediaType: img.msg.mediaType, manifest: img.msg.manifest } });
  assert.is(withManifest.status, 'signed', withManifest.signatures[0]?.reason);
  assert.is(withManifest.signatures[0]!.format, 'sigstore-bundle');
  const without = verifyCosignSignatures(inputFor(img.msg, refs, [aliceKey]));
  assert.is(without.status, 'invalid');
  assert.match(without.signatures[0]!.reason ?? '', /manifest bytes/);
  const wrong = verifyCosignSignatures({ ...inputFor(img.msg, refs, [aliceKey]), image: { digest: img.msg.digest, mediaType: img.msg.mediaType, manifest: img.legacy.manifest } });
  assert.is(wrong.status, 'invalid');
  assert.is(verifyCosignSignatures({ ...inputFor(img.msg, refs, [bobKey]), image: { digest: img.msg.digest, mediaType: img.msg.mediaType, manifest: img.msg.manifest } }).status, 'invalid');
});

test('a malformed image digest is refused (SCHEMA_INVALID)', () => {
  let err: unknown;
  try {
    verifyCosignSignatures({ image: { digest: 'sha256:xyz', mediaType: 'application/vnd.oci.image.manifest.v1+json' }, referrers: [], keys: [] });
  } catch (e) {
    err = e;
  }
  assert.ok(isFerryError(err, 'SCHEMA_INVALID'), String(err));
});

test.run();
