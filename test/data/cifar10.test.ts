import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, beforeEach, test } from 'node:test';
import * as tar from 'tar';
import { downloadFile, DownloadError } from '../../src/data/download.js';
import { DatasetError } from '../../src/data/errors.js';
import { cacheDir } from '../../src/data/locate.js';
import { cifar10, CIFAR10_CLASS_NAMES } from '../../src/plugins/datasets/cifar10.js';
import type { DatasetContext, LoadedDataset } from '../../src/registry/types.js';
import type { KdxEvent } from '../../src/events.js';

const FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'];
const RECORD = 3073;

/** The value of channel ch at (y, x) of record r of file f in the fixtures. */
const pixel = (f: number, r: number, y: number, x: number, ch: number): number => (f * 50 + r * 7 + y * 3 + x * 5 + ch * 11) & 255;
const label = (f: number, r: number): number => (f + r * 3) % 10;

/** A CIFAR-10 binary batch in the real format: per record, label byte, then R, G and B 32x32 planes. */
function batchFile(f: number, records: number): Buffer {
  const buf = Buffer.alloc(records * RECORD);
  for (let r = 0; r < records; r++) {
    buf[r * RECORD] = label(f, r);
    for (let ch = 0; ch < 3; ch++)
      for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) buf[r * RECORD + 1 + ch * 1024 + y * 32 + x] = pixel(f, r, y, x, ch);
  }
  return buf;
}

function writeCifar(dir: string, records = 3): void {
  mkdirSync(dir, { recursive: true });
  FILES.forEach((name, f) => writeFileSync(join(dir, name), batchFile(f, records)));
  writeFileSync(join(dir, 'batches.meta.txt'), CIFAR10_CLASS_NAMES.map((n) => n.toUpperCase()).join('\n') + '\n\n');
}

let tmp: string;
const saved = { KDX_DATA: process.env.KDX_DATA, XDG_CACHE_HOME: process.env.XDG_CACHE_HOME };
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'kdx-cifar-'));
  process.env.KDX_DATA = join(tmp, 'kdx-data');
  process.env.XDG_CACHE_HOME = join(tmp, 'cache');
  mkdirSync(process.env.XDG_CACHE_HOME);
  delete process.env.KDX_DATASET_URL_CIFAR10;
  delete process.env.KDX_DATASET_MD5_CIFAR10;
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));
after(() => {
  for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
  else process.env[k] = v;
});

function context(root?: string, events: KdxEvent[] = []): DatasetContext {
  return { root, seed: 0, options: {}, emit: (e) => events.push(e) };
}

function checkFixture(ds: LoadedDataset, records: number): void {
  assert.equal(ds.train.count, 5 * records);
  assert.equal(ds.test.count, records);
  assert.equal(ds.train.images.length, 5 * records * 3072);
  assert.ok(ds.train.images instanceof Uint8Array);
  // HWC: train example 2*records+1 is record 1 of data_batch_3
  const i = 2 * records + 1;
  for (const [y, x, ch] of [[0, 0, 0], [5, 17, 1], [31, 31, 2], [12, 3, 2]]) {
    assert.equal(ds.train.images[((i * 32 + y) * 32 + x) * 3 + ch], pixel(2, 1, y, x, ch), `pixel ${y},${x},${ch}`);
  }
  const t = records - 1;
  assert.equal(ds.test.images[((t * 32 + 4) * 32 + 9) * 3 + 1], pixel(5, t, 4, 9, 1));
  assert.deepEqual([...ds.train.labels.subarray(0, records)], Array.from({ length: records }, (_, r) => label(0, r)));
  assert.equal(ds.train.labels[i], label(2, 1));
  assert.deepEqual([...ds.test.labels], Array.from({ length: records }, (_, r) => label(5, r)));
}

test('shape and classes are known without loading', () => {
  assert.deepEqual(cifar10.inputShape({}), [32, 32, 3]);
  assert.equal(cifar10.classes({}), 10);
});

test('loads binary batches from data.root: CHW planes become HWC, labels kept, class names read', async () => {
  const root = join(tmp, 'root');
  writeCifar(root, 3);
  const events: KdxEvent[] = [];
  const ds = await cifar10.load(context(root, events));
  checkFixture(ds, 3);
  assert.deepEqual(ds.shape, [32, 32, 3]);
  assert.equal(ds.classes, 10);
  assert.equal(ds.classNames?.[0], 'AIRPLANE');
  const last = events.at(-1);
  assert.ok(last?.type === 'task' && last.done === true && last.current === 6);
});

test('finds the files in a cifar-10-batches-bin/ subdirectory of $KDX_DATA/cifar10 and of the cache', async () => {
  writeCifar(join(process.env.KDX_DATA!, 'cifar10', 'cifar-10-batches-bin'), 2);
  checkFixture(await cifar10.load(context()), 2);
  rmSync(process.env.KDX_DATA!, { recursive: true });
  writeCifar(join(cacheDir('cifar10'), 'cifar-10-batches-bin'), 4);
  const ds = await cifar10.load(context());
  checkFixture(ds, 4);
  assert.equal(ds.classNames?.[0], 'AIRPLANE');
});

test('a truncated file is an error naming the file and what is wrong', async () => {
  const root = join(tmp, 'root');
  writeCifar(root, 3);
  writeFileSync(join(root, 'data_batch_4.bin'), batchFile(3, 3).subarray(0, 2 * RECORD + 100));
  await assert.rejects(cifar10.load(context(root)), (e: Error) => {
    assert.ok(e instanceof DatasetError);
    assert.match(e.message, /data_batch_4\.bin is 6246 bytes, not a whole number of 3073-byte CIFAR-10 records/);
    return true;
  });
});

test('a file with the wrong record count is an error', async () => {
  const root = join(tmp, 'root');
  writeCifar(root, 3);
  writeFileSync(join(root, 'test_batch.bin'), batchFile(5, 2));
  await assert.rejects(cifar10.load(context(root)), (e: Error) => e instanceof DatasetError && /test_batch\.bin holds 2 records where .*data_batch_1\.bin holds 3/.test(e.message));
});

test('a label above 9 is an error naming the file and record', async () => {
  const root = join(tmp, 'root');
  writeCifar(root, 3);
  const bad = batchFile(1, 3);
  bad[2 * RECORD] = 12;
  writeFileSync(join(root, 'data_batch_2.bin'), bad);
  await assert.rejects(cifar10.load(context(root)), (e: Error) => e instanceof DatasetError && /data_batch_2\.bin: record 2 has label 12/.test(e.message));
});

test('missing and offline: fails within seconds, saying where to put the files and what to fetch', async () => {
  process.env.KDX_DATASET_URL_CIFAR10 = 'http://127.0.0.1:9/cifar-10-binary.tar.gz';
  const root = join(tmp, 'root');
  mkdirSync(root);
  writeFileSync(join(root, 'data_batch_1.bin'), batchFile(0, 1)); // a partial copy is pointed out
  const start = Date.now();
  const error = await cifar10.load(context(root)).then(
    () => assert.fail('should not load'),
    (e: unknown) => e,
  );
  assert.ok(Date.now() - start < 5000, 'fails fast');
  assert.ok(error instanceof DatasetError, String(error));
  const msg = error.message;
  assert.match(msg, /could not be downloaded: connection to 127\.0\.0\.1:9 refused/);
  for (const dir of [root, join(root, 'cifar10'), join(process.env.KDX_DATA!, 'cifar10'), process.env.KDX_DATA!, cacheDir('cifar10')]) {
    assert.ok(msg.includes(dir), `mentions ${dir}\n${msg}`);
  }
  assert.match(msg, /data_batch_1\.bin \.\.\. data_batch_5\.bin and test_batch\.bin/);
  assert.match(msg, /cifar-10-batches-bin\//);
  assert.match(msg, /http:\/\/127\.0\.0\.1:9\/cifar-10-binary\.tar\.gz/);
  assert.match(msg, /MD5 c32a1d4ab5d03f1284b67883e8d87530/);
  assert.match(msg, /has some of the files but lacks data_batch_2\.bin/);
  assert.equal(existsSync(join(process.env.XDG_CACHE_HOME!, 'kdx')), false, 'leaves no directories behind');
});

test('without $KDX_DATA the message says it is not set', async () => {
  delete process.env.KDX_DATA;
  process.env.KDX_DATASET_URL_CIFAR10 = 'http://127.0.0.1:9/x.tar.gz';
  await assert.rejects(cifar10.load(context()), /\$KDX_DATA is not set/);
});

// ---------------------------------------------------------------------------------------------
// Downloads from a local HTTP server

async function serve(files: Record<string, Buffer>): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const body = files[req.url ?? ''];
    if (!body) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    // two chunks, to exercise progress reporting across writes
    res.write(body.subarray(0, body.length >> 1));
    setTimeout(() => res.end(body.subarray(body.length >> 1)), 5);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return { server, url: `http://127.0.0.1:${address.port}` };
}

async function cifarArchive(records: number): Promise<Buffer> {
  const src = join(tmp, 'archive-src');
  writeCifar(join(src, 'cifar-10-batches-bin'), records);
  const file = join(tmp, 'cifar-10-binary.tar.gz');
  await tar.c({ gzip: true, file, cwd: src }, ['cifar-10-batches-bin']);
  const { readFileSync } = await import('node:fs');
  const data = readFileSync(file);
  rmSync(src, { recursive: true });
  rmSync(file);
  return data;
}

test('a download whose MD5 is wrong is an error and leaves nothing behind', async () => {
  const archive = await cifarArchive(2);
  const { server, url } = await serve({ '/cifar.tar.gz': archive });
  try {
    process.env.KDX_DATASET_URL_CIFAR10 = `${url}/cifar.tar.gz`; // the default MD5 cannot match
    await assert.rejects(cifar10.load(context()), (e: Error) => {
      assert.ok(e instanceof DatasetError);
      assert.match(e.message, /MD5 is [0-9a-f]{32}, expected c32a1d4ab5d03f1284b67883e8d87530/);
      return true;
    });
    assert.deepEqual(readdirSync(process.env.XDG_CACHE_HOME!), [], 'nothing left in the cache');
  } finally {
    server.close();
  }
});

test('a download with the right MD5 is unpacked into the cache, loaded, and used again next time', async () => {
  const archive = await cifarArchive(2);
  const { server, url } = await serve({ '/cifar.tar.gz': archive });
  try {
    process.env.KDX_DATASET_URL_CIFAR10 = `${url}/cifar.tar.gz`;
    process.env.KDX_DATASET_MD5_CIFAR10 = createHash('md5').update(archive).digest('hex');
    const events: KdxEvent[] = [];
    const ds = await cifar10.load(context(undefined, events));
    checkFixture(ds, 2);
    assert.equal(ds.classNames?.[9], 'TRUCK');
    const cache = cacheDir('cifar10');
    assert.deepEqual(readdirSync(cache), ['cifar-10-batches-bin'], 'only the unpacked files remain');
    assert.deepEqual(readdirSync(join(cache, 'cifar-10-batches-bin')).sort(), [...FILES, 'batches.meta.txt'].sort());
    const downloads = events.filter((e) => e.type === 'task' && e.id === 'download:cifar10');
    assert.ok(downloads.length >= 2);
    const last = downloads.at(-1)!;
    assert.ok(last.type === 'task' && last.done && last.current === archive.length && last.total === archive.length && last.unit === 'B');
    server.close();
    // the second load finds the cache and does not download
    const again: KdxEvent[] = [];
    checkFixture(await cifar10.load(context(undefined, again)), 2);
    assert.ok(!again.some((e) => e.type === 'task' && e.id === 'download:cifar10'));
  } finally {
    server.close();
  }
});

test('an HTTP error status is reported', async () => {
  const { server, url } = await serve({});
  try {
    process.env.KDX_DATASET_URL_CIFAR10 = `${url}/missing.tar.gz`;
    await assert.rejects(cifar10.load(context()), /could not be downloaded: the server answered HTTP 404/);
    assert.deepEqual(readdirSync(process.env.XDG_CACHE_HOME!), []);
  } finally {
    server.close();
  }
});

test('a server that accepts the connection but never answers times out', async () => {
  const sockets: import('node:net').Socket[] = [];
  const server = createServer(() => {});
  server.on('connection', (s) => sockets.push(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    const dest = join(tmp, 'file.bin');
    const start = Date.now();
    await assert.rejects(downloadFile({ url: `http://127.0.0.1:${port}/x`, dest, id: 't', label: 't', connectTimeoutMs: 300 }), (e: Error) => {
      assert.ok(e instanceof DownloadError);
      assert.match(e.message, /no answer from 127\.0\.0\.1:\d+ within/);
      return true;
    });
    assert.ok(Date.now() - start < 3000);
    assert.deepEqual(readdirSync(tmp).filter((f) => f !== 'cache'), []);
  } finally {
    for (const s of sockets) s.destroy();
    server.close();
  }
});

test('a connection cut short is an error and leaves no partial file', async () => {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-length': 1000 });
    res.write(Buffer.alloc(100));
    setTimeout(() => res.destroy(), 20);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    const dest = join(tmp, 'file.bin');
    await assert.rejects(downloadFile({ url: `http://127.0.0.1:${port}/x`, dest, id: 't', label: 't' }), DownloadError);
    assert.deepEqual(readdirSync(tmp).filter((f) => f !== 'cache'), []);
  } finally {
    server.close();
  }
});
