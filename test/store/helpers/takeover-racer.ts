// For each lock path given, at the same start time as its rivals, tries once (no waiting) to take the lock
// (all of them stale at the start) and keeps what it got until told to stop (stdin closes / SIGTERM).
// Usage: takeover-racer.ts <startAtMs> <lockPath>...
import { acquireLock, type Lock } from '../../../src/store/lock.js';

const [startAtMs, ...paths] = process.argv.slice(2);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const held: Lock[] = [];
await sleep(Math.max(0, Number(startAtMs) - Date.now()));
const won: number[] = [];
for (const [i, path] of paths.entries()) {
  const lock = await acquireLock(path, { wait: false });
  if (lock) {
    held.push(lock);
    won.push(i);
  }
}
// The handler before the report: the test sends SIGTERM as soon as it reads it.
process.on('SIGTERM', async () => {
  for (const lock of held) await lock.release();
  process.exit(0);
});
console.log(JSON.stringify({ won }));
setInterval(() => {}, 1000);
