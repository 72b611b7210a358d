// Checks on a manifest as received, before anything trusts it: its bytes hash to the digest we
// asked for and to Docker-Content-Digest, it is a JSON object, and its mediaType field agrees
// with Content-Type. Schema1 is refused (its digest depends on signatures and it is deprecated).

import { MediaTypes, sha256Digest, type Descriptor } from '@ferry/format-spec';
import { registryError, type RegistryErrorContext } from './errors.js';

export const SCHEMA1_TYPES = ['application/vnd.docker.distribution.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v1+prettyjws'];

/** Sent on every manifest GET and HEAD (protocols.md §1.10); without the list type, distribution 2.8 silently serves the amd64 child. */
export const MANIFEST_ACCEPT = [MediaTypes.ociIndex, MediaTypes.ociManifest, MediaTypes.dockerManifestList, MediaTypes.dockerManifest].join(', ');

/** Generic Content-Types some registries and proxies use; they say nothing about the manifest. */
const GENERIC_TYPES = new Set(['', 'application/json', 'text/plain', 'application/octet-stream', 'binary/octet-stream']);

export function stripParams(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

export interface ManifestResponseFacts {
  /** Tag or digest that was asked for. */
  requested: string;
  contentType?: string;
  dockerContentDigest?: string;
}

/**
 * Verify manifest bytes as the registry sent them and build their descriptor. Throws
 * BLOB_MISMATCH when the bytes do not hash to what was asked for or announced, and
 * SOURCE_INVALID for a body that is not a usable manifest.
 */
export function verifyManifestResponse(bytes: Buffer, facts: ManifestResponseFacts, ctx: RegistryErrorContext): Descriptor {
  const digest = sha256Digest(bytes);
  const where = `${ctx.registry}/${ctx.repository ?? ''}`;
  if (facts.requested.includes(':')) {
    if (!facts.requested.startsWith('sha256:')) {
      throw registryError('SOURCE_INVALID', ctx, `${where}@${facts.requested}: only sha256 digests can be verified`);
    }
    if (digest !== facts.requested) {
      throw registryError('BLOB_MISMATCH', ctx, `manifest ${where}@${facts.requested} from registry ${ctx.registry}: the bytes received hash to ${digest}; refusing it`);
    }
  }
  const dcd = facts.dockerContentDigest?.trim();
  if (dcd && dcd.startsWith('sha256:') && dcd !== digest) {
    throw registryError('BLOB_MISMATCH', ctx, `manifest ${where}:${facts.requested} from registry ${ctx.registry}: Docker-Content-Digest says ${dcd} but the bytes hash to ${digest}; refusing it`);
  }
  let body: { mediaType?: unknown; schemaVersion?: unknown; manifests?: unknown; config?: unknown; layers?: unknown };
  try {
    body = JSON.parse(bytes.toString('utf8')) as typeof body;
  } catch {
    throw registryError('SOURCE_INVALID', ctx, `manifest ${where}:${facts.requested} from registry ${ctx.registry} is not JSON`);
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw registryError('SOURCE_INVALID', ctx, `manifest ${where}:${facts.requested} from registry ${ctx.registry} is not a JSON object`);
  }
  const ct = stripParams(facts.contentType);
  const bodyType = typeof body.mediaType === 'string' ? body.mediaType : undefined;
  if (body.schemaVersion === 1 || SCHEMA1_TYPES.includes(ct) || (bodyType && SCHEMA1_TYPES.includes(bodyType))) {
    throw registryError('SOURCE_INVALID', ctx, `${where}:${facts.requested} is a Docker schema1 manifest, which Ferry does not carry (re-push it with a current client)`);
  }
  if (bodyType && !GENERIC_TYPES.has(ct) && bodyType !== ct) {
    throw registryError('SOURCE_INVALID', ctx, `manifest ${where}:${facts.requested} from registry ${ctx.registry}: Content-Type ${ct} does not match its mediaType ${bodyType}`);
  }
  let mediaType = bodyType ?? (GENERIC_TYPES.has(ct) ? '' : ct);
  if (!mediaType) {
    // OCI 1.0 manifests may omit mediaType; tell index from manifest by shape.
    if (Array.isArray(body.manifests)) mediaType = MediaTypes.ociIndex;
    else if (body.config && Array.isArray(body.layers)) mediaType = MediaTypes.ociManifest;
    else throw registryError('SOURCE_INVALID', ctx, `${where}:${facts.requested} from registry ${ctx.registry} has no media type and is neither an index nor a manifest`);
  }
  return { mediaType, digest, size: bytes.length };
}
