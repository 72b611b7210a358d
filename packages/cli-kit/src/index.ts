export { bar, formatBytes, formatDuration } from './format.js';
export {
  createProgress,
  interruptLine,
  outputMode,
  type OutputMode,
  type Progress,
  type ProgressOptions,
  type ProgressState,
  renderLine,
} from './progress.js';
export { errorDocument, exitCodeHelp, type MainOptions, reportError } from './main.js';
export { asArray, type ProgramInfo, runCommands, versionText } from './yargs-main.js';
export {
  isQuiet,
  jsonLine,
  jsonText,
  plainSymbols,
  reportDocument,
  safeLine,
  setQuiet,
  wantsPlain,
  writeJson,
  writeReportFile,
  writeText,
} from './safe-output.js';
export { closest, closestName, editDistance } from './suggest.js';
export { terminalPrompt, type PromptInput, type TerminalPrompt } from './passphrase.js';
export { DIFF_COMMAND, diffCmd, manifestDiffText, type DiffArgs } from './diff-command.js';
