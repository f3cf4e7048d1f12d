// The run directory (runs/<time>-<name>/): the resolved experiment, every event, links to each stage's
// outputs in the store, and the summary (JSON and markdown).
import { appendFileSync, mkdirSync, openSync, closeSync } from 'node:fs';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import type { KdxEvent } from './events.js';

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

/**
 * Copies a finished entry's outputs into the run directory. Copies, not links: the store's entries must
 * never change, and a user may well edit what is under runs/. The store's own bookkeeping stays there.
 */
export async function copyOutputs(entryDir: string, target: string): Promise<void> {
  await fsp.mkdir(target, { recursive: true });
  for (const name of await fsp.readdir(entryDir)) {
    if (name === 'entry.json') continue;
    await fsp.copyFile(join(entryDir, name), join(target, name));
  }
}
