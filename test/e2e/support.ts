// Running the real `kdx` binary in a scratch directory, and small experiment files for it.
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { KdxEvent } from '../../src/events.js';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const kdxBin = join(repoRoot, 'bin', 'kdx.js');

export function scratchDir(prefix = 'kdx-e2e-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** The user cache of every kdx this test process starts (rendered charts, the WebGPU adapter found):
 * outside the scratch directories, whose contents the tests check, and gone when the process ends. */
const userCache = mkdtempSync(join(tmpdir(), 'kdx-e2e-user-cache-'));
process.on('exit', () => rmSync(userCache, { recursive: true, force: true }));

/** Runs `kdx ARGS` in `cwd`, never throwing; stdout is not a TTY, so output is plain lines. */
export function kdx(args: string[], { cwd, env }: { cwd: string; env?: Record<string, string> }) {
  return execa(process.execPath, [kdxBin, ...args], {
    cwd,
    env: { KDX_DATA: join(cwd, 'no-data'), XDG_CACHE_HOME: userCache, NO_COLOR: '1', ...env },
    reject: false,
  });
}

/** The events of a `--json` run, line by line. */
export function parseEvents(stdout: string): KdxEvent[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as KdxEvent);
}

/** A whole teacher -> student -> KD student experiment on tiny synthetic data: seconds per run. */
export function tinyExperiment(overrides: { name?: string; epochs?: number; extra?: string } = {}): string {
  return `name: ${overrides.name ?? 'tiny'}
seed: 0
params: {T: 4, alpha: 0.7, epochs: ${overrides.epochs ?? 2}}
data:
  dataset: synthetic
  options: {shape: [16, 16, 3], classes: 4, train: 1024, test: 128}
  batchSize: 32
  train:
    - randomCrop: {size: 16, padding: 1}
    - normalize: &norm {mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]}
  test:
    - normalize: *norm
optimizer: {name: adamw, lr: 3.0e-3}
models:
  teacher: [{conv2d: {filters: 8, kernel: 3, padding: same}}, relu, {maxPool2d: 2}, flatten, {dense: 32}, relu, {dense: 4}]
  student: [flatten, {dense: 16}, relu, {dense: 4}]
stages:
  teacher: {model: teacher, epochs: "\${epochs}"}
  student: {model: student, epochs: "\${epochs}"}
  kd_student:
    model: student
    teacher: teacher
    epochs: \${epochs}
    loss:
      kd:
        temperature: \${T}
        alpha: \${alpha}
${overrides.extra ?? ''}`;
}

export function writeExperiment(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

export function runDirs(cwd: string): string[] {
  const runs = join(cwd, 'runs');
  return existsSync(runs) ? readdirSync(runs).map((d) => join(runs, d)) : [];
}

export function readJson<T = any>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

export function countEvents(events: KdxEvent[], type: KdxEvent['type']): number {
  return events.filter((e) => e.type === type).length;
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Nothing a user should see from a mistake: no stack frames, no "bug in kdx". */
export function hasStackTrace(text: string): boolean {
  return /\n\s+at .+\(.+:\d+:\d+\)|bug in kdx/.test(text);
}
