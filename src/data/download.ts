// Downloading dataset files: streamed to a temporary name next to the destination, MD5-checked, fsynced,
// then renamed into place, so a failed or interrupted download never leaves a half-written file. Progress
// goes out as `task` events. Without a network the attempt fails fast (DNS failure at once, no connection
// within connectTimeoutMs) with a short reason in plain words. node:http(s) rather than fetch: fetch
// refuses the ports the WHATWG spec calls unsafe, which a local mirror may well use.
import { createHash, randomBytes } from 'node:crypto';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { mkdir, open, rename, rm, rmdir } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import type { KdxEvent } from '../events.js';

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

function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`;
}

function describeFailure(url: string, error: unknown, timedOut: boolean, timeoutMs: number): string {
  const host = (() => {
    try {
      return new URL(url).host;
    } catch {
      return url;
    }
  })();
  if (timedOut) return `no answer from ${host} within ${seconds(timeoutMs)}`;
  const code = (error as { code?: string } | undefined)?.code;
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
    case 'ECONNABORTED':
    case 'ABORT_ERR':
      return `the connection to ${host} was aborted`;
    default:
      return error instanceof Error ? error.message : String(error);
  }
}

/** GET `url`, following up to `redirects` redirects; resolves with the response once its headers arrive. */
function get(url: string, signal: AbortSignal, redirects = 5): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      reject(new DownloadError(`${url} is not a valid URL`));
      return;
    }
    const client = parsed.protocol === 'https:' ? https : parsed.protocol === 'http:' ? http : undefined;
    if (!client) {
      reject(new DownloadError(`${url} is not an http:// or https:// URL`));
      return;
    }
    const request = client.get(parsed, { signal, headers: { 'user-agent': 'kdx', accept: '*/*' } }, (response) => {
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if (status >= 300 && status < 400 && location) {
        response.resume();
        if (redirects === 0) reject(new DownloadError(`too many redirects from ${url}`));
        else get(new URL(location, parsed).href, signal, redirects - 1).then(resolve, reject);
        return;
      }
      resolve(response);
    });
    request.on('error', reject);
  });
}

/** Downloads `url` to `dest` atomically. Throws DownloadError (or the signal's reason when aborted). */
export async function downloadFile(options: DownloadOptions): Promise<{ bytes: number; md5: string }> {
  const { url, dest, id, label, emit, signal } = options;
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  signal?.throwIfAborted();

  const controller = new AbortController();
  let response: IncomingMessage | undefined;
  const abort = (reason: unknown): void => {
    controller.abort(reason);
    response?.destroy(reason instanceof Error ? reason : new Error(String(reason)));
  };
  const onAbort = (): void => abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = (ms: number): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      abort(new DownloadError('timeout'));
    }, ms);
  };

  const temp = tempPath(dest);
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    arm(connectTimeoutMs);
    try {
      response = await get(url, controller.signal);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (error instanceof DownloadError && !timedOut) throw error;
      throw new DownloadError(describeFailure(url, error, timedOut, connectTimeoutMs));
    }
    const status = response.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      response.resume();
      throw new DownloadError(`the server answered HTTP ${status} ${response.statusMessage ?? ''}`.trim());
    }
    const lengthHeader = response.headers['content-length'];
    const total = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;

    await mkdir(dirname(dest), { recursive: true });
    handle = await open(temp, 'wx');
    const hash = createHash('md5');
    let bytes = 0;
    let lastEmit = 0;
    const report = (done: boolean): void => {
      emit?.({ type: 'task', time: Date.now(), id, label, current: bytes, total, unit: 'B', ...(done ? { done } : {}) });
    };
    report(false);
    arm(idleTimeoutMs);
    try {
      for await (const chunk of response as AsyncIterable<Buffer>) {
        arm(idleTimeoutMs);
        hash.update(chunk);
        await handle.write(chunk);
        bytes += chunk.length;
        const now = Date.now();
        if (now - lastEmit >= 200) {
          lastEmit = now;
          report(false);
        }
      }
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      const reason = timedOut ? `no data from the server for ${seconds(idleTimeoutMs)}` : describeFailure(url, error, false, idleTimeoutMs);
      throw new DownloadError(`${reason} after ${bytes}${total !== undefined ? ` of ${total}` : ''} bytes`);
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
    response?.destroy();
    signal?.removeEventListener('abort', onAbort);
  }
}

/** Unpacks a .tar or .tar.gz archive into `dir` (which must exist). Throws DownloadError if it is unreadable. */
export async function extractArchive(archive: string, dir: string): Promise<void> {
  try {
    const tar = await import('tar'); // loaded only to unpack: every kdx start imports this module
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
