// What an earlier bundle or a target inventory says the high side already holds. A blob found in
// a baseline is not carried again: the manifest lists it as required (format v4) and the loader
// proves the target has it before pushing anything.

/** One blob a baseline vouches for. `repositories` are where the target holds it (an inventory
 *  knows; an earlier bundle knows where it pushed it), so the loader can HEAD and mount from there. */
export interface BaselineBlob {
  size: number;
  mediaType?: string;
  repositories: readonly string[];
}

export interface Baseline {
  /** Stable name the manifest's required[].baseline refers to: the bundle's name, or
   *  `inventory:<target>@<created>` for an inventory. */
  name: string;
  kind: 'bundle' | 'inventory';
  /** sha256 of the baseline file exactly as read, `sha256:<hex>`. */
  digest: string;
  /** When the earlier bundle was made or the inventory taken (ISO 8601). */
  created?: string;
  /** digest -> what the baseline knows about it. */
  blobs: ReadonlyMap<string, BaselineBlob>;
}
