// Registry failures as FerryErrors that always name the reference, the registry and the HTTP
// status, and never a credential: every message passes through redact() with the secrets the
// client knows about, as a second line of defence after never formatting them in.

import { FerryError, type ErrorCode } from '@ferry/format-spec';
import { redactCredentials } from '../redact-credentials.js';

/** Secrets seen in this process (passwords, tokens, auth strings); redact() removes them. */
const secrets = new Set<string>();

export function registerSecret(s: string | undefined): void {
  // Very short strings would redact ordinary words; they are not worth hiding this way.
  if (s && s.length >= 4) secrets.add(s);
}

export function redact(text: string): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join('***');
  // Anything that looks like an Authorization value is cut, whatever it holds, and so is
  // userinfo in any URL or reference quoted (a realm URL, a Location header, a typed reference).
  return redactCredentials(out.replace(/\b(Basic|Bearer)\s+[A-Za-z0-9._~+/=-]{8,}/gi, '$1 ***'));
}

export interface RegistryErrorContext {
  /** registry host[:port] as the user named it. */
  registry: string;
  /** repository path, when the request was about one. */
  repository?: string;
  /** tag or digest, when the request was about one. */
  reference?: string;
}

/** `registry/repo:tag` or `registry/repo@digest` for messages. */
export function describeRef(ctx: RegistryErrorContext): string {
  if (!ctx.repository) return ctx.registry;
  const r = ctx.reference;
  // Tags cannot hold ':', digests always do.
  const suffix = r === undefined ? '' : r.includes(':') ? `@${r}` : `:${r}`;
  return `${ctx.registry}/${ctx.repository}${suffix}`;
}

export function registryError(
  code: ErrorCode,
  ctx: RegistryErrorContext,
  message: string,
  extra: { status?: number; registryCode?: string; cause?: unknown } = {},
): FerryError {
  const details: Record<string, string | number | boolean | null> = {
    reference: redact(describeRef(ctx)),
    registry: redact(ctx.registry),
    status: extra.status ?? null,
  };
  if (extra.registryCode) details.registryCode = redact(extra.registryCode);
  return new FerryError(code, redact(message), details, extra.cause !== undefined ? { cause: extra.cause } : undefined);
}

/** Parse `{"errors":[{code,message,detail}]}` defensively into one short line. */
export function summarizeErrorBody(body: string): { code?: string; text: string } {
  const trimmed = body.trim();
  if (!trimmed) return { text: '' };
  try {
    const j = JSON.parse(trimmed) as { errors?: Array<{ code?: unknown; message?: unknown; detail?: unknown }>; error?: unknown; details?: unknown };
    if (Array.isArray(j.errors) && j.errors.length) {
      const first = j.errors[0]!;
      const code = typeof first.code === 'string' ? first.code : undefined;
      const parts = j.errors.slice(0, 3).map((e) => {
        const detail = typeof e.detail === 'string' ? ` (${e.detail})` : '';
        return `${typeof e.code === 'string' ? e.code : 'ERROR'}: ${typeof e.message === 'string' ? e.message : ''}${detail}`;
      });
      return { ...(code ? { code } : {}), text: parts.join('; ').slice(0, 400) };
    }
    if (typeof j.error === 'string') return { text: `${j.error}${typeof j.details === 'string' ? `: ${j.details}` : ''}`.slice(0, 400) };
  } catch {
    /* not JSON */
  }
  // HTML or plain text: one line, short.
  return { text: trimmed.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200) };
}
