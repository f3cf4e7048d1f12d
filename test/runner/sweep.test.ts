import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expandRange, gridFromFile, gridPoints, parseGridArgs } from '../../src/runner/sweep.js';
import { UsageError } from '../../src/errors.js';

test('range follows Python: stop excluded, step defaults to 1, floats exact to 12 digits', () => {
  assert.deepEqual(expandRange('range(4)'), [0, 1, 2, 3]);
  assert.deepEqual(expandRange('range(2, 5)'), [2, 3, 4]);
  assert.deepEqual(expandRange('range(0.5, 1, 0.2)'), [0.5, 0.7, 0.9]);
  assert.deepEqual(expandRange('range(0.1, 0.4, 0.1)'), [0.1, 0.2, 0.3]);
  assert.deepEqual(expandRange('range(10, 0, -4)'), [10, 6, 2]);
  assert.equal(expandRange('2,4,8'), undefined);
  assert.throws(() => expandRange('range(1, 1)'), UsageError);
  assert.throws(() => expandRange('range(0, 5, 0)'), /cannot be 0/);
  assert.throws(() => expandRange('range(a, 5)'), /numbers/);
});

test('--grid values are read as YAML, lists inside brackets stay whole', () => {
  assert.deepEqual(parseGridArgs(['T=2,4,8', 'optimizer.name=adamw,sgd', 'optimizer.lr=1e-3,3e-4']), {
    T: [2, 4, 8],
    'optimizer.name': ['adamw', 'sgd'],
    'optimizer.lr': [0.001, 0.0003],
  });
  assert.deepEqual(parseGridArgs(['optimizer.betas=[0.9,0.99],[0.8,0.9]']), { 'optimizer.betas': [[0.9, 0.99], [0.8, 0.9]] });
  assert.throws(() => parseGridArgs(['T']), /expected KEY=V1,V2/);
  assert.throws(() => parseGridArgs(['T=1', 'T=2']), /given twice/);
  assert.throws(() => parseGridArgs(['T=1,,2']), /empty value/);
});

test('grid points are the cartesian product in key order, with ids derived from the values', () => {
  const points = gridPoints(gridFromFile({ T: [2, 4], alpha: 'range(0.5, 1, 0.4)' }));
  assert.deepEqual(points.map((p) => p.params), [
    { T: 2, alpha: 0.5 }, { T: 2, alpha: 0.9 }, { T: 4, alpha: 0.5 }, { T: 4, alpha: 0.9 },
  ]);
  assert.deepEqual(points[1].overrides, ['T=2', 'alpha=0.9']);
  assert.match(points[1].id, /^T=2,alpha=0\.9-[0-9a-f]{8}$/);
  assert.equal(new Set(points.map((p) => p.id)).size, 4);
  assert.equal(gridPoints({ T: [2] })[0].id, gridPoints({ T: [2] })[0].id, 'stable across calls');
});
