// `--json`: every event as one line of JSON on stdout, nothing else there, for other programs to read
// (`kdx run x.yaml --json | jq …`). Errors are events too, so stderr stays free for kdx's own crashes.
import type { KdxEvent } from '../events.js';
import type { OutStream, Reporter } from './types.js';

export function createJsonReporter(options: { stdout: OutStream }): Reporter {
  const { stdout } = options;
  return {
    onEvent(event: KdxEvent) {
      stdout.write(`${JSON.stringify(event)}\n`);
    },
    close() {
      return new Promise((resolve) => stdout.write('', () => resolve()));
    },
  };
}
