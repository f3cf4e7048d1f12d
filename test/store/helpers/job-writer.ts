// A job that checkpoints through the Store, for the crash tests. Usage:
//   job-writer.ts <root> <key> slow-checkpoint   epoch-1 checkpoint, then an epoch-2 checkpoint with a big file
//                                                written slowly (killed meanwhile by the test)
//   job-writer.ts <root> <key> slow-commit       epoch-1 checkpoint, then a commit whose weights are written slowly
//   job-writer.ts <root> <key> hold-and-commit <ms>  claims the job, holds it <ms>, commits, releases
import { Store } from '../../../src/store/store.js';

const [root, key, mode, arg] = process.argv.slice(2);
const store = new Store(root);
const say = (message: object) => console.log(JSON.stringify(message));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `chunks` chunks of 256 KiB with byte value `fill`, `delayMs` apart, announcing each. */
async function* slowBytes(chunks: number, fill: number, delayMs: number) {
  for (let i = 0; i < chunks; i++) {
    yield new Uint8Array(256 * 1024).fill(fill);
    say({ chunk: i });
    await sleep(delayMs);
  }
}

const claim = await store.claim(key, { wait: true });
if (claim.status !== 'claimed') throw new Error(`unexpected claim status ${claim.status}`);
const work = claim.work;
await work.appendLog(`started by ${process.pid}`);

if (mode === 'hold-and-commit') {
  say({ claimed: true });
  await sleep(Number(arg));
  await work.commit({ 'metrics.json': JSON.stringify({ by: process.pid }), 'weights.bin': new Uint8Array(1000).fill(7) });
  await work.release();
  say({ committed: true });
} else {
  const previous = await work.loadCheckpoint<{ epoch: number }>();
  say({ resumedFrom: previous?.meta.epoch ?? null });
  await work.saveCheckpoint({ 'weights.bin': new Uint8Array(1 << 20).fill(1), 'optimizer.bin': 'opt-1' }, { epoch: 1, rng: 12345 });
  await work.appendLog('epoch 1 done');
  say({ checkpoint: 1 });
  if (mode === 'slow-checkpoint') {
    await work.saveCheckpoint({ 'weights.bin': slowBytes(400, 2, 25), 'optimizer.bin': 'opt-2' }, { epoch: 2, rng: 999 });
  } else if (mode === 'slow-commit') {
    await work.commit({ 'weights.bin': slowBytes(400, 3, 25), 'metrics.json': '{}' });
  }
  say({ finished: true }); // not reached: the test kills us first
}
