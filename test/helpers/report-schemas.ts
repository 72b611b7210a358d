// Validators for the --json reports (schemas/*-report.schema.json), with the shared definitions
// (schemas/report-defs.schema.json) they refer to loaded first, and the one assertion every test
// of a report makes: it parses, it matches its schema, and reportVersion comes first.
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as assert from 'uvu/assert';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { newAjv } from '@ferry/format-spec';

const dir = fileURLToPath(new URL('../../schemas/', import.meta.url));
const load = (name: string): object => JSON.parse(readFileSync(`${dir}${name}.schema.json`, 'utf8')) as object;

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

/** Every report schema in schemas/ (NAME of NAME.schema.json). */
export function reportSchemaNames(): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('-report.schema.json'))
    .map((f) => f.slice(0, -'.schema.json'.length))
    .sort();
}

/** Whether `doc` matches schemas/NAME.schema.json, and ajv's errors when it does not. */
export function reportErrors(name: string, doc: unknown): string | undefined {
  const v = reportValidator(name);
  return v(doc) ? undefined : JSON.stringify(v.errors, null, 1);
}

/**
 * `text` (a command's --json output, or a --report file) as one JSON document that matches
 * schemas/NAME.schema.json and starts with reportVersion; fails the test otherwise.
 */
export function assertReport(name: string, text: string, what = name): Record<string, unknown> {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text) as Record<string, unknown>;
  } catch {
    assert.unreachable(`${what}: not one JSON document: ${text.slice(0, 300)}`);
    throw new Error('unreachable');
  }
  const errors = reportErrors(name, doc);
  assert.ok(errors === undefined, `${what} does not match schemas/${name}.schema.json: ${errors}\n${text.slice(0, 2000)}`);
  assert.is(Object.keys(doc)[0], 'reportVersion', `${what}: reportVersion comes first`);
  return doc;
}
