// Image references, parsed the way docker/skopeo do (distribution/reference v0.6 rules), so a
// name typed for `docker pull` means the same registry, repository and tag to Ferry.

import { FerryError, printable } from '@ferry/format-spec';
import { hasCredentials, redactCredentials, redactReference } from './redact-credentials.js';

export const DOCKER_HUB = 'docker.io';
/** Host that actually serves Docker Hub's registry API. */
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';
/** Docker Hub's key in docker config.json `auths` / credential helpers. */
export const DOCKER_HUB_CONFIG_KEY = 'https://index.docker.io/v1/';
export const DEFAULT_TAG = 'latest';

/** Longest `registry/repository` accepted (distribution 2.8 counts the domain too). */
export const NAME_TOTAL_LENGTH_MAX = 255;

export interface ImageReference {
  /** Registry host[:port] as in the reference; `docker.io` for Docker Hub. */
  readonly registry: string;
  /** Repository path, without the registry (`library/alpine`). */
  readonly repository: string;
  /** Tag; `latest` when the reference gave neither tag nor digest. */
  readonly tag?: string;
  /** Digest; when both are given the digest is what is fetched and the tag is metadata. */
  readonly digest?: string;
  /** `registry/repository` */
  readonly name: string;
  /** Normalised form, e.g. `docker.io/library/alpine:latest`. */
  toString(): string;
}

// distribution/reference regexp.go pieces.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const IPV6 = '\\[[a-fA-F0-9:]+\\]';
const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_NAME}|${IPV6})(?::[0-9]+)?$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_GRAMMAR_RE = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const KNOWN_DIGESTS: Record<string, RegExp> = { sha256: /^[a-f0-9]{64}$/, sha512: /^[a-f0-9]{128}$/ };
const IDENTIFIER_RE = /^[a-f0-9]{64}$/;

/** The reference for a message: credentials hidden, controls escaped, at most 300 characters. */
export function showReference(input: string): string {
  return printable(redactReference(input).slice(0, 300));
}

function invalid(input: string, why: string): FerryError {
  const shown = showReference(input);
  return new FerryError('SOURCE_INVALID', `invalid image reference "${shown}": ${printable(redactCredentials(why))}`, { reference: shown });
}

/** Refuse `user:password@` in a reference: it would be echoed, logged and (as an image's source) signed into the manifest. */
export function credentialsRefused(input: string): FerryError {
  return new FerryError(
    'SOURCE_INVALID',
    `image reference "${showReference(input)}" carries credentials (user:password@ before the registry host); remove them: give credentials with --authfile FILE (docker config.json or containers auth.json), docker login, or --creds, never in a reference`,
    { reference: showReference(input) },
  );
}

/** Is `name` (host[:port]) Docker Hub under any of its spellings? */
export function isDockerHub(registry: string): boolean {
  const r = registry.toLowerCase();
  return r === DOCKER_HUB || r === 'index.docker.io' || r === DOCKER_HUB_API_HOST;
}

/** The name used for a registry in references and config lookups (Docker Hub aliases fold to docker.io). */
export function canonicalRegistry(registry: string): string {
  return isDockerHub(registry) ? DOCKER_HUB : registry;
}

/** Host[:port] to send API requests to: docker.io is served by registry-1.docker.io. */
export function registryApiHost(registry: string): string {
  return isDockerHub(registry) ? DOCKER_HUB_API_HOST : registry;
}

/** Key for docker config.json `auths` / `credHelpers` (Docker Hub's legacy URL key). */
export function registryConfigKey(registry: string): string {
  return isDockerHub(registry) ? DOCKER_HUB_CONFIG_KEY : registry;
}

function checkDigest(input: string, digest: string): void {
  if (!DIGEST_GRAMMAR_RE.test(digest)) throw invalid(input, `"${digest}" is not a digest (expected sha256:<64 hex>)`);
  const [alg, hex] = digest.split(':') as [string, string];
  const re = KNOWN_DIGESTS[alg];
  if (!re) throw invalid(input, `unsupported digest algorithm "${alg}" (sha256 or sha512)`);
  if (!re.test(hex)) throw invalid(input, `digest "${digest}" must be ${alg === 'sha256' ? 64 : 128} lowercase hex characters`);
}

function checkRepository(input: string, repository: string): void {
  if (repository !== repository.toLowerCase()) throw invalid(input, `repository name "${repository}" must be lowercase`);
  for (const c of repository.split('/')) {
    if (c === '') throw invalid(input, `repository "${repository}" has an empty path component`);
    if (!PATH_COMPONENT.test(c)) {
      throw invalid(input, `repository path component "${c}" may only hold a-z, 0-9 and single separators (. _ __ -), starting and ending with a letter or digit`);
    }
  }
}

/** A repository path by the OCI name grammar (no registry host): `team/app`, `library/alpine`. */
export function isRepositoryPath(repository: string): boolean {
  return repository !== '' && repository.split('/').every((c) => PATH_COMPONENT.test(c));
}

/** A tag by the OCI grammar. */
export function isTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

function checkTag(input: string, tag: string): void {
  if (!TAG_RE.test(tag)) throw invalid(input, `tag "${tag}" must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`);
}

/**
 * Build a reference from parts (validated), e.g. for a push target. Applies no defaults
 * beyond folding index.docker.io to docker.io; give at least a tag or a digest.
 */
export function makeReference(registry: string, repository: string, tag?: string, digest?: string): ImageReference {
  const input = `${registry}/${repository}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`;
  if (!DOMAIN_RE.test(registry)) throw invalid(input, `registry "${registry}" is not a host[:port]`);
  const reg = registry === 'index.docker.io' ? DOCKER_HUB : registry;
  checkRepository(input, repository);
  if (tag !== undefined) checkTag(input, tag);
  if (digest !== undefined) checkDigest(input, digest);
  const name = `${reg}/${repository}`;
  if (name.length > NAME_TOTAL_LENGTH_MAX) throw invalid(input, `name is ${name.length} characters, more than ${NAME_TOTAL_LENGTH_MAX}`);
  const text = `${name}${tag !== undefined ? `:${tag}` : ''}${digest !== undefined ? `@${digest}` : ''}`;
  const ref: ImageReference = {
    registry: reg,
    repository,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
    name,
    toString: () => text,
  };
  return Object.freeze(ref);
}

/**
 * Parse `[docker://][host[:port]/]path[:tag][@digest]`. Defaults: registry docker.io,
 * `library/` for one-component Docker Hub names, tag `latest` when neither tag nor digest.
 */
export function parseReference(s: string): ImageReference {
  const input = s;
  if (hasCredentials(s)) throw credentialsRefused(s);
  let rest = s.startsWith('docker://') ? s.slice('docker://'.length) : s;
  if (rest === '') throw invalid(input, 'empty reference');
  if (/\s/.test(rest)) throw invalid(input, 'contains whitespace');
  if (IDENTIFIER_RE.test(rest)) throw invalid(input, 'a bare 64-hex string is an image ID, not a repository name');

  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (digest === '') throw invalid(input, 'nothing after "@" (expected a digest)');
  }

  // Domain rule (splitDockerDomain): the first component is a registry only if it looks like
  // a host: it has "." or ":", is "localhost", or has uppercase (illegal in a path).
  let registry = DOCKER_HUB;
  let remainder = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (/[.:]/.test(first) || first === 'localhost' || first !== first.toLowerCase()) {
      registry = first;
      remainder = rest.slice(slash + 1);
      if (!DOMAIN_RE.test(registry)) throw invalid(input, `registry "${registry}" is not a valid host[:port]`);
    }
  }
  if (registry === 'index.docker.io') registry = DOCKER_HUB;

  let tag: string | undefined;
  const colon = remainder.indexOf(':');
  let repository = remainder;
  if (colon >= 0) {
    tag = remainder.slice(colon + 1);
    repository = remainder.slice(0, colon);
    if (tag === '') throw invalid(input, 'nothing after ":" (expected a tag)');
  }
  if (repository === '') throw invalid(input, 'no repository name');
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  if (tag === undefined && digest === undefined) tag = DEFAULT_TAG;
  return makeReference(registry, repository, tag, digest);
}

/** What to ask the registry for: the digest when there is one, else the tag. */
export function referenceTarget(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? DEFAULT_TAG;
}
