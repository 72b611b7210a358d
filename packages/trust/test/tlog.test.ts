// --trusted-root: log entries required and checked offline. No Rekor runs here (it needs Trillian
// and a database), so the log is played by a key of this test: entries are built as Rekor writes
// them (hashedrekord/dsse/intoto bodies, the SET over the canonical JSON of {body, integratedTime,
// logID, logIndex}, cosign v2's dev.sigstore.cosign/bundle annotation) and signed with that key,
// which the trusted_root.json names. What is checked is that each way of cheating is refused.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { isFerryError } from '@ferry/format-spec';
import { REKOR_BUNDLE_ANNOTATION, checkTlog, parseImageKeys, parseTrustedRoot, setPayload, verifyAttestations, verifyCosignSignatures, type CarriedEntry, type ReferrerInput, type TrustedLogs } from '../src/index.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const digestOf = (b: Uint8Array): string => `sha256:${sha(b)}`;

function logKeys(start = '2020-01-01T00:00:00Z', end?: string): { priv: KeyObject; root: string; logId: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const der = publicKey.export({ format: 'der', type: 'spki' });
  const root = JSON.stringify({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [{ baseUrl: 'https://rekor.test', hashAlgorithm: 'SHA2_256', publicKey: { rawBytes: der.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start, ...(end ? { end } : {}) } }, logId: { keyId: createHash('sha256').update(der).digest('base64') } }],
    certificateAuthorities: [], ctlogs: [], timestampAuthorities: [],
  });
  return { priv: privateKey, root, logId: sha(der) };
}

const log = logKeys();
const logs: TrustedLogs = parseTrustedRoot(log.root, 'trusted_root.json');
const signer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const imageKey = parseImageKeys(signer.publicKey.export({ format: 'pem', type: 'spki' }).toString(), 'cosign.pub')[0]!;
const image = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [] }));
const imageDigest = digestOf(image);

function entry(body: object, o: { time?: number; index?: number; key?: KeyObject; logId?: string } = {}): CarriedEntry {
  const e = { body: Buffer.from(JSON.stringify(body)), integratedTime: o.time ?? 1_760_000_000, logIndex: o.index ?? 42, logId: o.logId ?? log.logId };
  return { ...e, set: sign('sha256', setPayload(e), o.key ?? log.priv) };
}
const hashedrekord = (sig: Buffer, payload: Buffer) => ({ apiVersion: '0.0.1', kind: 'hashedrekord', spec: { data: { hash: { algorithm: 'sha256', value: sha(payload) } }, signature: { content: sig.toString('base64'), publicKey: { content: '' } } } });
const annotation = (e: CarriedEntry) => JSON.stringify({ SignedEntryTimestamp: e.set.toString('base64'), Payload: { body: e.body.toString('base64'), integratedTime: e.integratedTime, logIndex: e.logIndex, logID: e.logId } });

/** A cosign v2 `.sig` referrer for the image, with the Rekor annotation when given. */
function sigReferrer(rekor?: (sig: Buffer, payload: Buffer) => string): ReferrerInput {
  const payload = Buffer.from(JSON.stringify({ critical: { identity: { 'docker-reference': 'registry.test/app' }, image: { 'docker-manifest-digest': imageDigest }, type: 'cosign container image signature' }, optional: null }));
  const sig = sign('sha256', payload, signer.privateKey);
  const layer = { mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', digest: digestOf(payload), size: payload.length, annotations: { 'dev.cosignproject.cosign/signature': sig.toString('base64'), ...(rekor ? { [REKOR_BUNDLE_ANNOTATION]: rekor(sig, payload) } : {}) } };
  const config = Buffer.from('{}');
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: 2 }, layers: [layer] }));
  return { scheme: 'cosign-tag', tag: `sha256-${sha(image)}.sig`, manifest, blobs: new Map([[layer.digest, payload], [digestOf(config), config]]) };
}

const check = (r: ReferrerInput, trustedRoot?: TrustedLogs) => verifyCosignSignatures({ image: { digest: imageDigest, mediaType: 'application/vnd.oci.image.manifest.v1+json', manifest: image }, referrers: [r], keys: [imageKey], ...(trustedRoot ? { trustedRoot } : {}) });

test('a logged signature whose SET the trusted log signed counts; without --trusted-root the log material is not needed', () => {
  const r = sigReferrer((sig, payload) => annotation(entry(hashedrekord(sig, payload))));
  assert.is(check(r, logs).status, 'signed', check(r, logs).signatures[0]?.reason);
  assert.is(check(sigReferrer()).status, 'signed', 'key-based trust alone, as before');
});

test('under --trusted-root: no entry (--tlog-upload=false), a SET by another log, a changed body, another signature, outside the key validity: none counts', () => {
  const none = check(sigReferrer(), logs);
  assert.is(none.status, 'invalid');
  assert.match(none.signatures[0]!.reason ?? '', /no transparency-log entry/);
  const other = logKeys();
  const cases: Array<[string, (sig: Buffer, payload: Buffer) => string, RegExp]> = [
    ['SET by a key not in the root', (sig, p) => annotation(entry(hashedrekord(sig, p), { key: other.priv, logId: other.logId })), /not in the trusted root/],
    ['SET by another key under the trusted log ID', (sig, p) => annotation(entry(hashedrekord(sig, p), { key: other.priv })), /does not verify with the log key/],
    ['the body swapped after the SET', (sig, p) => { const e = entry(hashedrekord(sig, p)); return annotation({ ...e, body: Buffer.from(JSON.stringify(hashedrekord(sig, Buffer.from('x')))) }); }, /does not verify/],
    ['a logged entry for other content', (sig) => annotation(entry(hashedrekord(sig, Buffer.from('other payload')))), /other signed content/],
    ['a logged entry with another signature', (_sig, p) => annotation(entry(hashedrekord(Buffer.from('not it'), p))), /another signature/],
    ['the log index changed after the SET', (sig, p) => { const e = entry(hashedrekord(sig, p)); return annotation({ ...e, logIndex: e.logIndex + 1 }); }, /does not verify/],
  ];
  for (const [what, make, why] of cases) {
    const r = check(sigReferrer(make), logs);
    assert.is(r.status, 'invalid', what);
    assert.match(r.signatures[0]!.reason ?? '', why, `${what}: ${r.signatures[0]!.reason}`);
    assert.is(r.signatures[0]!.keyFingerprint, imageKey.fingerprint, `${what}: the key signature itself verified`);
  }
  const expired = parseTrustedRoot(logKeys('2020-01-01T00:00:00Z', '2021-01-01T00:00:00Z').root, 'old.json');
  const e = { body: Buffer.from('{}'), integratedTime: 1_760_000_000, logIndex: 1, logId: expired.logs[0]!.logId, set: Buffer.alloc(8) };
  assert.match(checkTlog([e], { signature: Buffer.alloc(1), payloadSha256: '' }, expired) ?? '', /outside the validity/);
});

test('dsse and intoto bodies bind a DSSE envelope (attestations); an unverified predicate is never returned', () => {
  const statement = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'app', digest: { sha256: sha(image) } }], predicateType: 'https://slsa.dev/provenance/v1', predicate: { builder: { id: 'b' } } }));
  const type = 'application/vnd.in-toto+json';
  const pae = Buffer.concat([Buffer.from(`DSSEv1 ${type.length} ${type} ${statement.length} `), statement]);
  const sig = sign('sha256', pae, signer.privateKey);
  const env = Buffer.from(JSON.stringify({ payloadType: type, payload: statement.toString('base64'), signatures: [{ keyid: '', sig: sig.toString('base64') }] }));
  const att = (rekor?: string): ReferrerInput => {
    const layer = { mediaType: 'application/vnd.dsse.envelope.v1+json', digest: digestOf(env), size: env.length, annotations: { predicateType: 'https://slsa.dev/provenance/v1', ...(rekor ? { [REKOR_BUNDLE_ANNOTATION]: rekor } : {}) } };
    const config = Buffer.from('{}');
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: 2 }, layers: [layer] }));
    return { scheme: 'cosign-tag', tag: `sha256-${sha(image)}.att`, manifest, blobs: new Map([[layer.digest, env], [digestOf(config), config]]) };
  };
  const run = (r: ReferrerInput) => verifyAttestations({ image: { digest: imageDigest, mediaType: 'application/vnd.oci.image.manifest.v1+json' }, referrers: [r], keys: [imageKey], trustedRoot: logs, types: ['slsaprovenance'] });
  const dsse = { apiVersion: '0.0.1', kind: 'dsse', spec: { payloadHash: { algorithm: 'sha256', value: sha(statement) }, signatures: [{ signature: sig.toString('base64'), verifier: '' }] } };
  const intoto = { apiVersion: '0.0.2', kind: 'intoto', spec: { content: { payloadHash: { algorithm: 'sha256', value: sha(statement) }, envelope: { payloadType: type, signatures: [{ sig: Buffer.from(sig.toString('base64')).toString('base64') }] } } } };
  for (const body of [dsse, intoto]) {
    const r = run(att(annotation(entry(body))));
    assert.is(r.status, 'attested', `${body.kind}: ${r.attestations[0]?.reason}`);
    assert.ok(r.types[0]!.satisfied);
  }
  const unlogged = run(att());
  assert.is(unlogged.status, 'invalid');
  assert.is(unlogged.attestations[0]!.predicate, undefined, 'not counted, so not shown');
  const wrong = run(att(annotation(entry({ ...dsse, spec: { ...dsse.spec, payloadHash: { algorithm: 'sha256', value: sha(Buffer.from('x')) } } }))));
  assert.match(wrong.attestations[0]!.reason ?? '', /another DSSE payload/);
});

test('a trusted root that is not one, or names no log, is refused with the file named', () => {
  for (const [text, why] of [['{"tlogs": 3}', /not a Sigstore trusted root/], ['{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[]}', /names no transparency log/], ['not json', /not a Sigstore trusted root/]] as const) {
    try {
      parseTrustedRoot(text, '/etc/ferry/root.json');
      assert.unreachable(text);
    } catch (e) {
      assert.ok(isFerryError(e, 'IMAGE_KEY_INVALID'), String(e));
      assert.match((e as Error).message, why);
      assert.match((e as Error).message, /\/etc\/ferry\/root\.json/);
    }
  }
});

test.run();
