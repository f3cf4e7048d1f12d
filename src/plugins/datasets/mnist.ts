// MNIST and Fashion-MNIST: four IDX files (gzip-compressed or not), 28x28 grey images in 10 classes.
// Besides the usual places they are looked up in /usr/share/datasets/<name>/, where Debian's
// dataset-fashion-mnist package installs Fashion-MNIST's four .gz files.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { DatasetError } from '../../data/errors.js';
import { DownloadError, downloadFile, makeDirUndoable, type TaskEvent } from '../../data/download.js';
import { cacheDir, datasetEnv, datasetPlaces, describePlaces, findFiles, type Wanted } from '../../data/locate.js';
import type { DatasetContext, DatasetFactory, DataSplit, ImageShape, LoadedDataset } from '../../registry/types.js';

const gunzipAsync = promisify(gunzip);

/** The four files, in the order train images, train labels, test images, test labels. */
export const IDX_FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];

/** Where system packages put datasets (Debian: /usr/share/datasets); $KDX_SYSTEM_DATASETS overrides it. */
export function systemDatasetsDir(): string {
  const env = process.env.KDX_SYSTEM_DATASETS;
  return env !== undefined && env !== '' ? env : '/usr/share/datasets';
}

interface IdxSpec {
  name: string;
  title: string;
  /** torchvision's folder name (<root>/<folder>/raw/). */
  torchvisionFolder: string;
  url: string;
  /** MD5 of each .gz file at `url`. */
  md5: Record<string, string>;
  classNames: string[];
  description: string;
}

/** Parses an IDX file of unsigned bytes with `ndim` dimensions; returns its dimensions and data. */
export function parseIdx(buffer: Uint8Array, file: string, ndim: number): { dims: number[]; data: Uint8Array } {
  const expected = (0x0800 | ndim).toString(16).padStart(8, '0');
  if (buffer.length < 4 + 4 * ndim) throw new DatasetError(`${file} is only ${buffer.length} bytes, too short for an IDX file; it is truncated`);
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const magic = view.getUint32(0);
  if (magic !== (0x0800 | ndim)) {
    throw new DatasetError(
      `${file} has magic number 0x${magic.toString(16).padStart(8, '0')} where an IDX file of ${ndim}-dimensional unsigned bytes ` +
        `has 0x${expected}: it is not the expected file, or it is damaged`,
    );
  }
  const dims: number[] = [];
  let size = 1;
  for (let i = 0; i < ndim; i++) {
    dims.push(view.getUint32(4 + 4 * i));
    size *= dims[i];
  }
  const header = 4 + 4 * ndim;
  if (buffer.length !== header + size) {
    throw new DatasetError(
      `${file} should hold ${size} bytes of data after its header (dimensions ${dims.join(' x ')}) but holds ${buffer.length - header}: ` +
        (buffer.length < header + size ? 'it is truncated' : 'it has trailing bytes') +
        '. Delete it and fetch it again.',
    );
  }
  return { dims, data: buffer.slice(header, header + size) };
}

async function readMaybeGzip(file: string): Promise<Uint8Array> {
  const raw = await readFile(file);
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return await gunzipAsync(raw);
    } catch (error) {
      throw new DatasetError(`${file} is not a valid gzip file (${(error as Error).message}); it is truncated or damaged. Delete it and fetch it again.`);
    }
  }
  return raw;
}

/** Reads one split (images file + labels file) and checks it: magic numbers, 28x28, counts, labels 0..9. */
export async function readIdxSplit(imagesFile: string, labelsFile: string): Promise<DataSplit> {
  const images = parseIdx(await readMaybeGzip(imagesFile), imagesFile, 3);
  const labels = parseIdx(await readMaybeGzip(labelsFile), labelsFile, 1);
  const [count, rows, cols] = images.dims;
  if (rows !== 28 || cols !== 28) throw new DatasetError(`${imagesFile} holds ${rows}x${cols} images, expected 28x28`);
  if (labels.dims[0] !== count) {
    throw new DatasetError(`${labelsFile} holds ${labels.dims[0]} labels but ${imagesFile} holds ${count} images; one of them is truncated or they do not belong together`);
  }
  for (let i = 0; i < count; i++) {
    if (labels.data[i] > 9) throw new DatasetError(`${labelsFile}: label ${i} is ${labels.data[i]}, but labels are 0 to 9; the file is damaged`);
  }
  return { images: images.data, labels: labels.data, count };
}

function wanted(): Wanted[] {
  return IDX_FILES.map((name) => {
    const dotted = name.replace('-idx', '.idx');
    return { name, alternatives: [name, `${name}.gz`, dotted, `${dotted}.gz`] };
  });
}

function places(spec: IdxSpec, ctx: { root?: string }) {
  return datasetPlaces(spec.name, ctx.root, [join(systemDatasetsDir(), spec.name)]);
}

function subdirs(spec: IdxSpec): string[] {
  return ['raw', join(spec.torchvisionFolder, 'raw')];
}

async function download(spec: IdxSpec, ctx: DatasetContext, missing: string[]): Promise<void> {
  const base = datasetEnv('URL', spec.name) ?? spec.url;
  const md5Override = datasetEnv('MD5', spec.name);
  const cache = cacheDir(spec.name);
  const undoDirs = await makeDirUndoable(cache);
  try {
    for (const name of missing) {
      const file = `${name}.gz`;
      await downloadFile({
        url: new URL(file, base.endsWith('/') ? base : `${base}/`).href,
        dest: join(cache, file),
        md5: md5Override?.toLowerCase() === 'skip' ? undefined : spec.md5[file],
        id: `download:${spec.name}:${name}`,
        label: `downloading ${spec.title} ${file}`,
        emit: ctx.emit as (e: TaskEvent) => void,
        signal: ctx.signal,
      });
    }
  } finally {
    await undoDirs().catch(() => {});
  }
}

function notFound(spec: IdxSpec, ctx: DatasetContext, reason: string, partial: { dir: string; missing: string[] }[]): DatasetError {
  const cache = cacheDir(spec.name);
  const base = datasetEnv('URL', spec.name) ?? spec.url;
  const lines = [
    `${spec.title} is not on this machine and could not be downloaded: ${reason}.`,
    '',
    `kdx looked for ${IDX_FILES.join(', ')} (each plain or .gz), directly or in a raw/ or ${spec.torchvisionFolder}/raw/ subdirectory, of:`,
    describePlaces(places(spec, ctx)),
  ];
  for (const p of partial) lines.push(`(${p.dir} has some of the files but lacks ${p.missing.join(', ')})`);
  lines.push('', 'To install it by hand, fetch');
  for (const name of IDX_FILES) lines.push(`  ${new URL(`${name}.gz`, base.endsWith('/') ? base : `${base}/`).href}`);
  lines.push(`on a machine with internet access and put the four files into ${cache}`, 'or into any directory above (set data.root in the experiment file, or KDX_DATA, to choose one).');
  if (spec.name === 'fashion-mnist') lines.push('On Debian or Ubuntu, `apt-get install dataset-fashion-mnist` installs them into /usr/share/datasets/fashion-mnist/.');
  return new DatasetError(lines.join('\n'));
}

function idxDataset(spec: IdxSpec): DatasetFactory {
  const shape: ImageShape = [28, 28, 1];
  return {
    description: spec.description,
    inputShape: () => [...shape],
    classes: () => 10,
    splitSizes: () => ({ train: 60_000, test: 10_000 }),
    async load(ctx: DatasetContext): Promise<LoadedDataset> {
      const want = wanted();
      let search = findFiles(places(spec, ctx), subdirs(spec), want);
      if (!search.found) {
        const cache = cacheDir(spec.name);
        const inCache = search.partial.find((p) => p.dir === cache);
        try {
          await download(spec, ctx, inCache ? inCache.missing : IDX_FILES);
        } catch (error) {
          if (ctx.signal?.aborted) throw error;
          if (error instanceof DownloadError || (error as NodeJS.ErrnoException).code !== undefined) {
            throw notFound(spec, ctx, (error as Error).message, search.partial);
          }
          throw error;
        }
        search = findFiles([{ dir: cache, source: "kdx's download cache" }], [], want);
        if (!search.found) throw notFound(spec, ctx, 'the downloaded files are not where they should be', search.partial);
      }
      const files = search.found.files;
      const id = `load:${spec.name}`;
      const label = `loading ${spec.title}`;
      ctx.emit({ type: 'task', time: Date.now(), id, label, current: 0, total: 2, unit: 'splits' });
      const train = await readIdxSplit(files[0], files[1]);
      ctx.signal?.throwIfAborted();
      ctx.emit({ type: 'task', time: Date.now(), id, label, current: 1, total: 2, unit: 'splits' });
      const test = await readIdxSplit(files[2], files[3]);
      ctx.emit({ type: 'task', time: Date.now(), id, label, current: 2, total: 2, unit: 'splits', done: true });
      return { name: spec.name, shape: [...shape], classes: 10, classNames: [...spec.classNames], train, test };
    },
  };
}

export const mnist: DatasetFactory = idxDataset({
  name: 'mnist',
  title: 'MNIST',
  torchvisionFolder: 'MNIST',
  url: 'https://ossci-datasets.s3.amazonaws.com/mnist/',
  md5: {
    'train-images-idx3-ubyte.gz': 'f68b3c2dcbeaaa9fbdd348bbdeb94873',
    'train-labels-idx1-ubyte.gz': 'd53e105ee54ea40749a09fcbcd1e9432',
    't10k-images-idx3-ubyte.gz': '9fb629c4189551a2d022fa330f9573f3',
    't10k-labels-idx1-ubyte.gz': 'ec29112dd5afa0611ce80d1b7f02629c',
  },
  classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  description: 'MNIST: 28x28 grey handwritten digits, 60000 train / 10000 test (IDX files, downloaded if absent)',
});

export const fashionMnist: DatasetFactory = idxDataset({
  name: 'fashion-mnist',
  title: 'Fashion-MNIST',
  torchvisionFolder: 'FashionMNIST',
  url: 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
  md5: {
    'train-images-idx3-ubyte.gz': '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
    'train-labels-idx1-ubyte.gz': '25c81989df183df01b3e8a0aad5dffbe',
    't10k-images-idx3-ubyte.gz': 'bef4ecab320f06d8554ea6380940ec79',
    't10k-labels-idx1-ubyte.gz': 'bb300cfdad3c16e7a12a480ee83cd310',
  },
  classNames: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
  description: 'Fashion-MNIST: 28x28 grey clothing images in 10 classes, 60000 train / 10000 test (IDX files; Debian: dataset-fashion-mnist)',
});
