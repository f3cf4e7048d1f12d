import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  commitDirAtomic,
  makeTempDir,
  readJsonIfExists,
  writeFileAtomic,
  writeJsonAtomic,
} from '../../src/store/atomic.js';
import { expectSuccess, runHelper, startAt, tempRoot } from './support.js';

const { dir: base, cleanup } = tempRoot();
after(cleanup);

describe('writeFileAtomic', () => {
  it('creates the parent, writes text, bytes and chunk streams, and leaves no temporary file', async () => {
    const dir = join(base, 'w', 'nested');
    await writeFileAtomic(join(dir, 'a.txt'), 'hello');
    await writeFileAtomic(join(dir, 'b.bin'), new Uint8Array([1, 2, 3]));
    async function* chunks() {
      yield new Uint8Array([4, 5]);
      yield new Uint8Array([6]);
    }
    await writeFileAtomic(join(dir, 'c.bin'), chunks());
    assert.equal(readFileSync(join(dir, 'a.txt'), 'utf8'), 'hello');
    assert.deepEqual([...readFileSync(join(dir, 'b.bin'))], [1, 2, 3]);
    assert.deepEqual([...readFileSync(join(dir, 'c.bin'))], [4, 5, 6]);
    assert.deepEqual(readdirSync(dir).sort(), ['a.txt', 'b.bin', 'c.bin']);
  });

  it('replaces an existing file; a failing write leaves the old content and no debris', async () => {
    const path = join(base, 'replace.json');
    await writeJsonAtomic(path, { v: 1 });
    await writeJsonAtomic(path, { v: 2 });
    assert.deepEqual(await readJsonIfExists(path), { v: 2 });
    async function* failing() {
      yield new Uint8Array([1]);
      throw new Error('producer failed');
    }
    await assert.rejects(writeFileAtomic(path, failing()), /producer failed/);
    assert.deepEqual(await readJsonIfExists(path), { v: 2 });
    assert.deepEqual(readdirSync(base).filter((n) => n.endsWith('.tmp')), []);
    assert.equal(await readJsonIfExists(join(base, 'missing.json')), undefined);
  });
});

describe('commitDirAtomic', () => {
  it('moves a filled directory into place, or keeps an existing one and removes ours', async () => {
    const root = join(base, 'c');
    const first = await makeTempDir(join(root, 'tmp'), 'x-');
    writeFileSync(join(first, 'f'), 'first');
    assert.equal(await commitDirAtomic(first, join(root, 'jobs', 'k')), 'committed');
    assert.equal(existsSync(first), false);
    const second = await makeTempDir(join(root, 'tmp'), 'x-');
    writeFileSync(join(second, 'f'), 'second');
    mkdirSync(join(second, 'sub'));
    writeFileSync(join(second, 'sub', 'g'), 'g');
    assert.equal(await commitDirAtomic(second, join(root, 'jobs', 'k')), 'exists');
    assert.equal(existsSync(second), false);
    assert.equal(readFileSync(join(root, 'jobs', 'k', 'f'), 'utf8'), 'first');
    assert.deepEqual(readdirSync(join(root, 'tmp')), []);
  });

  it('two processes committing the same entries at once leave one complete entry each', async () => {
    const root = join(base, 'race');
    const count = 25;
    const size = 200_000;
    const at = startAt(2500);
    const racers = [runHelper('commit-racer', [root, at, String(count), String(size)]), runHelper('commit-racer', [root, at, String(count), String(size)])];
    await Promise.all(racers.map(expectSuccess));
    const [a, b] = racers.map((r) => r.messages.find((m) => 'results' in m)!.results as string[]);
    for (let i = 0; i < count; i++) {
      assert.deepEqual([a[i], b[i]].sort(), ['committed', 'exists'], `entry ${i}: ${a[i]} / ${b[i]}`);
      const dir = join(root, 'jobs', `entry-${i}`);
      assert.deepEqual(readdirSync(dir).sort(), ['model.json', 'weights.bin', 'writer.json']);
      const weights = readFileSync(join(dir, 'weights.bin'));
      assert.equal(weights.length, size);
      assert.ok(weights.every((v, j) => v === ((i * 31 + j) & 0xff)));
      assert.deepEqual(JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')), { entry: i, size });
      // The winner's directory whole, not a mix: its writer is the process that reported 'committed'.
      const winner = a[i] === 'committed' ? racers[0].pid : racers[1].pid;
      assert.equal(JSON.parse(readFileSync(join(dir, 'writer.json'), 'utf8')).pid, winner);
    }
    assert.deepEqual(readdirSync(join(root, 'tmp')), [], 'the losers removed their temporary directories');
  });
});
