// Bundle images and registry targets for the k8s tests, built as the manifest and push have them.
import type { BundleImage } from '@ferry/format-spec';
import { parseRegistryTarget, type PushTargets } from '../../src/push/target.js';

export const hex = (c: string): string => c.repeat(64).slice(0, 64);
export function image(source: string, repository: string, tag: string | undefined, seed: string, signed = true): BundleImage {
  const digest = `sha256:${hex(seed)}`;
  return {
    source, repository, ...(tag !== undefined ? { tag } : {}), digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1,
    platformFilter: { mode: 'all' }, platforms: [], blobs: [digest],
    referrers: signed ? [{ digest: `sha256:${hex('f')}`, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1, scheme: 'cosign-tag', tag: `sha256-${hex(seed)}.sig`, subject: digest, blobs: [] }] : [],
  };
}

export function registryTarget(to: string): PushTargets & { kind: 'registry' } {
  const { registry, prefix } = parseRegistryTarget(to);
  return { kind: 'registry', description: to, registry, prefix, stateDir: '/nonexistent-state' };
}

