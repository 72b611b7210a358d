// Schema validation of the bundle manifest (ajv, schemas/bundle-manifest.schema.json) plus the
// cross-field rules a JSON Schema cannot say. Run on write (never emit a bundle we would
// refuse) and on read (never act on a manifest we do not understand).

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { FerryError } from './errors.js';
import { BUNDLE_MEDIA_TYPE, BUNDLE_SCHEMA_VERSION, type BundleManifest } from './manifest-types.js';

/** Root of the repository's schemas/ directory (same relative place from src/ and dist/). */
export const SCHEMAS_DIR = fileURLToPath(new URL('../../../schemas/', import.meta.url));

const DATE_TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export function newAjv(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
  ajv.addFormat('date-time', DATE_TIME_RE);
  return ajv;
}

let manifestValidator: ValidateFunction | undefined;

function compiledManifestSchema(): ValidateFunction {
  if (!manifestValidator) {
    const schema = JSON.parse(readFileSync(`${SCHEMAS_DIR}bundle-manifest.schema.json`, 'utf8')) as object;
    manifestValidator = newAjv().compile(schema);
  }
  return manifestValidator;
}

export function formatAjvErrors(errors: readonly ErrorObject[] | null | undefined, max = 5): string {
  if (!errors?.length) return 'invalid';
  // oneOf failures repeat each branch's complaint; keep the distinct, most specific ones.
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const e of errors) {
    if (e.keyword === 'oneOf' || e.keyword === 'if') continue;
    const where = e.instancePath || '(root)';
    const extra = e.keyword === 'additionalProperties' ? ` "${(e.params as { additionalProperty: string }).additionalProperty}"` : '';
    const line = `${where}: ${e.message ?? e.keyword}${extra}`;
    if (!seen.has(line)) {
      seen.add(line);
      lines.push(line);
    }
  }
  const shown = lines.slice(0, max);
  if (lines.length > max) shown.push(`… and ${lines.length - max} more`);
  return shown.join('; ');
}

/** Parse and validate manifest bytes; `where` names the file for messages. */
export function parseManifest(bytes: Uint8Array, where: string): BundleManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (e) {
    throw new FerryError('SCHEMA_INVALID', `${where}: not valid JSON (${(e as Error).message})`, { file: where });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new FerryError('SCHEMA_INVALID', `${where}: not a JSON object`, { file: where });
  }
  const head = doc as { schemaVersion?: unknown; mediaType?: unknown };
  if (head.schemaVersion !== BUNDLE_SCHEMA_VERSION || head.mediaType !== BUNDLE_MEDIA_TYPE) {
    throw new FerryError(
      'SCHEMA_VERSION_UNSUPPORTED',
      `${where}: bundle format ${JSON.stringify(head.mediaType ?? null)} schemaVersion ${JSON.stringify(head.schemaVersion ?? null)} is not one this Ferry reads (it reads schemaVersion ${BUNDLE_SCHEMA_VERSION}, ${BUNDLE_MEDIA_TYPE})`,
      { file: where },
    );
  }
  validateManifest(doc, where);
  return doc as BundleManifest;
}

/** Schema plus consistency rules; throws SCHEMA_INVALID naming the first problems. */
export function validateManifest(doc: unknown, where: string): asserts doc is BundleManifest {
  const validate = compiledManifestSchema();
  if (!validate(doc)) {
    throw new FerryError('SCHEMA_INVALID', `${where}: ${formatAjvErrors(validate.errors)}`, { file: where });
  }
  const m = doc as BundleManifest;
  const fail = (msg: string): never => {
    throw new FerryError('SCHEMA_INVALID', `${where}: ${msg}`, { file: where });
  };
  m.volumes.forEach((v, i) => {
    if (v.index !== i + 1) fail(`volumes[${i}] has index ${v.index}, expected ${i + 1}`);
    const expected = `${m.name}-${String(v.index).padStart(3, '0')}.tar.zst`;
    if (v.file !== expected) fail(`volumes[${i}].file is ${v.file}, expected ${expected}`);
  });
  const blobs = new Map<string, (typeof m.blobs)[number]>();
  for (const [i, b] of m.blobs.entries()) {
    if (blobs.has(b.digest)) fail(`blobs[${i}] ${b.digest} is listed twice`);
    blobs.set(b.digest, b);
    if (b.volume !== undefined && b.volume > m.volumes.length) fail(`blobs[${i}] is in volume ${b.volume}, but there are ${m.volumes.length}`);
    if (b.segments) {
      let offset = 0;
      b.segments.forEach((s, j) => {
        if (s.index !== j + 1) fail(`blobs[${i}].segments[${j}] has index ${s.index}, expected ${j + 1}`);
        if (s.offset !== offset) fail(`blobs[${i}].segments[${j}] starts at ${s.offset}, expected ${offset}`);
        if (s.volume > m.volumes.length) fail(`blobs[${i}].segments[${j}] is in volume ${s.volume}, but there are ${m.volumes.length}`);
        if (j > 0 && s.volume <= b.segments![j - 1]!.volume) fail(`blobs[${i}].segments[${j}] is not in a later volume than the segment before`);
        offset += s.size;
      });
      if (offset !== b.size) fail(`blobs[${i}] segments add up to ${offset} bytes, blob size is ${b.size}`);
    }
  }
  const need = (d: string, what: string) => {
    if (!blobs.has(d)) fail(`${what} refers to ${d}, which is not in blobs`);
  };
  const paths = new Set<string>();
  for (const [i, img] of m.images.entries()) {
    img.blobs.forEach((d) => need(d, `images[${i}]`));
    if (img.blobs[img.blobs.length - 1] !== img.digest) fail(`images[${i}].blobs must end with the image digest ${img.digest}`);
    const root = blobs.get(img.digest)!;
    if (root.size !== img.size || root.mediaType !== img.mediaType) fail(`images[${i}] size or mediaType differs from its blob entry`);
    for (const [j, r] of (img.referrers ?? []).entries()) {
      r.blobs.forEach((d) => need(d, `images[${i}].referrers[${j}]`));
      if (r.blobs[r.blobs.length - 1] !== r.digest) fail(`images[${i}].referrers[${j}].blobs must end with its digest`);
    }
  }
  for (const [i, f] of [...m.files.entries()].map(([i, f]) => [i, f] as const)) {
    need(f.digest, `files[${i}]`);
    if (blobs.get(f.digest)!.size !== f.size) fail(`files[${i}] size differs from its blob entry`);
    if (paths.has(f.path)) fail(`files[${i}].path ${f.path} is used twice`);
    paths.add(f.path);
  }
  for (const [i, k] of m.keys.entries()) {
    need(k.digest, `keys[${i}]`);
    if (paths.has(k.path)) fail(`keys[${i}].path ${k.path} is used twice`);
    paths.add(k.path);
  }
}
