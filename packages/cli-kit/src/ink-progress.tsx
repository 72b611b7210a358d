// The terminal view: finished lines scroll above (ink <Static>), the live bar stays at the bottom.

import { plainSymbols, wantsPlain } from './safe-output.js';
import { useEffect, useState } from 'react';
import { Box, Static, Text, render, type Instance } from 'ink';
import { renderLine, type Progress, type ProgressState } from './progress.js';

interface Model {
  lines: Array<{ id: number; text: string }>;
  state: ProgressState;
  done: boolean;
}

type Listener = (m: Model) => void;

function View({ title, subscribe, startedAt }: { title: string; subscribe: (l: Listener) => () => void; startedAt: number }) {
  const [model, setModel] = useState<Model>({ lines: [], state: { bytes: 0, total: 0 }, done: false });
  useEffect(() => subscribe(setModel), [subscribe]);
  return (
    <Box flexDirection="column">
      <Static items={model.lines}>{(l) => <Text key={l.id}>{l.text}</Text>}</Static>
      {model.state.total > 0 && !model.done ? (
        <Box flexDirection="column">
          <Text {...(wantsPlain(process.stderr) ? {} : { color: 'cyan' })}>{renderLine(title, model.state, startedAt, Date.now(), process.stderr.columns)}</Text>
          {model.state.detail ? <Text dimColor>{model.state.detail}</Text> : null}
          {(model.state.rows ?? []).map((r, i) => <Text key={i}>{r}</Text>)}
        </Box>
      ) : null}
    </Box>
  );
}

export class InkProgress implements Progress {
  private model: Model = { lines: [], state: { bytes: 0, total: 0 }, done: false };
  private listener: Listener | undefined;
  private readonly instance: Instance;
  private nextId = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(title: string) {
    const subscribe = (l: Listener) => {
      this.listener = l;
      l(this.model);
      return () => (this.listener = undefined);
    };
    this.instance = render(<View title={title} subscribe={subscribe} startedAt={Date.now()} />, { stdout: process.stderr, patchConsole: false });
  }

  private push(): void {
    // Coalesce updates: redraw at most ~10 times a second.
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.listener?.({ ...this.model });
    }, 100);
  }

  log(line: string): void {
    const text = wantsPlain(process.stderr) ? plainSymbols(line) : line; // NO_COLOR on a terminal
    this.model = { ...this.model, lines: [...this.model.lines, { id: this.nextId++, text }] };
    this.push();
  }

  update(state: ProgressState): void {
    this.model = { ...this.model, state };
    this.push();
  }

  async finish(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.model = { ...this.model, done: true };
    this.listener?.({ ...this.model });
    await new Promise((r) => setTimeout(r, 20));
    this.instance.unmount();
    await this.instance.waitUntilExit();
  }
}
