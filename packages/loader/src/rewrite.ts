// --rewrite FROM=TO: rename repositories on load. FROM matches a whole leading path of the
// repository (`team` matches `team/app`, not `teamx/app`); the first matching rule wins.

import { FerryError } from '@ferry/format-spec';
import { isRepositoryPath } from '@ferry/oci';

export interface RewriteRule {
  from: string;
  to: string;
}

export function parseRewrite(s: string): RewriteRule {
  const eq = s.indexOf('=');
  const from = eq > 0 ? s.slice(0, eq).replace(/\/+$/, '') : '';
  const to = eq > 0 ? s.slice(eq + 1).replace(/\/+$/, '') : '';
  if (!from || (to !== '' && !isRepositoryPath(to))) {
    throw new FerryError('USAGE', `--rewrite ${s}: expected FROM=TO, e.g. --rewrite cleanstart=mirror/cleanstart`);
  }
  return { from, to };
}

export function applyRewrites(repository: string, rules: readonly RewriteRule[]): string {
  for (const r of rules) {
    if (repository === r.from || repository.startsWith(r.from + '/')) {
      const rest = repository.slice(r.from.length).replace(/^\//, '');
      const out = [r.to, rest].filter(Boolean).join('/');
      if (!isRepositoryPath(out)) throw new FerryError('USAGE', `--rewrite ${r.from}=${r.to} turns ${repository} into "${out}", which is not a repository name`);
      return out;
    }
  }
  return repository;
}
