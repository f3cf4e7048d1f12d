import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UnhashableValueError, contentHash, hashBytes, shortKey, stableStringify } from '../../src/util/hash.js';

describe('stableStringify', () => {
  it('sorts object keys at every depth', () => {
    const a = { b: 1, a: { y: [1, { q: 2, p: 1 }], x: 'x' } };
    const b = { a: { x: 'x', y: [1, { p: 1, q: 2 }] }, b: 1 };
    assert.equal(stableStringify(a), '{"a":{"x":"x","y":[1,{"p":1,"q":2}]},"b":1}');
    assert.equal(stableStringify(a), stableStringify(b));
  });

  it('leaves out undefined members and writes undefined array items as null (as JSON does)', () => {
    assert.equal(stableStringify({ a: 1, b: undefined }), '{"a":1}');
    assert.equal(stableStringify([1, undefined]), '[1,null]');
  });

  it('writes numbers canonically', () => {
    assert.equal(stableStringify([-0, 1.0, 1e21, 0.1 + 0.2, 1e-7]), '[0,1,1e+21,0.30000000000000004,1e-7]');
    assert.equal(contentHash({ lr: 0.001 }), contentHash({ lr: 1e-3 }));
  });

  it('hashes a value like its JSON round trip', () => {
    const value = { when: new Date(0), list: [1, 'two', null, true], nested: { z: undefined, k: -0 } };
    assert.equal(contentHash(value), contentHash(JSON.parse(JSON.stringify(value))));
  });

  it('accepts shared (non-circular) references', () => {
    const shared = { k: 1 };
    assert.equal(stableStringify({ a: shared, b: shared }), '{"a":{"k":1},"b":{"k":1}}');
  });

  it('refuses what JSON would lose, naming where it is', () => {
    const cases: [unknown, RegExp][] = [
      [{ a: { b: NaN } }, /a\.b: NaN/],
      [{ x: [1, Infinity] }, /x\[1\]: Infinity/],
      [{ n: 1n }, /bigint/],
      [{ f: () => 1 }, /function/],
      [{ m: new Map() }, /Map/],
      [{ s: new Set() }, /Set/],
      [{ t: new Float32Array(2) }, /Float32Array/],
      [undefined, /undefined/],
    ];
    for (const [value, message] of cases) assert.throws(() => stableStringify(value), (e: unknown) => e instanceof UnhashableValueError && message.test(e.message));
    const loop: Record<string, unknown> = { a: 1 };
    loop.self = loop;
    assert.throws(() => stableStringify(loop), /circular/);
  });
});

describe('contentHash', () => {
  it('is sha256 hex of the canonical text, independent of key order', () => {
    assert.equal(contentHash({}), '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
    assert.equal(contentHash({ a: 1, b: [2, 3] }), contentHash({ b: [2, 3], a: 1 }));
    assert.notEqual(contentHash({ a: 1 }), contentHash({ a: '1' }));
    assert.notEqual(contentHash([1, 2]), contentHash([2, 1]));
    assert.match(contentHash('x'), /^[0-9a-f]{64}$/);
  });

  it('hashBytes hashes text as UTF-8 and bytes as they are', () => {
    assert.equal(hashBytes('{}'), contentHash({}));
    assert.equal(hashBytes(new TextEncoder().encode('{}')), contentHash({}));
  });

  it('shortKey is the first 12 hex digits', () => {
    const hash = contentHash({ stage: 'teacher' });
    assert.equal(shortKey(hash), hash.slice(0, 12));
    assert.equal(shortKey(hash).length, 12);
  });
});
