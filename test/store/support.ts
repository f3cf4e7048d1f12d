// Shared by the store tests: temporary directories and child processes running helper scripts under tsx.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');

export function tempRoot(prefix = 'kdx-store-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Helper {
  child: ChildProcess;
  pid: number;
  /** Every JSON line the helper printed so far. */
  messages: Record<string, unknown>[];
  /** Resolves with the first message (already seen or future) that satisfies `test`. */
  waitFor(test: (m: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/** Runs test/store/helpers/<name>.ts with node --import tsx; the helper prints JSON lines on stdout. */
export function runHelper(name: string, args: string[], env: Record<string, string> = {}): Helper {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'helpers', `${name}.ts`), ...args], {
    cwd: repo,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const messages: Record<string, unknown>[] = [];
  const waiters: { test: (m: Record<string, unknown>) => boolean; resolve: (m: Record<string, unknown>) => void }[] = [];
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line) as Record<string, unknown>;
    } catch {
      message = { text: line };
    }
    messages.push(message);
    for (const waiter of [...waiters]) {
      if (waiter.test(message)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(message);
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    child.on('exit', (code, signal) => setImmediate(() => resolve({ code, signal, stderr })));
  });
  return {
    child,
    pid: child.pid!,
    messages,
    exited,
    waitFor(test, timeoutMs = 30_000) {
      const found = messages.find(test);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`helper ${name} (pid ${child.pid}): timed out; stderr:\n${stderr}`)), timeoutMs);
        const waiter = { test, resolve: (m: Record<string, unknown>) => (clearTimeout(timer), resolve(m)) };
        waiters.push(waiter);
        void exited.then(({ code, signal }) => {
          if (waiters.includes(waiter)) {
            clearTimeout(timer);
            reject(new Error(`helper ${name} exited (code ${code}, signal ${signal}) before the expected message; stderr:\n${stderr}`));
          }
        });
      });
    },
  };
}

/** Waits for a helper to end and fails if it did not exit with status 0. */
export async function expectSuccess(helper: Helper): Promise<void> {
  const { code, signal, stderr } = await helper.exited;
  if (code !== 0) throw new Error(`helper exited with code ${code} signal ${signal}:\n${stderr}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A wall-clock time (ms) `ms` from now, for helpers to start at the same instant. */
export function startAt(ms: number): string {
  return String(Date.now() + ms);
}

/** The pid of a process that has just ended (SIGKILLed) — a dead holder for fabricated stale locks. */
export async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('spawn', resolve));
  const pid = child.pid!;
  const done = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await done;
  return pid;
}
