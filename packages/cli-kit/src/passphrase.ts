// Asking for a passphrase on the terminal, as cosign and ssh-keygen do: the question goes to
// stderr (stdout may carry --json or be piped), the answer is read from stdin in raw mode so the
// terminal never echoes it, and Ctrl-C / Ctrl-D end the command (INTERRUPTED, exit 130) with the
// terminal restored, never left in raw mode. Only offered when stdin is a terminal: off one,
// commands fail naming --password-file and the environment variables instead of waiting.

import { StringDecoder } from 'node:string_decoder';
import { FerryError } from '@ferry/format-spec';

export interface TerminalPrompt {
  /** One line typed without echo (a passphrase). */
  secret(question: string): Promise<string>;
  /** One short line typed with echo (a y/N answer). */
  line(question: string): Promise<string>;
  /** A line of text for the user, on the prompt's output (stderr). */
  say(text: string): void;
}

/** What the prompt needs of a terminal input (process.stdin when it is a TTY). */
export interface PromptInput extends NodeJS.EventEmitter {
  isTTY?: boolean;
  isRaw?: boolean;
  setRawMode?(mode: boolean): unknown;
  resume(): unknown;
  pause(): unknown;
}

const interrupted = (): FerryError => new FerryError('INTERRUPTED', 'interrupted at the passphrase prompt; nothing was written');

/**
 * A prompt on the terminal, or undefined when `input` is not one (then nobody can answer, and the
 * caller says which flag or variable to use instead).
 */
export function terminalPrompt(input: PromptInput = process.stdin, output: NodeJS.WritableStream = process.stderr): TerminalPrompt | undefined {
  if (!input.isTTY || typeof input.setRawMode !== 'function') return undefined;
  const setRaw = (on: boolean) => input.setRawMode!(on);
  // Keys typed ahead of the next question (a pasted "pw<Enter>pw<Enter>") wait here.
  let pending = '';
  const read = (question: string, echo: boolean): Promise<string> => {
    return new Promise((resolve, reject) => {
      const decoder = new StringDecoder('utf8');
      const chars: string[] = [];
      const wasRaw = input.isRaw === true;
      const finish = (err: FerryError | undefined, rest: string) => {
        input.removeListener('data', onData);
        setRaw(wasRaw);
        input.pause();
        pending = rest;
        output.write('\n');
        if (err) reject(err);
        else resolve(chars.join(''));
      };
      const take = (text: string): boolean => {
        const all = [...text];
        for (let i = 0; i < all.length; i++) {
          const ch = all[i]!;
          const rest = () => all.slice(i + 1).join('');
          if (ch === '\r' || ch === '\n') {
            // "\r\n" from a terminal sending both is one Enter.
            const r = rest();
            finish(undefined, ch === '\r' && r.startsWith('\n') ? r.slice(1) : r);
            return true;
          }
          if (ch === '\x03') {
            finish(interrupted(), '');
            return true;
          }
          if (ch === '\x04') {
            if (chars.length === 0) {
              finish(interrupted(), '');
              return true;
            }
            continue;
          }
          if (ch === '\x7f' || ch === '\b') {
            if (chars.length) {
              chars.pop();
              if (echo) output.write('\b \b');
            }
            continue;
          }
          if (ch === '\x15') {
            // Ctrl-U: start the line again.
            if (echo) output.write('\b \b'.repeat(chars.length));
            chars.length = 0;
            continue;
          }
          if (ch < ' ') continue; // other controls are not part of a passphrase
          chars.push(ch);
          if (echo) output.write(ch);
        }
        return false;
      };
      const onData = (chunk: Buffer | string) => {
        take(typeof chunk === 'string' ? chunk : decoder.write(chunk));
      };
      // Raw (no echo) before the question shows, so nothing typed in answer is ever echoed.
      setRaw(true);
      output.write(question);
      const ahead = pending;
      pending = '';
      if (ahead && take(ahead)) return;
      input.on('data', onData);
      input.resume();
    });
  };
  return {
    secret: (q) => read(q, false),
    line: (q) => read(q, true),
    say: (t) => void output.write(`${t}\n`),
  };
}
