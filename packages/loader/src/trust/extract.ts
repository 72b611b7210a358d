// `ferry-load sbom` and `ferry-load attestations`: what a bundle carries beside an image, taken out
// on the high side without a registry: SBOMs as files named by image and format, and the
// predicates of the attestations a trusted image key verified (never an unverified one).

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError, imageRefName, printable, writeWhole } from '@ferry/format-spec';
import { listSboms, readSbom, verifyAttestations, type ImageKey } from '@ferry/trust';
import type { TrustedManifest } from '../bundle.js';
import { readImageArtifacts } from './image-signatures.js';

const EXT: Record<string, string> = { 'spdx-json': 'spdx.json', 'spdx-tag-value': 'spdx', 'cyclonedx-json': 'cdx.json', 'cyclonedx-xml': 'cdx.xml', 'syft-json': 'syft.json', unknown: 'sbom' };

/** `team/app:1.4` -> `team_app_1.4`: one file-name segment, nothing a path could climb with. */
const fileStem = (ref: string): string => ref.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '').slice(0, 200) || 'image';

/** Images a --image REF names (`repository:tag`, `repository@digest`, or a repository), or all. */
function selected(tm: TrustedManifest, ref: string | undefined): number[] {
  const all = tm.manifest.images.map((_, i) => i);
  if (!ref) return all;
  const hit = all.filter((i) => {
    const img = tm.manifest.images[i]!;
    return imageRefName(img) === ref || img.repository === ref || `${img.repository}@${img.digest}` === ref || img.digest === ref;
  });
  if (!hit.length) throw new FerryError('USAGE', `--image ${printable(ref)}: the bundle has no such image; it has ${tm.manifest.images.slice(0, 5).map((i) => printable(imageRefName(i))).join(', ')}${tm.manifest.images.length > 5 ? ', …' : ''}`);
  return hit;
}


export interface SbomListing {
  image: string;
  /** For an SBOM of one platform manifest of a multi-platform image. */
  platform?: string;
  source: string;
  format: string;
  size?: number;
  verified?: boolean;
  /** Where it was written (--out), or why it could not be read. */
  file?: string;
  reason?: string;
}

export async function extractSboms(tm: TrustedManifest, opts: { image?: string; out?: string; keys: readonly ImageKey[] }): Promise<SbomListing[]> {
  const which = selected(tm, opts.image);
  const artifacts = await readImageArtifacts(tm);
  if (opts.out) await mkdir(opts.out, { recursive: true });
  const out: SbomListing[] = [];
  const used = new Set<string>();
  for (const i of which) {
    const ref = imageRefName(tm.manifest.images[i]!);
    const a = artifacts[i]!;
    if (!a.input) {
      out.push({ image: ref, source: '', format: '', reason: `its artifacts are in ${(a.missing ?? []).join(', ')}, not here` });
      continue;
    }
    for (const subject of [a.input, ...(a.children ?? [])]) {
      const input = { ...subject, keys: opts.keys };
      for (const e of listSboms(input)) {
        const item: SbomListing = { image: ref, ...(subject.platform ? { platform: subject.platform } : {}), source: e.source, format: e.format, ...(e.size !== undefined ? { size: e.size } : {}), ...(e.verified !== undefined ? { verified: e.verified } : {}) };
        if (opts.out) {
          try {
            const bytes = readSbom(input, e);
            const stem = fileStem(subject.platform ? `${ref}_${subject.platform}` : ref);
            let name = `${stem}.${EXT[e.format] ?? 'sbom'}`;
            for (let n = 2; used.has(name); n++) name = `${stem}-${n}.${EXT[e.format] ?? 'sbom'}`;
            used.add(name);
            await writeWhole(join(opts.out, name), bytes);
            item.file = join(opts.out, name);
          } catch (err) {
            if (!(err instanceof FerryError)) throw err;
            item.reason = `[${err.code}] ${err.message}`;
          }
        }
        out.push(item);
      }
    }
  }
  return out;
}

export interface AttestationListing {
  image: string;
  /** For an attestation of one platform manifest of a multi-platform image (`cosign attest --recursive`). */
  platform?: string;
  predicateType: string | null;
  verified: boolean;
  keyFingerprint: string | null;
  reason?: string;
  /** Only for a verified attestation. */
  predicate?: unknown;
}

export async function extractAttestations(tm: TrustedManifest, opts: { image: string; types?: readonly string[]; keys: readonly ImageKey[] }): Promise<AttestationListing[]> {
  if (!opts.keys.length) throw new FerryError('USAGE', 'give --image-key COSIGN.pub: only attestations a trusted key verified are shown');
  const artifacts = await readImageArtifacts(tm);
  const out: AttestationListing[] = [];
  for (const i of selected(tm, opts.image)) {
    const a = artifacts[i]!;
    const ref = imageRefName(tm.manifest.images[i]!);
    if (!a.input) throw new FerryError('VOLUME_MISSING', `${ref}: its attestations are in ${(a.missing ?? []).join(', ')}; bring them`);
    for (const subject of [a.input, ...(a.children ?? [])]) {
      const report = verifyAttestations({ ...subject, keys: opts.keys, ...(opts.types?.length ? { types: opts.types } : {}) });
      for (const c of report.attestations) {
        out.push({ image: ref, ...(subject.platform ? { platform: subject.platform } : {}), predicateType: c.predicateType, verified: c.verified, keyFingerprint: c.keyFingerprint, ...(c.reason ? { reason: c.reason } : {}), ...(c.verified ? { predicate: c.predicate } : {}) });
      }
    }
  }
  return out;
}
