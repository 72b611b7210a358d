// skopeo's spellings for the connected side: `--tls-verify=false` / `--src-tls-verify=false`
// mean "the registries these --image references name are reached over plain HTTP or unverified
// TLS", the same as --insecure-registry HOST for each of them (and for no other host).

import { parseImageSource, parseReference } from '@ferry/oci';

export function insecureHosts(explicit: readonly string[], sources: readonly string[], tlsVerify: boolean | undefined): string[] {
  const out = [...explicit];
  if (tlsVerify !== false) return out;
  for (const s of sources) {
    try {
      const p = parseImageSource(s);
      if (p.transport === 'docker') out.push(parseReference(p.reference ?? s).registry);
    } catch {
      // A malformed source is reported where it is opened, with its own message.
    }
  }
  return [...new Set(out)];
}
