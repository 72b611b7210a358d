// --rewrite FROM=TO: rename repositories on load. FROM matches a whole leading path of the
// repository (`team` matches `team/app`, not `teamx/app`); the first matching rule wins. A FROM
// that starts with a registry host (`gcr.io/cleanstart`, the seed's sed rule) matches the
// image's source registry and path. TO is a path under --to; a TO that names the --to host
// itself (`private.registry.local/cleanstart`) is taken as the path after it.

import { FerryError, printable } from '@ferry/format-spec';
import { isRepositoryPath, parseImageSource, parseReference } from '@ferry/oci';

export interface RewriteRule {
  from: string;
  to: string;
}

export function parseRewrite(s: string): RewriteRule {
  const eq = s.indexOf('=');
  const from = eq > 0 ? s.slice(0, eq).replace(/\/+$/, '') : '';
  const to = eq > 0 ? s.slice(eq + 1).replace(/\/+$/, '') : '';
  // TO is a repository path, or (the form sed scripts use) the --to registry and a path after it.
  const first = to.split('/')[0] ?? '';
  const path = looksLikeHost(first) ? to.slice(first.length + 1) : to;
  if (!from || (to !== '' && (!isRepositoryPath(path) || (looksLikeHost(first) && !/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(first))))) {
    throw new FerryError('USAGE', `--rewrite ${s}: expected FROM=TO, e.g. --rewrite cleanstart=mirror/cleanstart`);
  }
  return { from, to };
}

/** `gcr.io`, `host:5000`, `localhost`: what a first path component must look like to be a host. */
export function looksLikeHost(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost';
}

/** The registry an image was bundled from (`gcr.io`, `docker.io`), when it came from one. */
export function sourceRegistry(source: string): string | undefined {
  try {
    const p = parseImageSource(source);
    return p.transport === 'docker' && p.reference ? parseReference(p.reference).registry : undefined;
  } catch {
    return undefined;
  }
}

/** Rules as they apply under `--to registry`: a TO naming that registry loses the host; another host is refused. */
export function rulesForTarget(rules: readonly RewriteRule[], registry: string | undefined): RewriteRule[] {
  return rules.map((r) => {
    const first = r.to.split('/')[0] ?? '';
    if (!looksLikeHost(first)) return r;
    if (registry !== undefined && first === registry) return { from: r.from, to: r.to.slice(first.length + 1) };
    throw new FerryError('USAGE', `--rewrite ${printable(r.from)}=${printable(r.to)}: TO is a path under --to${registry ? ` ${printable(registry)}` : ''}, not another registry; e.g. --rewrite ${printable(r.from)}=${printable(r.to.slice(first.length + 1) || 'mirror')}`);
  });
}

export function applyRewrites(repository: string, rules: readonly RewriteRule[], fromRegistry?: string): string {
  for (const r of rules) {
    const hostRule = looksLikeHost(r.from.split('/')[0] ?? '');
    const subject = hostRule ? (fromRegistry !== undefined ? `${fromRegistry}/${repository}` : undefined) : repository;
    if (subject !== undefined && (subject === r.from || subject.startsWith(r.from + '/'))) {
      const rest = subject.slice(r.from.length).replace(/^\//, '');
      const out = [r.to, rest].filter(Boolean).join('/');
      if (!isRepositoryPath(out)) throw new FerryError('USAGE', `--rewrite ${printable(r.from)}=${printable(r.to)} turns ${printable(repository)} into "${printable(out)}", which is not a repository name`);
      return out;
    }
  }
  return repository;
}
