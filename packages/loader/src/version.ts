// `ferry-load --version`: Ferry's version and the Node.js runtime running it (inside the
// single executable, the runtime built into it), so a transfer officer's receipt or an
// operator's report can name exactly which loader ran.

import * as sea from 'node:sea';

/** Ferry's version; the same as ferry-bundle's (packages/bundler/src/version.ts, checked by a test). */
export const FERRY_VERSION = '0.1.0';

export interface LoaderVersion {
  ferry: string;
  node: string;
  platform: string;
  singleExecutable: boolean;
}

export function loaderVersion(): LoaderVersion {
  return { ferry: FERRY_VERSION, node: process.versions.node, platform: `${process.platform}-${process.arch}`, singleExecutable: sea.isSea() };
}

export function versionText(v: LoaderVersion = loaderVersion()): string {
  return `ferry-load ${v.ferry} (Node.js ${v.node}, ${v.platform}${v.singleExecutable ? ', single executable' : ''})\n`;
}

/** `--version` alone, before any command: print and return true. */
export function printedVersion(args: readonly string[]): boolean {
  if (!(args.length === 1 && (args[0] === '--version' || args[0] === '-V'))) return false;
  process.stdout.write(versionText());
  return true;
}
