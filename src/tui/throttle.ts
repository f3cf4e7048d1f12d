// Coalesces many requests into at most one call per interval: the first request runs at once, later
// ones within the interval are merged into a single trailing call. Batch events may come hundreds of
// times a second; the screen is redrawn at most 1000 / intervalMs times a second.

export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface Throttle {
  /** Asks for a call; it happens now or at the end of the current interval. */
  schedule(): void;
  /** Makes a pending call now. */
  flush(): void;
  /** Drops a pending call. */
  cancel(): void;
}

export function throttle(fn: () => void, intervalMs: number, timers: Timers = realTimers): Throttle {
  let last = -Infinity;
  let timer: unknown;
  const run = () => {
    timer = undefined;
    last = timers.now();
    fn();
  };
  return {
    schedule() {
      if (timer !== undefined) return;
      const wait = last + intervalMs - timers.now();
      if (wait <= 0) run();
      else timer = timers.setTimeout(run, wait);
    },
    flush() {
      if (timer === undefined) return;
      timers.clearTimeout(timer);
      run();
    },
    cancel() {
      if (timer !== undefined) timers.clearTimeout(timer);
      timer = undefined;
    },
  };
}
