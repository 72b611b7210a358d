// The shared shell of both CLIs: strict yargs, the exit-code table in --help, usage errors as
// FerryError('USAGE'), and every thrown error reported through reportError.

import yargs, { type Argv } from 'yargs';
import { FerryError } from '@ferry/format-spec';
import { exitCodeHelp, reportError } from './main.js';

/**
 * Run `args` through the commands `define` adds; commands report their exit code through
 * `setCode`. Returns the process exit code.
 */
export async function runCommands(program: string, args: string[], usage: string, define: (y: Argv, setCode: (n: number) => void) => Argv, demand: string): Promise<number> {
  const wantsJson = args.includes('--json');
  let code = 0;
  try {
    await define(yargs(args).scriptName(program).usage(usage), (n) => (code = n))
      .demandCommand(1, demand)
      .strict()
      .epilogue(exitCodeHelp())
      .help()
      .version(false)
      .fail((msg, err) => {
        if (err) throw err;
        throw new FerryError('USAGE', msg);
      })
      .parseAsync();
    return code;
  } catch (e) {
    return reportError(e, { program, json: wantsJson });
  }
}

/** A repeatable yargs option as a list of strings (absent: empty; given once: one). */
export function asArray(v: unknown): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}
