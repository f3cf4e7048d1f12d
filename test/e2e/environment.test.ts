// When the machine says no — a full disk, a read-only or unwritable store, a run directory removed under
// kdx — a run ends with one clear line and exit 1, no stack trace, and the store stays consistent: the
// rerun, with the problem gone, resumes. The file systems are real (tmpfs mounts), so these tests need
// root (CI runs as root) and skip otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { KdxEvent } from '../../src/events.js';
import { environmentError } from '../../src/errors.js';
import { execa } from 'execa';
import { cleanup, hasStackTrace, kdx, kdxBin, parseEvents, scratchDir, tinyExperiment, writeExperiment } from './support.js';

function tryMount(dir: string, options: string): boolean {
  try {
    mkdirSync(dir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const unmount = (dir: string) => execFileSync('umount', [dir], { stdio: 'ignore' });
const canMount = (() => {
  const probe = scratchDir('kdx-mount-');
  const ok = process.getuid?.() === 0 && tryMount(join(probe, 'm'), 'size=64k');
  if (ok) unmount(join(probe, 'm'));
  cleanup(probe);
  return ok;
})();
const needsRoot = canMount ? {} : { skip: 'needs root to mount a tmpfs' };

/** One stage, several epochs: its checkpoints are a few hundred kB. */
const teacherOnly = tinyExperiment().replace(/stages:[\s\S]*$/, 'stages:\n  teacher: {model: teacher, epochs: 4}\n');

/** The one line an environment failure must produce, and nothing a user should not see. */
function assertOneClearLine(result: { exitCode?: number; stderr: string; stdout: string }, pattern: RegExp): void {
  assert.equal(result.exitCode, 1, result.stderr);
  const all = `${result.stdout}\n${result.stderr}`;
  assert.match(all, pattern);
  assert.ok(!hasStackTrace(all), all);
}

test('a full disk in the middle of a checkpoint write: one line, exit 1; with space again the rerun resumes', needsRoot, async () => {
  const cwd = scratchDir();
  const cache = join(cwd, 'cache');
  // The first checkpoint (weights + Adam's moments, ~200 kB) fits; the second must be written beside it.
  assert.ok(tryMount(cache, 'size=320k'));
  try {
    const file = writeExperiment(cwd, 't.yaml', teacherOnly);
    const full = await kdx(['run', file, '--cache-dir', cache, '--json'], { cwd });
    assertOneClearLine(full, /no space left on the device \(write .*cache\/work\/.*\): free some space/);
    const failed = parseEvents(full.stdout).filter((e) => e.type === 'job-failed') as Extract<KdxEvent, { type: 'job-failed' }>[];
    assert.equal(failed.length, 1);
    assert.match(failed[0].error, /^no space left on the device/);

    execFileSync('mount', ['-o', 'remount,size=4m', cache]);
    const again = await kdx(['run', file, '--cache-dir', cache, '--json'], { cwd });
    assert.equal(again.exitCode, 0, again.stderr);
    const start = parseEvents(again.stdout).find((e) => e.type === 'job-start') as Extract<KdxEvent, { type: 'job-start' }>;
    assert.ok(start.startEpoch >= 1, `resumed after epoch ${start.startEpoch}`);
  } finally {
    unmount(cache);
    cleanup(cwd);
  }
});

test('a read-only store: one line, exit 1, nothing trained', needsRoot, async () => {
  const cwd = scratchDir();
  const cache = join(cwd, 'cache');
  assert.ok(tryMount(cache, 'size=1m,ro'));
  try {
    const file = writeExperiment(cwd, 't.yaml', teacherOnly);
    assertOneClearLine(await kdx(['run', file, '--cache-dir', cache], { cwd }), /^kdx: read-only file system \(mkdir .*cache.*\): choose a writable --cache-dir/m);
  } finally {
    unmount(cache);
    cleanup(cwd);
  }
});

test('a store this user may not write: one line, exit 1', needsRoot, async () => {
  const cwd = scratchDir();
  try {
    const file = writeExperiment(cwd, 't.yaml', teacherOnly);
    // Another user's directory, and a root without the capabilities that let it write anywhere (kdx runs
    // under setpriv): the kernel's own refusal, wherever the repository was cloned.
    const cache = join(cwd, 'cache');
    mkdirSync(cache, { mode: 0o755 });
    chownSync(cache, 65534, 65534);
    const result = await execa('setpriv', ['--bounding-set=-dac_override,-dac_read_search', '--', process.execPath, kdxBin, 'run', file, '--cache-dir', cache], {
      cwd,
      env: { XDG_CACHE_HOME: join(cwd, 'xdg'), NO_COLOR: '1' },
      reject: false,
    });
    assertOneClearLine(result, /^kdx: permission denied \(mkdir .*cache.*\): make it writable for this user/m);
  } finally {
    cleanup(cwd);
  }
});

test('a run directory removed during the run: one line, exit 1; the store keeps the finished epochs', async () => {
  const cwd = scratchDir();
  try {
    const file = writeExperiment(cwd, 't.yaml', teacherOnly.replace('train: 1024', 'train: 2048'));
    const child = kdx(['run', file, '--json'], { cwd });
    let removed = false;
    child.stdout!.on('data', (chunk: Buffer) => {
      if (!removed && chunk.toString().includes('"type":"epoch-end"')) {
        removed = true;
        rmSync(join(cwd, 'runs'), { recursive: true, force: true });
      }
    });
    const result = await child;
    assert.ok(removed);
    assertOneClearLine(result, /^kdx: no such file or directory \(open .*runs.*events\.jsonl\): a directory kdx was using was removed during the run/m);
    const again = await kdx(['run', file, '--json'], { cwd });
    assert.equal(again.exitCode, 0, again.stderr);
    const start = parseEvents(again.stdout).find((e) => e.type === 'job-start') as Extract<KdxEvent, { type: 'job-start' }>;
    assert.ok(start.startEpoch >= 1, 'resumed from the store');
  } finally {
    cleanup(cwd);
  }
});

test('environmentError: each errno a user can meet is one line that says what, where and what to do; others are not its business', () => {
  const errno = (code: string, syscall?: string, path?: string) => Object.assign(new Error(code), { code, syscall, path });
  assert.equal(
    environmentError(errno('EMFILE', 'open', '/s/jobs/x/weights.bin'))!.message,
    'too many open files (open /s/jobs/x/weights.bin): raise the limit (`ulimit -n`) or run fewer --jobs',
  );
  assert.match(environmentError(errno('ENOSPC', 'write', '/s/work/k/ckpt/weights.bin'))!.message, /^no space left on the device \(write \/s\/work\/k\/ckpt\/weights\.bin\): free some space/);
  assert.match(environmentError(errno('EACCES', 'mkdir', '/s/locks'))!.message, /^permission denied \(mkdir \/s\/locks\)/);
  assert.match(environmentError(errno('EROFS', 'open', '/s/tmp/x'))!.message, /^read-only file system/);
  assert.equal(environmentError(errno('ENOSPC'))!.exitCode, 1);
  // A missing file kdx itself should have written is kdx's bug, not the environment's.
  assert.equal(environmentError(errno('ENOENT', 'open')), undefined);
  assert.equal(environmentError(errno('ENOENT', 'stat', '/x')), undefined);
  assert.equal(environmentError(new TypeError('x is not a function')), undefined);
  assert.equal(environmentError(errno('EINVAL', 'open', '/x')), undefined);
});
