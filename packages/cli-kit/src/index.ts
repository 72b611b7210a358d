export * from './format.js';
export * from './progress.js';
export * from './main.js';
export * from './yargs-main.js';
export * from './safe-output.js';
export { closest, closestName, editDistance } from './suggest.js';
export { terminalPrompt, type PromptInput, type TerminalPrompt } from './passphrase.js';
export { DIFF_COMMAND, diffCmd, manifestDiffText, type DiffArgs } from './diff-command.js';
