// `--trusted-root trusted_root.json`: transparency-log material is required and checked offline.
// Without a trusted root, entries a bundle carries are not read (key-based trust needs none, and
// nothing here could check them). With one, a signature counts only when a log entry for it is
// carried whose signed entry timestamp (SET, Rekor's promise of inclusion) verifies with a log key
// of the trusted root valid at the entry's time, and whose body binds exactly this signature and
// these signed bytes. That is what `cosign verify --offline` checks; inclusion proofs need the
// log's checkpoint history and are not checked (nor needed for the promise).
//
// Where entries are carried: a Sigstore bundle's verificationMaterial.tlogEntries; a cosign v2
// `.sig`/`.att` layer's `dev.sigstore.cosign/bundle` annotation ({SignedEntryTimestamp, Payload}).
// The SET is a signature over the canonical JSON {body, integratedTime, logID (hex), logIndex}.

import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { FerryError, printable } from '@ferry/format-spec';
import { decodeBase64, isRecord, parseJson, type JsonRecord } from './json.js';

/** The cosign v2 annotation holding a Rekor entry with its SET. */
export const REKOR_BUNDLE_ANNOTATION = 'dev.sigstore.cosign/bundle';

export interface TlogKey {
  /** hex sha256 of the DER SPKI (the log ID). */
  logId: string;
  baseUrl: string;
  key: KeyObject;
  /** Seconds since the epoch; the key signs entries integrated in [start, end). */
  start: number;
  end: number;
}

export interface TrustedLogs {
  /** Where it was read from, for messages. */
  path: string;
  logs: TlogKey[];
}

/** One log entry as carried, in either form. */
export interface CarriedEntry {
  body: Buffer;
  integratedTime: number;
  logIndex: number;
  /** hex */
  logId: string;
  set: Buffer;
}

/** What a log entry must bind: the signature and the sha256 of the bytes it signs. */
export interface SignedArtifact {
  signature: Buffer;
  /** sha256 (hex) of what was signed: the payload, the artifact, or the DSSE payload. */
  payloadSha256: string;
}

/** Read a Sigstore trusted_root.json; only its transparency logs are used. */
export async function loadTrustedRoot(path: string): Promise<TrustedLogs> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new FerryError('INPUT_NOT_FOUND', `--trusted-root ${printable(path)}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  return parseTrustedRoot(text, path);
}

export function parseTrustedRoot(text: string, path: string): TrustedLogs {
  const bad = (why: string): FerryError => new FerryError('IMAGE_KEY_INVALID', `--trusted-root ${printable(path)}: ${why}`);
  let root: TrustedRoot;
  try {
    const json: unknown = JSON.parse(text);
    // fromJSON takes anything (missing fields become defaults): the shape is checked first.
    if (!isRecord(json) || typeof json.mediaType !== 'string' || !json.mediaType.startsWith('application/vnd.dev.sigstore.trustedroot') || !Array.isArray(json.tlogs)) {
      throw new Error('expected an object with mediaType application/vnd.dev.sigstore.trustedroot+json and a tlogs list');
    }
    root = TrustedRoot.fromJSON(json);
  } catch (e) {
    throw bad(`not a Sigstore trusted root (${printable((e as Error).message).slice(0, 120)})`);
  }
  const logs: TlogKey[] = [];
  for (const t of root.tlogs) {
    if (!t.publicKey?.rawBytes?.length) throw bad(`the log ${printable(t.baseUrl)} has no public key`);
    let key: KeyObject;
    try {
      key = createPublicKey({ key: Buffer.from(t.publicKey.rawBytes), format: 'der', type: 'spki' });
    } catch {
      throw bad(`the public key of log ${printable(t.baseUrl)} is not a DER SubjectPublicKeyInfo`);
    }
    const logId = createHash('sha256').update(Buffer.from(t.publicKey.rawBytes)).digest('hex');
    const v = t.publicKey.validFor;
    logs.push({ logId, baseUrl: t.baseUrl, key, start: v?.start ? v.start.getTime() / 1000 : 0, end: v?.end ? v.end.getTime() / 1000 : Infinity });
  }
  if (!logs.length) throw bad('it names no transparency log, so no entry could ever verify');
  return { path, logs };
}

/** Rekor's canonical JSON of an entry: the bytes its SET signs (keys sorted, no spaces). */
export function setPayload(e: Omit<CarriedEntry, 'set'>): Buffer {
  return Buffer.from(`{"body":${JSON.stringify(e.body.toString('base64'))},"integratedTime":${e.integratedTime},"logID":${JSON.stringify(e.logId)},"logIndex":${e.logIndex}}`);
}

function verifySet(e: CarriedEntry, logs: TrustedLogs): string | null {
  const log = logs.logs.find((l) => l.logId === e.logId);
  if (!log) return `its log ${printable(e.logId).slice(0, 64)} is not in the trusted root`;
  if (e.integratedTime < log.start || e.integratedTime >= log.end) return `it was logged at ${new Date(e.integratedTime * 1000).toISOString()}, outside the validity of the log key of ${printable(log.baseUrl)}`;
  const algo = log.key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
  let ok = false;
  try {
    ok = verify(algo, setPayload(e), log.key, e.set);
  } catch {
    ok = false;
  }
  return ok ? null : `its signed entry timestamp does not verify with the log key of ${printable(log.baseUrl)}`;
}

const str = (o: unknown, ...path: string[]): string | undefined => {
  let v: unknown = o;
  for (const k of path) v = isRecord(v) ? (v as JsonRecord)[k] : undefined;
  return typeof v === 'string' ? v : undefined;
};

/** Does the entry's body (hashedrekord, dsse or intoto) bind this signature and these bytes? */
function bodyBinds(body: Buffer, a: SignedArtifact): string | null {
  const p = parseJson(body);
  if ('error' in p || !isRecord(p.value)) return 'its body is not a Rekor entry';
  const kind = str(p.value, 'kind');
  const spec = (p.value as JsonRecord).spec;
  const sameSig = (b64: string | undefined, twice = false): boolean => {
    let s = b64 === undefined ? null : decodeBase64(b64);
    if (s && twice) s = decodeBase64(s.toString('utf8')) ?? s;
    return s !== null && s.equals(a.signature);
  };
  const sameHash = (h: string | undefined): boolean => h !== undefined && h.toLowerCase() === a.payloadSha256;
  if (kind === 'hashedrekord') {
    if (str(spec, 'data', 'hash', 'algorithm') !== 'sha256') return 'its body hashes with another algorithm than sha256';
    if (!sameHash(str(spec, 'data', 'hash', 'value'))) return 'its body is for other signed content';
    return sameSig(str(spec, 'signature', 'content')) ? null : 'its body holds another signature';
  }
  if (kind === 'dsse') {
    if (!sameHash(str(spec, 'payloadHash', 'value'))) return 'its body is for another DSSE payload';
    const sigs = isRecord(spec) && Array.isArray((spec as JsonRecord).signatures) ? ((spec as JsonRecord).signatures as unknown[]) : [];
    return sigs.some((s) => sameSig(str(s, 'signature'))) ? null : 'its body holds another signature';
  }
  if (kind === 'intoto') {
    const content = isRecord(spec) ? (spec as JsonRecord).content : undefined;
    if (!sameHash(str(content, 'payloadHash', 'value'))) return 'its body is for another in-toto payload';
    const env = isRecord(content) ? (content as JsonRecord).envelope : undefined;
    const sigs = isRecord(env) && Array.isArray((env as JsonRecord).signatures) ? ((env as JsonRecord).signatures as unknown[]) : [];
    // intoto v0.0.2 stores each sig base64-encoded once more.
    return sigs.some((s) => sameSig(str(s, 'sig'), true) || sameSig(str(s, 'sig'))) ? null : 'its body holds another signature';
  }
  return `its body is of kind ${printable(String(kind)).slice(0, 40)}, not one that records a signature`;
}

/**
 * Null when one of `entries` is a logged, promised entry for `a`; else why not (for the reason of
 * a signature that does not count).
 */
export function checkTlog(entries: readonly CarriedEntry[], a: SignedArtifact, logs: TrustedLogs): string | null {
  if (!entries.length) return `it carries no transparency-log entry, which --trusted-root ${printable(logs.path)} requires (signed with --tlog-upload=false?)`;
  const why: string[] = [];
  for (const e of entries) {
    const bad = verifySet(e, logs) ?? bodyBinds(e.body, a);
    if (bad === null) return null;
    why.push(bad);
  }
  return `no transparency-log entry it carries counts: ${why[0]}`;
}

/** The entry in a cosign v2 `dev.sigstore.cosign/bundle` annotation, if there is a usable one. */
export function entriesFromAnnotation(text: string | undefined): CarriedEntry[] {
  if (text === undefined) return [];
  const p = parseJson(Buffer.from(text));
  if ('error' in p || !isRecord(p.value)) return [];
  const setText = str(p.value, 'SignedEntryTimestamp');
  const payload = (p.value as JsonRecord).Payload;
  if (setText === undefined || !isRecord(payload)) return [];
  const pl = payload as JsonRecord;
  const body = typeof pl.body === 'string' ? decodeBase64(pl.body) : null;
  const set = decodeBase64(setText);
  if (!body || !set || typeof pl.integratedTime !== 'number' || typeof pl.logIndex !== 'number' || typeof pl.logID !== 'string') return [];
  return [{ body, set, integratedTime: pl.integratedTime, logIndex: pl.logIndex, logId: pl.logID.toLowerCase() }];
}

/** The entries of a Sigstore bundle (as @sigstore/bundle decodes them) that carry a SET. */
export function entriesFromBundle(list: ReadonlyArray<{ logIndex: string; logId?: { keyId: Buffer } | undefined; integratedTime: string; inclusionPromise?: { signedEntryTimestamp: Buffer } | undefined; canonicalizedBody: Buffer }>): CarriedEntry[] {
  const out: CarriedEntry[] = [];
  for (const e of list) {
    if (!e.inclusionPromise || !e.logId) continue;
    const integratedTime = Number(e.integratedTime);
    const logIndex = Number(e.logIndex);
    if (!Number.isSafeInteger(integratedTime) || !Number.isSafeInteger(logIndex)) continue;
    out.push({ body: Buffer.from(e.canonicalizedBody), set: Buffer.from(e.inclusionPromise.signedEntryTimestamp), integratedTime, logIndex, logId: Buffer.from(e.logId.keyId).toString('hex') });
  }
  return out;
}

/**
 * With a trusted root, a verified check stays verified only when one of the `signed` variants
 * (each signature the item carries, with what it signs) has a logged entry; otherwise it becomes
 * unverified with the reason. Without a trusted root it is returned as it is.
 */
export function requireLogged<T extends { verified: boolean; reason?: string }>(check: T, entries: readonly CarriedEntry[], signed: readonly SignedArtifact[], logs: TrustedLogs | undefined): T {
  if (!logs || !check.verified) return check;
  let why: string | null = 'no signature to look up';
  for (const a of signed) {
    why = checkTlog(entries, a, logs);
    if (why === null) return check;
  }
  const out = { ...check, verified: false, reason: `signed by a trusted key, but ${why}` };
  delete (out as { predicate?: unknown }).predicate; // never content a check did not pass
  return out;
}

/** What a DSSE envelope's log entry binds: each of its signatures, with its payload. */
export function loggedEnvelope(env: { payload: Uint8Array; signatures: ReadonlyArray<{ sig: Uint8Array }> }): SignedArtifact[] {
  const payloadSha256 = createHash('sha256').update(env.payload).digest('hex');
  return env.signatures.map((s) => ({ signature: Buffer.from(s.sig), payloadSha256 }));
}
