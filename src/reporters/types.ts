// The runner -> display boundary: what every reporter implements. The runner (or the CLI on its behalf)
// calls `onEvent` for every event and `close` once at the end; a reporter only renders, it never calls
// back into the runner. The one way back is `onQuit`, a callback the CLI passes in (the TUI's `q` key),
// which the CLI turns into an abort of the run. The factory that picks a reporter is in index.ts.
import type { KdxEvent } from '../events.js';

export interface Reporter {
  /** Called for every runner event, in order. Must not throw and must return quickly. */
  onEvent(event: KdxEvent): void;
  /** Flushes what is pending and releases the terminal; resolves once all output is written. */
  close(): Promise<void>;
  /** Resolves when the reporter can draw (the Ink UI loads lazily); await it before blocking work starts. */
  ready?: Promise<unknown>;
}

/** `auto`: the Ink UI on an interactive terminal, plain lines otherwise. */
export type ReporterMode = 'auto' | 'tui' | 'plain' | 'json' | 'quiet';

/** The part of a writable stream a reporter uses (process.stdout, a file stream, a test buffer). */
export interface OutStream {
  write(chunk: string, callback?: (error?: Error | null) => void): boolean;
  isTTY?: boolean;
  columns?: number;
}

export interface ReporterOptions {
  mode: ReporterMode;
  stdout: OutStream;
  stderr: OutStream;
  /** Keyboard input for the TUI (`q`); keys are read only when it is a TTY. Default process.stdin. */
  stdin?: NodeJS.ReadStream;
  /** The user asked to stop (`q` or Ctrl-C in the TUI). May be called more than once. */
  onQuit?: () => void;
  /** Another key pressed in the TUI: the answer to a question the run asked (see commands/session.ts). */
  onKey?: (input: string) => void;
  /** Environment (CI, NO_COLOR, TERM); default process.env. */
  env?: Record<string, string | undefined>;
}
