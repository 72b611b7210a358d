// Regenerates examples/: a small two-platform image as an OCI layout, with a shared base layer
// larger than the demo's volume size (so the demo shows a blob split across volumes).
// Deterministic seeds: running it again gives the same digests. Run: node --import tsx scripts/make-examples.ts
import { rm } from 'node:fs/promises';
import { makeOciLayout } from '../test/helpers/images.js';

const dir = new URL('../examples/oci-layout', import.meta.url).pathname;
await rm(dir, { recursive: true, force: true });
const [img] = await makeOciLayout(dir, [
  {
    tag: 'demo-1.0',
    platforms: [
      { os: 'linux', architecture: 'amd64', layers: [{ size: 300_000, seed: 'ferry-demo-base', gzipLevel: 0 }, { size: 40_000, seed: 'ferry-demo-app-amd64', content: 'text', gzipLevel: 6 }] },
      { os: 'linux', architecture: 'arm64', variant: 'v8', layers: [{ size: 300_000, seed: 'ferry-demo-base', gzipLevel: 0 }, { size: 40_000, seed: 'ferry-demo-app-arm64', content: 'text', gzipLevel: 6 }] },
    ],
  },
]);
console.log(`examples/oci-layout:demo-1.0 -> ${img!.root.digest}`);
