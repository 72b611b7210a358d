// Every image that could not be resolved, reported together: `ferry-bundle create` resolves
// all images before it stops, so one run names every bad reference (not only the first). The
// error's code — and so its exit code, from the one table in format-spec — is the first
// failure's (in the order the images were given); `--json` lists each one with its own code.

import { FerryError, printable, redactCredentials } from '@ferry/format-spec';

export interface ImageFailure {
  source: string;
  code: FerryError['code'];
  message: string;
}

export class ImageFailures extends FerryError {
  constructor(readonly failures: readonly ImageFailure[]) {
    const first = failures[0]!;
    const lines = failures.map((f) => `  ${f.source}: [${f.code}] ${f.message}`);
    super(
      first.code,
      failures.length === 1
        ? first.message
        : `${failures.length} images could not be resolved (nothing was written; --keep-going bundles the rest):\n${lines.join('\n')}`,
      { failed: failures.length },
    );
  }

  /** The --json document: the usual error object plus every failure, credential-free. */
  toJson(): Record<string, unknown> {
    const clean = (s: string): string => printable(redactCredentials(s));
    return {
      ok: false,
      error: { code: this.code, message: clean(this.message), hint: this.hint, exitCode: this.exitCode, details: { failed: this.failures.length } },
      failures: this.failures.map((f) => ({ source: clean(f.source), code: f.code, message: clean(f.message) })),
    };
  }
}
