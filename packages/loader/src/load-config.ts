// `--config FILE` for push and check: the targets a high side always loads into, in one reviewed
// file (schemas/load-config.schema.json). Relative paths are anchored to the file; flags given on
// the command line add to its lists and win over its single values. It never holds credentials.

import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { FerryError, formatAjvErrors, newAjv, printable, readRegularFile, readSchema } from '@ferry/format-spec';

export interface LoadConfig {
  trustedKeys?: string[];
  to?: string;
  charts?: string[];
  rewrite?: string[];
  filesDir?: string;
  stateDir?: string;
  authfile?: string;
  caFile?: string[];
  insecureRegistry?: string[];
  concurrency?: number;
  force?: boolean;
}

/** The flags a config can supply, as the CLI parses them (`--trusted-key` for `trustedKeys`). */
export type ConfigurableArgs = Omit<LoadConfig, 'trustedKeys'> & { trustedKey?: string[] };

let validator: ReturnType<ReturnType<typeof newAjv>['compile']> | undefined;

export async function readLoadConfig(path: string): Promise<LoadConfig> {
  const text = (await readRegularFile(path, 'load config', 1 << 20)).toString('utf8');
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 50 });
  } catch (e) {
    throw new FerryError('USAGE', `--config ${printable(path)}: not valid YAML or JSON: ${printable((e as Error).message.split('\n')[0] ?? '')}`);
  }
  validator ??= newAjv().compile(readSchema('load-config.schema.json'));
  if (!validator(doc)) throw new FerryError('USAGE', `--config ${printable(path)}: ${formatAjvErrors(validator.errors)}`);
  const c = doc as LoadConfig;
  const base = dirname(resolve(path));
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  const local = (target: string, prefix: string): string => (target.startsWith(prefix) ? `${prefix}${abs(target.slice(prefix.length))}` : target);
  return {
    ...c,
    ...(c.trustedKeys ? { trustedKeys: c.trustedKeys.map(abs) } : {}),
    ...(c.to ? { to: local(c.to, 'oci:') } : {}),
    ...(c.charts ? { charts: c.charts.map((d) => local(d, 'dir:')) } : {}),
    ...(c.filesDir ? { filesDir: abs(c.filesDir) } : {}),
    ...(c.stateDir ? { stateDir: abs(c.stateDir) } : {}),
    ...(c.authfile ? { authfile: abs(c.authfile) } : {}),
    ...(c.caFile ? { caFile: c.caFile.map(abs) } : {}),
  };
}

/** The command line over the config: lists add up, single values from the command line win. */
export function withConfig<T extends ConfigurableArgs>(a: T, c: LoadConfig): T {
  const list = (cli: string[] | undefined, cfg: string[] | undefined): string[] | undefined => (cli?.length || cfg?.length ? [...(cfg ?? []), ...(cli ?? [])] : undefined);
  const out: T = { ...a };
  const set = <K extends keyof ConfigurableArgs>(k: K, v: ConfigurableArgs[K] | undefined): void => {
    if (v !== undefined) (out as ConfigurableArgs)[k] = v;
  };
  set('trustedKey', list(a.trustedKey, c.trustedKeys));
  set('charts', list(a.charts, c.charts));
  set('rewrite', list(a.rewrite, c.rewrite));
  set('caFile', list(a.caFile, c.caFile));
  set('insecureRegistry', list(a.insecureRegistry, c.insecureRegistry));
  set('to', a.to ?? c.to);
  set('filesDir', a.filesDir ?? c.filesDir);
  set('stateDir', a.stateDir ?? c.stateDir);
  set('authfile', a.authfile ?? c.authfile);
  set('concurrency', a.concurrency ?? c.concurrency);
  set('force', a.force || c.force || undefined);
  return out;
}
