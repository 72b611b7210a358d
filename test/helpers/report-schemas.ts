// Validators for the --json reports (schemas/*-report.schema.json), with the shared definitions
// (schemas/report-defs.schema.json) they refer to loaded first.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { newAjv } from '@ferry/format-spec';

const load = (name: string): object => JSON.parse(readFileSync(fileURLToPath(new URL(`../../schemas/${name}.schema.json`, import.meta.url)), 'utf8')) as object;

let ajv: ReturnType<typeof newAjv> | undefined;
const cache = new Map<string, ValidateFunction>();

/** The validator for schemas/NAME.schema.json (e.g. `push-report`). */
export function reportValidator(name: string): ValidateFunction {
  if (!ajv) {
    ajv = newAjv();
    ajv.addSchema(load('report-defs'));
  }
  let v = cache.get(name);
  if (!v) {
    v = ajv.compile(load(name));
    cache.set(name, v);
  }
  return v;
}
