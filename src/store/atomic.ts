// Crash-safe writes. A reader (or a process started after a crash, even after kill -9 or a power cut)
// sees either the old content or the new one, never a part of it:
//   - a file is written under a temporary name in the same directory, flushed (fsync), then renamed over
//     its final name (rename is atomic within a filesystem), and the directory is flushed so the rename
//     itself is durable;
//   - a directory is filled under a temporary name on the same filesystem, every file and directory in it
//     is flushed, then it is renamed into place in one step.
// Temporary names start with a dot and end with `.tmp` (files) so that cleanups can recognise leftovers.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** What can be written: text (UTF-8), bytes, or a stream of byte chunks (for large or produced-as-you-go data). */
export type FileData = string | Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** Errors that only mean "this platform or filesystem cannot fsync a directory". */
const DIR_SYNC_UNSUPPORTED = new Set(['EISDIR', 'EINVAL', 'EPERM', 'EBADF', 'ENOTSUP', 'EACCES', 'EOPNOTSUPP']);

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** A fresh temporary name next to `path` (same directory, hence same filesystem). */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** Flushes a directory's entries (new names, renames) to disk; a no-op where directories cannot be fsynced. */
export async function fsyncDir(dir: string): Promise<void> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(dir, 'r');
    await handle.sync();
  } catch (error) {
    if (!DIR_SYNC_UNSUPPORTED.has(errno(error) ?? '')) throw error;
  } finally {
    await handle?.close();
  }
}

/**
 * Writes `data` to a new file at `path` and flushes it; fails with EEXIST if `path` exists. Not atomic by
 * itself: meant for files inside a temporary directory that is committed as a whole afterwards.
 */
export async function writeFileSynced(path: string, data: FileData): Promise<void> {
  const handle = await fsp.open(path, 'wx');
  try {
    await fsp.writeFile(handle, data); // accepts strings, bytes and (async) iterables of chunks
    await handle.sync();
  } catch (error) {
    throw withPath(error, path, 'write');
  } finally {
    await handle.close();
  }
}

/** Writes through a file handle fail without naming the file (ENOSPC...): name it, for the user's message. */
function withPath(error: unknown, path: string, syscall: string): unknown {
  const errnoError = error as NodeJS.ErrnoException;
  if (errnoError && typeof errnoError.code === 'string' && errnoError.path === undefined) {
    errnoError.path = path;
    errnoError.syscall ??= syscall;
  }
  return error;
}

/**
 * Replaces (or creates) the file at `path` with `data` atomically: temp file in the same directory, write,
 * fsync, rename, fsync the directory. The parent directory is created if missing. On failure the temporary
 * file is removed and `path` is left as it was.
 */
export async function writeFileAtomic(path: string, data: FileData): Promise<void> {
  const dir = dirname(path);
  await fsp.mkdir(dir, { recursive: true });
  const temp = tempPathFor(path);
  try {
    await writeFileSynced(temp, data);
    await fsp.rename(temp, path);
  } catch (error) {
    await fsp.rm(temp, { force: true }).catch(() => {});
    throw error;
  }
  await fsyncDir(dir);
}

/** `writeFileAtomic` of `value` as pretty JSON with a final newline. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const text = JSON.stringify(value, null, 2);
  if (text === undefined) throw new TypeError(`cannot write ${typeof value} as JSON to ${path}`);
  await writeFileAtomic(path, `${text}\n`);
}

/** Reads and parses a JSON file; undefined if it does not exist. */
export async function readJsonIfExists<T = unknown>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(path, 'utf8');
  } catch (error) {
    if (errno(error) === 'ENOENT' || errno(error) === 'ENOTDIR') return undefined;
    throw error;
  }
  return JSON.parse(text) as T;
}

/** Flushes every file and directory under `dir` (and `dir` itself). Symbolic links are not followed. */
export async function fsyncTree(dir: string): Promise<void> {
  for (const entry of await fsp.readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      await fsyncTree(path);
    } else if (entry.isFile()) {
      const handle = await fsp.open(path, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
  }
  await fsyncDir(dir);
}

/**
 * Creates a fresh, uniquely named directory inside `parent` (created if missing). Put it on the same
 * filesystem as the directory it will be committed to — in practice, under the same root — so that
 * `commitDirAtomic` is a rename and not a copy.
 */
export async function makeTempDir(parent: string, prefix: string): Promise<string> {
  await fsp.mkdir(parent, { recursive: true });
  return fsp.mkdtemp(join(parent, prefix));
}

/**
 * Moves the complete directory `tempDir` to `finalDir` in one rename, after flushing everything in it.
 * Meant for content-addressed entries: if `finalDir` already exists (another process committed the same
 * entry first), theirs is kept, `tempDir` is removed, and the result is `'exists'`. Either way, a reader of
 * `finalDir` never sees a partial directory.
 */
export async function commitDirAtomic(tempDir: string, finalDir: string): Promise<'committed' | 'exists'> {
  await fsyncTree(tempDir);
  const parent = dirname(finalDir);
  await fsp.mkdir(parent, { recursive: true });
  try {
    // POSIX rename(2) of a directory fails with ENOTEMPTY/EEXIST when the target is a non-empty
    // directory; Windows answers EPERM (or EACCES/EBUSY). In each case, look whether the target exists.
    await fsp.rename(tempDir, finalDir);
  } catch (error) {
    const code = errno(error);
    if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'EPERM' || code === 'EACCES' || code === 'EBUSY') {
      const existing = await fsp.stat(finalDir).catch(() => undefined);
      if (existing?.isDirectory()) {
        await fsp.rm(tempDir, { recursive: true, force: true });
        return 'exists';
      }
    }
    throw error;
  }
  await fsyncDir(parent);
  if (dirname(tempDir) !== parent) await fsyncDir(dirname(tempDir));
  return 'committed';
}

