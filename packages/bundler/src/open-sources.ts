// Turn an image source string into image sources: local transports (oci:, oci-archive:,
// docker-archive:) from @ferry/oci, registry references through one shared set of registry
// clients (connections and tokens reused across images).

import { BlobCache, type CacheStats } from './cache.js';
import { LayoutReaders, RegistryClients, RegistrySource, openLocalImageSources, parseImageSource, type ImageSource, type RegistryOptions } from '@ferry/oci';

export type SourceOpener = ((source: string) => Promise<ImageSource[]>) & {
  close(): void;
  /** What --cache served and stored (undefined without a cache). */
  cacheStats(): CacheStats | undefined;
};

export function sourceOpener(registry: RegistryOptions = {}, cacheDir?: string): SourceOpener {
  let clients: RegistryClients | undefined;
  const cache = cacheDir ? new BlobCache(cacheDir) : undefined;
  // Many images of one layout: its index.json is read and parsed once.
  const layouts = new LayoutReaders();
  const open = async (source: string): Promise<ImageSource[]> => {
    const parsed = parseImageSource(source);
    if (parsed.transport === 'docker') {
      clients ??= new RegistryClients(registry);
      const src = new RegistrySource(parsed.reference ?? source, clients);
      return [cache ? cache.wrap(src) : src];
    }
    return openLocalImageSources(source, layouts);
  };
  return Object.assign(open, { close: () => clients?.close(), cacheStats: () => cache?.stats });
}
