// Downloading dataset files: streamed to a temporary name next to the destination, MD5-checked, fsynced,
// then renamed into place, so a failed or interrupted download never leaves a half-written file. Progress
// goes out as `task` events. Without a network the attempt fails fast (DNS failure at once, no connection
// within connectTimeoutMs) with a short reason in plain words.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, rmdir } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import * as tar from 'tar';
import type { KdxEvent } from '../runner/events.js';

export type TaskEvent = Extract<KdxEvent, { type: 'task' }>;

/** Why a download failed, in a few plain words (the caller says what to do about it). */
export class DownloadError extends Error {
  override readonly name = 'DownloadError';
}

export interface DownloadOptions {
  url: string;
  /** Final path of the file. */
  dest: string;
  /** Expected MD5 (hex); checked before the file is renamed into place. */
  md5?: string;
  /** Task id and label for progress events. */
  id: string;
  label: string;
  emit?: (event: TaskEvent) => void;
  signal?: AbortSignal;
  /** Time allowed to connect and get the response headers (default 10 s). */
  connectTimeoutMs?: number;
  /** Time allowed without receiving any data once the transfer runs (default 60 s). */
  idleTimeoutMs?: number;
}

/** A unique temporary name next to `path` (same directory, so the final rename is atomic). */
export function tempPath(path: string, suffix = '.part'): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}-${randomBytes(4).toString('hex')}${suffix}`);
}

function describeFetchFailure(url: string, error: unknown, timedOut: boolean, timeoutMs: number): string {
  const host = (() => {
    try {
      return new URL(url).host;
    } catch {
      return url;
    }
  })();
  if (timedOut) return `no answer from ${host} within ${Math.round(timeoutMs / 1000)} s`;
  const cause = (error as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  const code = cause?.code ?? (error as { code?: string } | undefined)?.code;
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve the host name ${new URL(url).hostname} (no network connection?)`;
    case 'ECONNREFUSED':
      return `connection to ${host} refused`;
    case 'ECONNRESET':
      return `connection to ${host} reset`;
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
      return `network unreachable for ${host} (no network connection?)`;
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `no answer from ${host} within ${Math.round(timeoutMs / 1000)} s`;
    default:
      return cause?.message ?? (error instanceof Error ? error.message : String(error));
  }
}

/** Downloads `url` to `dest` atomically. Throws DownloadError (or the signal's reason when aborted). */
export async function downloadFile(options: DownloadOptions): Promise<{ bytes: number; md5: string }> {
  const { url, dest, id, label, emit, signal } = options;
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  signal?.throwIfAborted();

  const controller = new AbortController();
  const onAbort = (): void => controller.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = (ms: number): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new DownloadError('timeout'));
    }, ms);
  };

  const temp = tempPath(dest);
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    arm(connectTimeoutMs);
    let response: Response;
    try {
      response = await fetch(url, { signal: controller.signal, redirect: 'follow' });
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw new DownloadError(describeFetchFailure(url, error, timedOut, connectTimeoutMs));
    }
    if (!response.ok || !response.body) {
      throw new DownloadError(`the server answered HTTP ${response.status} ${response.statusText}`.trim());
    }
    const lengthHeader = response.headers.get('content-length');
    const total = lengthHeader !== null && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;

    await mkdir(dirname(dest), { recursive: true });
    handle = await open(temp, 'wx');
    const hash = createHash('md5');
    const reader = response.body.getReader();
    let bytes = 0;
    let lastEmit = 0;
    const report = (done: boolean): void => {
      emit?.({ type: 'task', time: Date.now(), id, label, current: bytes, total, unit: 'B', ...(done ? { done } : {}) });
    };
    report(false);
    for (;;) {
      arm(idleTimeoutMs);
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        const reason = timedOut ? `no data from the server for ${Math.round(idleTimeoutMs / 1000)} s` : describeFetchFailure(url, error, false, idleTimeoutMs);
        throw new DownloadError(`${reason} after ${bytes} bytes`);
      }
      if (chunk.done) break;
      hash.update(chunk.value);
      await handle.write(chunk.value);
      bytes += chunk.value.length;
      const now = Date.now();
      if (now - lastEmit >= 200) {
        lastEmit = now;
        report(false);
      }
    }
    clearTimeout(timer);
    if (total !== undefined && bytes !== total) {
      throw new DownloadError(`the connection closed after ${bytes} of ${total} bytes`);
    }
    const md5 = hash.digest('hex');
    if (options.md5 !== undefined && md5 !== options.md5.toLowerCase()) {
      throw new DownloadError(`the downloaded file's MD5 is ${md5}, expected ${options.md5} (a damaged or different file)`);
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, dest);
    report(true);
    return { bytes, md5 };
  } catch (error) {
    await handle?.close().catch(() => {});
    await rm(temp, { force: true }).catch(() => {});
    throw error;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** Unpacks a .tar or .tar.gz archive into `dir` (which must exist). Throws DownloadError if it is unreadable. */
export async function extractArchive(archive: string, dir: string): Promise<void> {
  try {
    await tar.x({ file: archive, cwd: dir, strict: true, preservePaths: false });
  } catch (error) {
    throw new DownloadError(`could not unpack ${basename(archive)}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * Creates `dir` (and missing parents) and returns a function that removes what this call created, if it
 * is still empty — so a failed first download leaves no empty cache directories behind.
 */
export async function makeDirUndoable(dir: string): Promise<() => Promise<void>> {
  const first = await mkdir(dir, { recursive: true });
  return async () => {
    if (first === undefined) return;
    const rel = relative(first, dir);
    const chain = [first, ...(rel === '' ? [] : rel.split(sep).map((_, i, parts) => join(first, ...parts.slice(0, i + 1))))];
    for (const d of chain.reverse()) {
      try {
        await rmdir(d);
      } catch {
        return;
      }
    }
  };
}
