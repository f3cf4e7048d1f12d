// Tries to take the lock at argv[2] and reports; if it got it, holds it as asked. Usage:
//   lock-hold.ts <lockPath> <wait: 0|1> <hold: ms | forever | exit> [startAtMs]
// `exit` calls process.exit(0) without releasing (the exit handler should remove the lock).
import { acquireLock } from '../../../src/store/lock.js';

const [lockPath, wait, hold, startAtMs] = process.argv.slice(2);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
if (startAtMs) await sleep(Math.max(0, Number(startAtMs) - Date.now()));

const lock = await acquireLock(lockPath, { wait: wait === '1', pollMs: 10, label: 'lock-hold' });
console.log(JSON.stringify({ acquired: Boolean(lock), pid: process.pid, at: Date.now() }));
if (lock) {
  if (hold === 'exit') process.exit(0);
  if (hold === 'forever') setInterval(() => {}, 1000);
  else {
    await sleep(Number(hold));
    await lock.release();
    console.log(JSON.stringify({ released: true }));
  }
}
