import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { contentHash } from '../../src/util/hash.js';
import { Store, resolveStoreRoot } from '../../src/store/store.js';
import { logitsKey } from '../../src/store/keys.js';
import { runHelper, tempRoot } from './support.js';

const { dir: base, cleanup } = tempRoot('kdx-store-');
after(cleanup);
let n = 0;
const newStore = () => new Store(join(base, `store-${++n}`));
const key = (name: string) => contentHash({ job: name, n });
const sizes = (files: Record<string, { size: number }>) => Object.fromEntries(Object.entries(files).map(([name, f]) => [name, f.size]));

describe('store root', () => {
  it('is --cache-dir, else $KDX_CACHE, else .kdx/cache under the working directory', () => {
    const cwd = '/home/u/project';
    assert.equal(resolveStoreRoot({ cwd, env: {} }), '/home/u/project/.kdx/cache');
    assert.equal(resolveStoreRoot({ cwd, env: { KDX_CACHE: '/big/cache' } }), '/big/cache');
    assert.equal(resolveStoreRoot({ cwd, env: { KDX_CACHE: '' } }), '/home/u/project/.kdx/cache');
    assert.equal(resolveStoreRoot({ cwd, env: { KDX_CACHE: '/big/cache' }, cacheDir: 'c' }), '/home/u/project/c');
    assert.equal(new Store('rel').root, resolve('rel'));
  });
});

describe('entries', () => {
  it('commit makes a complete entry that has/readEntry/list see', async () => {
    const store = newStore();
    const k = key('teacher');
    assert.equal(await store.has(k), false);
    assert.equal(await store.readEntry(k), undefined);
    const result = await store.commitEntry(k, {
      'model.json': JSON.stringify({ format: 'layers-model' }),
      'weights.bin': new Uint8Array([1, 2, 3, 4]),
      'metrics.json': JSON.stringify({ accuracy: 0.9 }),
      'config.json': JSON.stringify({ epochs: 10 }),
      'extra/notes.txt': 'anything the job wrote',
    });
    assert.equal(result, 'committed');
    assert.equal(await store.has(k), true);
    assert.equal(store.hasSync(k), true);
    const entry = (await store.readEntry(k))!;
    assert.equal(entry.key, k);
    assert.equal(entry.dir, store.entryDir(k));
    assert.deepEqual(entry.metrics, { accuracy: 0.9 });
    assert.deepEqual(entry.config, { epochs: 10 });
    assert.deepEqual(Object.keys(entry.files), ['config.json', 'extra/notes.txt', 'metrics.json', 'model.json', 'weights.bin']);
    assert.deepEqual(entry.files['weights.bin'], { size: 4, sha256: createHash('sha256').update(new Uint8Array([1, 2, 3, 4])).digest('hex') });
    assert.deepEqual([...(await store.readEntryFile(k, 'weights.bin'))], [1, 2, 3, 4]);
    assert.equal(await store.commitEntry(k, { 'model.json': '{}' }), 'exists', 'the first entry is kept');
    assert.deepEqual((await store.readEntry(k))!.files, entry.files);
    assert.deepEqual((await store.list()).map((e) => e.key), [k]);
    assert.deepEqual(readdirSync(store.tmpDir), []);
    assert.equal(await store.remove(k), true);
    assert.equal(await store.has(k), false);
    assert.equal(await store.remove(k), false);
  });

  it('rejects keys that are not hex hashes and reserved or escaping file names', async () => {
    const store = newStore();
    assert.throws(() => store.entryDir('../../etc'), /not a store key/);
    assert.throws(() => store.entryDir('ABCDEF0123456'), /not a store key/);
    await assert.rejects(store.commitEntry(key('x'), { 'entry.json': '{}' }), /reserved/);
    await assert.rejects(store.commitEntry(key('x'), { '../escape': '{}' }), /invalid/);
    assert.equal(await store.has(key('x')), false);
    const leftovers = existsSync(store.tmpDir) ? readdirSync(store.tmpDir) : [];
    assert.deepEqual(leftovers, [], 'a failed commit leaves no temporary directory');
  });

  it('commits a directory outside the store by copying it', async () => {
    const store = newStore();
    const k = key('outside');
    const outside = join(base, `outside-${n}`);
    mkdirSync(join(outside, 'sub'), { recursive: true });
    writeFileSync(join(outside, 'model.json'), '{}');
    writeFileSync(join(outside, 'sub', 'w.bin'), new Uint8Array(5));
    assert.equal(await store.commitEntry(k, outside), 'committed');
    assert.deepEqual(sizes((await store.readEntry(k))!.files), { 'model.json': 2, 'sub/w.bin': 5 });
    assert.deepEqual(readdirSync(outside).sort(), ['model.json', 'sub'], 'the source is left as it was');
    assert.deepEqual(readdirSync(store.tmpDir), []);
  });

  it('a job commits a directory it filled, with its log', async () => {
    const store = newStore();
    const k = key('student');
    const claim = await store.claim(k);
    assert.equal(claim.status, 'claimed');
    if (claim.status !== 'claimed') return;
    const work = claim.work;
    await work.appendLog('epoch 1');
    const out = await work.newOutputDir();
    writeFileSync(join(out, 'model.json'), '{}');
    writeFileSync(join(out, 'weights.bin'), new Uint8Array(10));
    assert.equal(await work.commit(out), 'committed');
    await work.release();
    await work.release();
    const entry = (await store.readEntry(k))!;
    assert.deepEqual(Object.keys(entry.files), ['log', 'model.json', 'weights.bin']);
    assert.equal(readFileSync(join(entry.dir, 'log'), 'utf8'), 'epoch 1\n');
    assert.equal(existsSync(join(store.workRoot, k)), false, 'the work directory is gone after commit');
    assert.equal(existsSync(store.lockPath(k)), false);
    assert.deepEqual(await store.claim(k).then((c) => c.status), 'cached');
  });
});

describe('checkpoints', () => {
  it('save, load, replace: the latest complete checkpoint, older ones removed', async () => {
    const store = newStore();
    const k = key('kd');
    const work = await store.beginJob(k);
    assert.equal(await work.loadCheckpoint(), undefined);
    const first = await work.saveCheckpoint({ 'weights.bin': new Uint8Array([1, 1]), 'optimizer/state.bin': 'adam-1' }, { epoch: 1, rng: [1, 2] });
    assert.equal(first.seq, 1);
    const second = await work.saveCheckpoint({ 'weights.bin': new Uint8Array([2, 2, 2]), 'optimizer/state.bin': 'adam-2' }, { epoch: 2, rng: [3, 4] });
    assert.equal(second.seq, 2);
    assert.equal(existsSync(first.dir), false);
    const again = await (await store.beginJob(k)).loadCheckpoint<{ epoch: number; rng: number[] }>();
    assert.ok(again);
    assert.deepEqual(again.meta, { epoch: 2, rng: [3, 4] });
    assert.deepEqual([...(await again.read('weights.bin'))], [2, 2, 2]);
    assert.equal(await again.readText('optimizer/state.bin'), 'adam-2');
    assert.deepEqual(sizes(again.files), { 'optimizer/state.bin': 6, 'weights.bin': 3 });
    assert.deepEqual(await store.unfinished(), [k]);
    await work.discard();
    assert.equal(await work.loadCheckpoint(), undefined);
  });

  it('resumable: only unfinished jobs with a checkpoint (not a job begun and stopped before its first)', async () => {
    const store = newStore();
    const [saved, begun] = [key('saved'), key('begun')];
    await (await store.beginJob(saved)).saveCheckpoint({ 'weights.bin': new Uint8Array([1]) }, { epoch: 1 });
    await store.beginJob(begun);
    assert.deepEqual((await store.unfinished()).sort(), [saved, begun].sort());
    assert.deepEqual(await store.resumable(), [saved]);
  });

  it('a damaged checkpoint is not loaded', async () => {
    const store = newStore();
    const work = await store.beginJob(key('damaged'));
    const saved = await work.saveCheckpoint({ 'weights.bin': new Uint8Array(100) }, { epoch: 1 });
    writeFileSync(saved.path('weights.bin'), new Uint8Array(50));
    assert.equal(await work.loadCheckpoint(), undefined);
  });

  it('a process killed (SIGKILL) while writing a checkpoint leaves the previous one whole, and the job resumes', async () => {
    const store = newStore();
    const k = key('killed-checkpoint');
    const writer = runHelper('job-writer', [store.root, k, 'slow-checkpoint']);
    await writer.waitFor((m) => m.checkpoint === 1);
    await writer.waitFor((m) => m.chunk === 4); // in the middle of the 100 MB epoch-2 checkpoint
    writer.child.kill('SIGKILL');
    assert.equal((await writer.exited).signal, 'SIGKILL');

    const workDir = join(store.workRoot, k);
    assert.equal(readdirSync(workDir).filter((d) => d.startsWith('ckpt-')).length, 2, 'a half-written checkpoint was left');
    assert.equal(existsSync(store.entryDir(k)), false, 'no entry under jobs/');
    assert.equal(existsSync(store.jobsDir) ? readdirSync(store.jobsDir).length : 0, 0);

    // Resume: the dead process's lock is taken over, the half checkpoint cleared, epoch 1 loaded intact.
    const claim = await store.claim(k);
    assert.equal(claim.status, 'claimed');
    if (claim.status !== 'claimed') return;
    const work = claim.work;
    assert.equal(readdirSync(workDir).filter((d) => d.startsWith('ckpt-')).length, 1);
    const checkpoint = await work.loadCheckpoint<{ epoch: number; rng: number }>();
    assert.ok(checkpoint);
    assert.deepEqual(checkpoint.meta, { epoch: 1, rng: 12345 });
    const weights = await checkpoint.read('weights.bin');
    assert.equal(weights.length, 1 << 20);
    assert.ok(weights.every((b) => b === 1));
    assert.equal(await checkpoint.readText('optimizer.bin'), 'opt-1');

    await work.saveCheckpoint({ 'weights.bin': new Uint8Array(8).fill(2), 'optimizer.bin': 'opt-2' }, { epoch: 2, rng: 999 });
    await work.appendLog('resumed at epoch 2');
    assert.equal(await work.commit({ 'weights.bin': new Uint8Array(8).fill(2), 'metrics.json': '{"accuracy":0.5}' }), 'committed');
    await work.release();
    const entry = (await store.readEntry(k))!;
    assert.deepEqual(entry.metrics, { accuracy: 0.5 });
    const log = readFileSync(join(entry.dir, 'log'), 'utf8');
    assert.match(log, new RegExp(`started by ${writer.pid}\\nepoch 1 done\\nresumed at epoch 2\\n`));
  });

  it('a process killed while committing leaves no entry; the checkpoint survives; sweep clears its temporary files', async () => {
    const store = newStore();
    const k = key('killed-commit');
    const writer = runHelper('job-writer', [store.root, k, 'slow-commit']);
    await writer.waitFor((m) => m.chunk === 4);
    writer.child.kill('SIGKILL');
    await writer.exited;
    assert.equal(await store.has(k), false);
    assert.equal(existsSync(store.entryDir(k)), false);
    assert.equal(readdirSync(store.tmpDir).length, 1, 'the half-written output is in tmp/');
    assert.equal(await store.sweep(), 1);
    assert.deepEqual(readdirSync(store.tmpDir), []);
    const work = await store.beginJob(k);
    assert.equal((await work.loadCheckpoint<{ epoch: number }>())?.meta.epoch, 1);
  });
});

describe('jobs across processes', () => {
  it('a waiter sees the entry the lock holder committed; without waiting it is told who is busy', async () => {
    const store = newStore();
    const k = key('shared');
    const holder = runHelper('job-writer', [store.root, k, 'hold-and-commit', '1500']);
    await holder.waitFor((m) => m.claimed === true);
    const busy = await store.claim(k);
    assert.equal(busy.status, 'busy');
    assert.equal(busy.status === 'busy' && busy.holder?.pid, holder.pid);
    const waits: unknown[] = [];
    const claim = await store.claim(k, { wait: true, pollMs: 20, onWait: (h) => waits.push(h) });
    assert.equal(claim.status, 'cached');
    assert.equal(waits.length, 1);
    if (claim.status === 'cached') assert.deepEqual(claim.entry.metrics, { by: holder.pid });
    assert.equal(existsSync(store.lockPath(k)), false);
  });
});

describe('teacher logits', () => {
  it('round-trips a Float32Array bit for bit, with its shape and meta', async () => {
    const store = newStore();
    const k = logitsKey({ teacher: key('teacher'), data: { dataset: 'cifar10', seed: 0 }, epochs: 10 });
    assert.equal(await store.getLogits(k), undefined);
    assert.equal(await store.hasLogits(k), false);
    const data = new Float32Array(3 * 4 * 10).map((_, i) => Math.sin(i) * 10);
    data[0] = NaN;
    data[1] = -0;
    data[2] = Infinity;
    data[3] = 3.4e38;
    assert.equal(await store.putLogits(k, data, [3, 4, 10], { teacher: 'abc' }), 'committed');
    assert.equal(await store.hasLogits(k), true);
    const back = (await store.getLogits(k))!;
    assert.deepEqual(back.shape, [3, 4, 10]);
    assert.deepEqual(back.header.meta, { teacher: 'abc' });
    assert.equal(back.header.count, 120);
    assert.ok(back.data instanceof Float32Array);
    assert.deepEqual(new Uint8Array(back.data.buffer, back.data.byteOffset, back.data.byteLength), new Uint8Array(data.buffer));
    assert.equal(await store.putLogits(k, data, [3, 4, 10]), 'exists');
    const view = data.subarray(40, 80);
    const k2 = logitsKey({ teacher: key('teacher'), data: { dataset: 'cifar10', seed: 0 }, epochs: 5 });
    await store.putLogits(k2, view, [40]);
    assert.deepEqual(Array.from((await store.getLogits(k2))!.data), Array.from(view));
    await assert.rejects(store.putLogits(key('bad'), data, [7, 7]), /holds 49 values/);
    assert.deepEqual(readdirSync(store.tmpDir), []);
  });

  it('logitsKey depends on the teacher, the data stream and the epochs only, not on key order', () => {
    const a = logitsKey({ teacher: 'aaa', data: { seed: 0, dataset: 'x' }, epochs: 3 });
    assert.equal(a, logitsKey({ epochs: 3, data: { dataset: 'x', seed: 0 }, teacher: 'aaa' }));
    assert.notEqual(a, logitsKey({ teacher: 'bbb', data: { seed: 0, dataset: 'x' }, epochs: 3 }));
    assert.notEqual(a, logitsKey({ teacher: 'aaa', data: { seed: 1, dataset: 'x' }, epochs: 3 }));
    assert.notEqual(a, logitsKey({ teacher: 'aaa', data: { seed: 0, dataset: 'x' }, epochs: 4 }));
  });

  it('a truncated logits file is never read as short data: it is quarantined and reported', async () => {
    const store = newStore();
    const k = key('trunc');
    await store.putLogits(k, new Float32Array(8), [8]);
    writeFileSync(join(store.logitsDir(k), 'logits.f32'), new Uint8Array(16));
    const reported: string[] = [];
    assert.equal(await store.getLogits(k, (d) => reported.push(`${d.file} ${d.problem}`)), undefined);
    assert.deepEqual(reported, ['logits.f32 has 16 bytes, 32 were written']);
  });
});

describe('verification: a damaged entry is never served', () => {
  const files = { 'model.json': '{"layers":[]}', 'weights.bin': new Uint8Array(4096).fill(9), 'metrics.json': '{"a":1}' };
  const damages: [string, (dir: string) => void, RegExp][] = [
    ['truncated', (dir) => truncateSync(join(dir, 'weights.bin'), 100), /weights.bin has 100 bytes, 4096 were written/],
    ['one byte changed', (dir) => {
      const data = readFileSync(join(dir, 'weights.bin'));
      data[2000] ^= 1;
      writeFileSync(join(dir, 'weights.bin'), data);
    }, /weights.bin does not match its recorded sha256/],
    ['a file removed', (dir) => rmSync(join(dir, 'metrics.json')), /metrics.json is missing/],
    ['entry.json garbled', (dir) => writeFileSync(join(dir, 'entry.json'), '{"format": 2, "files"'), /entry.json is not valid JSON/],
  ];
  for (const [what, damage, message] of damages) {
    it(`${what}: claim quarantines it and hands out the job to run again`, async () => {
      const store = newStore();
      const k = key(what);
      await store.commitEntry(k, files, {}, { stage: 'teacher' });
      damage(store.entryDir(k));
      const claim = await store.claim(k);
      assert.equal(claim.status, 'claimed');
      assert.ok(claim.status === 'claimed' && claim.quarantined);
      assert.match(`${claim.quarantined.file} ${claim.quarantined.problem}`, message);
      assert.ok(existsSync(claim.quarantined.movedTo), 'kept for inspection');
      assert.equal(await store.has(k), false, 'never read as finished again');
      await claim.work.commit(files);
      await claim.work.release();
      assert.equal((await store.claim(k)).status, 'cached');
    });
  }

  it('a whole 13 MB entry verifies', async () => {
    // Its cost (a few tens of milliseconds here) is measured by `npm run bench`, not asserted: machines are noisy.
    const store = newStore();
    const k = key('big');
    await store.commitEntry(k, { 'weights.bin': new Uint8Array(13_000_000).map((_, i) => i % 251) });
    const { entry, quarantined } = await store.readVerifiedEntry(k);
    assert.ok(entry && !quarantined);
  });

  it('damaged logits are quarantined and reported; the reader computes them again', async () => {
    const store = newStore();
    const k = logitsKey({ teacher: key('t'), data: { d: 1 }, epochs: 1 });
    await store.putLogits(k, new Float32Array([1, 2, 3, 4]), [1, 2, 2]);
    const path = join(store.logitsDir(k), 'logits.f32');
    const data = readFileSync(path);
    data[0] ^= 0xff;
    writeFileSync(path, data);
    const reported: string[] = [];
    assert.equal(await store.getLogits(k, (d) => reported.push(d.problem)), undefined);
    assert.deepEqual(reported, ['does not match its recorded sha256 (changed after it was written)']);
    assert.equal(await store.hasLogits(k), false);
  });

  it('a checkpoint whose bytes changed is not resumed from', async () => {
    const store = newStore();
    const k = key('ckpt');
    const work = await store.beginJob(k);
    const saved = await work.saveCheckpoint({ 'weights.bin': new Uint8Array(64).fill(1) }, { epoch: 1 });
    const data = readFileSync(saved.path('weights.bin'));
    data[10] = 7;
    writeFileSync(saved.path('weights.bin'), data);
    assert.equal(await work.loadCheckpoint(), undefined);
  });
});
