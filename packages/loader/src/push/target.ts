// Where a push writes. `--to oci:DIR`: an OCI image layout, with the files directory beside it.
// `--to HOST[:PORT][/PREFIX]` (or `docker://…`): a registry; every image goes under PREFIX, and
// the few things the registry cannot tell a later run (a split blob half assembled) live in the
// state directory, never on the bundle's media. Directories must not overlap each other (a
// carried `index.json` would replace the layout's own and drop its tags), and none may be or
// lie inside the bundle's directory (the loader never writes into what it reads).

import { realpath } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { FerryError, printable } from '@ferry/format-spec';
import { isInside, isRepositoryPath } from '@ferry/oci';

export type PushTargets =
  | { kind: 'layout'; description: string; layoutDir: string; filesDir: string }
  | {
      kind: 'registry';
      /** HOST[:PORT][/PREFIX], for messages. */
      description: string;
      registry: string;
      /** Repository path every image goes under ('' for none). */
      prefix: string;
      /** Only when --files-dir is given: a registry has no place for carried files. */
      filesDir?: string;
      stateDir: string;
    };

/** The real path of `p`, resolving links in the part that exists (the rest is not created yet). */
async function realish(p: string): Promise<string> {
  const abs = resolve(p);
  try {
    return await realpath(abs);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return abs;
    const parent = dirname(abs);
    if (parent === abs) return abs;
    return join(await realish(parent), basename(abs));
  }
}

function overlapping(a: string, b: string): boolean {
  return isInside(a, b) || isInside(b, a);
}

/** The default state directory: beside the user's Ferry config, never on the media. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state');
  return join(base, 'ferry');
}

const HOST_RE = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)(?::[0-9]{1,5})?$/;

/** `HOST[:PORT][/PREFIX]` → registry and prefix; never echoes credentials typed into it. */
export function parseRegistryTarget(to: string): { registry: string; prefix: string } {
  let t = to.startsWith('docker://') ? to.slice('docker://'.length) : to;
  t = t.replace(/\/+$/, '');
  const slash = t.indexOf('/');
  const registry = slash < 0 ? t : t.slice(0, slash);
  const prefix = slash < 0 ? '' : t.slice(slash + 1);
  if (registry.includes('@')) {
    throw new FerryError('USAGE', '--to: the registry address carries credentials (user:password@); give them with --creds, --authfile or docker login, never in an address');
  }
  if (!HOST_RE.test(registry)) throw new FerryError('USAGE', `--to ${printable(to)}: expected HOST[:PORT][/PREFIX] (e.g. registry.local:5000/mirror) or oci:DIR`);
  if (prefix && !isRepositoryPath(prefix)) throw new FerryError('USAGE', `--to ${printable(to)}: "${printable(prefix)}" is not a repository path prefix (lowercase letters, digits, . _ - separators, / between parts)`);
  return { registry, prefix };
}

export async function resolveTargets(to: string, filesDir: string | undefined, bundleDir: string, stateDir?: string): Promise<PushTargets> {
  const bundle = await realish(bundleDir);
  const outsideBundle = (flag: string, p: string): void => {
    if (isInside(p, bundle) || isInside(bundle, p)) {
      throw new FerryError('USAGE', `${flag} ${printable(p)} overlaps the bundle directory ${printable(bundle)}: the loader never writes where the bundle is read from; choose a directory outside it`);
    }
  };
  if (!to.startsWith('oci:')) {
    const { registry, prefix } = parseRegistryTarget(to);
    const state = await realish(stateDir ?? defaultStateDir());
    outsideBundle('--state-dir', state);
    const files = filesDir !== undefined ? await realish(filesDir) : undefined;
    if (files !== undefined) {
      outsideBundle('--files-dir', files);
      if (overlapping(files, state)) throw new FerryError('USAGE', `--files-dir ${printable(files)} overlaps the state directory ${printable(state)}; keep them apart`);
    }
    return { kind: 'registry', description: prefix ? `${registry}/${prefix}` : registry, registry, prefix, stateDir: state, ...(files !== undefined ? { filesDir: files } : {}) };
  }
  const dir = to.slice(4);
  if (!dir) throw new FerryError('USAGE', '--to oci:DIR needs a directory');
  const layoutDir = await realish(dir);
  const files = await realish(filesDir ?? `${resolve(dir)}-files`);
  if (overlapping(layoutDir, files)) {
    throw new FerryError('USAGE', `--files-dir ${printable(files)} overlaps the image layout ${printable(layoutDir)}: a carried file could replace the layout's index.json or blobs; give a files directory outside the layout (the default is DIR-files beside it)`);
  }
  outsideBundle('--to', layoutDir);
  outsideBundle('--files-dir', files);
  return { kind: 'layout', description: `oci:${layoutDir}`, layoutDir, filesDir: files };
}
