// Identity patterns for `--image-identity`: which repositories a simple-signing payload's
// `critical.identity.docker-reference` may name. The reference is the name the signer signed on
// the low side (`ghcr.io/acme/app`), not the name the image gets in the private registry, so
// patterns name upstream repositories. `REPO` matches that repository only (a tag or digest in the
// pattern is ignored); `REPO/*` matches every repository under REPO. Docker Hub spellings are
// folded (`alpine` = `docker.io/library/alpine`) on both sides.

import { FerryError, printable } from '@ferry/format-spec';
import { repositoryOf } from './simple-signing.js';

export interface IdentityPattern {
  /** As given, for messages. */
  text: string;
  /** The normalised repository (or prefix). */
  repository: string;
  /** `REPO/*`: any repository under it. */
  prefix: boolean;
}

/** Parse `--image-identity` values; USAGE for one that names no repository. */
export function parseIdentities(values: string | readonly string[] | undefined): IdentityPattern[] {
  const list = values === undefined ? [] : typeof values === 'string' ? [values] : values;
  return list.map((text) => {
    const prefix = text.endsWith('/*');
    const repository = repositoryOf(prefix ? text.slice(0, -2) : text);
    if (repository === null) {
      throw new FerryError('USAGE', `image identity "${printable(text).slice(0, 200)}" is not an image repository (REGISTRY/PATH, or REGISTRY/PATH/* for everything under it, e.g. ghcr.io/acme/app)`);
    }
    return { text, repository, prefix };
  });
}

/** Does `dockerReference` name a repository one of `patterns` allows? */
export function identityMatches(patterns: readonly IdentityPattern[], dockerReference: string | undefined): boolean {
  if (dockerReference === undefined) return false;
  const repo = repositoryOf(dockerReference);
  if (repo === null) return false;
  return patterns.some((p) => (p.prefix ? repo.startsWith(`${p.repository}/`) : repo === p.repository));
}

/** The patterns, for a reason text. */
export function identitiesText(patterns: readonly IdentityPattern[]): string {
  return patterns.map((p) => printable(p.text).slice(0, 200)).join(', ');
}
