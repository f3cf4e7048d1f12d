// The Reporter that drives the Ink UI: every event is folded into the store at once; the screen is
// redrawn from the latest state at most 10 times a second (and once a second without events, so
// elapsed times and ETAs keep moving while a job evaluates).
import React from 'react';
import { render as inkRender } from 'ink';
import type { KdxEvent } from '../events.js';
import type { Reporter } from '../reporters/types.js';
import { App, MAX_WIDTH } from './App.js';
import { initialState, reduce, type RunView } from './store.js';
import { throttle, type Timers } from './throttle.js';

/** Shortest time between two redraws. */
export const FRAME_MS = 100;
/** Redraw at least this often, even without events. */
export const HEARTBEAT_MS = 1000;

/** The subset of Ink's instance the reporter uses (ink-testing-library's instance fits too). */
export interface InkInstance {
  rerender(node: React.ReactElement): void;
  unmount(): void;
  waitUntilExit?: () => Promise<unknown>;
}

export interface InkReporterOptions {
  stdout: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream;
  /** The user pressed `q` or Ctrl-C. */
  onQuit?: () => void;
  /** The user pressed another key. */
  onKey?: (input: string) => void;
  /** False under NO_COLOR. */
  color?: boolean;
  /** Mounts the UI; default Ink's render on the given streams. Tests pass ink-testing-library's. */
  render?: (node: React.ReactElement) => InkInstance;
  /** Clock and timers (tests). */
  timers?: Timers;
  /** Turns the idle heartbeat off (tests). */
  heartbeat?: boolean;
}

export interface InkReporter extends Reporter {
  /** The state as of the last event (for tests and debugging). */
  readonly state: RunView;
  /** How many times the UI has been redrawn. */
  readonly renders: number;
}

/** Job lines that fit a terminal of `rows` lines next to the other panels (a taller frame makes Ink clear the screen). */
function jobLinesFor(rows: number | undefined): number {
  return Math.max(4, Math.min(12, (rows || 40) - 22));
}

export function createInkReporter(options: InkReporterOptions): InkReporter {
  const stdin = options.stdin;
  const inputEnabled = stdin !== undefined && stdin.isTTY === true && typeof stdin.setRawMode === 'function';
  const timers = options.timers;
  const now = () => (timers ? timers.now() : Date.now());
  let state = initialState();
  let renders = 0;
  let closed = false;

  const element = () => (
    <App
      state={state} now={Math.max(now(), state.lastTime)} color={options.color ?? true}
      width={Math.min(MAX_WIDTH, options.stdout.columns || MAX_WIDTH)} tableWidth={options.stdout.columns || MAX_WIDTH} onQuit={options.onQuit} onKey={options.onKey} inputEnabled={inputEnabled}
      maxJobLines={jobLinesFor(options.stdout.rows)}
    />
  );
  const instance: InkInstance = options.render
    ? options.render(element())
    : inkRender(element(), {
      stdout: options.stdout,
      // Ink spreads these over its defaults: an explicit undefined would replace process.stderr/stdin.
      ...(options.stderr ? { stderr: options.stderr } : {}),
      ...(stdin ? { stdin } : {}),
      exitOnCtrlC: false, // Ctrl-C is a key like `q`: the run stops cleanly and checkpoints.
      patchConsole: true,
      maxFps: 1000 / FRAME_MS,
    });
  renders++;

  const redraw = throttle(() => {
    if (closed) return;
    renders++;
    instance.rerender(element());
  }, FRAME_MS, timers);
  const heartbeat = options.heartbeat === false ? undefined : setInterval(() => redraw.schedule(), HEARTBEAT_MS);
  heartbeat?.unref();

  return {
    get state() {
      return state;
    },
    get renders() {
      return renders;
    },
    onEvent(event: KdxEvent) {
      if (closed) return;
      state = reduce(state, event);
      redraw.schedule();
      if (event.type === 'run-end') redraw.flush();
    },
    async close() {
      if (closed) return;
      redraw.flush();
      closed = true;
      redraw.cancel();
      if (heartbeat) clearInterval(heartbeat);
      instance.unmount();
      await instance.waitUntilExit?.();
    },
  };
}
