// The JSON Schemas of schemas/, read where they are: from the repository in a build (same
// relative place from src/ and dist/), or from the assets of the single executable
// (ferry-load-<platform>, scripts/build-loader.mjs puts every schemas/*.json in its SEA
// config), which has no files beside it.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as sea from 'node:sea';

export type SchemaFile = 'bundle-manifest.schema.json' | 'bundle-spec.schema.json' | 'load-config.schema.json' | 'push-report.schema.json' | 'inventory.schema.json';

/** Every schema a single executable must carry. */
export const SCHEMA_FILES: readonly SchemaFile[] = ['bundle-manifest.schema.json', 'bundle-spec.schema.json', 'load-config.schema.json', 'push-report.schema.json', 'inventory.schema.json'];

/** Inside a single executable application (no import.meta.url to resolve files from). */
const inSea = sea.isSea();

/** Root of the repository's schemas/ directory; '' inside a single executable. */
export const SCHEMAS_DIR = inSea ? '' : fileURLToPath(new URL('../../../schemas/', import.meta.url));

/** A schema document, parsed. */
export function readSchema(name: SchemaFile): object {
  const text = inSea ? sea.getAsset(name, 'utf8') : readFileSync(`${SCHEMAS_DIR}${name}`, 'utf8');
  return JSON.parse(text) as object;
}
