// Shape inference (src/registry/model.ts): shapes follow the dataset's input shape layer by layer, and a
// layer that does not fit is reported at its index.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeModel, LayerShapeError } from '../../src/registry/model.js';
import { ensureBuiltins } from '../../src/plugins/builtin.js';
import type { ImageShape, LayerSpec } from '../../src/registry/types.js';

before(async () => {
  await ensureBuiltins();
});

const L = (type: string, args: Record<string, unknown> = {}): LayerSpec => ({ type, args });
const shapes = (layers: LayerSpec[], input: ImageShape) => describeModel('m', layers, input).rows.map((r) => r.outputShape);

test('flatten after 28x28x1 and after 32x32x3 gives different sizes, and the dense after it different counts', () => {
  const layers = [L('flatten'), L('dense', { units: 10 })];
  const mnist = describeModel('m', layers, [28, 28, 1]);
  const cifar = describeModel('m', layers, [32, 32, 3]);
  assert.deepEqual(mnist.rows.map((r) => r.outputShape), [[784], [10]]);
  assert.deepEqual(cifar.rows.map((r) => r.outputShape), [[3072], [10]]);
  assert.equal(mnist.params, 784 * 10 + 10);
  assert.equal(cifar.params, 3072 * 10 + 10);
  assert.deepEqual(mnist.outputShape, [10]);
});

test('maxPool2d halves height and width (floor), keeps channels; a stride and same padding change that', () => {
  assert.deepEqual(shapes([L('maxPool2d', { size: 2 })], [32, 32, 3]), [[16, 16, 3]]);
  assert.deepEqual(shapes([L('maxPool2d', { size: 2 })], [7, 7, 4]), [[3, 3, 4]]);
  assert.deepEqual(shapes([L('maxPool2d', { size: 2, padding: 'same' })], [7, 7, 4]), [[4, 4, 4]]);
  assert.deepEqual(shapes([L('maxPool2d', { size: 3, strides: 1 })], [8, 8, 1]), [[6, 6, 1]]);
  assert.deepEqual(shapes([L('avgPool2d', { size: [2, 4] })], [8, 8, 1]), [[4, 2, 1]]);
  assert.deepEqual(shapes([L('globalAvgPool2d')], [8, 8, 5]), [[5]]);
});

test('valid and same convolutions', () => {
  assert.deepEqual(shapes([L('conv2d', { filters: 8, kernel: 3 })], [32, 32, 3]), [[30, 30, 8]], 'valid is the default');
  assert.deepEqual(shapes([L('conv2d', { filters: 8, kernel: 3, padding: 'same' })], [32, 32, 3]), [[32, 32, 8]]);
  assert.deepEqual(shapes([L('conv2d', { filters: 8, kernel: 5, padding: 'valid' })], [28, 28, 1]), [[24, 24, 8]]);
  assert.deepEqual(shapes([L('conv2d', { filters: 8, kernel: 3, strides: 2, padding: 'same' })], [32, 32, 3]), [[16, 16, 8]]);
  assert.deepEqual(shapes([L('conv2d', { filters: 8, kernel: [1, 3] })], [8, 8, 1]), [[8, 6, 8]]);
});

test('trainable parameter counts per layer, as PyTorch counts: conv k*k*cin*cout + cout, dense in*out + out, batchNorm 2 per channel (not its running statistics)', () => {
  const { rows, params } = describeModel(
    'm',
    [L('conv2d', { filters: 64, kernel: 3, padding: 'same' }), L('relu'), L('batchNorm'), L('maxPool2d', { size: 2 }), L('flatten'), L('dropout', { rate: 0.5 }), L('dense', { units: 10, bias: false })],
    [32, 32, 3],
  );
  assert.deepEqual(
    rows.map((r) => [r.type, r.outputShape.join('x'), r.params]),
    [
      ['conv2d', '32x32x64', 3 * 3 * 3 * 64 + 64],
      ['relu', '32x32x64', 0],
      ['batchNorm', '32x32x64', 2 * 64],
      ['maxPool2d', '16x16x64', 0],
      ['flatten', '16384', 0],
      ['dropout', '16384', 0],
      ['dense', '10', 16384 * 10],
    ],
  );
  assert.equal(params, 1792 + 128 + 163840);
});

/** The reference models of experiments/cifar10-kd.yaml, as layer specs. */
function vgg(widths: number[], hidden: number): LayerSpec[] {
  const layers: LayerSpec[] = [];
  for (const filters of widths) {
    const conv = L('conv2d', { filters, kernel: 3, padding: 'same' });
    layers.push(conv, L('relu'), conv, L('relu'), L('maxPool2d', { size: 2 }));
  }
  return [...layers, L('flatten'), L('dense', { units: hidden }), L('relu'), L('dropout', { rate: 0.5 }), L('dense', { units: 10 })];
}

test('the reference teacher and student at 32x32x3: 3,248,202 and 1,116,970 parameters', () => {
  assert.equal(describeModel('teacher', vgg([64, 128, 256], 512), [32, 32, 3]).params, 3_248_202);
  assert.equal(describeModel('student', vgg([32, 64], 256), [32, 32, 3]).params, 1_116_970);
  // The same student on 28x28x1 (Fashion-MNIST): a different flatten, so a different count.
  const fashion = describeModel('student', vgg([32, 64], 256), [28, 28, 1]);
  assert.deepEqual(fashion.rows.find((r) => r.type === 'flatten')!.outputShape, [7 * 7 * 64]);
  assert.equal(fashion.params, 1_116_970 - 3 * 3 * 2 * 32 - (8 * 8 - 7 * 7) * 64 * 256); // 1 input channel, not 3; 7x7 after pooling, not 8x8
});

test('a layer that does not fit is reported at its index: conv2d after flatten', () => {
  assert.throws(
    () => describeModel('m', [L('flatten'), L('conv2d', { filters: 4 }), L('dense', { units: 3 })], [8, 8, 1]),
    (error: unknown) => {
      assert.ok(error instanceof LayerShapeError);
      assert.equal(error.index, 1);
      assert.match(error.message, /^conv2d does not fit its input of shape \[64\]/);
      return true;
    },
  );
});

test('an input too small for a valid convolution is reported at that layer', () => {
  assert.throws(
    () => describeModel('m', [L('conv2d', { filters: 2, kernel: 3 }), L('conv2d', { filters: 2, kernel: 5 })], [6, 6, 1]),
    (error: unknown) => {
      assert.ok(error instanceof LayerShapeError);
      assert.equal(error.index, 1);
      assert.match(error.message, /^conv2d turns an input of shape \[4, 4, 2\] into \[[-\d]+, [-\d]+, 2\]: the input is too small for it$/);
      return true;
    },
  );
});
