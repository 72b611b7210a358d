// The attestation types `cosign attest --type` and `cosign verify-attestation --type` take, and
// the predicate type URIs they stand for (COS cmd/cosign/cli/options/predicate.go, v2.6.5).
// `slsaprovenance` stands for both SLSA provenance versions here: cosign maps it to v0.2 when it
// writes, and a v1 provenance (`slsaprovenance1`) is provenance all the same to a policy asking
// for "slsaprovenance".

import { FerryError, printable } from '@ferry/format-spec';

export const PredicateTypes = {
  custom: 'https://cosign.sigstore.dev/attestation/v1',
  slsaProvenance02: 'https://slsa.dev/provenance/v0.2',
  slsaProvenance1: 'https://slsa.dev/provenance/v1',
  spdx: 'https://spdx.dev/Document',
  cyclonedx: 'https://cyclonedx.org/bom',
  link: 'https://in-toto.io/Link/v1',
  vuln: 'https://cosign.sigstore.dev/attestation/vuln/v1',
  openvex: 'https://openvex.dev/ns',
} as const;

const SHORT_NAMES: Readonly<Record<string, readonly string[]>> = {
  custom: [PredicateTypes.custom],
  slsaprovenance: [PredicateTypes.slsaProvenance02, PredicateTypes.slsaProvenance1],
  slsaprovenance02: [PredicateTypes.slsaProvenance02],
  slsaprovenance1: [PredicateTypes.slsaProvenance1],
  spdx: [PredicateTypes.spdx],
  spdxjson: [PredicateTypes.spdx],
  cyclonedx: [PredicateTypes.cyclonedx],
  link: [PredicateTypes.link],
  vuln: [PredicateTypes.vuln],
  openvex: [PredicateTypes.openvex],
};

/** The cosign short names, for a usage message. */
export const ATTESTATION_TYPE_NAMES: readonly string[] = Object.keys(SHORT_NAMES);

/**
 * The predicate type URIs an attestation type stands for: a cosign short name, or a predicate URI
 * (anything with a scheme, as cosign's url.ParseRequestURI takes it) standing for itself.
 * Anything else is a USAGE error.
 */
export function predicateTypesFor(type: string): string[] {
  const short = SHORT_NAMES[type];
  if (short) return [...short];
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(type)) {
    try {
      new URL(type);
      return [type];
    } catch {
      /* fall through */
    }
  }
  throw new FerryError('USAGE', `attestation type "${printable(type).slice(0, 200)}" is neither one of ${ATTESTATION_TYPE_NAMES.join(', ')} nor a predicate type URI`, { type: printable(type).slice(0, 200) });
}
