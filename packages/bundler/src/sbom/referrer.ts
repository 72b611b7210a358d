// The OCI 1.1 referrer that attaches an SBOM file to an image, as `oras attach --artifact-type`
// writes one: an image manifest whose artifactType is the SBOM's media type, the empty config,
// one layer (the file, titled with its base name) and the image as subject. Ferry writes these
// bytes itself, so they are made reproducible: fixed key order, no timestamp, nothing taken from
// the machine but the file's name and content — the same inputs give the same digest.

import { MediaTypes, sha256Digest, type Descriptor } from '@ferry/format-spec';
import type { PlannedBlob, ResolvedReferrer } from '@ferry/oci';
import type { SbomDocument } from './read.js';

/** The OCI empty descriptor's content (image-spec manifest.md "Guidance for an Empty Descriptor"). */
export const EMPTY_CONFIG_BYTES = Buffer.from('{}');
export const EMPTY_CONFIG: Descriptor = { mediaType: MediaTypes.ociEmpty, digest: sha256Digest(EMPTY_CONFIG_BYTES), size: EMPTY_CONFIG_BYTES.length };

export const TITLE_ANNOTATION = 'org.opencontainers.image.title';

/** The referrer's manifest bytes for `sbom` about `subject` (the image root as the bundle carries it). */
export function sbomReferrerManifest(subject: Descriptor, sbom: Pick<SbomDocument, 'mediaType' | 'digest' | 'size' | 'title'>): Buffer {
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    artifactType: sbom.mediaType,
    config: { mediaType: EMPTY_CONFIG.mediaType, digest: EMPTY_CONFIG.digest, size: EMPTY_CONFIG.size },
    layers: [{ mediaType: sbom.mediaType, digest: sbom.digest, size: sbom.size, annotations: { [TITLE_ANNOTATION]: sbom.title } }],
    // Only the three fields the referrers API keys on: annotations or platform of the root would
    // tie the referrer's digest to details the subject's digest already pins.
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
  };
  return Buffer.from(JSON.stringify(manifest));
}

/**
 * The referrer as create.ts records referrers discovered in a registry: scheme oci-referrer,
 * children first (config, the SBOM layer) and the manifest last, every blob's bytes in memory.
 */
export function sbomReferrer(subject: Descriptor, sbom: SbomDocument): ResolvedReferrer {
  const bytes = sbomReferrerManifest(subject, sbom);
  const descriptor: Descriptor = { mediaType: MediaTypes.ociManifest, digest: sha256Digest(bytes), size: bytes.length };
  const blobs: PlannedBlob[] = [
    { descriptor: EMPTY_CONFIG, kind: 'config', bytes: EMPTY_CONFIG_BYTES },
    { descriptor: { mediaType: sbom.mediaType, digest: sbom.digest, size: sbom.size }, kind: 'layer', bytes: sbom.bytes },
    { descriptor, kind: 'manifest', bytes },
  ];
  return { scheme: 'oci-referrer', descriptor, artifactType: sbom.mediaType, subject: subject.digest, blobs };
}
