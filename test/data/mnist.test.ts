import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, beforeEach, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { DatasetError } from '../../src/data/errors.js';
import { cacheDir } from '../../src/data/locate.js';
import { fashionMnist, mnist } from '../../src/plugins/datasets/mnist.js';
import type { DatasetContext } from '../../src/registry/types.js';
import type { KdxEvent } from '../../src/events.js';

const pixel = (split: number, i: number, y: number, x: number): number => (split * 100 + i * 13 + y * 7 + x) & 255;
const label = (split: number, i: number): number => (split * 3 + i) % 10;

function idx(magic: number, dims: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, data]);
}

function imagesFile(split: number, count: number, rows = 28, cols = 28): Buffer {
  const data = new Uint8Array(count * rows * cols);
  for (let i = 0; i < count; i++) for (let y = 0; y < rows; y++) for (let x = 0; x < cols; x++) data[(i * rows + y) * cols + x] = pixel(split, i, y, x);
  return idx(0x803, [count, rows, cols], data);
}

function labelsFile(split: number, count: number): Buffer {
  return idx(0x801, [count], Uint8Array.from({ length: count }, (_, i) => label(split, i)));
}

/** Writes the four files; `gz` picks which are gzip-compressed (with .gz names). */
function writeIdx(dir: string, train = 6, test = 4, gz: boolean[] = [true, true, true, true]): void {
  mkdirSync(dir, { recursive: true });
  const files: [string, Buffer][] = [
    ['train-images-idx3-ubyte', imagesFile(0, train)],
    ['train-labels-idx1-ubyte', labelsFile(0, train)],
    ['t10k-images-idx3-ubyte', imagesFile(1, test)],
    ['t10k-labels-idx1-ubyte', labelsFile(1, test)],
  ];
  files.forEach(([name, data], i) => writeFileSync(join(dir, gz[i] ? `${name}.gz` : name), gz[i] ? gzipSync(data) : data));
}

let tmp: string;
const saved = { KDX_DATA: process.env.KDX_DATA, XDG_CACHE_HOME: process.env.XDG_CACHE_HOME, KDX_SYSTEM_DATASETS: process.env.KDX_SYSTEM_DATASETS };
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'kdx-mnist-'));
  process.env.KDX_DATA = join(tmp, 'kdx-data');
  process.env.XDG_CACHE_HOME = join(tmp, 'cache');
  process.env.KDX_SYSTEM_DATASETS = join(tmp, 'system');
  for (const k of ['KDX_DATASET_URL_MNIST', 'KDX_DATASET_MD5_MNIST', 'KDX_DATASET_URL_FASHION_MNIST', 'KDX_DATASET_MD5_FASHION_MNIST']) delete process.env[k];
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));
after(() => {
  for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
  else process.env[k] = v;
});

const context = (root?: string, events: KdxEvent[] = []): DatasetContext => ({ root, seed: 0, options: {}, emit: (e) => events.push(e) });

function checkFixture(ds: Awaited<ReturnType<typeof mnist.load>>, train: number, test: number): void {
  assert.deepEqual(ds.shape, [28, 28, 1]);
  assert.equal(ds.classes, 10);
  assert.equal(ds.train.count, train);
  assert.equal(ds.test.count, test);
  assert.equal(ds.train.images.length, train * 784);
  assert.equal(ds.train.images[(3 * 28 + 5) * 28 + 17], pixel(0, 3, 5, 17));
  assert.equal(ds.test.images[(1 * 28 + 27) * 28 + 0], pixel(1, 1, 27, 0));
  assert.deepEqual([...ds.train.labels], Array.from({ length: train }, (_, i) => label(0, i)));
  assert.deepEqual([...ds.test.labels], Array.from({ length: test }, (_, i) => label(1, i)));
}

test('shape and classes are known without loading; class names', async () => {
  assert.deepEqual(mnist.inputShape({}), [28, 28, 1]);
  assert.deepEqual(fashionMnist.inputShape({}), [28, 28, 1]);
  assert.equal(fashionMnist.classes({}), 10);
});

test('loads gzip-compressed IDX files from data.root', async () => {
  const root = join(tmp, 'root');
  writeIdx(root, 6, 4);
  const events: KdxEvent[] = [];
  const ds = await mnist.load(context(root, events));
  checkFixture(ds, 6, 4);
  assert.deepEqual(ds.classNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  assert.ok(events.at(-1)?.type === 'task');
});

test('loads plain and mixed plain/gzip files from $KDX_DATA/<name>', async () => {
  writeIdx(join(process.env.KDX_DATA!, 'fashion-mnist'), 5, 3, [false, true, false, false]);
  const ds = await fashionMnist.load(context());
  checkFixture(ds, 5, 3);
  assert.equal(ds.classNames?.[9], 'Ankle boot');
  assert.equal(ds.name, 'fashion-mnist');
});

test('finds the system directory (Debian layout) and the torchvision layout', async () => {
  writeIdx(join(process.env.KDX_SYSTEM_DATASETS!, 'fashion-mnist'), 4, 2);
  checkFixture(await fashionMnist.load(context()), 4, 2);
  writeIdx(join(tmp, 'tv', 'MNIST', 'raw'), 4, 2, [false, false, false, false]);
  checkFixture(await mnist.load(context(join(tmp, 'tv'))), 4, 2);
});

test('a wrong magic number is an error naming the file', async () => {
  const root = join(tmp, 'root');
  writeIdx(root);
  writeFileSync(join(root, 'train-labels-idx1-ubyte.gz'), gzipSync(idx(0x803, [6], new Uint8Array(6))));
  await assert.rejects(mnist.load(context(root)), (e: Error) => {
    assert.ok(e instanceof DatasetError);
    assert.match(e.message, /train-labels-idx1-ubyte\.gz has magic number 0x00000803 where an IDX file of 1-dimensional unsigned bytes has 0x00000801/);
    return true;
  });
});

test('a truncated plain file, a truncated gzip file, and mismatched counts are errors naming the file', async () => {
  const root = join(tmp, 'root');
  writeIdx(root, 6, 4, [true, true, false, true]);
  writeFileSync(join(root, 't10k-images-idx3-ubyte'), imagesFile(1, 4).subarray(0, 16 + 3 * 784 + 10));
  await assert.rejects(mnist.load(context(root)), /t10k-images-idx3-ubyte should hold 3136 bytes of data .* but holds 2362: it is truncated/);

  writeIdx(root, 6, 4);
  const gz = gzipSync(imagesFile(0, 6));
  writeFileSync(join(root, 'train-images-idx3-ubyte.gz'), gz.subarray(0, gz.length - 20));
  await assert.rejects(mnist.load(context(root)), /train-images-idx3-ubyte\.gz is not a valid gzip file/);

  rmSync(root, { recursive: true });
  writeIdx(root, 6, 4);
  writeFileSync(join(root, 'train-labels-idx1-ubyte.gz'), gzipSync(labelsFile(0, 5)));
  await assert.rejects(mnist.load(context(root)), /train-labels-idx1-ubyte\.gz holds 5 labels but .*train-images-idx3-ubyte\.gz holds 6 images/);

  writeIdx(root, 6, 4);
  writeFileSync(join(root, 'train-images-idx3-ubyte.gz'), gzipSync(imagesFile(0, 6, 32, 32)));
  await assert.rejects(mnist.load(context(root)), /holds 32x32 images, expected 28x28/);

  writeIdx(root, 6, 4);
  writeFileSync(join(root, 't10k-labels-idx1-ubyte.gz'), gzipSync(idx(0x801, [4], Uint8Array.from([1, 2, 10, 3]))));
  await assert.rejects(mnist.load(context(root)), /t10k-labels-idx1-ubyte\.gz: label 2 is 10/);
});

test('missing and offline: a quick error listing the directories and the URLs', async () => {
  process.env.KDX_DATASET_URL_FASHION_MNIST = 'http://127.0.0.1:9/fmnist/';
  const start = Date.now();
  const error = await fashionMnist.load(context(join(tmp, 'root'))).then(() => assert.fail('should not load'), (e: unknown) => e);
  assert.ok(Date.now() - start < 5000);
  assert.ok(error instanceof DatasetError);
  const msg = error.message;
  assert.match(msg, /Fashion-MNIST is not on this machine and could not be downloaded: connection to 127\.0\.0\.1:9 refused/);
  for (const dir of [join(tmp, 'root'), join(process.env.KDX_DATA!, 'fashion-mnist'), cacheDir('fashion-mnist'), join(process.env.KDX_SYSTEM_DATASETS!, 'fashion-mnist')]) {
    assert.ok(msg.includes(dir), `mentions ${dir}`);
  }
  assert.match(msg, /train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte \(each plain or \.gz\)/);
  assert.match(msg, /http:\/\/127\.0\.0\.1:9\/fmnist\/t10k-labels-idx1-ubyte\.gz/);
  assert.match(msg, /apt-get install dataset-fashion-mnist/);
  assert.equal(existsSync(join(tmp, 'cache')), false, 'leaves no directories behind');
});

test('downloads the four files from a mirror into the cache, checking their MD5', async () => {
  const src = join(tmp, 'mirror');
  writeIdx(src, 6, 4);
  const { readFileSync } = await import('node:fs');
  const server = createServer((req, res) => {
    const name = (req.url ?? '').replace('/mnist/', '');
    try {
      const body = readFileSync(join(src, name));
      res.writeHead(200, { 'content-length': body.length }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    process.env.KDX_DATASET_URL_MNIST = `http://127.0.0.1:${(server.address() as { port: number }).port}/mnist`;
    // the real MD5s do not match the fixtures: nothing is kept
    await assert.rejects(mnist.load(context()), /MD5 is [0-9a-f]{32}, expected f68b3c2dcbeaaa9fbdd348bbdeb94873/);
    assert.equal(existsSync(join(tmp, 'cache')), false);
    process.env.KDX_DATASET_MD5_MNIST = 'skip';
    const events: KdxEvent[] = [];
    checkFixture(await mnist.load(context(undefined, events)), 6, 4);
    assert.deepEqual(readdirSync(cacheDir('mnist')).sort(), ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz', 'train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz']);
    assert.equal(new Set(events.filter((e) => e.type === 'task' && e.id.startsWith('download:') && e.done).map((e) => e.type === 'task' && e.id)).size, 4);
  } finally {
    server.close();
  }
});

const DEBIAN = '/usr/share/datasets/fashion-mnist';
test('loads Fashion-MNIST from Debian\'s dataset-fashion-mnist package', { skip: !existsSync(DEBIAN) && `${DEBIAN} not installed` }, async () => {
  delete process.env.KDX_SYSTEM_DATASETS;
  const ds = await fashionMnist.load(context());
  assert.equal(ds.train.count, 60000);
  assert.equal(ds.test.count, 10000);
  assert.equal(ds.train.images.length, 60000 * 784);
  assert.equal(ds.train.labels[0], 9); // the first training image is an ankle boot
  const counts = new Array(10).fill(0);
  for (const l of ds.train.labels) counts[l]++;
  assert.deepEqual(counts, new Array(10).fill(6000));
});
