// Credentials typed into an image reference or a URL (`alice:s3cr3t@registry.example.com/app`,
// `docker://alice:s3cr3t@host/app`, `https://alice:s3cr3t@host/…`) must never be echoed back:
// not in an error, a report, a log line or JSON. redactCredentials() replaces the userinfo
// before the host with `***`, wherever such a reference sits in a piece of text.
//
// Not credentials, and left alone: `repo@sha256:<hex>` digest references, local transports
// (`oci:/path/with@sign`, `docker-archive:a@b.tar`), and paths with an `@` in a component
// (`node_modules/@ferry/oci`, `/run/user@1000/x`), and a chart `name@1.2.3` (no password, and a
// version where a host would be). When in doubt it hides more, not less.
// @ferry/oci re-exports these; cli-kit applies redactCredentials() to every error and log line.

/** Transports Ferry reads whose argument is a local path, in which `@` means nothing. (The
 *  ones it does not support, like docker-daemon:, are redacted like a reference: they are only
 *  ever quoted in a refusal.) */
const LOCAL_TRANSPORT_RE = /^(?:oci|oci-archive|docker-archive):(?!\/\/)/;
/** `scheme://` (docker://, https://, oci://, chartmuseum+https://...). */
const SCHEME_RE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;
/** What follows the `@` of a digest reference: `sha256:<hex>` and the other digest grammars. */
const DIGEST_AFTER_AT_RE = /^(?:sha256|sha384|sha512|blake3)(?::|$)|^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}/;
/** A host[:port] (DNS name or [IPv6]) that ends the token or is followed by a path. */
const HOST_AFTER_AT_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[A-Fa-f0-9:.]+\])(?::[0-9]*)?(?:[/?#]|$)/;
/** A whole token `NAME@VERSION` (a chart and its SemVer version): no password before the `@`,
 *  nothing after the version, so nothing secret can be in it. */
const CHART_VERSION_AFTER_AT_RE = /^v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;
/** A token of a message: what lies between whitespace and quotes (a bracket stays in the token
 *  and is hidden with the userinfo, so a password holding one is not cut in two). */
const TOKEN_RE = /[^\s"'`]+/g;

/** The userinfo of one token (without its scheme), or -1 when there is none. */
function userinfoEnd(rest: string): number {
  let best = -1;
  for (let at = rest.indexOf('@'); at >= 0; at = rest.indexOf('@', at + 1)) {
    const after = rest.slice(at + 1);
    if (at === 0 || DIGEST_AFTER_AT_RE.test(after) || !HOST_AFTER_AT_RE.test(after)) continue;
    const user = rest.slice(0, at);
    if (!user.includes(':') && CHART_VERSION_AFTER_AT_RE.test(after)) continue;
    // A path is not userinfo: it starts with / or . , or has a / with no ':' before it
    // (a password may hold a '/', then the user:password colon comes first).
    if (/^[/.~]/.test(user)) continue;
    const slash = user.indexOf('/');
    if (slash >= 0 && !user.slice(0, slash).includes(':')) continue;
    best = at; // the last such '@': a password may itself hold '@'
  }
  return best;
}

function redactToken(token: string): string {
  const scheme = SCHEME_RE.exec(token)?.[0] ?? '';
  const rest = token.slice(scheme.length);
  if (!scheme && LOCAL_TRANSPORT_RE.test(rest)) return token;
  const end = userinfoEnd(rest);
  return end < 0 ? token : `${scheme}***${rest.slice(end)}`;
}

/**
 * `s` with any userinfo before a host replaced by `***`:
 * `alice:s3cr3t@registry.example.com/team/app:1` -> `***@registry.example.com/team/app:1`,
 * `docker://u:p@host/x` -> `docker://***@host/x`. Works on a bare reference and on a whole
 * message quoting one (each whitespace- or quote-separated word is looked at on its own).
 */
export function redactCredentials(s: string): string {
  if (!s.includes('@')) return s;
  return /[\s"'`]/.test(s) ? s.replace(TOKEN_RE, redactToken) : redactToken(s);
}

/**
 * One reference exactly as the user typed it (which may hold spaces or quotes inside a
 * password): the whole string is one token. For messages that quote a rejected reference.
 */
export function redactReference(reference: string): string {
  return reference.includes('@') ? redactCredentials(redactToken(reference)) : reference;
}

/** True when a reference (or URL) carries userinfo (`user[:password]@`) before its host. */
export function hasCredentials(reference: string): boolean {
  return redactReference(reference) !== reference;
}
