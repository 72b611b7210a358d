// The registry flags push and check share (the same as the bundler's for pulls): credentials,
// CA files, per-host insecure, concurrency -> RegistryOptions.

import { asArray } from '@ferry/cli-kit';
import { FerryError } from '@ferry/format-spec';
import type { RegistryOptions } from '@ferry/oci';
import { parseRegistryTarget } from './push/target.js';
import type { Argv } from 'yargs';

export interface RegistryArgs {
  authfile?: string;
  creds?: string;
  caFile?: string[];
  insecureRegistry?: string[];
  concurrency?: number;
  /** The target, for --tls-verify=false (skopeo's spelling of --insecure-registry for it). */
  to?: string;
  tlsVerify?: boolean;
  destTlsVerify?: boolean;
}

export function registryOptionsFrom(a: RegistryArgs): RegistryOptions {
  const creds = a.creds ?? process.env.FERRY_REGISTRY_CREDS;
  const insecure = asArray(a.insecureRegistry);
  if ((a.tlsVerify === false || a.destTlsVerify === false) && a.to) {
    if (a.to.startsWith('oci:')) throw new FerryError('USAGE', '--tls-verify=false names the registry of --to, but --to is an OCI layout directory');
    insecure.push(parseRegistryTarget(a.to).registry);
  }
  return {
    ...(a.authfile ? { authFile: a.authfile } : {}),
    ...(creds ? { creds } : {}),
    ...(asArray(a.caFile).length ? { caFile: asArray(a.caFile) } : {}),
    ...(insecure.length ? { insecure } : {}),
    ...(a.concurrency ? { concurrency: a.concurrency } : {}),
  };
}

export function registryFlags<T>(y: Argv<T>): Argv<T> {
  return y
    .option('concurrency', { type: 'number', describe: 'Requests in flight at once, shared by all images (default 6)' })
    .option('authfile', { type: 'string', describe: 'Registry credentials file (docker config.json / containers auth.json); default $REGISTRY_AUTH_FILE, ~/.docker/config.json, containers auth.json' })
    .option('creds', { type: 'string', describe: 'USER[:PASSWORD] for the target registry (or FERRY_REGISTRY_CREDS); never written anywhere' })
    .option('ca-file', { type: 'string', array: true, describe: "Extra CA certificate(s) (PEM) to trust for the registry's TLS" })
    .option('insecure-registry', { type: 'string', array: true, describe: 'HOST[:PORT] reached over plain HTTP or unverified TLS (that host only)' })
    .option('tls-verify', { type: 'boolean', describe: "--tls-verify=false: the --to registry is reached over plain HTTP or unverified TLS (skopeo's spelling of --insecure-registry for that host)" })
    .option('dest-tls-verify', { type: 'boolean', describe: 'The same as --tls-verify, as skopeo copy spells it for the destination' }) as unknown as Argv<T>;
}
