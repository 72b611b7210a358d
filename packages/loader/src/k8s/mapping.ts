// Where each bundled image is in the target and what it was called on the connected side: the
// two names every Kubernetes output is written from. The target name comes from push's own
// mapping (mapNames, with the same --rewrite rules), never from a second copy of its rules, so
// what the cluster is told matches where push put the images. The source name is the registry
// and path the image was bundled from (pods and charts still say `gcr.io/team/app:1`); images
// bundled from a layout or an archive have none, and no mirror can send pulls to them.
//
// From the pairs come the prefix rules a node's mirror configuration can express
// (registries.conf and ImageDigestMirrorSet replace the longest matching prefix). Every rule is
// checked against every image: an image the rules would send elsewhere gets a rule of its own,
// and one no rule can reach is reported, never silently left out.

import type { BundleImage } from '@ferry/format-spec';
import { parseImageSource, parseReference } from '@ferry/oci';
import { mapNames } from '../push/names.js';
import type { PushTargets } from '../push/target.js';
import type { RewriteRule } from '../rewrite.js';

export interface SourceName {
  /** `gcr.io`, `docker.io`, `registry.example:5000`. */
  registry: string;
  /** Path in that registry (`library/nginx` for Docker Hub's official images). */
  repository: string;
  tag?: string;
}

export interface MappedImage {
  /** The repository push wrote, with the target host: `registry.local:5000/mirror/team/app`. */
  target: string;
  /** What push tagged (`HOST/REPO:TAG`), or `HOST/REPO@DIGEST` for an untagged image. */
  ref: string;
  tag?: string;
  digest: string;
  /** The name on the connected side, for an image bundled from a registry. */
  source?: SourceName;
  /** The bundle carries a cosign signature tag (`sha256-<hex>.sig`) for it, pushed beside it. */
  cosignSignature: boolean;
}

export interface ImageMapping {
  /** Target registry host[:port]. */
  registry: string;
  /** Repository path every image went under ('' for none). */
  prefix: string;
  images: MappedImage[];
}

/** The source registry and path of a bundled image, when it came from a registry. */
export function sourceName(img: BundleImage): SourceName | undefined {
  try {
    const p = parseImageSource(img.source);
    if (p.transport !== 'docker' || !p.reference) return undefined;
    const r = parseReference(p.reference);
    return { registry: r.registry, repository: r.repository, ...(r.tag !== undefined && r.digest === undefined ? { tag: r.tag } : {}) };
  } catch {
    return undefined;
  }
}

/** Every image as push names it in a registry target, beside its source name. */
export function mapImages(targets: PushTargets & { kind: 'registry' }, images: readonly BundleImage[], rewrites: readonly RewriteRule[]): ImageMapping {
  const names = mapNames(targets, images, rewrites);
  return {
    registry: targets.registry,
    prefix: targets.prefix,
    images: images.map((img, i) => {
      const source = sourceName(img);
      return {
        target: `${targets.registry}/${names.repos[i]!}`,
        ref: names.refs[i]!,
        ...(img.tag !== undefined ? { tag: img.tag } : {}),
        digest: img.digest,
        ...(source ? { source } : {}),
        cosignSignature: (img.referrers ?? []).some((r) => r.scheme === 'cosign-tag' && r.subject === img.digest && (r.tag?.endsWith('.sig') ?? false)),
      };
    }),
  };
}

/** A prefix of source names and where that prefix lives in the target (`gcr.io/team` -> `registry.local:5000/mirror/team`). */
export interface PrefixRule {
  /** Source registry host of the prefix. */
  registry: string;
  /** HOST[/PATH] on the connected side. */
  source: string;
  /** HOST[/PATH] in the target. */
  mirror: string;
}

export interface NotMirrored {
  image: string;
  reason: string;
}

export interface PrefixRules {
  rules: PrefixRule[];
  /** The refs of the images a pull by source name reaches through the rules. */
  reached: string[];
  /** Images no rule reaches, or reaches by digest only; each with the reason. */
  notes: NotMirrored[];
}

const sourceFull = (s: SourceName): string => `${s.registry}/${s.repository}`;
const shownSource = (s: SourceName, digest: string): string => `${sourceFull(s)}${s.tag ? `:${s.tag}` : `@${digest}`}`;

/** True when `name` starts with `prefix` on a path-component boundary (registries.conf's rule). */
function underPrefix(name: string, prefix: string): boolean {
  return name === prefix || name.startsWith(`${prefix}/`);
}

/** Where the longest matching rule sends `name` (registries.conf and ImageDigestMirrorSet semantics), or undefined. */
export function resolveByPrefix(rules: readonly PrefixRule[], name: string): string | undefined {
  let best: PrefixRule | undefined;
  for (const r of rules) if (underPrefix(name, r.source) && (!best || r.source.length > best.source.length)) best = r;
  return best ? best.mirror + name.slice(best.source.length) : undefined;
}

/**
 * The most general prefix rule that still maps one image right: the path components its source
 * and target names share at the end are left to the prefix replacement
 * (`gcr.io/cleanstart/python` -> `r/mirror/platform/python` gives `gcr.io/cleanstart` -> `r/mirror/platform`).
 */
function generalRule(s: SourceName, target: string): PrefixRule {
  const src = sourceFull(s).split('/');
  const dst = target.split('/');
  let k = 0;
  // Never eat the hosts: at least the registry stays on each side.
  while (k < src.length - 1 && k < dst.length - 1 && src[src.length - 1 - k] === dst[dst.length - 1 - k]) k++;
  return { registry: s.registry, source: src.slice(0, src.length - k).join('/'), mirror: dst.slice(0, dst.length - k).join('/') };
}

/**
 * Prefix rules that send every bundled image's source name to where push put it: one per
 * source prefix where all its images agree, an exact rule per repository where they do not.
 */
export function prefixRules(m: ImageMapping): PrefixRules {
  const sourced = m.images.filter((i): i is MappedImage & { source: SourceName } => i.source !== undefined);
  const notes: NotMirrored[] = [];
  for (const i of m.images) {
    if (!i.source) notes.push({ image: i.ref, reason: 'bundled from a layout or an archive, not from a registry: there is no source name to mirror; pods must use the target name' });
  }
  // One candidate per image; a source prefix claimed for two different mirrors is not general.
  const byPrefix = new Map<string, Set<string>>();
  const candidates = sourced.map((i) => generalRule(i.source, i.target));
  for (const c of candidates) byPrefix.set(c.source, (byPrefix.get(c.source) ?? new Set()).add(c.mirror));
  const rules: PrefixRule[] = [];
  const add = (r: PrefixRule): void => {
    if (!rules.some((x) => x.source === r.source && x.mirror === r.mirror)) rules.push(r);
  };
  sourced.forEach((i, n) => {
    const c = candidates[n]!;
    if (byPrefix.get(c.source)!.size === 1) add(c);
  });
  // Then every image checked against the longest-prefix rule; a wrong answer gets an exact rule
  // (the longest prefix its own name can have, so it stays right), until no answer changes: an
  // exact rule may catch a repository below it, which the next pass gives its own.
  const exact = new Map<string, string>();
  const conflicting = new Set<MappedImage>();
  for (let changed = true; changed; ) {
    changed = false;
    for (const i of sourced) {
      const name = sourceFull(i.source);
      if (conflicting.has(i) || resolveByPrefix(rules, name) === i.target) continue;
      const taken = exact.get(name);
      if (taken !== undefined) {
        conflicting.add(i);
        notes.push({ image: i.ref, reason: `its source ${name} is also bundled as ${taken}: one source name can be mirrored to one place only` });
        continue;
      }
      exact.set(name, i.target);
      rules.push({ registry: i.source.registry, source: name, mirror: i.target });
      changed = true;
    }
  }
  for (const i of sourced) {
    if (i.source.tag !== undefined && i.tag !== undefined && i.source.tag !== i.tag) {
      notes.push({ image: i.ref, reason: `bundled from ${shownSource(i.source, i.digest)} under another tag: a pull of the source tag through a mirror finds nothing; pulls by digest do` });
    }
  }
  rules.sort((a, b) => a.registry.localeCompare(b.registry) || a.source.localeCompare(b.source) || a.mirror.localeCompare(b.mirror));
  return { rules, reached: sourced.filter((i) => !conflicting.has(i)).map((i) => i.ref), notes };
}

/** For containerd: one source host's mirrors, each a target path the whole source path goes under. */
export interface HostMirrors {
  registry: string;
  /** Target HOST[/PREFIX] in the order containerd tries them (it moves on when one answers 404). */
  mirrors: string[];
}

/**
 * containerd's hosts.toml can only put a source registry's whole path under a mirror path (no
 * renaming inside it), so an image whose target path does not end with its full source path
 * cannot be reached that way. Several prefixes for one host are tried in order; an image an
 * earlier prefix would answer with another bundled image is reported.
 */
export function hostMirrors(m: ImageMapping): { hosts: HostMirrors[]; reached: string[]; notes: NotMirrored[] } {
  const hosts = new Map<string, string[]>();
  const notes: NotMirrored[] = [];
  const placed: Array<{ image: MappedImage & { source: SourceName }; mirror: string }> = [];
  for (const i of m.images) {
    if (!i.source) continue;
    const tail = `/${i.source.repository}`;
    if (!i.target.endsWith(tail)) {
      notes.push({ image: i.ref, reason: `containerd mirrors keep the source path (${i.source.repository}); --rewrite or the bundle renamed it, so on containerd nodes pods must use the target name` });
      continue;
    }
    const mirror = i.target.slice(0, i.target.length - tail.length);
    const list = hosts.get(i.source.registry) ?? [];
    if (!list.includes(mirror)) list.push(mirror);
    hosts.set(i.source.registry, list);
    placed.push({ image: i as MappedImage & { source: SourceName }, mirror });
  }
  const targets = new Set(m.images.map((i) => i.target));
  const reached: string[] = [];
  for (const { image, mirror } of placed) {
    const list = hosts.get(image.source.registry)!;
    const earlier = list.slice(0, list.indexOf(mirror)).find((x) => targets.has(`${x}/${image.source.repository}`));
    if (earlier === undefined) reached.push(image.ref);
    else {
      notes.push({ image: image.ref, reason: `containerd tries ${earlier}/${image.source.repository} first, a repository this bundle also fills: a tag of the same name there would be pulled instead; on containerd nodes pods should use the target name` });
    }
  }
  return { hosts: [...hosts].map(([registry, mirrors]) => ({ registry, mirrors })).sort((a, b) => a.registry.localeCompare(b.registry)), reached, notes };
}
