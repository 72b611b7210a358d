// in-toto statements inside DSSE envelopes: `cosign attest` writes Statement v0.1, cosign's
// `--new-bundle-format` signatures and attestations write Statement v1 (its sign predicate is
// `https://sigstore.dev/cosign/sign/v1`). A statement binds an image when one of its subjects has
// `digest.sha256` equal to the image digest's hex (cosign's intotoSubjectClaimVerifier).

import { isRecord, parseJson } from './json.js';

export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const STATEMENT_TYPES: ReadonlySet<string> = new Set(['https://in-toto.io/Statement/v0.1', 'https://in-toto.io/Statement/v1']);
/** The predicate type of a cosign image signature stored as a Sigstore bundle. */
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';

export interface Statement {
  type: string;
  predicateType: string;
  subjects: Array<{ name?: string; sha256?: string }>;
  predicate: unknown;
}

/** Parse a statement from payload bytes (verified ones, unless only a claim is wanted). */
export function parseStatement(payloadType: string, payload: Uint8Array): Statement | { error: string } {
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE) return { error: `the payload type is ${JSON.stringify(payloadType).slice(0, 100)}, not ${IN_TOTO_PAYLOAD_TYPE}` };
  const p = parseJson(payload);
  if ('error' in p) return { error: `the in-toto statement is ${p.error}` };
  const s = p.value;
  if (!isRecord(s)) return { error: 'the in-toto statement is not a JSON object' };
  if (typeof s._type !== 'string' || !STATEMENT_TYPES.has(s._type)) return { error: `the statement type ${JSON.stringify(s._type ?? null).slice(0, 100)} is not an in-toto Statement v0.1 or v1` };
  if (typeof s.predicateType !== 'string' || s.predicateType === '') return { error: 'the in-toto statement has no predicateType' };
  if (!Array.isArray(s.subject) || s.subject.length === 0) return { error: 'the in-toto statement has no subject' };
  const subjects: Statement['subjects'] = [];
  for (const x of s.subject) {
    if (!isRecord(x) || !isRecord(x.digest)) return { error: 'a subject of the in-toto statement has no digest' };
    const sha256 = x.digest.sha256;
    subjects.push({ ...(typeof x.name === 'string' ? { name: x.name } : {}), ...(typeof sha256 === 'string' ? { sha256 } : {}) });
  }
  return { type: s._type, predicateType: s.predicateType, subjects, predicate: s.predicate };
}

/** The predicateType a payload claims, read without trusting it (for a report line only). */
export function claimedPredicateType(payload: Uint8Array): string | null {
  const p = parseJson(payload);
  return 'value' in p && isRecord(p.value) && typeof p.value.predicateType === 'string' ? p.value.predicateType : null;
}

/** Does a subject of the statement carry the image digest's hex? */
export function bindsDigest(s: Statement, imageHex: string): boolean {
  return s.subjects.some((x) => x.sha256 === imageHex);
}

/** The sha256 subjects of a statement, for a message. */
export function subjectDigests(s: Statement): string {
  const d = s.subjects.map((x) => (x.sha256 ? `sha256:${x.sha256.slice(0, 64)}` : '(no sha256)'));
  return d.length > 3 ? `${d.slice(0, 3).join(', ')} and ${d.length - 3} more` : d.join(', ');
}
