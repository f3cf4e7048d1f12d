// Long loops (training, evaluation) run tensor work back to back; without a pause now and then the
// event loop never turns, so the UI freezes and `q` / Ctrl-C are not seen until the loop ends.

/** How often (ms) a long loop hands the event loop to timers, signals and key presses. */
export const YIELD_MS = 50;

/** Returns a function to await after every step: it lets the event loop run once every YIELD_MS. */
export function breather(intervalMs = YIELD_MS): () => Promise<void> {
  let last = performance.now();
  return async () => {
    if (performance.now() - last < intervalMs) return;
    await new Promise((resolve) => setImmediate(resolve));
    last = performance.now();
  };
}

/** Returns a predicate that is true at most once every `intervalMs` (and always when `force` is set). */
export function every(intervalMs: number): (force?: boolean) => boolean {
  let last = -Infinity;
  return (force = false) => {
    const now = performance.now();
    if (!force && now - last < intervalMs) return false;
    last = now;
    return true;
  };
}
