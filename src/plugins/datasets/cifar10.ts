// CIFAR-10, binary version: data_batch_1..5.bin and test_batch.bin, each record one label byte then
// 3072 pixel bytes as three 32x32 planes (R, G, B). Stored here as HWC uint8.
import { mkdir, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DatasetError } from '../../data/errors.js';
import { DownloadError, downloadFile, extractArchive, makeDirUndoable, tempPath, type TaskEvent } from '../../data/download.js';
import { cacheDir, datasetEnv, datasetPlaces, describePlaces, findFiles, type Wanted } from '../../data/locate.js';
import type { DatasetContext, DatasetFactory, DataSplit, ImageShape, LoadedDataset } from '../../registry/types.js';

export const CIFAR10_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';
export const CIFAR10_MD5 = 'c32a1d4ab5d03f1284b67883e8d87530';
export const CIFAR10_TRAIN_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'];
export const CIFAR10_TEST_FILE = 'test_batch.bin';
export const CIFAR10_CLASS_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
const SUBDIR = 'cifar-10-batches-bin';
const NAME = 'cifar10';
const SHAPE: ImageShape = [32, 32, 3];
const PIXELS = 32 * 32;
const RECORD = 1 + 3 * PIXELS;
const RECORDS_PER_FILE = 10_000;

const WANTED: Wanted[] = [...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE].map((name) => ({ name, alternatives: [name] }));

/** Reads and checks the six batch files (train first, then test) into HWC uint8 splits. */
export async function readCifar10Files(
  trainFiles: string[],
  testFile: string,
  progress?: (done: number, total: number) => void,
  signal?: AbortSignal,
): Promise<{ train: DataSplit; test: DataSplit }> {
  const all = [...trainFiles, testFile];
  const counts: number[] = [];
  for (const file of all) {
    const { size } = await stat(file);
    if (size === 0) throw new DatasetError(`${file} is empty; a CIFAR-10 batch file holds ${RECORDS_PER_FILE} records of ${RECORD} bytes`);
    if (size % RECORD !== 0) {
      throw new DatasetError(
        `${file} is ${size} bytes, not a whole number of ${RECORD}-byte CIFAR-10 records (1 label byte + 3072 pixel bytes): ` +
          `it is truncated or not a CIFAR-10 binary batch file. Delete it and fetch it again.`,
      );
    }
    counts.push(size / RECORD);
  }
  // Every batch file of the real dataset holds the same number of records (10000): a file holding a
  // different number was cut short exactly at a record boundary, or belongs to something else.
  for (let i = 1; i < all.length; i++) {
    if (counts[i] !== counts[0]) {
      throw new DatasetError(
        `${all[i]} holds ${counts[i]} records where ${all[0]} holds ${counts[0]}; every CIFAR-10 batch file holds the same ` +
          `number (${RECORDS_PER_FILE}), so one of them is truncated or from another dataset`,
      );
    }
  }
  const trainCount = counts.slice(0, -1).reduce((a, b) => a + b, 0);
  const testCount = counts[counts.length - 1];
  const train: DataSplit = { images: new Uint8Array(trainCount * RECORD - trainCount), labels: new Uint8Array(trainCount), count: trainCount };
  const test: DataSplit = { images: new Uint8Array(testCount * (RECORD - 1)), labels: new Uint8Array(testCount), count: testCount };
  let offset = 0;
  for (let f = 0; f < all.length; f++) {
    signal?.throwIfAborted();
    const isTest = f === all.length - 1;
    const split = isTest ? test : train;
    if (isTest) offset = 0;
    const buffer = await readFile(all[f]);
    if (buffer.length !== counts[f] * RECORD) throw new DatasetError(`${all[f]} changed size while being read`);
    decodeRecords(buffer, counts[f], split.images as Uint8Array, split.labels, offset, all[f]);
    offset += counts[f];
    progress?.(f + 1, all.length);
  }
  return { train, test };
}

/** CHW planes -> HWC, records [0, count) of `buffer` into examples [offset, offset + count). */
function decodeRecords(buffer: Uint8Array, count: number, images: Uint8Array, labels: Uint8Array, offset: number, file: string): void {
  for (let r = 0; r < count; r++) {
    const base = r * RECORD;
    const label = buffer[base];
    if (label > 9) throw new DatasetError(`${file}: record ${r} has label ${label}, but CIFAR-10 labels are 0 to 9; the file is corrupt`);
    labels[offset + r] = label;
    const red = base + 1;
    const green = red + PIXELS;
    const blue = green + PIXELS;
    let o = (offset + r) * 3 * PIXELS;
    for (let p = 0; p < PIXELS; p++, o += 3) {
      images[o] = buffer[red + p];
      images[o + 1] = buffer[green + p];
      images[o + 2] = buffer[blue + p];
    }
  }
}

async function readClassNames(dir: string): Promise<string[]> {
  try {
    const names = (await readFile(join(dir, 'batches.meta.txt'), 'utf8'))
      .split(/\r?\n/)
      .map((s) => s.trim())
      .filter((s) => s !== '');
    return names.length === 10 ? names : CIFAR10_CLASS_NAMES;
  } catch {
    return CIFAR10_CLASS_NAMES;
  }
}

function task(emit: DatasetContext['emit'], id: string, label: string, current: number, total: number, done = false): void {
  emit({ type: 'task', time: Date.now(), id, label, current, total, unit: 'files', ...(done ? { done } : {}) });
}

/** Downloads and unpacks the archive into the cache; returns the directory holding the .bin files. */
async function download(ctx: DatasetContext): Promise<string> {
  const url = datasetEnv('URL', NAME) ?? CIFAR10_URL;
  const md5 = datasetEnv('MD5', NAME) ?? CIFAR10_MD5;
  const cache = cacheDir(NAME);
  const target = join(cache, SUBDIR);
  const undoDirs = await makeDirUndoable(cache);
  const archive = tempPath(join(cache, 'cifar-10-binary.tar.gz'), '.tar.gz');
  let unpackDir: string | undefined;
  try {
    await downloadFile({
      url,
      dest: archive,
      md5: md5.toLowerCase() === 'skip' ? undefined : md5,
      id: 'download:cifar10',
      label: 'downloading CIFAR-10',
      emit: ctx.emit as (e: TaskEvent) => void,
      signal: ctx.signal,
    });
    unpackDir = tempPath(target, '.unpack');
    await mkdir(unpackDir);
    ctx.emit({ type: 'task', time: Date.now(), id: 'unpack:cifar10', label: 'unpacking CIFAR-10', current: 0 });
    await extractArchive(archive, unpackDir);
    const inner = join(unpackDir, SUBDIR);
    const source = (await isDir(inner)) ? inner : unpackDir;
    const present = new Set(await readdir(source));
    const missing = WANTED.map((w) => w.name).filter((n) => !present.has(n));
    if (missing.length > 0) throw new DownloadError(`the archive from ${url} lacks ${missing.join(', ')}`);
    try {
      await rename(source, target);
    } catch (error) {
      // Another process finished the same download first: use its copy.
      const code = (error as NodeJS.ErrnoException).code;
      if (!(code === 'ENOTEMPTY' || code === 'EEXIST') || !(await isDir(target))) throw error;
    }
    ctx.emit({ type: 'task', time: Date.now(), id: 'unpack:cifar10', label: 'unpacking CIFAR-10', current: 1, done: true });
    return target;
  } finally {
    await rm(archive, { force: true }).catch(() => {});
    if (unpackDir) await rm(unpackDir, { recursive: true, force: true }).catch(() => {});
    await undoDirs().catch(() => {});
  }
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

function notFound(ctx: DatasetContext, reason: string, partial: { dir: string; missing: string[] }[]): DatasetError {
  const places = datasetPlaces(NAME, ctx.root);
  const cache = cacheDir(NAME);
  const url = datasetEnv('URL', NAME) ?? CIFAR10_URL;
  const lines = [
    `CIFAR-10 is not on this machine and could not be downloaded: ${reason}.`,
    '',
    `kdx looked for ${CIFAR10_TRAIN_FILES[0]} ... ${CIFAR10_TRAIN_FILES[4]} and ${CIFAR10_TEST_FILE}, directly or in a ${SUBDIR}/ subdirectory, of:`,
    describePlaces(places),
  ];
  for (const p of partial) lines.push(`(${p.dir} has some of the files but lacks ${p.missing.join(', ')})`);
  lines.push(
    '',
    'To install it by hand, fetch',
    `  ${url}  (MD5 ${CIFAR10_MD5}, 170 MB)`,
    'on a machine with internet access and unpack it into the cache:',
    `  mkdir -p ${cache} && tar -xzf cifar-10-binary.tar.gz -C ${cache}`,
    `or put the six .bin files into any directory above (set data.root in the experiment file, or KDX_DATA, to choose one).`,
  );
  return new DatasetError(lines.join('\n'));
}

export const cifar10: DatasetFactory = {
  description: 'CIFAR-10: 32x32 colour images in 10 classes, 50000 train / 10000 test (binary version, downloaded if absent)',
  inputShape: () => [...SHAPE],
  classes: () => 10,
  async load(ctx: DatasetContext): Promise<LoadedDataset> {
    const places = datasetPlaces(NAME, ctx.root);
    const search = findFiles(places, [SUBDIR], WANTED);
    let dir: string;
    let files: string[];
    if (search.found) {
      ({ dir, files } = search.found);
    } else {
      try {
        dir = await download(ctx);
      } catch (error) {
        if (error instanceof DownloadError) throw notFound(ctx, error.message, search.partial);
        if (ctx.signal?.aborted) throw error;
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== undefined) throw notFound(ctx, (error as Error).message, search.partial);
        throw error;
      }
      files = WANTED.map((w) => join(dir, w.name));
    }
    const id = 'load:cifar10';
    const label = 'loading CIFAR-10';
    task(ctx.emit, id, label, 0, 6);
    const { train, test } = await readCifar10Files(
      files.slice(0, 5),
      files[5],
      (done, total) => task(ctx.emit, id, label, done, total, done === total),
      ctx.signal,
    );
    return { name: NAME, shape: [...SHAPE], classes: 10, classNames: await readClassNames(dir), train, test };
  },
};
