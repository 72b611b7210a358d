// The push engine's public shapes: options in, the plan the operator confirms, events while it
// runs, and the report at the end.

import type { Signer, TrustedKey } from '@ferry/format-spec';
import type { RegistryOptions } from '@ferry/oci';
import type { TrustedManifest } from '../bundle.js';
import type { RewriteRule } from '../rewrite.js';
import type { CheckItem } from '../check.js';
import type { DeltaReport } from '../delta-report.js';
import type { ChartSink } from '@ferry/charts';
import type { ImagePolicy } from '../trust/policy.js';
import type { ImageSignature } from '../trust/image-signatures.js';
import type { ChartEvent, ChartPlanItem, ChartReportItem } from '../charts/deliver.js';

/** The image policy (--image-key, --require-signed-images, --require-attestation, --image-identity) is part of it. */
export interface PushOptions extends ImagePolicy {
  trustedKeys: readonly TrustedKey[];
  allowUnsigned?: boolean;
  /** `oci:DIR`, or `HOST[:PORT][/PREFIX]` (also `docker://…`) for a registry. Only a bundle that
   *  carries nothing but charts may leave it out (then `charts` are the only destinations). */
  to?: string;
  /** Where files and keys go; default `<DIR>-files` for a layout, none for a registry. */
  filesDir?: string;
  /** For registry targets: what the registry cannot tell a later run (split blobs in progress). */
  stateDir?: string;
  /** Auth, TLS, retries for registry targets (as for pulls). */
  registry?: RegistryOptions;
  /** Requests (or blob checks) in flight at once, shared by all images (default 6 for a registry). */
  concurrency?: number;
  rewrites?: RewriteRule[];
  /** Chart destinations (--charts), opened by the caller; closed by it too. */
  charts?: readonly ChartSink[];
  /** Replace a chart a destination holds with other bytes under the same version (--force). */
  forceCharts?: boolean;
  /** Replace carried files whose local copy was changed (default: keep them and say so). */
  overwriteFiles?: boolean;
  /** Refuse, before writing anything, to move a tag that points at another digest. */
  noRetag?: boolean;
  /** Called with the plan after every check and before anything is written; false declines. */
  confirm?: (tm: TrustedManifest, plan: PushPlan) => Promise<boolean>;
  onEvent?: (e: PushEvent) => void;
  nextVolume?: NextVolume;
  /** Abort (Ctrl-C): the run stops at the next safe point, tags nothing incomplete. */
  signal?: AbortSignal;
}

/**
 * Asked when a volume still needed is not here (the operator swaps discs within one run):
 * resolves to the path to read it from (`expectedAt` once the disc is in), or undefined to stop.
 */
export type NextVolume = (ask: { index: number; of: number; file: string; expectedAt: string }) => Promise<string | undefined>;

export interface TagMove {
  ref: string;
  from: string;
  to: string;
}

export interface FileConflict {
  path: string;
  /** What will happen: replaced (--overwrite-files) or kept as it is. */
  action: 'overwrite' | 'keep';
}

/** Where one bundled image goes. */
export interface NameMapping {
  source: string;
  /** The full reference users pull. */
  target: string;
  /** The repository in the target. */
  repository: string;
  /** Blobs (the image's and its signatures') and how many the target holds already. */
  blobs: number;
  present: number;
}

/** What a push will do, computed without writing anything. */
export interface PushPlan {
  target: string;
  /** `charts`: a bundle of charts only, loaded without --to. */
  targetKind: 'layout' | 'registry' | 'charts';
  /** Absent for a registry target without --files-dir (carried files are then not written). */
  filesDir?: string;
  mapping: NameMapping[];
  volumesPresent: number[];
  volumesMissing: number[];
  /** Present volumes that hold something still needed (the ones this run reads). */
  volumesToRead: number[];
  /** Image blobs already in the target and verified. */
  blobsAlreadyThere: number;
  /** Blobs in the target with the wrong size or content: they will be replaced. */
  blobsDamaged: number;
  /** Tags in the target that this bundle moves to another digest. */
  retags: TagMove[];
  /** Carried files whose path holds other content Ferry did not write. */
  fileConflicts: FileConflict[];
  /** Worth knowing before saying yes (e.g. a split blob's upload session the registry lost). */
  notes: string[];
  images: number;
  files: number;
  /** Per chart and destination: upload, skip (there), replace (--force) or refuse. */
  charts: ChartPlanItem[];
  /** With --image-key: each image's signature status, in manifest order (as mapping). */
  signatures?: ImageSignature[];
}

export type PushEvent =
  | { type: 'checking'; what: string }
  | { type: 'volume-start'; file: string }
  | { type: 'volume-done'; file: string; written: number; skipped: number }
  | { type: 'volume-skip'; file: string; reason: string }
  | { type: 'volume-failed'; file: string; code: string; message: string }
  | { type: 'bytes'; bytes: number; total: number }
  | { type: 'blob'; digest: string; repository: string; how: 'uploaded' | 'mounted' | 'exists' }
  | { type: 'image'; ref: string; digest: string; retagged?: string }
  | { type: 'image-refused'; ref: string; message: string }
  | { type: 'file'; path: string }
  | { type: 'file-kept'; path: string }
  | ChartEvent;

export type ImageStatus = 'loaded' | 'pending' | 'refused';
export type FileStatus = 'written' | 'unchanged' | 'kept' | 'pending' | 'skipped';

export interface PushReport {
  bundle: string;
  target: string;
  targetKind: 'layout' | 'registry' | 'charts';
  filesDir?: string;
  /** Who signed the bundle, as the trusted key verified it. */
  signer?: Signer;
  /** `referrers`: cosign-tag artifacts tagged beside the image. `retaggedFrom`: the digest the tag pointed at before. */
  /** `policy`: refused by --require-signed-images (not by its content). `signature`: with --image-key. */
  images: Array<{ source: string; ref: string; digest: string; status: ImageStatus; referrers: number; retaggedFrom?: string; reason?: string; policy?: boolean; signature?: ImageSignature }>;
  files: Array<{ path: string; status: FileStatus; reason?: string }>;
  /** Per chart and destination (--charts). */
  charts: ChartReportItem[];
  retagged: TagMove[];
  /** Volumes this bundle still needs (absent ones): exactly those holding what is still missing. */
  volumesMissing: string[];
  /** Volumes that were here but could not be read; re-copy them. */
  volumesDamaged: Array<{ file: string; code: string; message: string }>;
  notes: string[];
  blobsWritten: number;
  /** Registry targets: blobs sent once and mounted into other repositories instead of sent again. */
  blobsMounted: number;
  bytesWritten: number;
  complete: boolean;
  /** The post-load check of what this run tagged; `items` lists only what is wrong. */
  check?: { ok: boolean; items: CheckItem[] };
  /** A delta bundle: the blobs it required the target to hold (all found, or mounted), and its baselines. */
  delta?: DeltaReport;
  seconds: number;
}
