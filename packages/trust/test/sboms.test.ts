// listSboms / readSbom against what the real cosign v2.6.5 wrote (`cosign attach sbom` as a
// `.sbom` tag and as an OCI 1.1 referrer, `cosign attest --type spdxjson|spdx|cyclonedx`), and an
// oras-style OCI 1.1 SBOM referrer, read back as the bundler reads them.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cosignAttachSbom, cosignAttest, type CosignKeys } from '../../../test/harness/cosign.js';
import { writeOciReferrer } from '../../../test/harness/seed.js';
import { RegistryClient } from '../../oci/src/index.js'; // the class test/harness/seed.ts takes
import { isFerryError } from '@ferry/format-spec';
import { listSboms, loadImageKeys, readSbom, type ImageKey, type SbomEntry } from '../src/index.js';
import { carried, cosignKeys, inputFor, pick, startLab, withBlob, PASSWORD, type Lab, type LabImage } from './helpers/lab.js';

const NAMES = ['attached', 'cdx', 'oci11', 'attested', 'oras', 'bundle', 'plain'] as const;
let lab: Lab;
let img: Record<(typeof NAMES)[number], LabImage>;
let alice: CosignKeys;
let aliceKey: ImageKey;
const access = { insecure: true } as const;
const sha = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');

const SPDX_JSON = Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', SPDXID: 'SPDXRef-DOCUMENT', name: 'x', dataLicense: 'CC0-1.0', documentNamespace: 'https://ferry.test/x', creationInfo: { created: '2024-01-01T00:00:00Z', creators: ['Tool: t'] }, packages: [] }));
const SPDX_TV = 'SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\nSPDXID: SPDXRef-DOCUMENT\nDocumentName: x\n';
const CDX_JSON = Buffer.from(JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5', version: 1, components: [] }));
const CDX_XML = '<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.5" version="1"><components/></bom>\n';

async function file(name: string, content: Buffer | string): Promise<string> {
  const p = join(lab.dir, name);
  await writeFile(p, content);
  return p;
}

test.before(async () => {
  lab = await startLab(NAMES);
  img = lab.images as typeof img;
  alice = await cosignKeys(lab, 'alice');
  [aliceKey] = (await loadImageKeys([alice.pub])) as [ImageKey];
  await cosignAttachSbom(img.attached.ref, await file('s.spdx.json', SPDX_JSON), 'spdx', access);
  await cosignAttachSbom(img.cdx.ref, await file('c.cdx.xml', CDX_XML), 'cyclonedx', { ...access, inputFormat: 'xml' });
  await cosignAttachSbom(img.oci11.ref, await file('s2.spdx.json', SPDX_JSON), 'spdx', { ...access, referrersMode: 'oci-1-1' });
  await cosignAttest(img.attested.ref, alice.key, PASSWORD, await file('a.spdx.json', SPDX_JSON), 'spdxjson', access);
  await cosignAttest(img.attested.ref, alice.key, PASSWORD, await file('a.spdx', SPDX_TV), 'spdx', access);
  await cosignAttest(img.attested.ref, alice.key, PASSWORD, await file('prov.json', '{"builder":{"id":"b"},"buildType":"t","invocation":{}}'), 'slsaprovenance', access);
  await cosignAttest(img.bundle.ref, alice.key, PASSWORD, await file('b.cdx.json', CDX_JSON), 'cyclonedx', { ...access, newBundleFormat: true });
  const c = new RegistryClient(lab.reg.host, { insecure: [lab.reg.host] });
  await writeOciReferrer(c, img.oras.path, { mediaType: img.oras.mediaType, digest: img.oras.digest, size: img.oras.size }, 'application/spdx+json', SPDX_JSON);
  c.close();
});

test.after(async () => {
  await lab?.stop();
});

const shape = (e: SbomEntry) => ({ source: e.source, scheme: e.scheme, format: e.format, mediaType: e.mediaType, digest: e.digest, size: e.size, verified: e.verified });

test('cosign attach sbom (SPDX JSON, .sbom tag): an unsigned attachment, its bytes exactly as attached', async () => {
  const input = inputFor(img.attached, await carried(lab, img.attached), [aliceKey]);
  const list = listSboms(input);
  assert.equal(list.map(shape), [{ source: 'attachment', scheme: 'cosign-tag', format: 'spdx-json', mediaType: 'text/spdx+json', digest: sha(SPDX_JSON), size: SPDX_JSON.length, verified: undefined }]);
  assert.is(list[0]!.tag?.endsWith('.sbom'), true);
  assert.equal(readSbom(input, list[0]!), SPDX_JSON);
});

test('cosign attach sbom --type cyclonedx --input-format xml: cyclonedx-xml', async () => {
  const list = listSboms(inputFor(img.cdx, await carried(lab, img.cdx), []));
  assert.equal(list.map((e) => [e.source, e.format, e.mediaType, e.digest]), [['attachment', 'cyclonedx-xml', 'application/vnd.cyclonedx+xml', sha(CDX_XML)]]);
});

test('cosign attach sbom --registry-referrers-mode=oci-1-1: the attachment as an OCI 1.1 referrer', async () => {
  const input = inputFor(img.oci11, await carried(lab, img.oci11), []);
  const list = listSboms(input);
  assert.equal(list.map((e) => [e.source, e.scheme, e.format, e.digest]), [['attachment', 'oci-referrer', 'spdx-json', sha(SPDX_JSON)]]);
  assert.equal(readSbom(input, list[0]!), SPDX_JSON);
});

test('SBOM attestations (spdxjson, spdx tag-value): verified with the key, the predicate readable; provenance is not an SBOM', async () => {
  const input = inputFor(img.attested, await carried(lab, img.attested), [aliceKey]);
  const list = listSboms(input);
  assert.equal(list.map((e) => [e.source, e.format, e.mediaType, e.verified, e.predicateType, e.keyFingerprint]), [
    ['attestation', 'spdx-json', 'application/spdx+json', true, 'https://spdx.dev/Document', aliceKey.fingerprint],
    ['attestation', 'spdx-tag-value', 'text/spdx', true, 'https://spdx.dev/Document', aliceKey.fingerprint],
  ]);
  const json = readSbom(input, list[0]!);
  assert.equal(JSON.parse(json.toString()), JSON.parse(SPDX_JSON.toString()));
  assert.is(list[0]!.digest, sha(json));
  assert.is(list[0]!.size, json.length);
  assert.is(readSbom(input, list[1]!).toString(), SPDX_TV);
});

test('SBOM attestations without a trusted key: listed, not verified, not readable (SIGNATURE_INVALID)', async () => {
  const input = inputFor(img.attested, await carried(lab, img.attested), []);
  const list = listSboms(input);
  assert.is(list.length, 2);
  for (const e of list) {
    assert.equal([e.verified, e.digest, e.size], [false, undefined, undefined]);
    assert.match(e.reason ?? '', /no trusted key/);
    let err: unknown;
    try {
      readSbom(input, e);
    } catch (x) {
      err = x;
    }
    assert.ok(isFerryError(err, 'SIGNATURE_INVALID'), String(err));
  }
});

test('a CycloneDX attestation in a Sigstore bundle referrer (--new-bundle-format)', async () => {
  const input = inputFor(img.bundle, await carried(lab, img.bundle), [aliceKey]);
  const list = listSboms(input);
  assert.equal(list.map((e) => [e.source, e.scheme, e.format, e.verified]), [['attestation', 'oci-referrer', 'cyclonedx-json', true]]);
  assert.equal(JSON.parse(readSbom(input, list[0]!).toString()), JSON.parse(CDX_JSON.toString()));
});

test('an OCI 1.1 referrer with artifactType application/spdx+json (oras attach style)', async () => {
  const input = inputFor(img.oras, await carried(lab, img.oras), []);
  const list = listSboms(input);
  assert.equal(list.map(shape), [{ source: 'referrer', scheme: 'oci-referrer', format: 'spdx-json', mediaType: 'application/spdx+json', digest: sha(SPDX_JSON), size: SPDX_JSON.length, verified: undefined }]);
  assert.equal(readSbom(input, list[0]!), SPDX_JSON);
});

test('a damaged attachment blob is listed with the reason and not read (BLOB_MISMATCH); no referrers → no SBOMs', async () => {
  const ref = pick(await carried(lab, img.attached), '.sbom');
  const damaged = withBlob(ref, sha(SPDX_JSON), Buffer.from(SPDX_JSON.toString().replace('SPDX-2.3', 'SPDX-9.9')), false);
  const input = inputFor(img.attached, [damaged], []);
  const [e] = listSboms(input);
  assert.is(e!.digest, undefined);
  assert.match(e!.reason ?? '', /does not match its digest/);
  let err: unknown;
  try {
    readSbom(input, e!);
  } catch (x) {
    err = x;
  }
  assert.ok(isFerryError(err, 'BLOB_MISMATCH'), String(err));
  assert.equal(listSboms(inputFor(img.plain, await carried(lab, img.plain), [])), []);
});

test.run();
