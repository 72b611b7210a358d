// Small readers for untrusted JSON and base64: every value a referrer carries is checked for its
// shape before use, and a failure becomes a reason in the report (never an exception: one broken
// signature must not hide the others).

export type JsonRecord = Record<string, unknown>;

export function isRecord(v: unknown): v is JsonRecord {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON.parse that returns the error text instead of throwing. */
export function parseJson(bytes: Uint8Array): { value: unknown } | { error: string } {
  try {
    return { value: JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown };
  } catch (e) {
    return { error: `not JSON (${(e as Error).message.slice(0, 120)})` };
  }
}

/**
 * A field of a signed Go-made document, read as Go's encoding/json reads it into a struct: the key
 * matched case-insensitively (the simple-signing spec's own example writes `Docker-manifest-digest`).
 * Two keys that differ only in case are refused as ambiguous rather than guessed between.
 */
export function goField(obj: JsonRecord, name: string): { value: unknown } | { error: string } | undefined {
  const lower = name.toLowerCase();
  const keys = Object.keys(obj).filter((k) => k.toLowerCase() === lower);
  if (keys.length === 0) return undefined;
  if (keys.length > 1) return { error: `the payload holds "${name}" more than once in different case (${keys.map((k) => JSON.stringify(k)).join(', ')})` };
  return { value: obj[keys[0]!] };
}

const B64_STD_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const B64_URL_RE = /^[A-Za-z0-9_-]*={0,2}$/;

/**
 * Standard or URL-safe base64 (DSSE verifiers must accept both), padding optional; null when the
 * text is anything else. Node's own decoder skips characters it does not know, which would make
 * two different texts decode to the same bytes.
 */
export function decodeBase64(text: string): Buffer | null {
  const s = text.trim();
  if (s.length % 4 === 1) return null;
  if (B64_STD_RE.test(s)) return Buffer.from(s, 'base64');
  if (B64_URL_RE.test(s)) return Buffer.from(s, 'base64url');
  return null;
}
