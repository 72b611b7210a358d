// verifyAttestations against attestations the real cosign v2.6.5 wrote (`cosign attest --type
// slsaprovenance|spdxjson`, legacy `.att` tags and `--new-bundle-format` referrers), read back as
// the bundler reads them; `cosign verify-attestation` is the second opinion for the legacy ones.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crane, cosignAttest, cosignSign, cosignVerifyAttestation, type CosignKeys } from '../../../test/harness/cosign.js';
import { isFerryError } from '@ferry/format-spec';
import { PredicateTypes, loadImageKeys, predicateTypesFor, verifyAttestations, verifyCosignSignatures, type AttestationCheck, type ImageKey } from '../src/index.js';
import { carried, cosignKeys, importedKeys, inputFor, layersOf, pick, startLab, withBlob, PASSWORD, type Lab, type LabImage } from './helpers/lab.js';

const NAMES = ['att', 'moved', 'bundle', 'ed'] as const;
let lab: Lab;
let img: Record<(typeof NAMES)[number], LabImage>;
let alice: CosignKeys, bob: CosignKeys, ed: CosignKeys;
let aliceKey: ImageKey, bobKey: ImageKey, edKey: ImageKey;
const hex = (d: string) => d.slice('sha256:'.length);
const access = { insecure: true } as const;
const PROVENANCE = { builder: { id: 'https://ferry.test/builder' }, buildType: 'https://ferry.test/build', invocation: {} };
const SPDX = { spdxVersion: 'SPDX-2.3', SPDXID: 'SPDXRef-DOCUMENT', name: 'att', dataLicense: 'CC0-1.0', documentNamespace: 'https://ferry.test/spdx/att', creationInfo: { created: '2024-01-01T00:00:00Z', creators: ['Tool: ferry-test'] }, packages: [] };

test.before(async () => {
  lab = await startLab(NAMES);
  img = lab.images as typeof img;
  alice = await cosignKeys(lab, 'alice');
  bob = await cosignKeys(lab, 'bob');
  ed = await importedKeys(lab, 'ed', 'ed25519');
  [aliceKey, bobKey, edKey] = (await loadImageKeys([alice.pub, bob.pub, ed.pub])) as [ImageKey, ImageKey, ImageKey];
  const prov = join(lab.dir, 'provenance.json');
  const spdx = join(lab.dir, 'sbom.spdx.json');
  await writeFile(prov, JSON.stringify(PROVENANCE));
  await writeFile(spdx, JSON.stringify(SPDX));
  await cosignAttest(img.att.ref, alice.key, PASSWORD, prov, 'slsaprovenance', access);
  await cosignAttest(img.att.ref, alice.key, PASSWORD, spdx, 'spdxjson', access);
  const cp = await crane(['copy', '--insecure', `${img.att.repo}:sha256-${hex(img.att.digest)}.att`, `${img.moved.repo}:sha256-${hex(img.moved.digest)}.att`], img.att.repo);
  assert.is(cp.code, 0, cp.stderr);
  await cosignSign(img.bundle.ref, alice.key, PASSWORD, { ...access, newBundleFormat: true });
  await cosignAttest(img.bundle.ref, alice.key, PASSWORD, prov, 'slsaprovenance', { ...access, newBundleFormat: true });
  await cosignAttest(img.ed.ref, ed.key, PASSWORD, prov, 'slsaprovenance', access);
});

test.after(async () => {
  await lab?.stop();
});

test('legacy .att with a provenance and an SPDX attestation: both verified, with their predicates; cosign verify-attestation agrees', async () => {
  const r = verifyAttestations(inputFor(img.att, await carried(lab, img.att), [aliceKey]));
  assert.is(r.status, 'attested');
  assert.equal(r.types, []);
  assert.equal(r.attestations.map((a) => [a.predicateType, a.verified, a.format, a.scheme, a.statementType, a.keyFingerprint]), [
    [PredicateTypes.slsaProvenance02, true, 'dsse-envelope', 'cosign-tag', 'https://in-toto.io/Statement/v0.1', aliceKey.fingerprint],
    [PredicateTypes.spdx, true, 'dsse-envelope', 'cosign-tag', 'https://in-toto.io/Statement/v0.1', aliceKey.fingerprint],
  ]);
  const [prov, spdx] = r.attestations as [AttestationCheck, AttestationCheck];
  assert.is((prov.predicate as typeof PROVENANCE).builder.id, PROVENANCE.builder.id);
  assert.equal(spdx.predicate, SPDX);
  assert.is((await cosignVerifyAttestation(img.att.ref, alice.pub, 'slsaprovenance', access)).code, 0);
  assert.is((await cosignVerifyAttestation(img.att.ref, alice.pub, 'spdxjson', access)).code, 0);
});

test('types: cosign short names pick the predicate types, and say which are satisfied', async () => {
  const refs = await carried(lab, img.att);
  const prov = verifyAttestations({ ...inputFor(img.att, refs, [aliceKey]), types: ['slsaprovenance'] });
  assert.equal(prov.attestations.map((a) => a.predicateType), [PredicateTypes.slsaProvenance02]);
  assert.equal(prov.types, [{ type: 'slsaprovenance', predicateTypes: [PredicateTypes.slsaProvenance02, PredicateTypes.slsaProvenance1], satisfied: true }]);
  const two = verifyAttestations({ ...inputFor(img.att, refs, [aliceKey]), types: ['spdxjson', 'cyclonedx'] });
  assert.equal(two.types.map((t) => [t.type, t.satisfied]), [['spdxjson', true], ['cyclonedx', false]]);
  assert.is(two.status, 'attested');
  const none = verifyAttestations({ ...inputFor(img.att, refs, [aliceKey]), types: ['vuln'] });
  assert.equal([none.status, none.attestations.length, none.types[0]!.satisfied], ['none', 0, false]);
  const uri = verifyAttestations({ ...inputFor(img.att, refs, [aliceKey]), types: [PredicateTypes.spdx] });
  assert.is(uri.types[0]!.satisfied, true);
});

test('attested by a key that is not trusted: invalid, no predicate handed out; cosign agrees', async () => {
  const r = verifyAttestations(inputFor(img.att, await carried(lab, img.att), [bobKey]));
  assert.is(r.status, 'invalid');
  for (const a of r.attestations) {
    assert.is(a.verified, false);
    assert.is(a.predicate, undefined);
    assert.is(a.keyFingerprint, null);
    assert.match(a.reason ?? '', /does not verify/);
  }
  assert.equal(r.attestations.map((a) => a.predicateType), [PredicateTypes.slsaProvenance02, PredicateTypes.spdx], 'the claimed types, for the report');
  assert.is.not((await cosignVerifyAttestation(img.att.ref, bob.pub, 'slsaprovenance', access)).code, 0);
});

test('a real attestation of another image, carried under this one: invalid (the statement subject), cosign agrees', async () => {
  const r = verifyAttestations(inputFor(img.moved, await carried(lab, img.moved), [aliceKey]));
  assert.is(r.status, 'invalid');
  for (const a of r.attestations) {
    assert.is(a.keyFingerprint, aliceKey.fingerprint);
    assert.ok(a.reason?.includes(img.att.digest), a.reason);
    assert.is(a.predicate, undefined);
  }
  assert.is.not((await cosignVerifyAttestation(img.moved.ref, alice.pub, 'slsaprovenance', access)).code, 0);
});

test('an envelope changed after signing (payload re-encoded, descriptor updated): invalid', async () => {
  const att = pick(await carried(lab, img.att), '.att');
  const layer = layersOf(att)[0]!;
  const env = JSON.parse(att.blobs.get(layer.digest)!.toString()) as { payload: string };
  env.payload = Buffer.from(Buffer.from(env.payload, 'base64').toString().replace('ferry.test/builder', 'evil.test/builder')).toString('base64');
  const r = verifyAttestations(inputFor(img.att, [withBlob(att, layer.digest, Buffer.from(JSON.stringify(env)), true)], [aliceKey]));
  assert.is(r.attestations[0]!.verified, false);
  assert.match(r.attestations[0]!.reason ?? '', /does not verify/);
  assert.is(r.attestations[1]!.verified, true, 'the other layer is untouched');
});

test('attestations are not signatures, and signatures are not attestations (bundle format: sign + attest on one image)', async () => {
  const att = await carried(lab, img.att);
  assert.is(verifyCosignSignatures(inputFor(img.att, att, [aliceKey])).status, 'unsigned');
  const refs = await carried(lab, img.bundle);
  assert.is(refs.length, 2);
  const s = verifyCosignSignatures(inputFor(img.bundle, refs, [aliceKey]));
  assert.is(s.status, 'signed');
  assert.is(s.signatures.length, 1);
  const a = verifyAttestations(inputFor(img.bundle, refs, [aliceKey]));
  assert.is(a.status, 'attested');
  assert.equal(a.attestations.map((x) => [x.format, x.scheme, x.predicateType, x.statementType, x.verified]), [
    // cosign v2.6.5 still writes Statement v0.1 inside the bundle for `attest` (v1 for `sign`).
    ['sigstore-bundle', 'oci-referrer', PredicateTypes.slsaProvenance02, 'https://in-toto.io/Statement/v0.1', true],
  ]);
  assert.is((a.attestations[0]!.predicate as typeof PROVENANCE).builder.id, PROVENANCE.builder.id);
  assert.is(verifyAttestations(inputFor(img.bundle, refs, [bobKey])).status, 'invalid');
});

test('an attestation cosign made with an Ed25519 key verifies (DSSE over Ed25519ph)', async () => {
  const r = verifyAttestations(inputFor(img.ed, await carried(lab, img.ed), [edKey]));
  assert.is(r.status, 'attested', r.attestations[0]?.reason);
  assert.is(r.attestations[0]!.algorithm, 'ed25519ph', 'cosign v2.6.5 signs the PAE with Ed25519ph too');
});

test('predicateTypesFor: cosign short names, URIs, and a USAGE error for anything else', () => {
  assert.equal(predicateTypesFor('spdx'), [PredicateTypes.spdx]);
  assert.equal(predicateTypesFor('spdxjson'), ['https://spdx.dev/Document']);
  assert.equal(predicateTypesFor('cyclonedx'), ['https://cyclonedx.org/bom']);
  assert.equal(predicateTypesFor('vuln'), ['https://cosign.sigstore.dev/attestation/vuln/v1']);
  assert.equal(predicateTypesFor('custom'), ['https://cosign.sigstore.dev/attestation/v1']);
  assert.equal(predicateTypesFor('slsaprovenance1'), ['https://slsa.dev/provenance/v1']);
  assert.equal(predicateTypesFor('https://example.com/my/predicate/v1'), ['https://example.com/my/predicate/v1']);
  for (const bad of ['slsa', 'not a uri', '']) {
    let err: unknown;
    try {
      predicateTypesFor(bad);
    } catch (e) {
      err = e;
    }
    assert.ok(isFerryError(err, 'USAGE'), `${bad}: ${String(err)}`);
  }
});

test.run();
