// ferry-load k8s: what a cluster needs to use what push loaded, as plain files generated from the
// trusted bundle manifest (signature checked against --trusted-key, as every command does) and
// push's own name mapping with the same --to and --rewrite: the cosign-keys ConfigMap, the
// nodes' mirror configuration (containerd, CRI-O/podman, OpenShift), admission policies
// (Kyverno, sigstore policy-controller) and an image pull secret template. Nothing here talks to
// the registry or the cluster; the images are not read, only the manifest.

import { createHash } from 'node:crypto';
import { realpath } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { FerryError, printable, type TrustedKey } from '@ferry/format-spec';
import { isInside } from '@ferry/oci';
import { openTrusted } from '../bundle.js';
import { resolveTargets } from '../push/target.js';
import type { RewriteRule } from '../rewrite.js';
import { cosignKeysConfigMap } from './configmap.js';
import { readImageKeys, type ImageKey } from './keys.js';
import { hostMirrors, mapImages, prefixRules, type ImageMapping } from './mapping.js';
import { containerdHosts, imageDigestMirrorSet, registriesConf } from './mirrors.js';
import { toStream, writeOutputs, type OutputFile, type WrittenFile } from './output.js';
import { kyvernoPolicy, policyControllerPolicy } from './policies.js';
import { pullSecretTemplate } from './pull-secret.js';

export interface K8sOptions {
  trustedKeys: readonly TrustedKey[];
  allowUnsigned?: boolean;
  /** The registry push loaded into: HOST[:PORT][/PREFIX]. */
  to: string;
  rewrites?: readonly RewriteRule[];
  /** `--image-key [NAME=]FILE`: the high side's image-signing public keys. */
  imageKeys?: readonly string[];
  namespace?: string;
}

export interface K8sImage {
  /** Where push put it: `HOST/REPO:TAG` (or `@DIGEST`). */
  ref: string;
  digest: string;
  /** The connected-side name, when it was bundled from a registry. */
  source?: string;
  /** A pull by the source name reaches it on containerd nodes / on CRI-O, podman and OpenShift nodes. */
  mirrored: { containerd: boolean; registriesConf: boolean };
  /** The bundle carries its cosign `.sig` tag (the policies look for it in the target). */
  cosignSignature: boolean;
}

export interface K8sOutputs {
  bundle: string;
  /** The bundle's directory (never written into). */
  bundleDir: string;
  target: string;
  namespace?: string;
  /** Object name of the cluster-scoped documents (policies, mirror set): `ferry-<bundle>`. */
  objectName: string;
  keys: Array<{ name: string; path: string; fingerprint: string; algorithm: string }>;
  images: K8sImage[];
  files: OutputFile[];
  /** What the outputs cannot do, in words (an image no mirror reaches, no --image-key, …). */
  notes: string[];
}

const DNS_LABEL_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** `ferry-<bundle>` as a Kubernetes object name (a DNS label, at most 63); altered names get a hash so two bundles never share one. */
export function objectName(bundle: string): string {
  const plain = `ferry-${bundle}`;
  if (plain.length <= 63 && DNS_LABEL_RE.test(plain)) return plain;
  const hash = createHash('sha256').update(bundle).digest('hex').slice(0, 8);
  const cleaned = bundle.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63 - 'ferry-'.length - 9).replace(/-+$/, '');
  return `ferry-${cleaned ? `${cleaned}-` : ''}${hash}`;
}

function checkNamespace(ns: string | undefined): void {
  if (ns !== undefined && !(ns.length <= 63 && DNS_LABEL_RE.test(ns))) {
    throw new FerryError('USAGE', `--namespace ${printable(ns)}: not a Kubernetes namespace name (lowercase letters, digits and -, at most 63)`);
  }
}

/** Every output for a trusted bundle, in memory; nothing is written. */
export async function k8sOutputs(path: string, opts: K8sOptions): Promise<K8sOutputs> {
  checkNamespace(opts.namespace);
  const tm = await openTrusted(path, { trustedKeys: opts.trustedKeys, ...(opts.allowUnsigned ? { allowUnsigned: true } : {}) });
  const targets = await resolveTargets(opts.to, undefined, tm.loc.dir);
  if (targets.kind !== 'registry') {
    throw new FerryError('USAGE', `--to ${printable(opts.to)}: a cluster pulls from a registry; give the HOST[:PORT][/PREFIX] push loaded into (an OCI layout directory has no Kubernetes outputs)`);
  }
  const keys = await readImageKeys(opts.imageKeys ?? []);
  const bundle = tm.manifest.name;
  const name = objectName(bundle);
  const mapping = mapImages(targets, tm.manifest.images, opts.rewrites ?? []);
  return { bundle, bundleDir: tm.loc.dir, target: targets.description, ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}), objectName: name, ...assemble(mapping, keys, bundle, name, opts.namespace) };
}

/** The files and what they leave out, from a mapping and the keys (pure: tests call it directly). */
export function assemble(mapping: ImageMapping, keys: readonly ImageKey[], bundle: string, name: string, namespace?: string): Pick<K8sOutputs, 'keys' | 'images' | 'files' | 'notes'> {
  const files: OutputFile[] = [];
  const notes: string[] = [];
  if (keys.length) {
    files.push(cosignKeysConfigMap(keys, namespace));
    if (mapping.images.length) files.push(kyvernoPolicy(mapping, keys, bundle, name), policyControllerPolicy(mapping, keys, bundle, name));
  } else {
    notes.push('no --image-key given: no cosign-keys ConfigMap and no admission policies were made (give the high side\'s cosign.pub to enforce signatures)');
  }
  const ctd = containerdHosts(mapping, bundle);
  const crio = registriesConf(mapping, bundle, name);
  const idms = imageDigestMirrorSet(mapping, bundle, name);
  files.push(...ctd.files, ...(crio.file ? [crio.file] : []), ...(idms ? [idms] : []));
  files.push(pullSecretTemplate(mapping.registry, namespace));
  const byContainerd = new Set(hostMirrors(mapping).reached);
  const byPrefix = new Set(prefixRules(mapping).reached);
  for (const n of [...crio.notes, ...ctd.notes]) notes.push(`${n.image}: ${n.reason}`);
  const images = mapping.images.map((i): K8sImage => ({
    ref: i.ref,
    digest: i.digest,
    ...(i.source ? { source: `${i.source.registry}/${i.source.repository}${i.source.tag ? `:${i.source.tag}` : ''}` } : {}),
    mirrored: { containerd: byContainerd.has(i.ref), registriesConf: byPrefix.has(i.ref) },
    cosignSignature: i.cosignSignature,
  }));
  if (keys.length) {
    for (const i of images) {
      if (!i.cosignSignature) notes.push(`${i.ref}: the bundle carries no cosign signature tag for it (sha256-<hex>.sig): the policies refuse pods that use it until it is signed in the target`);
    }
  }
  return {
    keys: keys.flatMap((k) => k.keys.map((x) => ({ name: k.name, path: k.path, ...x }))),
    images,
    files,
    notes: [...new Set(notes)],
  };
}

/** Header of the stdout stream. */
export function streamHeader(o: K8sOutputs): string {
  return [
    `Kubernetes outputs for bundle ${o.bundle} loaded into ${o.target}, made by ferry-load k8s.`,
    'Documents preceded by "==> PATH <==" are Kubernetes objects; node files and the pull secret',
    'TEMPLATE are comments here: use --out DIR to get each as its own file.',
    ...(o.notes.length ? ['', 'Not covered:', ...o.notes.map((n) => `- ${n}`)] : []),
  ].join('\n');
}

export function k8sStream(o: K8sOutputs): string {
  return toStream(o.files, streamHeader(o));
}

/** The real path of `p`, links resolved in the part that exists. */
async function realish(p: string): Promise<string> {
  try {
    return await realpath(p);
  } catch (e) {
    const parent = dirname(p);
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || parent === p) return p;
    return join(await realish(parent), basename(p));
  }
}

/** Write the outputs under `dir` (never where the bundle is read from). */
export async function writeK8s(o: K8sOutputs, dir: string, opts: { force: boolean }): Promise<WrittenFile[]> {
  const out = await realish(resolve(dir));
  const bundleDir = await realish(o.bundleDir);
  if (isInside(out, bundleDir) || isInside(bundleDir, out)) {
    throw new FerryError('USAGE', `--out ${printable(dir)} overlaps the bundle directory ${printable(bundleDir)}: the loader never writes where the bundle is read from; choose a directory outside it`);
  }
  return writeOutputs(out, o.files, { force: opts.force });
}

export { mapImages, prefixRules, hostMirrors, resolveByPrefix, sourceName } from './mapping.js';
export type { ImageMapping, MappedImage, PrefixRule, NotMirrored } from './mapping.js';
export { readImageKeys, parseKeySpec, isConfigMapKey, type ImageKey } from './keys.js';
export type { OutputFile, WrittenFile, OutputKind } from './output.js';
