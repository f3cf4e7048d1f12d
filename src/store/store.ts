// The content-addressed store of finished job outputs, in-progress work, and teacher logits. It knows
// nothing about TensorFlow.js: bytes and JSON in, bytes and JSON out.
//
// Layout under the root (default `.kdx/cache` under the working directory; `--cache-dir`, then $KDX_CACHE):
//
//   jobs/<key>/             a finished entry: whatever the job wrote (model.json, weights.bin, metrics.json,
//                           config.json, log, ...) plus entry.json (key, time, what made it, and the size and
//                           sha256 of every file). It appears in one rename once complete and is never
//                           modified after; it is verified against entry.json whenever it is used, and one
//                           that fails (a truncated or edited file) is moved to quarantine/ and never served.
//   work/<key>/             an unfinished job: `log` (appended across resumptions), `current.json` naming the
//                           latest complete checkpoint, and that checkpoint's directory `ckpt-<seq>-<rand>/`
//                           (the files given to saveCheckpoint + checkpoint.json). A new checkpoint is written
//                           in full to a new directory, then current.json is replaced atomically, then the old
//                           directory is deleted: at every instant current.json names a complete checkpoint.
//   logits/<key>/           stored teacher logits: logits.f32 (little-endian float32) + header.json (with the
//                           data's sha256, checked on every read).
//   quarantine/<key>-<time>/  entries and logits that failed verification, kept for inspection (a damaged
//                           checkpoint is not resumed from: the job starts over).
//   locks/<name>.lock       one lock per job key (see lock.ts).
//   slurm/<key>/            --executor slurm's record of the Slurm job submitted for a key, with its events and
//                           outcome (written by runner/slurm/records.ts, not by this class).
//   tmp/p<pid>-h<host>-...  directories being filled before a commit; leftovers of dead processes are
//                           removed by sweep().
//
// Protocol for a job (what Store.claim does; the lock makes "check, then run" safe across processes):
//   lock(key) -> has(key)? use it : beginJob -> loadCheckpoint -> (train; saveCheckpoint per epoch) -> commit
//   -> release the lock.
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp, statSync } from 'node:fs';
import os from 'node:os';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import {
  commitDirAtomic,
  fsyncDir,
  fsyncTree,
  makeTempDir,
  readJsonIfExists,
  writeFileSynced,
  writeJsonAtomic,
  type FileData,
} from './atomic.js';
import { hashBytes } from '../util/hash.js';
import { acquireLock, isPidAlive, readLockHolder, type AcquireOptions, type Lock, type LockHolder } from './lock.js';

export type { FileData } from './atomic.js';
export type { AcquireOptions, Lock, LockHolder } from './lock.js';

/** Files to write, by relative path (`/`-separated; subdirectories are created). */
export type FileMap = Record<string, FileData>;

/** Version of the store's on-disk layout, recorded in entry.json, checkpoint.json and header.json.
 * 2: every file's sha256 is recorded and verified on use. */
export const STORE_FORMAT = 2;

const ENTRY_FILE = 'entry.json';
const CHECKPOINT_FILE = 'checkpoint.json';
const POINTER_FILE = 'current.json';
const LOG_FILE = 'log';
const LOGITS_DATA = 'logits.f32';
const LOGITS_HEADER = 'header.json';

const KEY = /^[0-9a-f]{12,64}$/;
const LOCK_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const CHECKPOINT_DIR = /^ckpt-\d{6,}-[0-9a-f]{8}$/;

export interface StoreOptions {
  /** The store's root, from `--cache-dir` (relative to `cwd`). Wins over $KDX_CACHE. */
  cacheDir?: string;
  /** Environment to read KDX_CACHE from. Default process.env. */
  env?: Record<string, string | undefined>;
  /** Base for relative paths and for the default `.kdx/cache`. Default process.cwd(). */
  cwd?: string;
}

/** The store's root directory: option > $KDX_CACHE > `.kdx/cache` under cwd; always absolute. */
export function resolveStoreRoot(options: StoreOptions = {}): string {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  return resolve(cwd, options.cacheDir || env.KDX_CACHE || join('.kdx', 'cache'));
}

/** A file as the store recorded it. */
export interface FileRecord {
  size: number;
  sha256: string;
}

/** Content of entry.json, written by the store when an entry is committed. */
export interface EntryRecord {
  format: number;
  key: string;
  createdAt: string;
  /** Every file of the entry (relative `/` paths), its size and sha256; entry.json itself excluded. */
  files: Record<string, FileRecord>;
  /** What the committer said made it (stage, experiment...), for `kdx cache ls`. */
  meta?: Record<string, unknown>;
}

/** Why stored data cannot be served: the file at fault and what is wrong with it. */
export interface Damage {
  file: string;
  problem: string;
}

/** A finished entry as read back. */
export interface Entry extends EntryRecord {
  dir: string;
  /** Parsed metrics.json, if the job wrote one. */
  metrics?: unknown;
  /** Parsed config.json, if the job wrote one. */
  config?: unknown;
}

/** A loaded checkpoint: the latest complete one of an unfinished job. */
export interface Checkpoint<M = unknown> {
  /** 1 for the first checkpoint a job saved, then 2, 3... (across resumptions). */
  seq: number;
  savedAt: string;
  /** The JSON given to saveCheckpoint (epoch, RNG position, ...). */
  meta: M;
  /** Directory holding the checkpoint's files; valid until the next saveCheckpoint or commit. */
  dir: string;
  /** File names (relative paths), sizes and hashes. */
  files: Record<string, FileRecord>;
  /** Absolute path of one of its files. */
  path(name: string): string;
  read(name: string): Promise<Uint8Array>;
  readText(name: string): Promise<string>;
}

interface CheckpointRecord {
  format: number;
  key: string;
  seq: number;
  savedAt: string;
  files: Record<string, FileRecord>;
  meta: unknown;
}

interface Pointer {
  dir: string;
  seq: number;
  savedAt: string;
}

/** Header of stored logits (header.json). */
export interface LogitsHeader {
  format: number;
  dtype: 'float32';
  byteOrder: 'little';
  shape: number[];
  /** Number of values: the product of `shape`. */
  count: number;
  byteLength: number;
  /** sha256 of logits.f32. */
  sha256: string;
  createdAt: string;
  /** Anything the writer wants to keep with them (teacher key, epochs...). */
  meta?: unknown;
}

export interface Logits {
  data: Float32Array;
  shape: number[];
  header: LogitsHeader;
}

/** What claim() found. */
export type Claim =
  /** The job's entry is in the store: use it, do not run. */
  | { status: 'cached'; entry: Entry }
  /** We hold the job's lock: run it through `work` (resume from work.loadCheckpoint()), commit, release.
   * `quarantined`: a finished entry was there but damaged; it was moved aside, and the job must run again. */
  | { status: 'claimed'; work: JobWork; quarantined?: Damage & { movedTo: string } }
  /** Another live process holds the lock and `wait` was false. */
  | { status: 'busy'; holder?: LockHolder };

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function checkKey(key: string): void {
  if (!KEY.test(key)) throw new TypeError(`not a store key (12 to 64 lowercase hex digits): ${JSON.stringify(key)}`);
}

/** Validates a relative file name of a FileMap and returns its path segments. */
function segmentsOf(name: string, reserved: readonly string[]): string[] {
  const parts = name.split('/');
  const bad = parts.some((p) => p === '' || p === '.' || p === '..' || /[\\\0]/.test(p));
  if (bad || reserved.includes(name)) throw new TypeError(`invalid or reserved file name in the store: ${JSON.stringify(name)}`);
  return parts;
}

/** Writes `files` into the existing directory `dir`, each flushed to disk. */
async function writeFiles(dir: string, files: FileMap, reserved: readonly string[]): Promise<void> {
  for (const [name, data] of Object.entries(files)) {
    const parts = segmentsOf(name, reserved);
    if (parts.length > 1) await fsp.mkdir(join(dir, ...parts.slice(0, -1)), { recursive: true });
    await writeFileSynced(join(dir, ...parts), data);
  }
}

/** Every regular file under `dir` with its size and sha256, by `/`-separated relative path. */
async function listFiles(dir: string, base = dir, out: Record<string, FileRecord> = {}): Promise<Record<string, FileRecord>> {
  const entries = await fsp.readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await listFiles(path, base, out);
    else if (entry.isFile()) out[relative(base, path).split(sep).join('/')] = await fileRecord(path);
  }
  return out;
}

async function fileRecord(path: string): Promise<FileRecord> {
  const data = await fsp.readFile(path);
  return { size: data.byteLength, sha256: hashBytes(data) };
}

/**
 * Checks the files under `dir` against what was recorded: present, of the recorded size, of the recorded
 * sha256. The first file that fails is returned; undefined when all are whole. (sha256 runs at several
 * hundred MB/s: a 13 MB model is checked in a few tens of milliseconds.)
 */
async function checkFiles(dir: string, files: Record<string, FileRecord> | undefined): Promise<Damage | undefined> {
  if (!files || typeof files !== 'object') return { file: '(record)', problem: 'lists no files' };
  for (const [name, expected] of Object.entries(files)) {
    if (typeof expected !== 'object' || typeof expected?.sha256 !== 'string') return { file: name, problem: 'has no recorded sha256 (written by an older kdx)' };
    let data: Buffer;
    try {
      data = await fsp.readFile(join(dir, ...segmentsOf(name, [])));
    } catch (error) {
      if (errno(error) === 'ENOENT') return { file: name, problem: 'is missing' };
      throw error;
    }
    if (data.byteLength !== expected.size) return { file: name, problem: `has ${data.byteLength} bytes, ${expected.size} were written` };
    if (hashBytes(data) !== expected.sha256) return { file: name, problem: 'does not match its recorded sha256 (changed after it was written)' };
  }
  return undefined;
}

/** Store keys naming the subdirectories of `dir` (none if it does not exist). */
async function keysIn(dir: string): Promise<string[]> {
  try {
    return (await fsp.readdir(dir)).filter((n) => KEY.test(n)).sort();
  } catch (error) {
    if (errno(error) === 'ENOENT') return [];
    throw error;
  }
}

/** Bytes of every file under `path` (0 if it does not exist). */
async function treeSize(path: string): Promise<number> {
  const stat = await fsp.lstat(path).catch(() => undefined);
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.size;
  let total = 0;
  for (const name of await fsp.readdir(path).catch(() => [] as string[])) total += await treeSize(join(path, name));
  return total;
}

async function exists(path: string): Promise<boolean> {
  try {
    await fsp.access(path);
    return true;
  } catch {
    return false;
  }
}

function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

const hostTag = createHash('sha256').update(os.hostname()).digest('hex').slice(0, 8);
const TEMP_NAME = /^p(\d+)-h([0-9a-f]{8})-/;

function littleEndianBytes(data: Float32Array): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (os.endianness() === 'LE') return bytes;
  const swapped = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += 4) {
    swapped[i] = bytes[i + 3];
    swapped[i + 1] = bytes[i + 2];
    swapped[i + 2] = bytes[i + 1];
    swapped[i + 3] = bytes[i];
  }
  return swapped;
}

export class Store {
  readonly root: string;

  /** `options` is a root directory, or how to resolve one (see resolveStoreRoot). No I/O happens here. */
  constructor(options: StoreOptions | string = {}) {
    this.root = typeof options === 'string' ? resolve(options) : resolveStoreRoot(options);
  }

  get jobsDir(): string {
    return join(this.root, 'jobs');
  }
  get workRoot(): string {
    return join(this.root, 'work');
  }
  get logitsRoot(): string {
    return join(this.root, 'logits');
  }
  get locksDir(): string {
    return join(this.root, 'locks');
  }
  get tmpDir(): string {
    return join(this.root, 'tmp');
  }
  get quarantineDir(): string {
    return join(this.root, 'quarantine');
  }

  // ---- finished entries ------------------------------------------------------------------------

  /** Directory of the entry for `key` (it may not exist). */
  entryDir(key: string): string {
    checkKey(key);
    return join(this.jobsDir, key);
  }

  /** Whether a finished entry for `key` is in the store. */
  async has(key: string): Promise<boolean> {
    return exists(join(this.entryDir(key), ENTRY_FILE));
  }

  hasSync(key: string): boolean {
    try {
      statSync(join(this.entryDir(key), ENTRY_FILE));
      return true;
    } catch {
      return false;
    }
  }

  /** The entry for `key` (with its metrics.json and config.json parsed), or undefined. */
  async readEntry(key: string): Promise<Entry | undefined> {
    const record = await this.#readRecord(key);
    return record && this.#withParsedFiles(record);
  }

  async #readRecord(key: string): Promise<(EntryRecord & { dir: string }) | undefined> {
    const dir = this.entryDir(key);
    const record = await readJsonIfExists<EntryRecord>(join(dir, ENTRY_FILE));
    return record && { ...record, dir };
  }

  async #withParsedFiles(record: EntryRecord & { dir: string }): Promise<Entry> {
    const entry: Entry = { ...record };
    if ('metrics.json' in record.files) entry.metrics = await readJsonIfExists(join(record.dir, 'metrics.json'));
    if ('config.json' in record.files) entry.config = await readJsonIfExists(join(record.dir, 'config.json'));
    return entry;
  }

  /** Whether the entry's files are those it recorded: undefined if whole, else the first damage found. */
  async verifyEntry(entry: EntryRecord & { dir: string }): Promise<Damage | undefined> {
    if (entry.format !== STORE_FORMAT) return { file: ENTRY_FILE, problem: `is of store format ${entry.format}, this kdx writes ${STORE_FORMAT}` };
    return checkFiles(entry.dir, entry.files);
  }

  /**
   * The entry for `key` if it is there and whole. A damaged one is moved to quarantine/ (it never reads
   * as finished again) and reported in `quarantined`.
   */
  async readVerifiedEntry(key: string): Promise<{ entry?: Entry; quarantined?: Damage & { movedTo: string; meta?: Record<string, unknown> } }> {
    let entry: (EntryRecord & { dir: string }) | undefined;
    try {
      entry = await this.#readRecord(key);
    } catch {
      // entry.json itself is unreadable: damaged like any other file.
      const movedTo = await this.quarantine(this.entryDir(key), key);
      return movedTo ? { quarantined: { file: ENTRY_FILE, problem: 'is not valid JSON', movedTo } } : {};
    }
    if (!entry) return {};
    const damage = await this.verifyEntry(entry);
    // Parsed only once verified: a damaged metrics.json is damage to report, not a parse error.
    if (!damage) return { entry: await this.#withParsedFiles(entry) };
    const movedTo = await this.quarantine(entry.dir, key);
    return movedTo ? { quarantined: { ...damage, movedTo, ...(entry.meta ? { meta: entry.meta } : {}) } } : {};
  }

  /**
   * Moves `dir` (an entry, logits, a checkpoint) into quarantine/ in one rename, so it stops being read
   * at once. Returns where it went, or undefined if it was gone already (another process moved it).
   */
  async quarantine(dir: string, key: string): Promise<string | undefined> {
    await fsp.mkdir(this.quarantineDir, { recursive: true });
    const target = join(this.quarantineDir, `${key.slice(0, 16)}-${new Date().toISOString().replace(/[:.]/g, '')}-${randomBytes(2).toString('hex')}`);
    try {
      await fsp.rename(dir, target);
    } catch (error) {
      if (errno(error) === 'ENOENT') return undefined;
      throw error;
    }
    await fsyncDir(dirname(dir));
    return target;
  }

  /** Bytes of one file of an entry. */
  async readEntryFile(key: string, name: string): Promise<Uint8Array> {
    return fsp.readFile(join(this.entryDir(key), ...segmentsOf(name, [])));
  }

  /** All finished entries, sorted by creation time. */
  async list(): Promise<Entry[]> {
    const entries: Entry[] = [];
    for (const name of await this.entryKeys()) {
      const entry = await this.readEntry(name).catch(() => undefined);
      if (entry) entries.push(entry);
    }
    return entries.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.key.localeCompare(b.key));
  }

  /** Keys of jobs with work in progress (checkpoints of an interrupted run). */
  async unfinished(): Promise<string[]> {
    return keysIn(this.workRoot);
  }

  /** Keys of unfinished jobs that have a checkpoint to resume from (not those stopped, or failed, in their
   * first epoch, whose directory holds a log at most). */
  async resumable(): Promise<string[]> {
    const keys = await this.unfinished();
    const has = await Promise.all(keys.map((key) => fsp.access(join(this.workRoot, key, POINTER_FILE)).then(() => true, () => false)));
    return keys.filter((_, i) => has[i]);
  }

  /** Keys of every directory under jobs/, readable entries or not (what `kdx cache verify` checks). */
  async entryKeys(): Promise<string[]> {
    return keysIn(this.jobsDir);
  }

  /** Keys of stored teacher logits. */
  async logitsKeys(): Promise<string[]> {
    return keysIn(this.logitsRoot);
  }

  /** Deletes stored logits (renamed away first). False if absent. */
  async removeLogits(key: string): Promise<boolean> {
    return this.#removeDir(this.logitsDir(key));
  }

  /** Bytes under each part of the store (what `kdx cache du` shows). */
  async usage(): Promise<Record<'jobs' | 'logits' | 'work' | 'quarantine' | 'tmp', number>> {
    return {
      jobs: await treeSize(this.jobsDir),
      logits: await treeSize(this.logitsRoot),
      work: await treeSize(this.workRoot),
      quarantine: await treeSize(this.quarantineDir),
      tmp: await treeSize(this.tmpDir),
    };
  }

  /** Empties quarantine/; returns how many items were removed. */
  async clearQuarantine(): Promise<number> {
    const names = await fsp.readdir(this.quarantineDir).catch(() => [] as string[]);
    for (const name of names) await fsp.rm(join(this.quarantineDir, name), { recursive: true, force: true });
    return names.length;
  }

  /**
   * Commits a finished entry for `key` from a map of files, or from a directory the caller filled (best
   * made with newTempDir or JobWork.newOutputDir, so it is on the store's filesystem and is moved, not
   * copied). `extra` files are added (e.g. the job's log). Returns 'exists' if the entry was already there
   * (another process committed it first); the store keeps that one.
   */
  async commitEntry(key: string, output: FileMap | string, extra: FileMap = {}, meta?: Record<string, unknown>): Promise<'committed' | 'exists'> {
    const finalDir = this.entryDir(key);
    let dir: string;
    if (typeof output === 'string') {
      const source = resolve(output);
      if (isInside(source, this.root)) {
        dir = source;
      } else {
        dir = await this.newTempDir(`entry-${key.slice(0, 12)}`);
        await fsp.cp(source, dir, { recursive: true }); // the directory's content, into dir
      }
      if (await exists(join(dir, ENTRY_FILE))) throw new TypeError(`invalid or reserved file name in the store: "${ENTRY_FILE}"`);
    } else {
      for (const name of Object.keys(output)) segmentsOf(name, [ENTRY_FILE]); // fail before writing anything
      dir = await this.newTempDir(`entry-${key.slice(0, 12)}`);
    }
    try {
      if (typeof output !== 'string') await writeFiles(dir, output, [ENTRY_FILE]);
      await writeFiles(dir, extra, [ENTRY_FILE]);
      const record: EntryRecord = { format: STORE_FORMAT, key, createdAt: new Date().toISOString(), files: await listFiles(dir), ...(meta ? { meta } : {}) };
      await writeFileSynced(join(dir, ENTRY_FILE), `${JSON.stringify(record, null, 2)}\n`);
      return await commitDirAtomic(dir, finalDir);
    } catch (error) {
      await fsp.rm(dir, { recursive: true, force: true }).catch(() => {});
      throw error;
    }
  }

  /** Deletes the entry for `key` (renamed away first, so it never appears half-deleted). False if absent. */
  async remove(key: string): Promise<boolean> {
    return this.#removeDir(this.entryDir(key));
  }

  async #removeDir(dir: string): Promise<boolean> {
    const trash = await this.newTempDir('trash');
    try {
      await fsp.rename(dir, join(trash, 'x'));
    } catch (error) {
      await fsp.rm(trash, { recursive: true, force: true });
      if (errno(error) === 'ENOENT') return false;
      throw error;
    }
    await fsyncDir(dirname(dir));
    await fsp.rm(trash, { recursive: true, force: true });
    return true;
  }

  // ---- locks and jobs --------------------------------------------------------------------------

  /** Path of the lock file for a job key (or another name, e.g. `logits-<key>`). */
  lockPath(name: string): string {
    if (!LOCK_NAME.test(name)) throw new TypeError(`invalid lock name: ${JSON.stringify(name)}`);
    return join(this.locksDir, `${name}.lock`);
  }

  /** Takes the lock `name` (a job key...). See acquireLock for the options. */
  lock(name: string, options: AcquireOptions = {}): Promise<Lock | undefined> {
    return acquireLock(this.lockPath(name), options);
  }

  /**
   * The job protocol in one call: if `key` is stored, 'cached'; else take its lock (waiting if
   * `options.wait`), look again (the previous holder may have just committed it), and hand back a JobWork
   * that holds the lock. The caller must end with `work.release()` (in a `finally`), after `commit` or not.
   */
  async claim(key: string, options: AcquireOptions = {}): Promise<Claim> {
    const early = await this.readVerifiedEntry(key);
    if (early.entry) return { status: 'cached', entry: early.entry };
    const lock = await this.lock(key, options);
    if (!lock) return { status: 'busy', holder: await readLockHolder(this.lockPath(key)) };
    try {
      const late = await this.readVerifiedEntry(key);
      if (late.entry) {
        await lock.release();
        return { status: 'cached', entry: late.entry };
      }
      const quarantined = early.quarantined ?? late.quarantined;
      return { status: 'claimed', work: await this.beginJob(key, lock), ...(quarantined ? { quarantined } : {}) };
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  /**
   * Opens the work directory of `key` (created if missing) and clears debris of an earlier, killed attempt
   * (half-written checkpoints, temporary files), keeping the latest complete checkpoint. Call it while
   * holding the job's lock; if `lock` is given, JobWork.release() releases it.
   */
  async beginJob(key: string, lock?: Lock): Promise<JobWork> {
    checkKey(key);
    const work = new JobWork(this, key, join(this.workRoot, key), lock);
    await fsp.mkdir(work.dir, { recursive: true });
    await work.clearDebris();
    return work;
  }

  /** A new empty directory under tmp/, on the store's filesystem, named after this process. */
  async newTempDir(prefix: string): Promise<string> {
    return makeTempDir(this.tmpDir, `p${process.pid}-h${hostTag}-${prefix}-`);
  }

  /** Removes the work directory of `key` (after commit, or to start a job over). */
  async removeWork(key: string): Promise<boolean> {
    checkKey(key);
    return this.#removeDir(join(this.workRoot, key));
  }

  /**
   * Readies the store for a run: creates its directories and writes a probe file, so a store that cannot
   * be written (read-only, another user's, a full disk) fails here, with its own errno and path, before
   * anything trains.
   */
  async prepare(): Promise<void> {
    await fsp.mkdir(this.root, { recursive: true });
    for (const dir of [this.jobsDir, this.workRoot, this.logitsRoot, this.locksDir, this.tmpDir]) {
      // One level at a time: a recursive mkdir on a read-only file system reports ENOENT, not EROFS.
      await fsp.mkdir(dir).catch((error: unknown) => {
        if (errno(error) !== 'EEXIST') throw error;
      });
    }
    const probe = await this.newTempDir('probe');
    try {
      await writeFileSynced(join(probe, 'probe'), 'kdx');
    } finally {
      await fsp.rm(probe, { recursive: true, force: true });
    }
  }

  /**
   * Removes temporary directories left by dead processes of this host (killed mid-commit) and old
   * temporary files of lock attempts. Safe to run at any time; call it when a run starts. Returns how
   * many were removed. (Work directories of unfinished jobs are kept: they are what a run resumes from.)
   */
  async sweep(): Promise<number> {
    let removed = 0;
    // Temporary files of lock attempts killed mid-way (`.<name>.lock.<nonce>.<rand>.tmp`).
    for (const name of await fsp.readdir(this.locksDir).catch(() => [] as string[])) {
      if (!name.startsWith('.') || !name.endsWith('.tmp')) continue;
      const path = join(this.locksDir, name);
      const stat = await fsp.stat(path).catch(() => undefined);
      if (stat && Date.now() - stat.mtimeMs > 60_000) {
        await fsp.rm(path, { force: true });
        removed++;
      }
    }
    let names: string[];
    try {
      names = await fsp.readdir(this.tmpDir);
    } catch (error) {
      if (errno(error) === 'ENOENT') return removed;
      throw error;
    }
    for (const name of names) {
      const match = TEMP_NAME.exec(name);
      if (!match || match[2] !== hostTag) continue;
      const pid = Number(match[1]);
      if (isPidAlive(pid)) continue;
      await fsp.rm(join(this.tmpDir, name), { recursive: true, force: true });
      removed++;
    }
    return removed;
  }

  // ---- teacher logits --------------------------------------------------------------------------

  logitsDir(key: string): string {
    checkKey(key);
    return join(this.logitsRoot, key);
  }

  async hasLogits(key: string): Promise<boolean> {
    return exists(join(this.logitsDir(key), LOGITS_HEADER));
  }

  /**
   * Stores logits (atomically: all or nothing). `shape`'s product must equal data.length. Returns
   * 'exists' if they were already stored (content-addressed, so equal), keeping those.
   */
  async putLogits(key: string, data: Float32Array, shape: number[], meta?: unknown): Promise<'committed' | 'exists'> {
    const finalDir = this.logitsDir(key);
    if (!shape.every((d) => Number.isInteger(d) && d >= 0)) throw new TypeError(`invalid logits shape [${shape.join(', ')}]`);
    const count = shape.reduce((a, b) => a * b, 1);
    if (count !== data.length) throw new TypeError(`logits shape [${shape.join(', ')}] holds ${count} values, data has ${data.length}`);
    if (await this.hasLogits(key)) return 'exists';
    const dir = await this.newTempDir(`logits-${key.slice(0, 12)}`);
    try {
      const bytes = littleEndianBytes(data);
      const header: LogitsHeader = {
        format: STORE_FORMAT,
        dtype: 'float32',
        byteOrder: 'little',
        shape: [...shape],
        count,
        byteLength: count * 4,
        sha256: hashBytes(bytes),
        createdAt: new Date().toISOString(),
        ...(meta === undefined ? {} : { meta }),
      };
      await writeFileSynced(join(dir, LOGITS_DATA), bytes);
      await writeFileSynced(join(dir, LOGITS_HEADER), `${JSON.stringify(header, null, 2)}\n`);
      return await commitDirAtomic(dir, finalDir);
    } catch (error) {
      await fsp.rm(dir, { recursive: true, force: true }).catch(() => {});
      throw error;
    }
  }

  /**
   * The logits stored under `key` (the whole file read into a Float32Array, checked against its sha256),
   * or undefined. Damaged logits are moved to quarantine/ and reported through `onDamage`; the caller
   * computes them again.
   */
  async getLogits(key: string, onDamage?: (damage: Damage & { movedTo: string }) => void): Promise<Logits | undefined> {
    const dir = this.logitsDir(key);
    const damaged = async (damage: Damage) => {
      const movedTo = await this.quarantine(dir, key);
      if (movedTo) onDamage?.({ ...damage, movedTo });
      return undefined;
    };
    let header: LogitsHeader | undefined;
    try {
      header = await readJsonIfExists<LogitsHeader>(join(dir, LOGITS_HEADER));
    } catch {
      return damaged({ file: LOGITS_HEADER, problem: 'is not valid JSON' });
    }
    if (!header) return undefined;
    if (header.format !== STORE_FORMAT) return damaged({ file: LOGITS_HEADER, problem: `is of store format ${header.format}, this kdx writes ${STORE_FORMAT}` });
    if (header.dtype !== 'float32' || header.byteOrder !== 'little') throw new Error(`${dir}: unsupported logits encoding ${header.dtype}/${header.byteOrder}`);
    let bytes: Buffer;
    try {
      bytes = await fsp.readFile(join(dir, LOGITS_DATA));
    } catch (error) {
      if (errno(error) === 'ENOENT') return damaged({ file: LOGITS_DATA, problem: 'is missing' });
      throw error;
    }
    if (bytes.byteLength !== header.byteLength || header.byteLength !== header.count * 4) {
      return damaged({ file: LOGITS_DATA, problem: `has ${bytes.byteLength} bytes, ${header.byteLength} were written` });
    }
    if (hashBytes(bytes) !== header.sha256) return damaged({ file: LOGITS_DATA, problem: 'does not match its recorded sha256 (changed after it was written)' });
    let data: Float32Array;
    if (os.endianness() !== 'LE') {
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      data = new Float32Array(header.count);
      for (let i = 0; i < header.count; i++) data[i] = view.getFloat32(i * 4, true);
    } else if (bytes.byteOffset % 4 === 0) {
      data = new Float32Array(bytes.buffer, bytes.byteOffset, header.count);
    } else {
      data = new Float32Array(header.count);
      new Uint8Array(data.buffer).set(bytes);
    }
    return { data, shape: header.shape, header };
  }
}

/** The in-progress work of one job: checkpoints, its log, and the final commit. Made by Store.beginJob/claim. */
export class JobWork {
  #lock: Lock | undefined;

  constructor(
    readonly store: Store,
    readonly key: string,
    /** `<root>/work/<key>` */
    readonly dir: string,
    lock?: Lock,
  ) {
    this.#lock = lock;
  }

  /** The job's log file, appended to across resumptions and copied into the entry (as `log`) on commit. */
  get logPath(): string {
    return join(this.dir, LOG_FILE);
  }

  /** Appends one line to the job's log. */
  async appendLog(line: string): Promise<void> {
    await fsp.appendFile(this.logPath, line.endsWith('\n') ? line : `${line}\n`);
  }

  async #pointer(): Promise<Pointer | undefined> {
    const pointer = await readJsonIfExists<Pointer>(join(this.dir, POINTER_FILE));
    return pointer && typeof pointer.dir === 'string' && CHECKPOINT_DIR.test(pointer.dir) ? pointer : undefined;
  }

  /** @internal Removes checkpoint directories other than the current one and temporary files. */
  async clearDebris(): Promise<void> {
    const pointer = await this.#pointer();
    for (const name of await fsp.readdir(this.dir)) {
      const isOldCheckpoint = name.startsWith('ckpt-') && name !== pointer?.dir;
      const isTemp = name.startsWith('.') && name.endsWith('.tmp');
      if (isOldCheckpoint || isTemp) await fsp.rm(join(this.dir, name), { recursive: true, force: true });
    }
  }

  /**
   * The latest complete checkpoint, or undefined if there is none (a fresh job) — or if the one named is
   * damaged (files missing, or not of their recorded size and sha256, which only outside interference can
   * cause): the job then starts over rather than failing.
   */
  async loadCheckpoint<M = unknown>(): Promise<Checkpoint<M> | undefined> {
    const pointer = await this.#pointer();
    if (!pointer) return undefined;
    const dir = join(this.dir, pointer.dir);
    let record: CheckpointRecord | undefined;
    try {
      record = await readJsonIfExists<CheckpointRecord>(join(dir, CHECKPOINT_FILE));
    } catch {
      return undefined;
    }
    if (!record || record.key !== this.key || record.format !== STORE_FORMAT) return undefined;
    if (await checkFiles(dir, record.files)) return undefined;
    const path = (name: string) => join(dir, ...segmentsOf(name, []));
    return {
      seq: record.seq,
      savedAt: record.savedAt,
      meta: record.meta as M,
      dir,
      files: record.files,
      path,
      read: async (name) => new Uint8Array(await fsp.readFile(path(name))),
      readText: (name) => fsp.readFile(path(name), 'utf8'),
    };
  }

  /**
   * Saves a checkpoint (the files, e.g. weights and optimizer state, and `meta`: epoch, RNG position of
   * the data stream...) as the job's latest. The previous checkpoint stays the current one until this one
   * is completely on disk; a crash at any point leaves one or the other, whole.
   */
  async saveCheckpoint<M>(files: FileMap, meta: M): Promise<Checkpoint<M>> {
    const previous = await this.#pointer();
    const seq = (previous?.seq ?? 0) + 1;
    const name = `ckpt-${String(seq).padStart(6, '0')}-${randomBytes(4).toString('hex')}`;
    const dir = join(this.dir, name);
    await fsp.mkdir(dir);
    const savedAt = new Date().toISOString();
    try {
      await writeFiles(dir, files, [CHECKPOINT_FILE]);
      const record: CheckpointRecord = { format: STORE_FORMAT, key: this.key, seq, savedAt, files: await listFiles(dir), meta };
      await writeFileSynced(join(dir, CHECKPOINT_FILE), `${JSON.stringify(record, null, 2)}\n`);
      await fsyncTree(dir);
      await fsyncDir(this.dir);
      await writeJsonAtomic(join(this.dir, POINTER_FILE), { dir: name, seq, savedAt } satisfies Pointer);
    } catch (error) {
      await fsp.rm(dir, { recursive: true, force: true }).catch(() => {});
      throw error;
    }
    // The new checkpoint is current; older ones are garbage now.
    for (const other of await fsp.readdir(this.dir)) {
      if (other.startsWith('ckpt-') && other !== name) await fsp.rm(join(this.dir, other), { recursive: true, force: true });
    }
    const checkpoint = await this.loadCheckpoint<M>();
    if (!checkpoint) throw new Error(`checkpoint ${dir} did not read back`);
    return checkpoint;
  }

  /** Drops every checkpoint (and the log): the job will start from scratch. */
  async discard(): Promise<void> {
    for (const name of await fsp.readdir(this.dir)) await fsp.rm(join(this.dir, name), { recursive: true, force: true });
    await fsyncDir(this.dir);
  }

  /** A new empty directory on the store's filesystem to write the job's outputs into, then commit(dir). */
  newOutputDir(): Promise<string> {
    return this.store.newTempDir(`out-${this.key.slice(0, 12)}`);
  }

  /**
   * Publishes the job's outputs (a map of files, or a directory from newOutputDir) as the entry jobs/<key>,
   * with the log added as `log` unless the outputs have one, then deletes the work directory. Does not
   * release the lock: call release() after.
   */
  async commit(output: FileMap | string, meta?: Record<string, unknown>): Promise<'committed' | 'exists'> {
    const hasOwnLog = typeof output === 'string' ? await exists(join(output, LOG_FILE)) : LOG_FILE in output;
    const extra: FileMap = {};
    if (!hasOwnLog && (await exists(this.logPath))) extra[LOG_FILE] = await fsp.readFile(this.logPath);
    const result = await this.store.commitEntry(this.key, output, extra, meta);
    await this.store.removeWork(this.key);
    return result;
  }

  /** Releases the job's lock, if this work holds one. Idempotent. */
  async release(): Promise<void> {
    const lock = this.#lock;
    this.#lock = undefined;
    await lock?.release();
  }
}
