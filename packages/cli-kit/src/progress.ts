// Progress on long work: ink when stderr is a terminal, plain lines otherwise, nothing but the
// final state when CI=true, nothing at all with --json (machines read stdout).

import { bar, formatBytes, formatDuration } from './format.js';
import { isQuiet, plainSymbols, safeLine, wantsPlain } from './safe-output.js';

/** quiet: --quiet, nothing but errors. */
export type OutputMode = 'json' | 'tty' | 'plain' | 'ci' | 'quiet';

export function outputMode(json: boolean, stream: NodeJS.WriteStream = process.stderr): OutputMode {
  if (json) return 'json';
  if (isQuiet()) return 'quiet';
  if (process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0') return 'ci';
  return stream.isTTY ? 'tty' : 'plain';
}

export interface ProgressState {
  bytes: number;
  total: number;
  detail?: string;
  /** Per-item state lines under the bar (a terminal shows them; plain output does not). */
  rows?: string[];
}

export interface Progress {
  /** A line of narrative (an image resolved, a volume written). */
  log(line: string): void;
  update(state: ProgressState): void;
  /** Stop drawing; leaves the final state on screen in tty mode. */
  finish(): Promise<void>;
}

class Silent implements Progress {
  log(): void {}
  update(): void {}
  async finish(): Promise<void> {}
}

/** Plain lines: narrative as it happens, a progress line at most every 5 s or 10%. */
class Lines implements Progress {
  private lastAt = 0;
  private lastFrac = -1;
  private readonly start = Date.now();
  constructor(private readonly out: NodeJS.WritableStream, private readonly title: string) {}
  log(line: string): void {
    this.out.write((wantsPlain(this.out) ? plainSymbols(line) : line) + '\n');
  }
  update(s: ProgressState): void {
    const now = Date.now();
    const frac = s.total > 0 ? s.bytes / s.total : 0;
    if (now - this.lastAt < 5000 && frac - this.lastFrac < 0.1 && frac < 1) return;
    this.lastAt = now;
    this.lastFrac = frac;
    const secs = (now - this.start) / 1000;
    const rate = secs > 0 ? s.bytes / secs : 0;
    this.out.write(`${this.title}: ${(frac * 100).toFixed(0)}% ${formatBytes(s.bytes)} / ${formatBytes(s.total)} ${formatBytes(rate)}/s${s.detail ? ` ${s.detail}` : ''}\n`);
  }
  async finish(): Promise<void> {}
}

/** The progress line; with `columns` (the terminal's width) the bar takes what the text leaves, 10 to 40 cells. */
export function renderLine(title: string, s: ProgressState, startedAt: number, now = Date.now(), columns?: number): string {
  const secs = (now - startedAt) / 1000;
  const rate = secs > 0 ? s.bytes / secs : 0;
  const frac = s.total > 0 ? s.bytes / s.total : 0;
  const eta = rate > 0 ? (s.total - s.bytes) / rate : NaN;
  const text = ` ${(frac * 100).toFixed(0).padStart(3)}% ${formatBytes(s.bytes)}/${formatBytes(s.total)} ${formatBytes(rate)}/s ETA ${formatDuration(eta)}`;
  const width = columns === undefined ? 30 : Math.max(10, Math.min(40, columns - title.length - text.length - 2));
  return `${title} ${bar(frac, width)}${text}`;
}

/** Every line and detail sanitised before any display sees it: a log line is one line, whatever it quotes. */
class Sanitised implements Progress {
  constructor(private readonly inner: Progress) {}
  log(line: string): void {
    this.inner.log(safeLine(line));
  }
  update(s: ProgressState): void {
    this.inner.update({ ...s, ...(s.detail !== undefined ? { detail: safeLine(s.detail) } : {}), ...(s.rows ? { rows: s.rows.map(safeLine) } : {}) });
  }
  finish(): Promise<void> {
    return this.inner.finish();
  }
}

/** The line left on Ctrl-C: how far the work got. */
export function interruptLine(title: string, s: ProgressState, stopsHere: boolean): string {
  const where = s.total > 0 ? `at ${Math.min(100, (s.bytes / s.total) * 100).toFixed(0)}% (${formatBytes(s.bytes)} of ${formatBytes(s.total)})` : `after ${formatBytes(s.bytes)}`;
  return stopsHere ? `${title}: interrupted ${where}; nothing more is done (exit 130): run the same command again` : `${title}: stopped ${where}`;
}

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * Ctrl-C or SIGTERM while a display is live: the bar stops and one line says how far the work
 * got, instead of a half-drawn bar or nothing, and the process exits 130 (INTERRUPTED) as it
 * would have without a display. A command that stops cleanly on the signal itself (push, with
 * `interrupt: 'command'`) is left to do that; a display then adds only where it stopped, and a
 * silent one (--quiet, CI) nothing, so the command's line is the one line. (Said explicitly, not
 * read from the signal's listeners: ink adds its own.)
 */
class Interruptible implements Progress {
  private last: ProgressState = { bytes: 0, total: 0 };
  private closing: Promise<void> | undefined;
  private readonly onSignal = (): void => void this.interrupted();
  constructor(private readonly inner: Progress, private readonly title: string, private readonly drawn: boolean, private readonly stopsHere: boolean) {
    for (const sig of SIGNALS) process.on(sig, this.onSignal);
  }
  log(line: string): void {
    if (!this.closing) this.inner.log(line);
  }
  update(s: ProgressState): void {
    this.last = s;
    if (!this.closing) this.inner.update(s);
  }
  finish(): Promise<void> {
    this.detach();
    return (this.closing ??= this.inner.finish());
  }
  private detach(): void {
    for (const sig of SIGNALS) process.off(sig, this.onSignal);
  }
  private async interrupted(): Promise<void> {
    this.detach();
    this.closing ??= this.inner.finish().then(() => {
      if (this.stopsHere || this.drawn) process.stderr.write(`${interruptLine(this.title, this.last, this.stopsHere)}\n`);
    });
    await this.closing;
    if (this.stopsHere) process.exit(130);
  }
}

export interface ProgressOptions {
  /** Who stops the run on Ctrl-C/SIGTERM: the display (exit 130, the default) or the command, which listens for the signal itself. */
  interrupt?: 'exit' | 'command';
}

export async function createProgress(mode: OutputMode, title: string, opts: ProgressOptions = {}): Promise<Progress> {
  if (mode === 'json') return new Silent();
  const name = safeLine(title);
  const exits = opts.interrupt !== 'command';
  // --quiet and CI draw nothing, but an interrupted run still says so on stderr (errors are never quiet).
  if (mode === 'ci' || mode === 'quiet') return new Interruptible(new Silent(), name, false, exits);
  if (mode === 'plain') return new Interruptible(new Sanitised(new Lines(process.stderr, name)), name, true, exits);
  const { InkProgress } = await import('./ink-progress.js');
  return new Interruptible(new Sanitised(new InkProgress(name)), name, true, exits);
}
