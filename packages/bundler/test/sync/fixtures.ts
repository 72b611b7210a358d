// A valid (empty) bundle manifest for state-directory tests that need no real bundle.
import { layoutIndexBytes } from '@ferry/format-spec';
import { minimalManifest } from '../../../format-spec/test/helpers/volumes.js';

export function minimalManifestBytes(name: string, created: string): Buffer {
  const m = { ...minimalManifest({ name, blobs: [], volumeCount: 1, indexBytes: layoutIndexBytes([]), volumeSize: 1 << 20 }), created };
  return Buffer.from(JSON.stringify(m));
}

