// The run directory (runs/<time>-<name>/): the resolved experiment, every event, links to each stage's
// outputs in the store, and the summary (JSON and markdown).
import { appendFileSync, mkdirSync, openSync, closeSync } from 'node:fs';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../store/atomic.js';
import type { KdxEvent } from '../events.js';

/** Creates a new, uniquely named run directory. */
export function createRunDir(runsDir: string, name: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  mkdirSync(runsDir, { recursive: true });
  for (let n = 0; ; n++) {
    const dir = join(runsDir, `${stamp}-${name}${n === 0 ? '' : `-${n}`}`);
    try {
      mkdirSync(dir);
      return dir;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

/** Appends every event to events.jsonl as it happens (synchronously: a killed run keeps what it saw). */
export function eventLog(dir: string): (event: KdxEvent) => void {
  const path = join(dir, 'events.jsonl');
  closeSync(openSync(path, 'a'));
  return (event) => appendFileSync(path, `${JSON.stringify(event)}\n`);
}

export async function writeJson(dir: string, name: string, value: unknown): Promise<void> {
  await writeFileAtomic(join(dir, name), `${JSON.stringify(value, null, 2)}\n`);
}

export async function writeText(dir: string, name: string, text: string): Promise<void> {
  await writeFileAtomic(join(dir, name), text.endsWith('\n') ? text : `${text}\n`);
}

/** Files at least this large are hard-linked rather than copied (weights: a sweep shares its teacher's). */
const LINK_FROM_BYTES = 1 << 20;

/**
 * Puts a finished entry's outputs into the run directory. Small files (metrics, config, model.json, log)
 * are copies, so editing them cannot change the store, whose entries must never change; large weight
 * files are hard links (copies across devices), so a sweep does not duplicate a teacher per trial.
 * The store's own bookkeeping (entry.json) stays in the store.
 */
export async function copyOutputs(entryDir: string, target: string): Promise<void> {
  await fsp.mkdir(target, { recursive: true });
  for (const name of await fsp.readdir(entryDir)) {
    if (name === 'entry.json') continue;
    const from = join(entryDir, name);
    const to = join(target, name);
    await fsp.rm(to, { force: true });
    if ((await fsp.stat(from)).size >= LINK_FROM_BYTES) {
      try {
        await fsp.link(from, to);
        continue;
      } catch {
        // another filesystem: copy below
      }
    }
    await fsp.copyFile(from, to);
  }
}
