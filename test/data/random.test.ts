import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRandom, deriveSeed, permutation } from '../../src/util/random.js';

test('a seeded stream repeats exactly and different seeds differ', () => {
  const a = createRandom(42);
  const b = createRandom(42);
  const c = createRandom(43);
  const xs = Array.from({ length: 100 }, () => a.next());
  assert.deepEqual(xs, Array.from({ length: 100 }, () => b.next()));
  assert.notDeepEqual(xs, Array.from({ length: 100 }, () => c.next()));
  for (const x of xs) assert.ok(x >= 0 && x < 1);
});

test('next() is roughly uniform and int(n) stays in [0, n)', () => {
  const r = createRandom(7);
  const buckets = new Array(10).fill(0);
  for (let i = 0; i < 100_000; i++) buckets[Math.floor(r.next() * 10)]++;
  for (const b of buckets) assert.ok(Math.abs(b - 10_000) < 500, `bucket ${b}`);
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    const k = r.int(5);
    assert.ok(Number.isInteger(k) && k >= 0 && k < 5);
    seen.add(k);
  }
  assert.equal(seen.size, 5);
});

test('normal() has mean 0 and variance 1', () => {
  const r = createRandom(3);
  let sum = 0;
  let sq = 0;
  const n = 50_000;
  for (let i = 0; i < n; i++) {
    const v = r.normal();
    sum += v;
    sq += v * v;
  }
  assert.ok(Math.abs(sum / n) < 0.03);
  assert.ok(Math.abs(sq / n - 1) < 0.03);
});

test('deriveSeed separates streams by every part, its type and its order', () => {
  const seeds = [
    deriveSeed(0, 'data/shuffle', 0),
    deriveSeed(0, 'data/shuffle', 1),
    deriveSeed(1, 'data/shuffle', 0),
    deriveSeed(0, 'data/augment', 0),
    deriveSeed(0, 'data/shuffle', '0'),
    deriveSeed('data/shuffle', 0, 0),
    deriveSeed(0, 'data/shuffle'),
    deriveSeed(0, 'data/shuffle', 0, 0),
  ];
  assert.equal(new Set(seeds).size, seeds.length);
  assert.equal(deriveSeed(5, 'x', 2), deriveSeed(5, 'x', 2));
  for (const s of seeds) assert.ok(Number.isInteger(s) && s >= 0 && s < 2 ** 32);
  // nearby inputs give unrelated seeds (no shared high bits)
  assert.notEqual(deriveSeed(0, 'a', 0) >>> 16, deriveSeed(0, 'a', 1) >>> 16);
});

test('permutation is a permutation, deterministic for the stream', () => {
  const p = permutation(1000, createRandom(1));
  assert.deepEqual([...p].sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
  assert.deepEqual(p, permutation(1000, createRandom(1)));
  assert.notDeepEqual(p, permutation(1000, createRandom(2)));
});
