// The registry flags push and check share (the same as the bundler's for pulls): credentials,
// CA files, per-host insecure, concurrency -> RegistryOptions.

import { asArray } from '@ferry/cli-kit';
import type { RegistryOptions } from '@ferry/oci';
import type { Argv } from 'yargs';

export interface RegistryArgs {
  authfile?: string;
  creds?: string;
  caFile?: string[];
  insecureRegistry?: string[];
  concurrency?: number;
}

export function registryOptionsFrom(a: RegistryArgs): RegistryOptions {
  const creds = a.creds ?? process.env.FERRY_REGISTRY_CREDS;
  return {
    ...(a.authfile ? { authFile: a.authfile } : {}),
    ...(creds ? { creds } : {}),
    ...(asArray(a.caFile).length ? { caFile: asArray(a.caFile) } : {}),
    ...(asArray(a.insecureRegistry).length ? { insecure: asArray(a.insecureRegistry) } : {}),
    ...(a.concurrency ? { concurrency: a.concurrency } : {}),
  };
}

export function registryFlags<T>(y: Argv<T>): Argv<T> {
  return y
    .option('concurrency', { type: 'number', describe: 'Requests in flight at once, shared by all images (default 6)' })
    .option('authfile', { type: 'string', describe: 'Registry credentials file (docker config.json / containers auth.json); default $REGISTRY_AUTH_FILE, ~/.docker/config.json, containers auth.json' })
    .option('creds', { type: 'string', describe: 'USER[:PASSWORD] for the target registry (or FERRY_REGISTRY_CREDS); never written anywhere' })
    .option('ca-file', { type: 'string', array: true, describe: "Extra CA certificate(s) (PEM) to trust for the registry's TLS" })
    .option('insecure-registry', { type: 'string', array: true, describe: 'HOST[:PORT] reached over plain HTTP or unverified TLS (that host only)' }) as unknown as Argv<T>;
}
