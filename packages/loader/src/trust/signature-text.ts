// One line per image saying what its signatures, attestations and SBOMs are, for inspect,
// verify and the interactive push summary. Every value may come from a bundle: printable().

import { formatBytes } from '@ferry/cli-kit';
import { printable as p } from '@ferry/format-spec';
import type { ImageSignature } from './image-signatures.js';

const short = (fp: string): string => (fp.startsWith('sha256:') ? `${fp.slice(0, 19)}…` : fp);

export function signatureText(s: ImageSignature): string {
  const via = s.signedVia === 'platforms' ? ' (every platform signed, not the index)' : s.signedVia === 'index' ? ' (the index)' : '';
  const sig = s.status === 'signed' ? `signature VERIFIED by ${s.keys.map((k) => p(short(k))).join(', ')}${via}` : `signature ${s.status.toUpperCase()}${s.reason ? ` (${p(s.reason)})` : ''}`;
  const plats = s.platforms?.length && s.signedVia !== 'platforms'
    ? `; platforms: ${s.platforms.map((x) => `${p(x.platform)} ${x.status}`).join(', ')}`
    : '';
  const att = s.attested.length ? `attested: ${s.attested.map(p).join(', ')}` : 'no verified attestation';
  const sboms = s.sboms.length ? `SBOM: ${s.sboms.map((b) => `${p(b.format)}${b.size !== undefined ? ` ${formatBytes(b.size)}` : ''} (${p(b.source)})`).join(', ')}` : 'no SBOM';
  return `${sig}${plats}; ${att}; ${sboms}`;
}
