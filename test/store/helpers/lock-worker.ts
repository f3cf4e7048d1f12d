// Takes the lock at argv[2] `iterations` times (waiting), each time doing a read-sleep-write of a shared
// counter and logging [start, end] of its hold to the marker file. Usage:
//   lock-worker.ts <lockPath> <markerFile> <counterFile> <iterations> <holdMs> <startAtMs>
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { acquireLock } from '../../../src/store/lock.js';

const [lockPath, markerFile, counterFile, iterations, holdMs, startAtMs] = process.argv.slice(2);
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

await sleep(Math.max(0, Number(startAtMs) - Date.now()));
let waits = 0;
for (let i = 0; i < Number(iterations); i++) {
  const lock = await acquireLock(lockPath, { wait: true, pollMs: 5, label: `worker ${process.pid}`, onWait: () => waits++ });
  if (!lock) throw new Error('acquireLock with wait returned undefined');
  const start = now();
  const counter = Number(readFileSync(counterFile, 'utf8'));
  await sleep(Number(holdMs));
  writeFileSync(counterFile, String(counter + 1));
  const end = now();
  appendFileSync(markerFile, `${JSON.stringify({ pid: process.pid, start, end })}\n`);
  await lock.release();
  await lock.release(); // idempotent
  await sleep(Math.random() * 3);
}
console.log(JSON.stringify({ done: true, waits }));
