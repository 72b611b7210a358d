// Small views of a bundle's blob table that the loader's stages all need.

import type { BundleBlob } from './manifest-types.js';
import type { Descriptor } from './oci-types.js';

/** The OCI descriptor of a bundled blob (what sinks and registries are asked about). */
export function blobDescriptor(b: Pick<BundleBlob, 'mediaType' | 'digest' | 'size'>): Descriptor {
  return { mediaType: b.mediaType, digest: b.digest, size: b.size };
}

/** A manifest or index of an image (stored by digest, read back for closure checks). */
export function isManifestBlob(b: Pick<BundleBlob, 'kind'> | undefined): boolean {
  return b !== undefined && (b.kind === 'manifest' || b.kind === 'index');
}
