// The name mapping of a push: where each bundled image (and each cosign tag beside it) lands in
// the target. Default: the image's path in the bundle (its source registry host already
// dropped), under --to's prefix; --rewrite rules change the path first (first match wins).
// Shown before pushing, written to the report, and used by `check` to find what push wrote.

import type { BundleImage, BundleReferrer } from '@ferry/format-spec';
import { applyRewrites, rulesForTarget, sourceRegistry, type RewriteRule } from '../rewrite.js';
import type { PushTargets } from './target.js';

/** A referrer tagged beside its image (cosign's sha256-<hex>.sig/.att/.sbom scheme). */
export interface TaggedReferrer {
  image: BundleImage;
  repository: string;
  tag: string;
  ref: string;
  referrer: BundleReferrer;
}

export interface NameMap {
  /** Each image's repository in the target, in manifest order. */
  repos: string[];
  /** Each image's full reference (what users pull), in manifest order. */
  refs: string[];
  referrerTags: TaggedReferrer[];
  show: (repo: string, tag?: string, digest?: string) => string;
}

/** Where a bundle repository lands in the target (`source`: the image source it came from, for
 *  host-qualified --rewrite rules). Also used for the repositories a delta's baseline names. */
export function mapRepository(t: PushTargets, repository: string, rewrites: readonly RewriteRule[], source: string): string {
  const prefix = t.kind === 'registry' ? t.prefix : '';
  const rules = rulesForTarget(rewrites, t.kind === 'registry' ? t.registry : undefined);
  return [prefix, applyRewrites(repository, rules, sourceRegistry(source))].filter(Boolean).join('/');
}

export function mapNames(t: PushTargets, images: readonly BundleImage[], rewrites: readonly RewriteRule[]): NameMap {
  const host = t.kind === 'registry' ? `${t.registry}/` : '';
  const show = (repo: string, tag?: string, digest?: string): string => `${host}${tag ? `${repo}:${tag}` : `${repo}@${digest}`}`;
  const repos = images.map((img) => mapRepository(t, img.repository, rewrites, img.source));
  const referrerTags: TaggedReferrer[] = [];
  images.forEach((img, i) => {
    for (const r of img.referrers ?? []) if (r.scheme === 'cosign-tag' && r.tag) referrerTags.push({ image: img, repository: repos[i]!, tag: r.tag, ref: show(repos[i]!, r.tag), referrer: r });
  });
  return { repos, refs: images.map((img, i) => show(repos[i]!, img.tag, img.digest)), referrerTags, show };
}
