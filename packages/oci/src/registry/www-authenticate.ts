// RFC 7235 WWW-Authenticate parsing, as registries send it: several challenges per header or
// several headers, quoted values holding commas and spaces (scope="repository:a:pull,push"),
// backslash escapes, case-insensitive scheme and parameter names.

export interface Challenge {
  /** Lower-cased scheme: 'bearer', 'basic', ... */
  scheme: string;
  /** Parameter names lower-cased; values unescaped. */
  params: Record<string, string>;
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/** Parse one or more header values into challenges, in order. Malformed tails are dropped. */
export function parseWwwAuthenticate(headers: string | string[] | undefined): Challenge[] {
  if (headers === undefined) return [];
  const list = Array.isArray(headers) ? headers : [headers];
  const out: Challenge[] = [];
  for (const h of list) out.push(...parseOne(h));
  return out;
}

function parseOne(s: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const n = s.length;
  const skipWs = () => { while (i < n && (s[i] === ' ' || s[i] === '\t')) i++; };
  const readToken = () => {
    const start = i;
    while (i < n && TOKEN_CHAR.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  let current: Challenge | undefined;
  while (i < n) {
    skipWs();
    if (s[i] === ',') { i++; continue; }
    const start = i;
    const tok = readToken();
    if (!tok) { i++; continue; } // junk character: skip it
    skipWs();
    if (s[i] === '=' && current) {
      // key=value parameter of the current challenge; a token followed by "=" at the start of
      // a challenge would be token68, which registries do not use.
      i++;
      skipWs();
      let value = '';
      if (s[i] === '"') {
        i++;
        while (i < n && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < n) i++;
          value += s[i];
          i++;
        }
        i++; // closing quote
      } else {
        const vs = i;
        while (i < n && s[i] !== ',' && s[i] !== ' ' && s[i] !== '\t') i++;
        value = s.slice(vs, i);
      }
      current.params[tok.toLowerCase()] = value;
      continue;
    }
    if (i === start) { i++; continue; }
    // A bare token is a new scheme.
    current = { scheme: tok.toLowerCase(), params: {} };
    out.push(current);
  }
  return out;
}

/** The scopes a bearer challenge asks for (space-separated in one `scope` param). */
export function challengeScopes(c: Challenge): string[] {
  return (c.params.scope ?? '').split(' ').filter(Boolean);
}
