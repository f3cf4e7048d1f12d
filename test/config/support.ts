// Shared by the config tests: the real binary run with execa, fresh temporary directories, and a bounded
// Promise.all (spawning kdx costs 1-2 s of CPU on 2 cores, so a corpus runs a few at a time).
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export const here = dirname(fileURLToPath(import.meta.url));
export const repo = join(here, '..', '..');
export const binPath = join(repo, 'bin', 'kdx.js');

export interface KdxResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/kdx.js ...args` in `cwd` (default: the repository); never rejects. */
export async function kdx(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<KdxResult> {
  const result = await execa(process.execPath, [binPath, ...args], {
    cwd: options.cwd ?? repo,
    env: { NO_COLOR: '1', ...options.env },
    reject: false,
    stdin: 'ignore',
    timeout: 60_000,
  });
  return { exitCode: result.exitCode, stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? '') };
}

/** A fresh empty directory, and a way to remove it. */
export function freshDir(prefix = 'kdx-config-'): { dir: string; list: () => string[]; cleanup: () => void } {
  const dir = mkdtempSync(join(os.tmpdir(), prefix));
  return { dir, list: () => readdirSync(dir), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `fn` over `items`, at most `limit` at once, results in order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** A stack trace line (`    at f (file:1:2)`) or kdx's own-bug banner: never shown for a user's mistake. */
export function hasStackTrace(text: string): boolean {
  return /^\s+at /m.test(text) || /bug in kdx/.test(text);
}
