// CIFAR-10 and CIFAR-100, binary versions, stored here as HWC uint8. CIFAR-10: data_batch_1..5.bin and
// test_batch.bin, each record one label byte then 3072 pixel bytes as three 32x32 planes (R, G, B).
// CIFAR-100: train.bin and test.bin, each record a coarse label byte, a fine label byte, then the pixels.
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
export const CIFAR100_URL = 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz';
export const CIFAR100_MD5 = '03b5dce01913d631647c71ecec9e9cb8';
const SHAPE: ImageShape = [32, 32, 3];
const PIXELS = 32 * 32;

/** What tells the two binary formats apart. */
export interface CifarFormat {
  name: 'cifar10' | 'cifar100';
  title: string;
  url: string;
  md5: string;
  archive: string;
  /** Megabytes of the archive, for the offline message. */
  megabytes: number;
  /** The directory the archive unpacks to. */
  subdir: string;
  trainFiles: string[];
  testFile: string;
  /** Label bytes before the pixels of a record. */
  labelBytes: number;
  /** Records per file when every file holds the same number (CIFAR-10's batches), to catch truncation. */
  recordsPerFile?: number;
  /** The file of class names, one per line, and the names it should hold. */
  classNames: (labels: LabelKind) => { file: string; fallback?: string[] };
  /** The label byte used, and the number of classes, for the kind of labels chosen. */
  labels: (labels: LabelKind) => { byte: number; classes: number };
}

/** CIFAR-100's fine (100) or coarse (20 superclasses) labels; CIFAR-10 has one kind. */
export type LabelKind = 'fine' | 'coarse';

export const CIFAR10: CifarFormat = {
  name: 'cifar10',
  title: 'CIFAR-10',
  url: CIFAR10_URL,
  md5: CIFAR10_MD5,
  archive: 'cifar-10-binary.tar.gz',
  megabytes: 170,
  subdir: 'cifar-10-batches-bin',
  trainFiles: CIFAR10_TRAIN_FILES,
  testFile: CIFAR10_TEST_FILE,
  labelBytes: 1,
  recordsPerFile: 10_000,
  classNames: () => ({ file: 'batches.meta.txt', fallback: CIFAR10_CLASS_NAMES }),
  labels: () => ({ byte: 0, classes: 10 }),
};

export const CIFAR100: CifarFormat = {
  name: 'cifar100',
  title: 'CIFAR-100',
  url: CIFAR100_URL,
  md5: CIFAR100_MD5,
  archive: 'cifar-100-binary.tar.gz',
  megabytes: 161,
  subdir: 'cifar-100-binary',
  trainFiles: ['train.bin'],
  testFile: 'test.bin',
  labelBytes: 2,
  classNames: (labels) => ({ file: `${labels}_label_names.txt` }),
  labels: (labels) => (labels === 'coarse' ? { byte: 0, classes: 20 } : { byte: 1, classes: 100 }),
};

const recordBytes = (format: CifarFormat) => format.labelBytes + 3 * PIXELS;
const wanted = (format: CifarFormat): Wanted[] => [...format.trainFiles, format.testFile].map((name) => ({ name, alternatives: [name] }));

/** Reads and checks the six batch files (train first, then test) into HWC uint8 splits. */
export async function readCifar10Files(
  trainFiles: string[],
  testFile: string,
  progress?: (done: number, total: number) => void,
  signal?: AbortSignal,
): Promise<{ train: DataSplit; test: DataSplit }> {
  return readCifarFiles(CIFAR10, 'fine', trainFiles, testFile, progress, signal);
}

/** Reads and checks a CIFAR dataset's files (train first, then test) into HWC uint8 splits. */
export async function readCifarFiles(
  format: CifarFormat,
  labelKind: LabelKind,
  trainFiles: string[],
  testFile: string,
  progress?: (done: number, total: number) => void,
  signal?: AbortSignal,
): Promise<{ train: DataSplit; test: DataSplit }> {
  const RECORD = recordBytes(format);
  const { title } = format;
  const all = [...trainFiles, testFile];
  const counts: number[] = [];
  for (const file of all) {
    const { size } = await stat(file);
    if (size === 0) {
      const holds = format.recordsPerFile ? `holds ${format.recordsPerFile} records` : 'holds records';
      throw new DatasetError(`${file} is empty; a ${title} batch file ${holds} of ${RECORD} bytes`);
    }
    if (size % RECORD !== 0) {
      const labels = format.labelBytes === 1 ? '1 label byte' : `${format.labelBytes} label bytes`;
      throw new DatasetError(
        `${file} is ${size} bytes, not a whole number of ${RECORD}-byte ${title} records (${labels} + 3072 pixel bytes): ` +
          `it is truncated or not a ${title} binary batch file. Delete it and fetch it again.`,
      );
    }
    counts.push(size / RECORD);
  }
  // Every batch file of CIFAR-10 holds the same number of records (10000): a file holding a different
  // number was cut short exactly at a record boundary, or belongs to something else.
  for (let i = 1; i < all.length && format.recordsPerFile; i++) {
    if (counts[i] !== counts[0]) {
      throw new DatasetError(
        `${all[i]} holds ${counts[i]} records where ${all[0]} holds ${counts[0]}; every ${title} batch file holds the same ` +
          `number (${format.recordsPerFile}), so one of them is truncated or from another dataset`,
      );
    }
  }
  const trainCount = counts.slice(0, -1).reduce((a, b) => a + b, 0);
  const testCount = counts[counts.length - 1];
  const train: DataSplit = { images: new Uint8Array(trainCount * 3 * PIXELS), labels: new Uint8Array(trainCount), count: trainCount };
  const test: DataSplit = { images: new Uint8Array(testCount * 3 * PIXELS), labels: new Uint8Array(testCount), count: testCount };
  let offset = 0;
  for (let f = 0; f < all.length; f++) {
    signal?.throwIfAborted();
    const isTest = f === all.length - 1;
    const split = isTest ? test : train;
    if (isTest) offset = 0;
    const buffer = await readFile(all[f]);
    if (buffer.length !== counts[f] * RECORD) throw new DatasetError(`${all[f]} changed size while being read`);
    decodeRecords(format, labelKind, buffer, counts[f], split.images as Uint8Array, split.labels, offset, all[f]);
    offset += counts[f];
    progress?.(f + 1, all.length);
  }
  return { train, test };
}

/** CHW planes -> HWC, records [0, count) of `buffer` into examples [offset, offset + count). */
function decodeRecords(
  format: CifarFormat,
  labelKind: LabelKind,
  buffer: Uint8Array,
  count: number,
  images: Uint8Array,
  labels: Uint8Array,
  offset: number,
  file: string,
): void {
  const RECORD = recordBytes(format);
  const { byte, classes } = format.labels(labelKind);
  for (let r = 0; r < count; r++) {
    const base = r * RECORD;
    const label = buffer[base + byte];
    if (label >= classes) {
      const kind = format.labelBytes === 1 ? '' : ` ${labelKind}`;
      throw new DatasetError(`${file}: record ${r} has${kind} label ${label}, but ${format.title}${kind} labels are 0 to ${classes - 1}; the file is corrupt`);
    }
    labels[offset + r] = label;
    const red = base + format.labelBytes;
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

async function readClassNames(format: CifarFormat, labelKind: LabelKind, dir: string): Promise<string[] | undefined> {
  const { file, fallback } = format.classNames(labelKind);
  try {
    const names = (await readFile(join(dir, file), 'utf8'))
      .split(/\r?\n/)
      .map((s) => s.trim())
      .filter((s) => s !== '');
    return names.length === format.labels(labelKind).classes ? names : fallback;
  } catch {
    return fallback;
  }
}

function task(emit: DatasetContext['emit'], id: string, label: string, current: number, total: number, done = false): void {
  emit({ type: 'task', time: Date.now(), id, label, current, total, unit: 'files', ...(done ? { done } : {}) });
}

/** Downloads and unpacks the archive into the cache; returns the directory holding the .bin files. */
async function download(format: CifarFormat, ctx: DatasetContext): Promise<string> {
  const { name: NAME, subdir: SUBDIR, title } = format;
  const url = datasetEnv('URL', NAME) ?? format.url;
  const md5 = datasetEnv('MD5', NAME) ?? format.md5;
  const cache = cacheDir(NAME);
  const target = join(cache, SUBDIR);
  const undoDirs = await makeDirUndoable(cache);
  const archive = tempPath(join(cache, format.archive), '.tar.gz');
  let unpackDir: string | undefined;
  try {
    await downloadFile({
      url,
      dest: archive,
      md5: md5.toLowerCase() === 'skip' ? undefined : md5,
      id: `download:${NAME}`,
      label: `downloading ${title}`,
      emit: ctx.emit as (e: TaskEvent) => void,
      signal: ctx.signal,
    });
    unpackDir = tempPath(target, '.unpack');
    await mkdir(unpackDir);
    ctx.emit({ type: 'task', time: Date.now(), id: `unpack:${NAME}`, label: `unpacking ${title}`, current: 0 });
    await extractArchive(archive, unpackDir);
    const inner = join(unpackDir, SUBDIR);
    const source = (await isDir(inner)) ? inner : unpackDir;
    const present = new Set(await readdir(source));
    const missing = wanted(format).map((w) => w.name).filter((n) => !present.has(n));
    if (missing.length > 0) throw new DownloadError(`the archive from ${url} lacks ${missing.join(', ')}`);
    try {
      await rename(source, target);
    } catch (error) {
      // Another process finished the same download first: use its copy.
      const code = (error as NodeJS.ErrnoException).code;
      if (!(code === 'ENOTEMPTY' || code === 'EEXIST') || !(await isDir(target))) throw error;
    }
    ctx.emit({ type: 'task', time: Date.now(), id: `unpack:${NAME}`, label: `unpacking ${title}`, current: 1, done: true });
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

function notFound(format: CifarFormat, ctx: DatasetContext, reason: string, partial: { dir: string; missing: string[] }[]): DatasetError {
  const { name: NAME, subdir: SUBDIR, trainFiles, testFile, title } = format;
  const places = datasetPlaces(NAME, ctx.root);
  const cache = cacheDir(NAME);
  const url = datasetEnv('URL', NAME) ?? format.url;
  const train = trainFiles.length > 1 ? `${trainFiles[0]} ... ${trainFiles[trainFiles.length - 1]}` : trainFiles[0];
  const lines = [
    `${title} is not on this machine and could not be downloaded: ${reason}.`,
    '',
    `kdx looked for ${train} and ${testFile}, directly or in a ${SUBDIR}/ subdirectory, of:`,
    describePlaces(places),
  ];
  for (const p of partial) lines.push(`(${p.dir} has some of the files but lacks ${p.missing.join(', ')})`);
  lines.push(
    '',
    'To install it by hand, fetch',
    `  ${url}  (MD5 ${format.md5}, ${format.megabytes} MB)`,
    'on a machine with internet access and unpack it into the cache:',
    `  mkdir -p ${cache} && tar -xzf ${format.archive} -C ${cache}`,
    `or put the ${trainFiles.length === 1 ? 'two' : 'six'} .bin files into any directory above (set data.root in the experiment file, or KDX_DATA, to choose one).`,
  );
  return new DatasetError(lines.join('\n'));
}

/** The labels an experiment chose (`data.options.labels`), checked. */
function labelKind(format: CifarFormat, options: Record<string, unknown>): LabelKind {
  const allowed = format.labelBytes === 1 ? [] : ['labels'];
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new DatasetError(`data.options.${key} is not an option of ${format.name}${allowed.length ? ` (it has ${allowed.join(', ')})` : ' (it has none)'}`);
    }
  }
  const labels = options.labels ?? 'fine';
  if (labels !== 'fine' && labels !== 'coarse') throw new DatasetError(`data.options.labels must be fine or coarse (got ${JSON.stringify(labels)})`);
  return labels;
}

/** A CIFAR dataset: found on disk, or downloaded into the cache and checked against its MD5. */
function cifarDataset(format: CifarFormat, description: string): DatasetFactory {
  return {
    description,
    inputShape: () => [...SHAPE],
    classes: (options) => format.labels(labelKind(format, options)).classes,
    splitSizes: () => ({ train: 50_000, test: 10_000 }),
    async load(ctx: DatasetContext): Promise<LoadedDataset> {
      const labels = labelKind(format, ctx.options);
      const places = datasetPlaces(format.name, ctx.root);
      const search = findFiles(places, [format.subdir], wanted(format));
      let dir: string;
      let files: string[];
      if (search.found) {
        ({ dir, files } = search.found);
      } else {
        try {
          dir = await download(format, ctx);
        } catch (error) {
          if (error instanceof DownloadError) throw notFound(format, ctx, error.message, search.partial);
          if (ctx.signal?.aborted) throw error;
          const code = (error as NodeJS.ErrnoException).code;
          if (code !== undefined) throw notFound(format, ctx, (error as Error).message, search.partial);
          throw error;
        }
        files = wanted(format).map((w) => join(dir, w.name));
      }
      const id = `load:${format.name}`;
      const label = `loading ${format.title}`;
      task(ctx.emit, id, label, 0, files.length);
      const { train, test } = await readCifarFiles(
        format,
        labels,
        files.slice(0, -1),
        files[files.length - 1],
        (done, total) => task(ctx.emit, id, label, done, total, done === total),
        ctx.signal,
      );
      const classNames = await readClassNames(format, labels, dir);
      const { classes } = format.labels(labels);
      return { name: format.name, shape: [...SHAPE], classes, ...(classNames ? { classNames } : {}), train, test };
    },
  };
}

export const cifar10 = cifarDataset(CIFAR10, 'CIFAR-10: 32x32 colour images in 10 classes, 50000 train / 10000 test (binary version, downloaded if absent)');

export const cifar100 = cifarDataset(
  CIFAR100,
  'CIFAR-100: 32x32 colour images in 100 classes (options: {labels: coarse} for the 20 superclasses), 50000 train / 10000 test (binary version, downloaded if absent)',
);
