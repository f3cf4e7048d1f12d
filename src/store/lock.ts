// A lock per job key, across the processes of one machine, so that two kdx runs sharing a store never
// train the same job at the same time. It is a file, `<store>/locks/<key>.lock`, holding who owns it
// ({pid, host, startedAt, nonce, ...}); owning the lock means having created that file.
//
// Taking it: the holder's record is written to a temporary file which is then hard-linked to the lock's
// name. link(2) fails with EEXIST if the name exists, so exactly one process wins, and the lock file is
// complete from the moment it appears. (Where hard links are unsupported, an O_EXCL create is used instead,
// and a briefly empty lock file is tolerated.)
//
// A lock left by a dead process (kill -9, crash, reboot) is stale and is taken over: on this host, a holder
// is dead when its pid no longer exists (kill(pid, 0) gives ESRCH), is a zombie, or belongs to a newer
// process that reused the pid (its start time in /proc differs), or when the machine has rebooted since
// (boot id differs). A lock held from another host is never taken over: we cannot tell if it is alive.
//
// Taking over must not let two processes both win. Removing "the stale lock" by name is not safe on its
// own: between looking at the file and removing it, another process may have removed it and created its
// own, live lock. So the right to remove a stale lock with nonce N is itself an exclusively created file,
// `<lock>.takeover-N`: only its creator removes the lock, and only if the lock still carries nonce N. Since
// a lock carrying N is removed by nobody else (its owner is dead), that check cannot be overtaken. If the
// creator of `.takeover-N` dies in the microseconds before it acts, that file is stale in turn and the
// same rule applies one level down (`.takeover-N.takeover-M`). Takeover files are left behind (so a late
// racer cannot re-create one) and swept once they are old.
//
// Intended protocol for a job (Store.claim does exactly this):
//     lock = await acquireLock(store.lockPath(key), {wait: true, onWait})
//     try { if (await store.has(key)) use the entry; else { run, checkpoint, commit } }
//     finally { await lock.release() }
// A waiter is woken by the holder's release; it then finds the entry committed and uses it.
import { randomBytes, createHash } from 'node:crypto';
import { promises as fsp, readFileSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import { basename, dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { sleep } from '../util/sleep.js';

/** The record inside a lock file. */
export interface LockHolder {
  pid: number;
  host: string;
  /** ISO time at which the lock was taken. */
  startedAt: string;
  /** Random id of this acquisition (hex); what makes one lock file distinguishable from the next. */
  nonce: string;
  /** Worker thread id within the process (0 for the main thread). */
  threadId?: number;
  /** Linux: /proc/sys/kernel/random/boot_id of the machine when the lock was taken. */
  bootId?: string;
  /** Linux: the holder process's start time (field 22 of /proc/<pid>/stat), to detect pid reuse. */
  procStart?: string;
  /** Free text for humans: what the holder is doing (`teacher`, a job label...). */
  label?: string;
}

export interface AcquireOptions {
  /** Wait (polling) until the lock is free; otherwise return undefined at once when it is held. Default false. */
  wait?: boolean;
  /** Called when we start waiting, and again whenever the holder changes. `holder` is undefined if unreadable. */
  onWait?: (holder: LockHolder | undefined) => void;
  /** Poll interval while waiting, in ms (a random jitter of up to 50% is added). Default 100. */
  pollMs?: number;
  /** Stops waiting: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Stored in the lock file for humans. */
  label?: string;
  /**
   * How old (ms) an unreadable lock file must be before it counts as stale. With hard links a lock file is
   * complete from the start, so an unreadable one is debris from a crash; the delay covers the O_EXCL
   * fallback, where a live lock is empty for an instant. Default 2000.
   */
  unreadableGraceMs?: number;
}

export interface Lock {
  readonly path: string;
  readonly holder: LockHolder;
  /** True once released (by `release`, `releaseSync`, or the exit handler). */
  readonly released: boolean;
  /** Removes the lock file if it is still ours. Idempotent; never throws for an already-gone file. */
  release(): Promise<void>;
  /** Same, synchronously (for exit handlers). */
  releaseSync(): void;
}

const NONCE = /^[0-9a-f]{8,64}$/;
const TAKEOVER_DEBRIS_AGE_MS = 60_000;
const MAX_TAKEOVER_DEPTH = 8;

/** Nonces of the locks this thread holds now. */
const ownNonces = new Set<string>();
/** Locks to release if the process exits without releasing them. */
const liveLocks = new Set<Lock>();
let exitHandlerInstalled = false;

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

const bootId = process.platform === 'linux' ? readOptional('/proc/sys/kernel/random/boot_id') : undefined;

/** State letter and start time of a process from /proc/<pid>/stat (Linux), or undefined. */
function procStat(pid: number): { state: string; start: string } | undefined {
  if (process.platform !== 'linux') return undefined;
  const text = readOptional(`/proc/${pid}/stat`);
  if (!text) return undefined;
  // "pid (comm) state ppid ...": comm may contain spaces and parentheses, so split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const start = fields[19]; // field 22 of the whole line; fields[] starts at field 3
  return state && start ? { state, start } : undefined;
}

const ownProcStart = procStat(process.pid)?.start;

function newHolder(label: string | undefined): LockHolder {
  return {
    pid: process.pid,
    host: os.hostname(),
    startedAt: new Date().toISOString(),
    nonce: randomBytes(8).toString('hex'),
    threadId,
    ...(bootId ? { bootId } : {}),
    ...(ownProcStart ? { procStart: ownProcStart } : {}),
    ...(label ? { label } : {}),
  };
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (typeof value !== 'object' || value === null) return undefined;
    if (!Number.isInteger(value.pid) || typeof value.host !== 'string' || typeof value.nonce !== 'string') return undefined;
    if (!NONCE.test(value.nonce)) return undefined;
    return value as LockHolder;
  } catch {
    return undefined;
  }
}

/**
 * Whether the process that holds a lock may still be running. Conservative: anything we cannot check
 * (another host, no permission to signal it) counts as alive.
 */
export function isHolderAlive(holder: LockHolder): boolean {
  if (holder.host !== os.hostname()) return true;
  if (holder.bootId && bootId && holder.bootId !== bootId) return false; // the machine rebooted since
  if (holder.pid === process.pid && (holder.threadId ?? 0) === threadId) {
    // Ourselves: alive only if this thread holds that very lock (else it is from a previous process with our pid).
    return ownNonces.has(holder.nonce);
  }
  if (!isPidAlive(holder.pid)) return false;
  const start = procStat(holder.pid)?.start;
  if (holder.procStart && start && start !== holder.procStart) return false; // the pid was reused
  return true;
}

/** Whether a process with this pid runs on this machine (a zombie counts as dead). */
export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if (errno(error) === 'ESRCH') return false;
    // EPERM: it exists but is not ours to signal
  }
  const state = procStat(pid)?.state;
  return state !== 'Z' && state !== 'X'; // exited, not yet reaped by its parent
}

interface Seen {
  /** Identity of the file's content: the holder's nonce, or a digest of unreadable content. */
  id: string;
  holder?: LockHolder;
  mtimeMs: number;
}

/** Looks at a lock (or takeover) file; undefined if it does not exist. */
async function inspect(path: string): Promise<Seen | undefined> {
  let text: string;
  let mtimeMs: number;
  try {
    const handle = await fsp.open(path, 'r');
    try {
      mtimeMs = (await handle.stat()).mtimeMs;
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (errno(error) === 'ENOENT') return undefined;
    throw error;
  }
  const holder = parseHolder(text);
  if (holder) return { id: holder.nonce, holder, mtimeMs };
  const digest = createHash('sha256').update(`${mtimeMs}\0${text}`).digest('hex').slice(0, 16);
  return { id: `u${digest}`, mtimeMs };
}

function isStale(seen: Seen, graceMs: number): boolean {
  if (seen.holder) return !isHolderAlive(seen.holder);
  return Date.now() - seen.mtimeMs > graceMs;
}

/** Reads who holds the lock at `path`, if anyone (and if readable). */
export async function readLockHolder(path: string): Promise<LockHolder | undefined> {
  return (await inspect(path))?.holder;
}

/** Creates `path` holding `holder` if it does not exist; false if it exists. */
async function createExclusive(path: string, holder: LockHolder): Promise<boolean> {
  const text = `${JSON.stringify(holder)}\n`;
  const temp = join(dirname(path), `.${basename(path)}.${holder.nonce}.${randomBytes(4).toString('hex')}.tmp`);
  await fsp.writeFile(temp, text, { flag: 'wx' });
  try {
    await fsp.link(temp, path);
    return true;
  } catch (error) {
    const code = errno(error);
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error;
  } finally {
    await fsp.rm(temp, { force: true });
  }
  // No hard links on this filesystem: exclusive create, then write (briefly empty; see unreadableGraceMs).
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(path, 'wx');
  } catch (error) {
    if (errno(error) === 'EEXIST') return false;
    throw error;
  }
  try {
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
  return true;
}

/**
 * Removes the lock file `target` if it still carries `staleId`, with the guarantee that at most one
 * process acts on a given stale lock (see the header comment). Returns 'busy' without doing anything when
 * another live process is in the middle of the same takeover (the caller looks again shortly).
 */
async function takeOver(target: string, staleId: string, graceMs: number): Promise<'done' | 'busy'> {
  let authority = `${target}.takeover-${staleId}`;
  for (let depth = 0; depth < MAX_TAKEOVER_DEPTH; depth++) {
    const claim = newHolder('takeover');
    ownNonces.add(claim.nonce); // so that other acquirers in this thread see this claim as live
    try {
      if (await createExclusive(authority, claim)) {
        const current = await inspect(target);
        if (current?.id === staleId) await fsp.rm(target, { force: true });
        return 'done';
      }
    } finally {
      ownNonces.delete(claim.nonce);
    }
    const claimant = await inspect(authority);
    if (!claimant) return 'done'; // swept as debris meanwhile: look at the lock again
    if (!isStale(claimant, graceMs)) return 'busy'; // a live process is taking over
    authority = `${authority}.takeover-${claimant.id}`; // it died mid-way: compete to act in its place
  }
  return 'busy';
}

/** Removes takeover files and temporary files older than a minute next to the lock at `path`. */
async function sweepDebris(path: string): Promise<void> {
  const dir = dirname(path);
  const base = basename(path);
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return;
  }
  const now = Date.now();
  for (const name of names) {
    if (!name.startsWith(`${base}.takeover-`) && !(name.startsWith(`.${base}.`) && name.endsWith('.tmp'))) continue;
    const file = join(dir, name);
    const stat = await fsp.stat(file).catch(() => undefined);
    if (stat && now - stat.mtimeMs > TAKEOVER_DEBRIS_AGE_MS) await fsp.rm(file, { force: true });
  }
}

function installExitHandler(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  // Best effort: covers process.exit() and a normal end. SIGINT/SIGTERM kill the process without running
  // 'exit' handlers unless someone handles the signal; the runner does, and calls release() or exit().
  process.on('exit', () => {
    for (const lock of [...liveLocks]) lock.releaseSync();
  });
}

class FileLock implements Lock {
  #released = false;

  constructor(readonly path: string, readonly holder: LockHolder) {}

  get released(): boolean {
    return this.#released;
  }

  #forget(): boolean {
    if (this.#released) return false;
    this.#released = true;
    liveLocks.delete(this);
    ownNonces.delete(this.holder.nonce);
    return true;
  }

  async release(): Promise<void> {
    if (!this.#forget()) return;
    // Remove the file only if it is still ours. Nobody else removes a live holder's lock, so it cannot
    // change between this check and the removal.
    const seen = await inspect(this.path).catch(() => undefined);
    if (seen?.id === this.holder.nonce) await fsp.rm(this.path, { force: true });
  }

  releaseSync(): void {
    if (!this.#forget()) return;
    try {
      const holder = parseHolder(readFileSync(this.path, 'utf8'));
      if (holder?.nonce === this.holder.nonce) unlinkSync(this.path);
    } catch {
      // already gone, or unreadable: nothing of ours to remove
    }
  }
}

/**
 * Takes the lock at `path` (its directory is created if missing). Returns the lock, or undefined when it
 * is held by a live process and `wait` is false. A stale lock (its holder is dead) is taken over.
 */
export async function acquireLock(path: string, options: AcquireOptions = {}): Promise<Lock | undefined> {
  const { wait = false, onWait, pollMs = 100, signal, label, unreadableGraceMs = 2000 } = options;
  await fsp.mkdir(dirname(path), { recursive: true });
  let lastWaitedOn: string | undefined;
  for (;;) {
    signal?.throwIfAborted();
    const holder = newHolder(label);
    ownNonces.add(holder.nonce); // before the file exists, so that we never judge our own lock stale
    let created = false;
    try {
      created = await createExclusive(path, holder);
    } finally {
      if (!created) ownNonces.delete(holder.nonce);
    }
    if (created) {
      const lock = new FileLock(path, holder);
      liveLocks.add(lock);
      installExitHandler();
      return lock;
    }

    const seen = await inspect(path);
    if (!seen) continue; // released meanwhile: try again at once
    if (isStale(seen, unreadableGraceMs)) {
      const outcome = await takeOver(path, seen.id, unreadableGraceMs);
      await sweepDebris(path);
      // Another live process is taking the lock over: it is as good as held.
      if (outcome === 'busy' && !wait) return undefined;
      if (outcome === 'busy') await sleep(5 + Math.random() * 20, signal);
      continue;
    }
    if (!wait) return undefined;
    if (seen.id !== lastWaitedOn) {
      lastWaitedOn = seen.id;
      onWait?.(seen.holder);
    }
    await sleep(pollMs * (1 + Math.random() * 0.5), signal);
  }
}
