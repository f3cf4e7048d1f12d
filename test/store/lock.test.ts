import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { acquireLock, isHolderAlive, readLockHolder, type LockHolder } from '../../src/store/lock.js';
import { deadPid, expectSuccess, runHelper, sleep, startAt, tempRoot } from './support.js';

const { dir: base, cleanup } = tempRoot('kdx-lock-');
after(cleanup);
let n = 0;
const lockPath = () => join(base, 'locks', `job-${++n}.lock`);

function fabricate(path: string, holder: Partial<LockHolder>): void {
  const full = { pid: 1, host: os.hostname(), startedAt: new Date().toISOString(), nonce: `${Math.random().toString(16).slice(2, 10)}aaaa`, ...holder };
  writeFileSync(path, JSON.stringify(full));
}

describe('acquireLock in one process', () => {
  it('is exclusive, records the holder, and release is idempotent', async () => {
    const path = lockPath();
    const lock = await acquireLock(path, { label: 'teacher' });
    assert.ok(lock);
    const holder = await readLockHolder(path);
    assert.equal(holder?.pid, process.pid);
    assert.equal(holder?.host, os.hostname());
    assert.equal(holder?.label, 'teacher');
    assert.equal(holder?.nonce, lock.holder.nonce);
    assert.equal(await acquireLock(path), undefined, 'a second acquisition without waiting fails');
    await lock.release();
    await lock.release();
    lock.releaseSync();
    assert.equal(lock.released, true);
    assert.equal(existsSync(path), false);
    const again = await acquireLock(path);
    assert.ok(again);
    await again.release();
  });

  it('a waiter is told who holds the lock and gets it when it is released', async () => {
    const path = lockPath();
    const first = (await acquireLock(path))!;
    const seen: (LockHolder | undefined)[] = [];
    const waiting = acquireLock(path, { wait: true, pollMs: 10, onWait: (h) => seen.push(h) });
    await sleep(100);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.nonce, first.holder.nonce);
    await first.release();
    const second = await waiting;
    assert.ok(second);
    await second.release();
  });

  it('waiting can be aborted', async () => {
    const path = lockPath();
    const held = (await acquireLock(path))!;
    const controller = new AbortController();
    const waiting = acquireLock(path, { wait: true, signal: controller.signal });
    setTimeout(() => controller.abort(new Error('user pressed ctrl-c')), 50);
    await assert.rejects(waiting, /ctrl-c/);
    await held.release();
  });

  it('releasing does not remove a lock file that is no longer ours', async () => {
    const path = lockPath();
    const lock = (await acquireLock(path))!;
    fabricate(path, { pid: process.pid + 1, host: 'elsewhere' }); // someone replaced it (cannot happen in practice)
    await lock.release();
    assert.equal(existsSync(path), true);
  });
});

describe('stale locks', () => {
  it('a lock whose holder process is dead is taken over', async () => {
    const path = lockPath();
    fabricate(path, { pid: await deadPid() });
    const lock = await acquireLock(path);
    assert.ok(lock);
    assert.equal((await readLockHolder(path))?.nonce, lock.holder.nonce);
    await lock.release();
  });

  it('a lock from another host, or held by a live process, is not', async () => {
    const path = lockPath();
    fabricate(path, { pid: await deadPid(), host: 'some-other-machine' });
    assert.equal(await acquireLock(path), undefined);
    fabricate(path, { pid: process.ppid });
    assert.equal(await acquireLock(path), undefined);
  });

  it('detects a reused pid and a previous process of our own pid', async () => {
    const path = lockPath();
    const holder = (await acquireLock(path))!;
    assert.equal(isHolderAlive(holder.holder), true);
    await holder.release();
    if (process.platform === 'linux') {
      assert.equal(isHolderAlive({ ...holder.holder, pid: process.ppid, procStart: '1' }), false, 'same pid, other start time');
    }
    fabricate(path, { pid: process.pid, threadId: 0 });
    const lock = await acquireLock(path);
    assert.ok(lock, 'our pid but not our lock: a previous process');
    await lock.release();
  });

  it('a takeover in progress by a live process is respected; one by a dead process is completed', async () => {
    const path = lockPath();
    const dead = await deadPid();
    fabricate(path, { pid: dead, nonce: '0123456789abcdef' });
    const authority = `${path}.takeover-0123456789abcdef`;
    fabricate(authority, { pid: process.ppid, nonce: 'fedcba9876543210' });
    assert.equal(await acquireLock(path), undefined, 'a live process has the right to remove the stale lock');
    assert.equal((await readLockHolder(path))?.nonce, '0123456789abcdef');
    fabricate(authority, { pid: dead, nonce: 'fedcba9876543210' });
    const lock = await acquireLock(path);
    assert.ok(lock, 'the claimant died: act in its place');
    assert.ok(existsSync(`${authority}.takeover-fedcba9876543210`));
    await lock.release();
  });

  it('an unreadable lock file is stale only once it is old', async () => {
    const path = lockPath();
    writeFileSync(path, '');
    assert.equal(await acquireLock(path), undefined);
    const old = new Date(Date.now() - 10_000);
    utimesSync(path, old, old);
    const lock = await acquireLock(path);
    assert.ok(lock);
    await lock.release();
  });
});

describe('locks across processes', () => {
  it('two processes contending never hold the lock at the same time', async () => {
    const path = lockPath();
    const marker = join(base, 'marker.jsonl');
    const counter = join(base, 'counter');
    writeFileSync(marker, '');
    writeFileSync(counter, '0');
    const iterations = 15;
    const at = startAt(2500);
    const workers = [0, 1].map(() => runHelper('lock-worker', [path, marker, counter, String(iterations), '15', at]));
    await Promise.all(workers.map(expectSuccess));
    const holds = readFileSync(marker, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { pid: number; start: number; end: number });
    assert.equal(holds.length, 2 * iterations);
    assert.equal(Number(readFileSync(counter, 'utf8')), 2 * iterations, 'no lost update of the shared counter');
    holds.sort((a, b) => a.start - b.start);
    for (let i = 1; i < holds.length; i++) {
      assert.ok(holds[i].start >= holds[i - 1].end, `holds overlap: ${JSON.stringify(holds[i - 1])} and ${JSON.stringify(holds[i])}`);
    }
    assert.equal(new Set(holds.map((h) => h.pid)).size, 2);
    const waits = workers.map((w) => w.messages.find((m) => m.done)!.waits as number);
    assert.ok(waits[0] + waits[1] > 0, 'the workers did contend');
    assert.equal(existsSync(path), false);
  });

  it('a lock held by a process killed with SIGKILL is taken over', async () => {
    const path = lockPath();
    const holder = runHelper('lock-hold', [path, '0', 'forever']);
    await holder.waitFor((m) => m.acquired === true);
    assert.equal(await acquireLock(path), undefined, 'held by a live process');
    const seen: (LockHolder | undefined)[] = [];
    const waiting = acquireLock(path, { wait: true, pollMs: 20, onWait: (h) => seen.push(h) });
    await sleep(200);
    holder.child.kill('SIGKILL');
    const { signal } = await holder.exited;
    assert.equal(signal, 'SIGKILL');
    const lock = await waiting;
    assert.ok(lock);
    assert.equal(seen[0]?.pid, holder.pid);
    assert.equal((await readLockHolder(path))?.pid, process.pid);
    await lock.release();
  });

  it('when several processes race to take over stale locks, exactly one wins each', async () => {
    const dead = await deadPid();
    const paths = Array.from({ length: 12 }, () => lockPath());
    for (const path of paths) fabricate(path, { pid: dead });
    const at = startAt(2500);
    const racers = [0, 1, 2].map(() => runHelper('takeover-racer', [at, ...paths]));
    const results = await Promise.all(racers.map((r) => r.waitFor((m) => Array.isArray(m.won))));
    const won = results.map((m) => m.won as number[]);
    for (let i = 0; i < paths.length; i++) {
      const winners = won.filter((list) => list.includes(i)).length;
      assert.equal(winners, 1, `lock ${i}: ${winners} winners (${JSON.stringify(won)})`);
      const holder = await readLockHolder(paths[i]);
      assert.ok(racers.some((r) => r.pid === holder?.pid));
    }
    for (const racer of racers) racer.child.kill('SIGTERM');
    await Promise.all(racers.map((r) => r.exited));
    for (const path of paths) assert.equal(existsSync(path), false, 'released on SIGTERM');
    const leftovers = readdirSync(join(base, 'locks')).filter((name) => name.endsWith('.tmp'));
    assert.deepEqual(leftovers, []);
  });

  it('a process that exits without releasing leaves no lock behind', async () => {
    const path = lockPath();
    const holder = runHelper('lock-hold', [path, '0', 'exit']);
    await expectSuccess(holder);
    assert.equal(holder.messages[0]?.acquired, true);
    assert.equal(existsSync(path), false);
  });
});
