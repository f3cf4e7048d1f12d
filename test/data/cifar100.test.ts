// CIFAR-100, binary version: fine labels by default, coarse ones as an option, the record format checked,
// and the download checked against the published MD5 (a local server stands in for the real one).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import * as tar from 'tar';
import { DatasetError } from '../../src/data/errors.js';
import { CIFAR100_MD5, cifar100 } from '../../src/plugins/datasets/cifar10.js';
import type { DatasetContext } from '../../src/registry/types.js';
import { cifar100Records, writeCifar100 } from './cifar100-fixture.js';

let tmp: string;
const saved = { ...process.env };
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'kdx-cifar100-'));
  process.env.KDX_DATA = join(tmp, 'kdx-data');
  process.env.XDG_CACHE_HOME = join(tmp, 'cache');
  delete process.env.KDX_DATASET_URL_CIFAR100;
  delete process.env.KDX_DATASET_MD5_CIFAR100;
});
afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
  process.env = { ...saved };
});

const context = (root: string | undefined, options: Record<string, unknown> = {}): DatasetContext => ({ root, seed: 0, options, emit: () => {} });

test('fine labels by default (100 classes), coarse ones with {labels: coarse} (20); pixels from CHW planes to HWC', async () => {
  const root = join(tmp, 'data');
  writeCifar100(root, 5, 3);
  assert.equal(cifar100.classes({}), 100);
  assert.equal(cifar100.classes({ labels: 'coarse' }), 20);
  assert.deepEqual(cifar100.inputShape({}), [32, 32, 3]);
  const fine = await cifar100.load(context(root));
  assert.deepEqual([fine.train.count, fine.test.count, fine.classes], [5, 3, 100]);
  assert.deepEqual(Array.from(fine.train.labels), [0, 1, 2, 3, 4]);
  assert.equal(fine.classNames?.[99], 'fine99');
  // Record 1, pixel 0: red plane byte 0, green byte 1024, blue byte 2048 of the record's pixels.
  assert.deepEqual(Array.from((fine.train.images as Uint8Array).subarray(3072, 3075)), [7, (7 + 1024) % 256, (7 + 2048) % 256]);
  const coarse = await cifar100.load(context(root, { labels: 'coarse' }));
  assert.equal(coarse.classes, 20);
  assert.deepEqual(Array.from(coarse.train.labels), [0, 0, 0, 0, 0]);
  assert.equal(coarse.classNames?.[19], 'coarse19');
});

test('a bad option, a truncated file and an out-of-range label are dataset errors', async () => {
  assert.throws(() => cifar100.classes({ labels: 'fin' }), /data\.options\.labels must be fine or coarse \(got "fin"\)/);
  assert.throws(() => cifar100.classes({ label: 'fine' }), /data\.options\.label is not an option of cifar100 \(it has labels\)/);
  const root = join(tmp, 'data');
  writeCifar100(root, 2, 2);
  writeFileSync(join(root, 'train.bin'), cifar100Records(2).subarray(0, 3000));
  await assert.rejects(cifar100.load(context(root)), (e: Error) => e instanceof DatasetError && /not a whole number of 3074-byte CIFAR-100 records \(2 label bytes/.test(e.message));
  const bad = cifar100Records(2);
  bad[3074 + 1] = 100;
  writeFileSync(join(root, 'train.bin'), bad);
  await assert.rejects(cifar100.load(context(root)), /train\.bin: record 1 has fine label 100, but CIFAR-100 fine labels are 0 to 99/);
});

test('offline, the error says where kdx looked and how to install it by hand, with the published MD5', async () => {
  process.env.KDX_DATASET_URL_CIFAR100 = 'http://127.0.0.1:9/cifar-100-binary.tar.gz';
  await assert.rejects(cifar100.load(context(undefined)), (e: Error) => {
    assert.ok(e instanceof DatasetError);
    assert.match(e.message, /^CIFAR-100 is not on this machine and could not be downloaded/);
    assert.match(e.message, /kdx looked for train\.bin and test\.bin, directly or in a cifar-100-binary\/ subdirectory/);
    assert.match(e.message, new RegExp(`MD5 ${CIFAR100_MD5}, 161 MB`));
    return true;
  });
});

test('downloaded, checked against the MD5, unpacked into the cache', async () => {
  const src = join(tmp, 'src');
  writeCifar100(join(src, 'cifar-100-binary'), 3, 2);
  const file = join(tmp, 'cifar-100-binary.tar.gz');
  await tar.c({ gzip: true, file, cwd: src }, ['cifar-100-binary']);
  const archive = readFileSync(file);
  const server = createServer((_, res) => res.writeHead(200, { 'content-length': archive.length }).end(archive));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as { port: number };
    process.env.KDX_DATASET_URL_CIFAR100 = `http://127.0.0.1:${port}/cifar-100-binary.tar.gz`;
    await assert.rejects(cifar100.load(context(undefined)), new RegExp(`expected ${CIFAR100_MD5}`));
    process.env.KDX_DATASET_MD5_CIFAR100 = createHash('md5').update(archive).digest('hex');
    const ds = await cifar100.load(context(undefined));
    assert.deepEqual([ds.train.count, ds.test.count], [3, 2]);
  } finally {
    server.close();
  }
});
