// Which reporter a run gets (the interface is in types.ts): the Ink UI on a terminal, else plain lines,
// JSON lines or quiet. The Ink UI is imported lazily, so plain and JSON runs never load React.
//
//   const ac = new AbortController();
//   const reporter = createReporter({ mode, stdout: process.stdout, stderr: process.stderr, onQuit: () => ac.abort() });
//   await runExperiment(plan, { signal: ac.signal, onEvent: (e) => reporter.onEvent(e) });
//   await reporter.close();
import type { KdxEvent } from '../events.js';
import type { OutStream, Reporter, ReporterMode, ReporterOptions } from './types.js';
import { createJsonReporter } from './json.js';
import { createPlainReporter } from './plain.js';

/** Whether `env` says we run under continuous integration. */
export function isCI(env: Record<string, string | undefined>): boolean {
  // Ink's own rule (is-in-ci): CI or CONTINUOUS_INTEGRATION present and not "0"/"false" — even empty. Ink
  // then draws only the last frame, so kdx must agree with it and print plain lines instead.
  const present = (key: string) => key in env && env[key] !== undefined && env[key] !== '0' && env[key]!.toLowerCase() !== 'false';
  if (present('CI') || present('CONTINUOUS_INTEGRATION')) return true;
  return ['CONTINUOUS_INTEGRATION', 'BUILD_NUMBER', 'GITHUB_ACTIONS', 'GITLAB_CI', 'BUILDKITE', 'TF_BUILD'].some(
    (k) => env[k] !== undefined && env[k] !== '' && env[k] !== 'false',
  );
}

/** Whether colour is allowed: not when NO_COLOR is set to anything non-empty (https://no-color.org). */
export function colorAllowed(env: Record<string, string | undefined>): boolean {
  return env.NO_COLOR === undefined || env.NO_COLOR === '';
}

/** The mode `auto` resolves to for these streams and this environment. */
export function resolveMode(mode: ReporterMode, stdout: OutStream, env: Record<string, string | undefined>): Exclude<ReporterMode, 'auto'> {
  if (mode !== 'auto') return mode;
  // Ink 6 does not check isTTY itself: piped, it would still write erase sequences.
  return stdout.isTTY === true && !isCI(env) && env.TERM !== 'dumb' ? 'tui' : 'plain';
}

/** The reporter for `options.mode`. The Ink UI is loaded lazily, so plain and JSON runs never import React. */
export type { OutStream, Reporter, ReporterMode, ReporterOptions } from './types.js';

export function createReporter(options: ReporterOptions): Reporter {
  const env = options.env ?? process.env;
  const mode = resolveMode(options.mode, options.stdout, env);
  switch (mode) {
    case 'json':
      return createJsonReporter({ stdout: options.stdout });
    case 'plain':
    case 'quiet':
      return createPlainReporter({ stdout: options.stdout, stderr: options.stderr, quiet: mode === 'quiet' });
    case 'tui':
      return lazyTui({ ...options, env });
  }
}

/** Queues events until the Ink reporter's module has loaded, then replays them; falls back to plain lines. */
function lazyTui(options: ReporterOptions & { env: Record<string, string | undefined> }): Reporter {
  let target: Reporter | undefined;
  const queue: KdxEvent[] = [];
  const ready = import('../tui/ink-reporter.js')
    .then((m) =>
      m.createInkReporter({
        stdout: options.stdout as NodeJS.WriteStream,
        stderr: options.stderr as NodeJS.WriteStream,
        stdin: options.stdin ?? process.stdin,
        onQuit: options.onQuit,
        onKey: options.onKey,
        color: colorAllowed(options.env),
      }),
    )
    .catch((error: unknown) => {
      options.stderr.write(`kdx: could not start the terminal UI (${String(error)}); showing plain lines\n`);
      return createPlainReporter({ stdout: options.stdout, stderr: options.stderr });
    })
    .then((reporter) => {
      target = reporter;
      for (const event of queue.splice(0)) reporter.onEvent(event);
      return reporter;
    });
  return {
    ready,
    onEvent(event) {
      if (target) target.onEvent(event);
      else queue.push(event);
    },
    async close() {
      await (await ready).close();
    },
  };
}
