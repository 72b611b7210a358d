// The shared shell of both CLIs: strict yargs, `--version`/`version`, `completion bash|zsh`,
// "did you mean" for mistyped subcommands and options, the exit-code table in --help, usage
// errors as FerryError('USAGE'), and every thrown error reported through reportError.

import * as sea from 'node:sea';
import yargs, { type Argv } from 'yargs';
import { FerryError } from '@ferry/format-spec';
import { errorDocument, exitCodeHelp, reportError } from './main.js';
import { setQuiet, writeJson, writeReportFile } from './safe-output.js';
import { unknownOptionsMessage } from './suggest.js';

/** What `--version` says: the Ferry release and the bundle format versions it reads and writes. */
export interface ProgramInfo {
  version: string;
  formats: { reads: readonly number[]; writes: readonly number[] };
}

/** Inside the ferry-load single executable (npm run build:loader), the runtime is the one built into it. */
const singleExecutable = sea.isSea();

export function versionText(program: string, info: ProgramInfo): string {
  return `${program} ${info.version}\nbundle format: reads ${info.formats.reads.join(', ')}; writes ${info.formats.writes.join(', ')}\nruntime: Node.js ${process.version} (${process.platform}-${process.arch}${singleExecutable ? ', single executable' : ''})\n`;
}

function printVersion(program: string, info: ProgramInfo, json: boolean): void {
  if (json) writeJson({ program, version: info.version, formats: info.formats, runtime: { node: process.version, platform: `${process.platform}-${process.arch}`, singleExecutable } });
  else process.stdout.write(versionText(program, info));
}

/**
 * Run `args` through the commands `define` adds; commands report their exit code through
 * `setCode`. Returns the process exit code.
 */
export async function runCommands(program: string, args: string[], usage: string, define: (y: Argv, setCode: (n: number) => void) => Argv, demand: string, info: ProgramInfo): Promise<number> {
  const wantsJson = args.includes('--json');
  // `--version` anywhere before a subcommand's own arguments, as skopeo/helm/cosign answer it.
  if (args[0] === '--version' || args[0] === '-V') {
    printVersion(program, info, wantsJson);
    return 0;
  }
  // yargs' completion command has no help of its own: `completion -h` would print the script.
  const completionAbout = `Print a shell completion script: ${program} completion bash >> ~/.bashrc (or zsh >> ~/.zshrc)`;
  if (args[0] === 'completion' && (args.includes('-h') || args.includes('--help'))) {
    process.stdout.write(`${program} completion [bash|zsh]\n\n${completionAbout}\n\nOptions:\n  -h, --help  Show help\n\n${exitCodeHelp()}\n`);
    return 0;
  }
  // `completion bash|zsh`: yargs picks the script from $SHELL; the argument says it instead.
  if (args[0] === 'completion' && (args[1] === 'bash' || args[1] === 'zsh')) {
    process.env.SHELL = `/bin/${args[1]}`;
    args = ['completion'];
  }
  let code = 0;
  // --report FILE of the command that runs: a run that fails outright still leaves its document
  // there (an unattended load must say why it did not happen, not leave an old or no file).
  let reportFile: string | undefined;
  try {
    const top = yargs(args).scriptName(program).usage(usage);
    // Every command's --help ends with the exit-code table too (yargs shows only a command's own epilogue).
    const command = top.command.bind(top) as (...a: unknown[]) => Argv;
    (top as unknown as { command: (...a: unknown[]) => Argv }).command = (...a: unknown[]): Argv => {
      const builder = a[2];
      if (typeof builder === 'function') a[2] = (y: Argv) => (builder as (y: Argv) => Argv)(y).epilogue(exitCodeHelp());
      return command(...a);
    };
    await define(top, (n) => (code = n))
      .command('version', 'Print the Ferry version and the bundle format versions it reads and writes', (y) => y.option('json', { type: 'boolean', default: false, describe: 'Print one JSON document on stdout (and no progress)' }), (a) => printVersion(program, info, Boolean(a.json)))
      .completion('completion', completionAbout)
      .option('quiet', { alias: 'q', type: 'boolean', global: true, describe: 'Print nothing but errors (for cron): the exit code says how it went; --json and --report still write their documents' })
      .middleware((a) => {
        setQuiet(Boolean(a.quiet));
        reportFile = typeof a.report === 'string' ? a.report : undefined;
      })
      .demandCommand(1, demand)
      .recommendCommands()
      .strict()
      .epilogue(exitCodeHelp())
      .help()
      .alias('help', 'h')
      .version(false)
      .wrap(Math.min(120, process.stdout.columns || 100))
      .fail((msg, err, y) => {
        if (err) throw err;
        // The third argument is yargs' usage instance for the command that failed: its option descriptions name every option it has.
        const usage = y as unknown as { getDescriptions?: () => Record<string, unknown> };
        const known = Object.keys(usage.getDescriptions?.() ?? {});
        if (msg?.startsWith('Did you mean')) throw new FerryError('USAGE', `unknown command "${args[0] ?? ''}". ${msg}`);
        throw new FerryError('USAGE', unknownOptionsMessage(msg, known, args) ?? msg);
      })
      .parseAsync();
    return code;
  } catch (e) {
    if (reportFile) await writeReportFile(reportFile, errorDocument(e)).catch(() => undefined);
    return reportError(e, { program, json: wantsJson });
  }
}

/** A repeatable yargs option as a list of strings (absent: empty; given once: one). */
export function asArray(v: unknown): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}
