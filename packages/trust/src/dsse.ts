// DSSE v1.0.2 (secure-systems-lab/dsse protocol.md, envelope.md): the signature is over
// PAE(payloadType, payload), never over the raw payload, and what is handed on is exactly the
// payload bytes that were verified (never a re-parse of the envelope). keyid is unauthenticated
// and ignored: every trusted key is tried on every signature, and one valid signature by a trusted
// key is enough (threshold 1). ECDSA signatures are accepted as DER (what sigstore/cosign write)
// and as raw r‖s (what the DSSE test vectors use).

import { findVerifyingKey, type ImageKey, type SignatureAlgorithm } from './keys.js';
import { decodeBase64, isRecord, parseJson } from './json.js';

/** `DSSEv1 SP LEN(type) SP type SP LEN(body) SP body`, lengths in bytes as ASCII decimal. */
export function preAuthEncoding(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

export interface DsseEnvelope {
  payloadType: string;
  /** The decoded payload: the bytes the signatures are over (inside the PAE). */
  payload: Buffer;
  signatures: Array<{ sig: Buffer; keyid?: string }>;
}

/** Parse an envelope's JSON ({payload, payloadType, signatures: [{sig, keyid?}]}); unknown fields are ignored. */
export function parseEnvelope(bytes: Uint8Array): DsseEnvelope | { error: string } {
  const p = parseJson(bytes);
  if ('error' in p) return { error: `the DSSE envelope is ${p.error}` };
  const e = p.value;
  if (!isRecord(e)) return { error: 'the DSSE envelope is not a JSON object' };
  if (typeof e.payloadType !== 'string') return { error: 'the DSSE envelope has no payloadType' };
  if (typeof e.payload !== 'string') return { error: 'the DSSE envelope has no payload' };
  const payload = decodeBase64(e.payload);
  if (!payload) return { error: 'the DSSE envelope payload is not base64' };
  if (!Array.isArray(e.signatures) || e.signatures.length === 0) return { error: 'the DSSE envelope has no signatures' };
  const signatures: DsseEnvelope['signatures'] = [];
  for (const s of e.signatures) {
    if (!isRecord(s) || typeof s.sig !== 'string') return { error: `signature ${signatures.length + 1} of the DSSE envelope has no sig` };
    const sig = decodeBase64(s.sig);
    if (!sig || sig.length === 0) return { error: `signature ${signatures.length + 1} of the DSSE envelope is not base64` };
    signatures.push({ sig, ...(typeof s.keyid === 'string' ? { keyid: s.keyid } : {}) });
  }
  return { payloadType: e.payloadType, payload, signatures };
}

export interface DsseVerified {
  key: ImageKey;
  algorithm: SignatureAlgorithm;
  /** The payload bytes the signature was checked over. */
  payload: Buffer;
}

/** The first signature of the envelope a trusted key verifies over the PAE, or null. */
export function verifyEnvelope(env: DsseEnvelope, keys: readonly ImageKey[]): DsseVerified | null {
  const pae = preAuthEncoding(env.payloadType, env.payload);
  for (const s of env.signatures) {
    const found = findVerifyingKey(keys, pae, s.sig, { p1363: true });
    if (found) return { ...found, payload: env.payload };
  }
  return null;
}
