// A target inventory (`ferry-load inventory`): what a registry or OCI layout holds, carried back
// to the connected side as a baseline for delta bundles. Written sorted and compact, so the same
// target gives the same bytes (and a detached signature over them, as for bundle manifests).
// Read as untrusted input: schemas/inventory.schema.json, then the rules a schema cannot say.

import type { ValidateFunction } from 'ajv/dist/2020.js';
import { FerryError } from './errors.js';
import { findControlCharacter } from './manifest-rules.js';
import { hasCredentials } from './redact-credentials.js';
import { formatAjvErrors, newAjv } from './schema.js';
import { readSchema } from './schema-files.js';
import { printable } from './text.js';

export const INVENTORY_MEDIA_TYPE = 'application/vnd.ferry.inventory.v1+json';
export const INVENTORY_VERSION = 1;
/** An inventory of 100 000 blobs is about 18 MiB; the same cap as a bundle manifest (what --baseline reads). */
export const MAX_INVENTORY_BYTES = 64 * 1024 * 1024;

export interface InventoryRepository {
  name: string;
  /** tag -> digest of the manifest or index it points at. */
  tags: Record<string, string>;
}

export interface InventoryBlob {
  digest: string;
  size: number;
  mediaType?: string;
  /** Repositories holding it (for a layout: those whose tags reach it; one store serves all). */
  repositories: string[];
}

export interface Inventory {
  mediaType: typeof INVENTORY_MEDIA_TYPE;
  inventoryVersion: 1;
  created: string;
  ferryVersion: string;
  /** HOST[:PORT][/PREFIX] or oci:DIR; never credentials. */
  target: string;
  /** true: blobs[] is every blob the target holds; false: those reachable from the tags listed. */
  complete: boolean;
  repositories: InventoryRepository[];
  blobs: InventoryBlob[];
}

let validator: ValidateFunction | undefined;

function fail(where: string, msg: string): never {
  throw new FerryError('BASELINE_INVALID', `${printable(where)}: ${msg}`, { file: where });
}

const show = (s: string): string => `"${printable(s.slice(0, 200))}"`;

/** Schema, then rules; throws BASELINE_INVALID naming the first problems. */
export function validateInventory(doc: unknown, where: string): asserts doc is Inventory {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) fail(where, 'not a JSON object');
  const head = doc as { mediaType?: unknown; inventoryVersion?: unknown };
  if (head.mediaType !== INVENTORY_MEDIA_TYPE || head.inventoryVersion !== INVENTORY_VERSION) {
    fail(where, `not a Ferry inventory this version reads (mediaType ${show(JSON.stringify(head.mediaType ?? null))}, inventoryVersion ${show(JSON.stringify(head.inventoryVersion ?? null))}; expected ${INVENTORY_MEDIA_TYPE} version ${INVENTORY_VERSION})`);
  }
  const cc = findControlCharacter(doc);
  if (cc) fail(where, `${printable(cc.pointer)} holds a control character or line separator`);
  // Before the schema, whose message would quote the value: a password is never echoed.
  const target = (doc as { target?: unknown }).target;
  if (typeof target === 'string' && !target.startsWith('oci:') && (target.includes('@') || hasCredentials(target))) fail(where, 'target carries credentials (user:password@); an inventory never holds them');
  validator ??= newAjv({ verbose: true }).compile(readSchema('inventory.schema.json'));
  if (!validator(doc)) fail(where, formatAjvErrors(validator.errors));
  checkInventoryRules(doc as Inventory, where);
}

function checkInventoryRules(inv: Inventory, where: string): void {
  const repos = new Set<string>();
  for (const r of inv.repositories) {
    if (repos.has(r.name)) fail(where, `repository ${show(r.name)} is listed twice`);
    repos.add(r.name);
  }
  const digests = new Set<string>();
  for (const b of inv.blobs) {
    if (digests.has(b.digest)) fail(where, `blob ${b.digest} is listed twice`);
    digests.add(b.digest);
    const seen = new Set<string>();
    for (const r of b.repositories) {
      if (seen.has(r)) fail(where, `blob ${b.digest} names repository ${show(r)} twice`);
      seen.add(r);
      if (!repos.has(r)) fail(where, `blob ${b.digest} is said to be in repository ${show(r)}, which repositories[] does not list`);
    }
  }
}

/** Parse and validate inventory bytes (at most MAX_INVENTORY_BYTES). */
export function parseInventory(bytes: Uint8Array, where: string): Inventory {
  if (bytes.length > MAX_INVENTORY_BYTES) fail(where, `${bytes.length} bytes, more than an inventory can be (${MAX_INVENTORY_BYTES})`);
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (e) {
    fail(where, `not valid JSON (${printable((e as Error).message)})`);
  }
  validateInventory(doc, where);
  return doc;
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The canonical bytes: every list and map sorted, one compact JSON line, validated first
 *  (Ferry never writes an inventory it would refuse to read). */
export function inventoryBytes(inv: Inventory): Buffer {
  const sorted: Inventory = {
    mediaType: inv.mediaType,
    inventoryVersion: inv.inventoryVersion,
    created: inv.created,
    ferryVersion: inv.ferryVersion,
    target: inv.target,
    complete: inv.complete,
    repositories: [...inv.repositories]
      .sort((a, b) => byString(a.name, b.name))
      .map((r) => ({ name: r.name, tags: Object.fromEntries(Object.entries(r.tags).sort(([a], [b]) => byString(a, b))) })),
    blobs: [...inv.blobs]
      .sort((a, b) => byString(a.digest, b.digest))
      .map((b) => ({ digest: b.digest, size: b.size, ...(b.mediaType !== undefined ? { mediaType: b.mediaType } : {}), repositories: [...b.repositories].sort(byString) })),
  };
  validateInventory(sorted, 'inventory being written');
  return Buffer.from(JSON.stringify(sorted) + '\n');
}
