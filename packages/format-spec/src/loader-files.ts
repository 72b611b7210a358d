// The ferry-load executables a bundle may carry beside its volumes (format version 3,
// docs/format.md §3.7): one per platform, under a fixed file name, listed in the signed
// manifest's `loaders` and in NAME.sha256. They are optional: a reader checks each one present
// and reports the absent ones; they never live inside a volume (they must run before any
// volume is read).

import type { BundleManifest } from './manifest-types.js';

export const LOADER_PLATFORMS = ['linux-x64', 'linux-arm64', 'win-x64'] as const;
export type LoaderPlatform = (typeof LOADER_PLATFORMS)[number];

/** A carried executable as the manifest records it. */
export interface BundleLoader {
  platform: LoaderPlatform;
  /** Always loaderFileName(platform), in the bundle's directory. */
  file: string;
  digest: string;
  size: number;
}

export function isLoaderPlatform(s: string): s is LoaderPlatform {
  return (LOADER_PLATFORMS as readonly string[]).includes(s);
}

/** `ferry-load-linux-x64`, `ferry-load-linux-arm64`, `ferry-load-win-x64.exe`. */
export function loaderFileName(platform: LoaderPlatform): string {
  return `ferry-load-${platform}${platform.startsWith('win-') ? '.exe' : ''}`;
}

/** The platform whose executable is called `file`, if it is one. */
export function loaderPlatformOfFile(file: string): LoaderPlatform | undefined {
  return LOADER_PLATFORMS.find((p) => loaderFileName(p) === file);
}

/** The loaders of a manifest of any version (versions 1 and 2 carry none). */
export function loadersOf(m: Pick<BundleManifest, 'loaders'>): readonly BundleLoader[] {
  return m.loaders ?? [];
}

/** The cross-field rules of `loaders` (the schema checks the shapes): one per platform, each
 *  under its platform's file name. Returns the first problem. */
export function loaderRulesProblem(m: Pick<BundleManifest, 'loaders'>): string | undefined {
  const seen = new Set<string>();
  for (const [i, l] of loadersOf(m).entries()) {
    if (seen.has(l.platform)) return `loaders[${i}]: a second executable for ${l.platform}`;
    seen.add(l.platform);
    if (l.file !== loaderFileName(l.platform)) return `loaders[${i}].file is "${l.file}", but the ${l.platform} executable is always ${loaderFileName(l.platform)}`;
  }
  return undefined;
}
