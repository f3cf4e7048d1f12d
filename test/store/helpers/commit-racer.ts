// Commits the same content-addressed directories as its rivals, at the same moment, with commitDirAtomic.
// Usage: commit-racer.ts <root> <startAtMs> <count> <sizeBytes>
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { commitDirAtomic, makeTempDir } from '../../../src/store/atomic.js';

const [root, startAtMs, count, size] = process.argv.slice(2);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const results: string[] = [];
await sleep(Math.max(0, Number(startAtMs) - Date.now()));
for (let i = 0; i < Number(count); i++) {
  const temp = await makeTempDir(join(root, 'tmp'), `race-${i}-`);
  const bytes = new Uint8Array(Number(size)).map((_, j) => (i * 31 + j) & 0xff);
  await writeFile(join(temp, 'weights.bin'), bytes);
  await writeFile(join(temp, 'model.json'), JSON.stringify({ entry: i, size: Number(size) }));
  await writeFile(join(temp, 'writer.json'), JSON.stringify({ pid: process.pid }));
  results.push(await commitDirAtomic(temp, join(root, 'jobs', `entry-${i}`)));
}
console.log(JSON.stringify({ results, pid: process.pid }));
