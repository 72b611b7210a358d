// ferry-load inspect: what a bundle carries, from its manifest alone. The signature is checked
// when trusted keys are given; otherwise the report says plainly that it was not.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  chartRefName,
  chartsOf,
  claimedSignerFingerprint,
  contentBlobs,
  imageRefName,
  isFerryError,
  loadersOf,
  parseManifest,
  platformString,
  statRegularFile,
  verifyDetached,
  type TrustedKey,
  signerOf,
  type Signer,
} from '@ferry/format-spec';
import { locateBundle, readManifest, volumePath } from './bundle.js';
import { chartNextCommands } from './charts/next-commands.js';
import { checkImageSignatures, type ImageSignature } from './trust/image-signatures.js';
import type { ImageKey } from '@ferry/trust';
import type { ChartDestination } from './charts/destinations.js';
import { deltaReport, type DeltaReport } from './delta-report.js';

export interface InspectReport {
  bundle: string;
  dir: string;
  created: string;
  tool: string;
  signature: { present: boolean; status: 'verified' | 'not-checked' | 'absent'; signer?: Signer };
  /** `signature`: with image keys (inspect --image-key), what they verify of its signatures, attestations and SBOMs. */
  images: Array<{ source: string; ref: string; digest: string; mediaType: string; platforms: string[]; platformFilter: string; blobs: number; bytes: number; referrers: number; signature?: ImageSignature }>;
  files: Array<{ path: string; size: number; digest: string }>;
  keys: Array<{ path: string; algorithm: string; fingerprint: string }>;
  /** The ferry-load executables listed beside the volumes (format version 3); `present`: here. */
  loaders: Array<{ platform: string; file: string; size: number; digest: string; present: boolean }>;
  /** `layoutRef`: the name in the volumes' OCI layout. `next`: commands for the --charts destination. */
  charts: Array<{ name: string; version: string; appVersion?: string; source: string; digest: string; size: number; provenance: boolean; layoutRef: string; requiredBy?: string[]; images: Array<{ reference: string; file: string; line: number }>; next: string[] }>;
  /** `problem` says why a file in a volume's place cannot be read (a FIFO, a directory, larger than volumeSize). */
  volumes: Array<{ file: string; present: boolean; size?: number; problem?: string; blobs: number; bytes: number }>;
  totals: { blobs: number; bytes: number; volumes: number; volumeSize: number };
  /** A delta bundle: the blobs it requires the target to hold, and its baselines. */
  delta?: DeltaReport;
}

/** Whether a volume is there, and if something is there that no reader will take, why. Nothing is opened. */
async function volumeState(path: string, volumeSize: number): Promise<{ st?: { size: number }; problem?: string }> {
  try {
    const st = await statRegularFile(path, 'volume');
    if (!st) return {};
    if (st.size > volumeSize) return { st, problem: `larger than the bundle's volume size (${st.size} > ${volumeSize} bytes)` };
    return { st };
  } catch (e) {
    if (isFerryError(e, 'INPUT_INVALID')) return { problem: e.message };
    throw e;
  }
}

export async function inspectBundle(path: string, trustedKeys: readonly TrustedKey[] = [], chartDest?: ChartDestination, imageKeys: readonly ImageKey[] = []): Promise<InspectReport> {
  const loc = await locateBundle(path);
  const loaded = await readManifest(loc);
  let status: InspectReport['signature']['status'] = loaded.signature ? 'not-checked' : 'absent';
  let verifiedBy: TrustedKey | undefined;
  if (loaded.signature && trustedKeys.length) {
    const k = verifyDetached(loaded.bytes, loaded.signature, trustedKeys, `${loc.name}.manifest.json`, { claimedFingerprint: claimedSignerFingerprint(loaded.bytes) });
    status = 'verified';
    verifiedBy = k;
  }
  const m = parseManifest(loaded.bytes, loaded.from);
  // With image keys, each image's signatures, attestations and SBOMs, from the volumes that are here.
  const signatures = imageKeys.length ? await checkImageSignatures({ ...loaded, manifest: m }, imageKeys) : undefined;
  const sizeOf = new Map([...contentBlobs(m).values()].map((b) => [b.digest, b.size]));
  const delta = deltaReport(m);
  const volumes: InspectReport['volumes'] = [];
  for (const v of m.volumes) {
    const { st, problem } = await volumeState(volumePath(loc, v.index), m.volumeSize);
    let blobs = 0;
    let bytes = 0;
    for (const b of m.blobs) {
      if (b.volume === v.index) {
        blobs++;
        bytes += b.size;
      }
      for (const s of b.segments ?? []) if (s.volume === v.index) { blobs++; bytes += s.size; }
    }
    volumes.push({ file: v.file, present: Boolean(st) && !problem, ...(st ? { size: st.size } : {}), ...(problem ? { problem } : {}), blobs, bytes });
  }
  return {
    bundle: m.name,
    dir: loc.dir,
    created: m.created,
    tool: `${m.tool.name} ${m.tool.version}`,
    signature: { present: Boolean(loaded.signature), status, ...(verifiedBy ? { signer: signerOf(verifiedBy) } : m.signer ? { signer: { ...m.signer } } : {}) },
    images: m.images.map((i, n) => ({
      source: i.source,
      ref: imageRefName(i),
      digest: i.digest,
      mediaType: i.mediaType,
      platforms: i.platforms.map((p) => platformString(p.platform)),
      platformFilter: i.platformFilter.mode === 'all' ? 'all' : `filtered (${i.platformFilter.requested.join(', ')}; source index ${i.platformFilter.sourceIndex.digest})`,
      blobs: i.blobs.length,
      bytes: i.blobs.reduce((n, d) => n + (sizeOf.get(d) ?? 0), 0),
      referrers: i.referrers?.length ?? 0,
      ...(signatures ? { signature: signatures[n]! } : {}),
    })),
    files: m.files.map((f) => ({ path: f.path, size: f.size, digest: f.digest })),
    keys: m.keys.map((k) => ({ path: k.path, algorithm: k.algorithm, fingerprint: k.fingerprint })),
    loaders: loadersOf(m).map((l) => ({ platform: l.platform, file: l.file, size: l.size, digest: l.digest, present: existsSync(join(loc.dir, l.file)) })),
    charts: chartsOf(m).map((c) => ({
      name: c.name,
      version: c.version,
      ...(c.appVersion ? { appVersion: c.appVersion } : {}),
      source: c.source,
      digest: c.digest,
      size: c.size,
      provenance: Boolean(c.provenance),
      layoutRef: chartRefName(c),
      ...(c.requiredBy ? { requiredBy: c.requiredBy } : {}),
      images: c.images ?? [],
      next: chartNextCommands(c, chartDest),
    })),
    volumes,
    totals: { blobs: m.blobs.length, bytes: m.blobs.reduce((n, b) => n + b.size, 0), volumes: m.volumes.length, volumeSize: m.volumeSize },
    ...(delta ? { delta } : {}),
  };
}
