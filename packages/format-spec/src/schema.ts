// Schema validation of the bundle manifest (ajv, schemas/bundle-manifest.schema.json) plus the
// cross-field rules a JSON Schema cannot say. Run on write (never emit a bundle we would
// refuse) and on read (never act on a manifest we do not understand).

import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { FerryError } from './errors.js';
import { bundlePathProblem } from './bundle-paths.js';
import { checkManifestRules, findControlCharacter } from './manifest-rules.js';
import { BUNDLE_FORMATS, type BundleManifest } from './manifest-types.js';
import { printable } from './text.js';
import { readSchema } from './schema-files.js';

export { SCHEMAS_DIR, SCHEMA_FILES, readSchema, type SchemaFile } from './schema-files.js';

const DATE_TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export function newAjv(extra: { verbose?: boolean } = {}): Ajv2020 {
  // Patterns are compiled with the u flag (ajv's default), so \p{Cc} works in them.
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true, unicodeRegExp: true, ...extra });
  ajv.addFormat('date-time', DATE_TIME_RE);
  return ajv;
}

let manifestValidator: ValidateFunction | undefined;

function compiledManifestSchema(): ValidateFunction {
  if (!manifestValidator) {
    const schema = readSchema('bundle-manifest.schema.json');
    // verbose: errors carry the offending value, so a message can show it.
    manifestValidator = newAjv({ verbose: true }).compile(schema);
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
    const extra = e.keyword === 'additionalProperties' ? ` "${printable((e.params as { additionalProperty: string }).additionalProperty)}"` : '';
    let line = `${where}: ${e.message ?? e.keyword}${extra}`;
    if (e.keyword === 'pattern' && typeof e.data === 'string') {
      // A carried path says why it is refused; other values are shown (escaped) beside the pattern.
      const why = e.schemaPath.includes('/relPath/') ? bundlePathProblem(e.data) : null;
      const shown = `"${printable(e.data.slice(0, 200))}"`;
      line = why ? `${where}: ${shown} ${why}` : `${line} (got ${shown})`;
    }
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
  const known = typeof head.schemaVersion === 'number' ? BUNDLE_FORMATS[head.schemaVersion] : undefined;
  if (known === undefined || head.mediaType !== known) {
    const reads = Object.entries(BUNDLE_FORMATS).map(([v, mt]) => `schemaVersion ${v} (${mt})`).join(', ');
    throw new FerryError(
      'SCHEMA_VERSION_UNSUPPORTED',
      `${where}: bundle format ${JSON.stringify(head.mediaType ?? null)} schemaVersion ${JSON.stringify(head.schemaVersion ?? null)} is not one this Ferry reads (it reads ${reads})`,
      { file: where },
    );
  }
  validateManifest(doc, where);
  return doc as BundleManifest;
}

/** Every string free of control characters, then the schema, then the cross-field rules
 *  (manifest-rules.ts); throws SCHEMA_INVALID naming the first problems. */
export function validateManifest(doc: unknown, where: string): asserts doc is BundleManifest {
  // First, so a path like "x\n/../../etc" is named for what it holds, not for a pattern.
  const cc = findControlCharacter(doc);
  if (cc) throw new FerryError('SCHEMA_INVALID', `${where}: ${printable(cc.pointer)} holds a control character or line separator: "${printable(cc.value.slice(0, 300))}"`, { file: where });
  const validate = compiledManifestSchema();
  if (!validate(doc)) {
    throw new FerryError('SCHEMA_INVALID', `${where}: ${formatAjvErrors(validate.errors)}`, { file: where });
  }
  checkManifestRules(doc as BundleManifest, where);
}
