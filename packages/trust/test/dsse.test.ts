// DSSE: the PAE of the spec's test vector, envelopes in both base64 alphabets, signatures over the
// PAE only (never the raw payload), any one of several signatures by a trusted key, the verified
// bytes handed on. Real cosign envelopes are in attestations.test.ts.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync, sign } from 'node:crypto';
import { parseEnvelope, preAuthEncoding, verifyEnvelope } from '../src/dsse.js';
import { parseImageKeys, type ImageKey } from '../src/index.js';

const keyOf = (k: ReturnType<typeof generateKeyPairSync>['publicKey']): ImageKey => parseImageKeys(k.export({ type: 'spki', format: 'pem' }).toString(), 'k.pub')[0]!;
const trusted = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const TYPE = 'application/vnd.in-toto+json';
const BODY = Buffer.from('{"_type":"https://in-toto.io/Statement/v1"}');

const envelope = (sigs: Buffer[], b64: 'base64' | 'base64url' = 'base64', payload = BODY) =>
  Buffer.from(JSON.stringify({ payloadType: TYPE, payload: payload.toString(b64), signatures: sigs.map((s) => ({ keyid: 'whatever', sig: s.toString(b64) })) }));

test('PAE of the DSSE spec test vector', () => {
  assert.is(preAuthEncoding('http://example.com/HelloWorld', Buffer.from('hello world')).toString(), 'DSSEv1 29 http://example.com/HelloWorld 11 hello world');
  // Lengths are bytes, not characters.
  assert.is(preAuthEncoding('t', Buffer.from('é')).toString(), 'DSSEv1 1 t 2 é');
});

test('a signature over the PAE by the trusted key verifies, in standard and URL-safe base64, and hands on the verified payload', () => {
  const sig = sign('sha256', preAuthEncoding(TYPE, BODY), trusted.privateKey);
  for (const alphabet of ['base64', 'base64url'] as const) {
    const env = parseEnvelope(envelope([sig], alphabet));
    assert.ok(!('error' in env));
    const v = verifyEnvelope(env as Exclude<typeof env, { error: string }>, [keyOf(trusted.publicKey)]);
    assert.ok(v, alphabet);
    assert.equal(v!.payload, BODY);
    assert.is(v!.algorithm, 'ecdsa-sha256');
  }
});

test('a signature over the raw payload (not the PAE) does not verify', () => {
  const env = parseEnvelope(envelope([sign('sha256', BODY, trusted.privateKey)]));
  assert.is(verifyEnvelope(env as Exclude<typeof env, { error: string }>, [keyOf(trusted.publicKey)]), null);
});

test('several signatures: one by a trusted key is enough, whichever position; none trusted → null', () => {
  const pae = preAuthEncoding(TYPE, BODY);
  const good = sign('sha256', pae, trusted.privateKey);
  const bad = sign('sha256', pae, stranger.privateKey);
  const env = parseEnvelope(envelope([bad, good])) as Exclude<ReturnType<typeof parseEnvelope>, { error: string }>;
  assert.is(verifyEnvelope(env, [keyOf(trusted.publicKey)])?.key.path, 'k.pub');
  const env2 = parseEnvelope(envelope([bad])) as Exclude<ReturnType<typeof parseEnvelope>, { error: string }>;
  assert.is(verifyEnvelope(env2, [keyOf(trusted.publicKey)]), null);
});

test('raw r‖s ECDSA signatures (the DSSE test vectors\' encoding) verify too', () => {
  const sig = sign('sha256', preAuthEncoding(TYPE, BODY), { key: trusted.privateKey, dsaEncoding: 'ieee-p1363' });
  const env = parseEnvelope(envelope([sig])) as Exclude<ReturnType<typeof parseEnvelope>, { error: string }>;
  assert.ok(verifyEnvelope(env, [keyOf(trusted.publicKey)]));
});

test('a payload changed after signing does not verify', () => {
  const sig = sign('sha256', preAuthEncoding(TYPE, BODY), trusted.privateKey);
  const env = parseEnvelope(envelope([sig], 'base64', Buffer.from('{"_type":"https://in-toto.io/Statement/v0.1"}'))) as Exclude<ReturnType<typeof parseEnvelope>, { error: string }>;
  assert.is(verifyEnvelope(env, [keyOf(trusted.publicKey)]), null);
});

test('malformed envelopes are refused with a reason', () => {
  const cases: Array<[string, RegExp]> = [
    ['not json', /not JSON/],
    ['[]', /not a JSON object/],
    ['{"payload":"e30="}', /no payloadType/],
    [JSON.stringify({ payloadType: TYPE, payload: '!!!', signatures: [{ sig: 'AA==' }] }), /payload is not base64/],
    [JSON.stringify({ payloadType: TYPE, payload: 'e30=', signatures: [] }), /no signatures/],
    [JSON.stringify({ payloadType: TYPE, payload: 'e30=', signatures: [{ keyid: 'x' }] }), /has no sig/],
    [JSON.stringify({ payloadType: TYPE, payload: 'e30=', signatures: [{ sig: 'a b' }] }), /not base64/],
  ];
  for (const [text, re] of cases) {
    const r = parseEnvelope(Buffer.from(text));
    assert.ok('error' in r, text);
    assert.match((r as { error: string }).error, re);
  }
});

test.run();
