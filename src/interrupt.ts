// Ctrl-C and SIGTERM during a run (or `q` / Ctrl-C in the TUI, which reads keys itself): the first request
// asks the run to stop at the next batch, keeping the last finished epoch's checkpoint; a second one means
// it, and the process exits at once with 130 (locks are released by their exit handler).
import { EXIT } from './errors.js';

export interface Interrupts {
  /** One request to stop (what a signal does); the TUI calls it for `q`. */
  request(): void;
  /** Removes the signal handlers. */
  dispose(): void;
}

export function interruptOnSignals(controller: AbortController): Interrupts {
  let requests = 0;
  const request = () => {
    requests++;
    if (requests > 1) process.exit(EXIT.interrupted);
    controller.abort();
  };
  process.on('SIGINT', request);
  process.on('SIGTERM', request);
  return {
    request,
    dispose() {
      process.off('SIGINT', request);
      process.off('SIGTERM', request);
    },
  };
}
