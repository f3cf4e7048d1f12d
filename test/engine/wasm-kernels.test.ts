// kdx's wasm kernels (src/engine/wasm-kernels.ts) against the pure-JS cpu backend, which tfjs tests
// thoroughly: conv gradients (plain conv2d and tfjs-layers' Conv2D, which goes through FusedConv2D),
// BatchMatMul with every transpose combination, MaxPoolGrad; and no leaks in tensors or wasm memory.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { selectBackend } from '../../src/engine/backend.js';
import { tf } from '../../src/engine/tf.js';
import { filterGradModuleBytes } from '../../src/engine/filter-grad-simd.js';
import { maxPoolGradModuleBytes } from '../../src/engine/maxpool-grad-simd.js';
import { setSimdKernelsEnabled } from '../../src/engine/wasm-asm.js';
import { wasmKernelsRegistered } from '../../src/engine/wasm-kernels.js';
import { assertClose } from './close.js';
import { assertTrainingLeaksNothing } from './leaks.js';

type Backend = 'cpu' | 'wasm';
type Pad = 'same' | 'valid';
type ConvPad = Pad | number | [[number, number], [number, number], [number, number], [number, number]];


/** Run `f` on `backend` and bring its results back as plain arrays (computed in a tidy: no leaks). */
function on(backend: Backend, f: () => tf.Tensor[]): Float32Array[] {
  assert.ok(tf.setBackend(backend), `setBackend(${backend})`);
  return tf.tidy(() => f().map((t) => t.dataSync() as Float32Array)).map((a) => Float32Array.from(a));
}


function randomData(shape: number[], seed: number): Float32Array {
  return tf.tidy(() => tf.randomNormal(shape, 0, 1, 'float32', seed).dataSync() as Float32Array).slice();
}

function wasmBackend(): { numDataIds(): number; wasm: { HEAPU8: Uint8Array } } {
  return tf.findBackend('wasm') as unknown as { numDataIds(): number; wasm: { HEAPU8: Uint8Array } };
}

before(async () => {
  const info = await selectBackend('wasm');
  assert.equal(info.name, 'wasm');
  assert.ok(wasmKernelsRegistered());
});

interface ConvCase { batch: number; h: number; w: number; ci: number; co: number; k: number; s: number; pad: ConvPad }

const convCases: ConvCase[] = [];
for (const s of [1, 2]) {
  for (const pad of ['same', 'valid'] as const) {
    for (const k of [1, 3, 5]) {
      convCases.push({ batch: 2, h: 7, w: 9, ci: 3, co: 4, k, s, pad });
    }
  }
}
convCases.push(
  { batch: 1, h: 7, w: 9, ci: 1, co: 1, k: 3, s: 1, pad: 'same' },
  { batch: 1, h: 8, w: 8, ci: 5, co: 2, k: 3, s: 2, pad: 'valid' }, // the last row/column is never read
  { batch: 3, h: 11, w: 6, ci: 16, co: 8, k: 3, s: 2, pad: 'same' },
  { batch: 4, h: 12, w: 12, ci: 32, co: 32, k: 3, s: 1, pad: 'same' },
  { batch: 2, h: 9, w: 7, ci: 8, co: 24, k: 5, s: 1, pad: 'valid' },
  { batch: 2, h: 7, w: 9, ci: 3, co: 4, k: 3, s: 1, pad: 1 },
  { batch: 2, h: 7, w: 9, ci: 3, co: 4, k: 3, s: 2, pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
  { batch: 2, h: 8, w: 8, ci: 3, co: 4, k: 3, s: 1, pad: [[0, 0], [3, 0], [0, 4], [0, 0]] }, // pads >= kernel: built-in dx
  // Many channels: the SIMD filter gradient splits each image into several blocks of rows per call.
  { batch: 2, h: 16, w: 12, ci: 64, co: 64, k: 3, s: 1, pad: 'same' },
  { batch: 2, h: 15, w: 13, ci: 48, co: 40, k: 3, s: 2, pad: 'valid' },
  // Strided input gradients by output phase (strided-input-grad.ts): ResNet's downsampling 3x3 and 1x1
  // shortcut, PyTorch's padding 1, strides that leave a phase without taps or with a partial last row.
  { batch: 2, h: 8, w: 8, ci: 16, co: 32, k: 3, s: 2, pad: 'same' },
  { batch: 2, h: 8, w: 8, ci: 16, co: 32, k: 1, s: 2, pad: 'same' },
  { batch: 2, h: 8, w: 10, ci: 8, co: 16, k: 3, s: 2, pad: 1 },
  { batch: 2, h: 10, w: 11, ci: 4, co: 8, k: 2, s: 2, pad: 'valid' },
  { batch: 2, h: 11, w: 10, ci: 5, co: 6, k: 3, s: 3, pad: 'same' },
  { batch: 1, h: 13, w: 9, ci: 3, co: 4, k: 5, s: 3, pad: [[0, 0], [2, 1], [1, 2], [0, 0]] },
);

/** y, dx and dfilter of tf.conv2d on wasm equal those on cpu. */
function assertConvGradsMatchCpu(c: ConvCase): void {
  const xShape = [c.batch, c.h, c.w, c.ci];
  const fShape = [c.k, c.k, c.ci, c.co];
  const xv = randomData(xShape, 1);
  const fv = randomData(fShape, 2);
  const grads = (): tf.Tensor[] => {
    const x = tf.tensor4d(xv, xShape as [number, number, number, number]);
    const f = tf.tensor4d(fv, fShape as [number, number, number, number]);
    const y = tf.conv2d(x, f, c.s, c.pad);
    const w = tf.randomUniform(y.shape, -1, 1, 'float32', 3); // an uneven dy
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.pad).mul(w).sum());
    return [y, ...g([x, f])];
  };
  const expected = on('cpu', grads);
  const actual = on('wasm', grads);
  assertClose(actual[0]!, expected[0]!, 'y');
  assertClose(actual[1]!, expected[1]!, 'dx');
  assertClose(actual[2]!, expected[2]!, 'dfilter');
}

describe('Conv2D gradients on wasm equal the cpu backend', () => {
  for (const c of convCases) {
    const name = `x ${c.batch}x${c.h}x${c.w}x${c.ci}, filter ${c.k}x${c.k}x${c.ci}x${c.co}, stride ${c.s}, pad ${JSON.stringify(c.pad)}`;
    test(`tf.conv2d: ${name}`, () => assertConvGradsMatchCpu(c));
  }

  for (const c of convCases.filter((x, i) => i % 2 === 0 && typeof x.pad === 'string')) {
    const name = `x ${c.batch}x${c.h}x${c.w}x${c.ci}, ${c.co} filters ${c.k}x${c.k}, stride ${c.s}, ${c.pad}`;
    test(`tf.layers.conv2d with bias, linear (FusedConv2D): ${name}`, () => {
      const xShape = [c.batch, c.h, c.w, c.ci] as [number, number, number, number];
      const xv = randomData(xShape, 4);
      const kv = randomData([c.k, c.k, c.ci, c.co], 5);
      const bv = randomData([c.co], 6);
      const grads = (): tf.Tensor[] => {
        const layer = tf.layers.conv2d({ filters: c.co, kernelSize: c.k, strides: c.s, padding: c.pad as Pad, useBias: true, activation: 'linear' });
        const x = tf.tensor4d(xv, xShape);
        layer.build(xShape);
        layer.setWeights([tf.tensor4d(kv, [c.k, c.k, c.ci, c.co]), tf.tensor1d(bv)]);
        const y = layer.apply(x) as tf.Tensor;
        const w = tf.randomUniform(y.shape, -1, 1, 'float32', 7);
        const loss = (input: tf.Tensor): tf.Scalar => (layer.apply(input) as tf.Tensor).mul(w).sum();
        const vars = layer.trainableWeights.map((v) => v.read() as tf.Variable);
        const { value, grads: g } = tf.variableGrads(() => loss(x), vars);
        const dx = tf.grad(loss)(x);
        const out = [y, dx, ...vars.map((v) => g[v.name]!), value];
        for (const v of layer.weights) v.dispose(); // (Layer.dispose() wants a symbolic use first)
        return out;
      };
      const expected = on('cpu', grads);
      const actual = on('wasm', grads);
      for (const [i, what] of ['y', 'dx', 'dkernel', 'dbias', 'loss'].entries()) assertClose(actual[i]!, expected[i]!, what);
    });
  }

  test('tfjs-layers Conv2D (linear) runs FusedConv2D forward and kdx backprop kernels on wasm', async () => {
    tf.setBackend('wasm');
    const layer = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'linear', inputShape: [6, 6, 2] });
    const x = tf.randomNormal([2, 6, 6, 2]);
    layer.build([2, 6, 6, 2]);
    const vars = layer.trainableWeights.map((v) => v.read() as tf.Variable);
    const info = await tf.profile(() => {
      const { value, grads } = tf.variableGrads(() => (layer.apply(x) as tf.Tensor).square().sum(), vars);
      tf.dispose([value, grads]);
      tf.dispose(tf.grad((a: tf.Tensor) => (layer.apply(a) as tf.Tensor).sum())(x));
    });
    const names = new Set(info.kernels.map((k) => k.name));
    for (const k of ['FusedConv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput']) assert.ok(names.has(k), `${k} not run: ${[...names]}`);
    for (const v of layer.weights) v.dispose();
    x.dispose();
  });
});

describe('Conv2DBackpropFilter: the SIMD kernel and the XNNPACK path', () => {
  test('the SIMD module is valid WebAssembly here (so the cases above ran it)', () => {
    assert.ok(WebAssembly.validate(filterGradModuleBytes()));
  });

  test('the filter gradient is the same bytes call after call', () => {
    tf.setBackend('wasm');
    const x = tf.tensor4d(randomData([3, 10, 10, 12], 8), [3, 10, 10, 12]);
    const dy = tf.tensor4d(randomData([3, 5, 5, 16], 9), [3, 5, 5, 16]);
    const dw = () => tf.tidy(() => (tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy },
      { strides: [2, 2], pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 12, 16] } as unknown as tf.NamedAttrMap) as tf.Tensor).dataSync().slice());
    assert.deepEqual(Buffer.from(dw().buffer), Buffer.from(dw().buffer));
    tf.dispose([x, dy]);
  });

  test('the strided input gradient is the same bytes call after call', () => {
    tf.setBackend('wasm');
    const dy = tf.tensor4d(randomData([3, 5, 5, 16], 10), [3, 5, 5, 16]);
    const w = tf.tensor4d(randomData([3, 3, 12, 16], 11), [3, 3, 12, 16]);
    const dx = () => tf.tidy(() => (tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter: w },
      { strides: [2, 2], pad: 'same', dataFormat: 'NHWC', inputShape: [3, 10, 10, 12] } as unknown as tf.NamedAttrMap) as tf.Tensor).dataSync().slice());
    assert.deepEqual(Buffer.from(dx().buffer), Buffer.from(dx().buffer));
    tf.dispose([dy, w]);
  });

  // Engines without WebAssembly SIMD take the XNNPACK path: still checked against cpu.
  for (const c of convCases.filter((_, i) => i % 3 === 0)) {
    test(`XNNPACK path: x ${c.batch}x${c.h}x${c.w}x${c.ci}, filter ${c.k}x${c.k}x${c.ci}x${c.co}, stride ${c.s}, pad ${JSON.stringify(c.pad)}`, () => {
      setSimdKernelsEnabled(false);
      try {
        assertConvGradsMatchCpu(c);
      } finally {
        setSimdKernelsEnabled(true);
      }
    });
  }
});

describe('BatchMatMul on wasm equals the cpu backend', () => {
  const shapes: Array<[number[], number[]]> = [
    [[5, 7], [7, 3]],
    [[64, 40], [40, 24]],
    [[8, 16], [16, 200]], // wide result: computed as (b^T a^T)^T when b is transposed
    [[200, 16], [16, 8]],
    [[1, 8, 16], [16, 200]],
    [[4, 5, 7], [4, 7, 3]],
    [[1, 5, 7], [4, 7, 3]],
    [[4, 5, 7], [1, 7, 3]],
    [[2, 3, 5, 7], [2, 3, 7, 3]],
  ];
  const swap = (s: number[]) => [...s.slice(0, -2), s[s.length - 1]!, s[s.length - 2]!];
  for (const [aShape, bShape] of shapes) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        test(`a ${aShape} b ${bShape} transposeA=${ta} transposeB=${tb}`, () => {
          const as = ta ? swap(aShape) : aShape;
          const bs = tb ? swap(bShape) : bShape;
          const av = randomData(as, 11);
          const bv = randomData(bs, 12);
          const f = () => [tf.matMul(tf.tensor(av, as), tf.tensor(bv, bs), ta, tb)];
          assertClose(on('wasm', f)[0]!, on('cpu', f)[0]!, 'a.b');
        });
      }
    }
  }
  test('dense layer gradients (transposed products) equal cpu', () => {
    const xv = randomData([16, 40], 13);
    const kv = randomData([40, 24], 14);
    const f = (): tf.Tensor[] => {
      const x = tf.tensor2d(xv, [16, 40]);
      const k = tf.tensor2d(kv, [40, 24]);
      return tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.fused.matMul({ a, b, activation: 'relu' }).square().sum())([x, k]);
    };
    const expected = on('cpu', f);
    const actual = on('wasm', f);
    assertClose(actual[0]!, expected[0]!, 'dx');
    assertClose(actual[1]!, expected[1]!, 'dkernel');
  });
});

describe('Sum and Mean on wasm equal the cpu backend', () => {
  const cases: Array<[number[], number[] | number]> = [
    [[4, 5, 6, 7], [0, 1, 2]], // bias gradient: kdx's column sum
    [[4, 5, 6, 7], [0]],
    [[4, 5, 6, 7], [2, 1, 0]],
    [[30, 7], 0],
    [[4, 5, 6, 7], [1, 2]], // not leading: built-in
    [[4, 5, 6, 7], [0, 1, 2, 3]],
    [[4, 5], [-1]],
  ];
  for (const [shape, axis] of cases) {
    for (const keepDims of [false, true]) {
      for (const op of ['sum', 'mean'] as const) {
        test(`${op}: x ${shape}, axis ${axis}, keepDims ${keepDims}`, () => {
          const xv = randomData(shape, 31);
          const f = () => [tf.tensor(xv, shape)[op](axis, keepDims)];
          const cpu = on('cpu', () => [tf.tensor(xv, shape)[op](axis, keepDims).reshape([-1])]);
          tf.setBackend('wasm');
          const shapeOnWasm = tf.tidy(() => f()[0]!.shape);
          tf.setBackend('cpu');
          const shapeOnCpu = tf.tidy(() => f()[0]!.shape);
          assert.deepEqual(shapeOnWasm, shapeOnCpu);
          assertClose(on('wasm', f)[0]!, cpu[0]!, op);
        });
      }
    }
  }
});

describe('MaxPoolGrad on wasm equals the cpu backend', () => {
  const cases: Array<[number[], number, number, Pad]> = [
    [[2, 6, 6, 3], 2, 2, 'valid'],
    [[2, 7, 9, 3], 2, 2, 'valid'], // odd sizes: last row/column unused
    [[2, 7, 9, 3], 2, 2, 'same'],
    [[1, 6, 6, 5], 3, 2, 'same'],
    [[1, 7, 9, 4], 3, 1, 'same'],
    [[2, 6, 6, 3], 2, 1, 'valid'],
    // Channels by 4: the SIMD kernel.
    [[2, 6, 6, 8], 2, 2, 'valid'],
    [[2, 7, 9, 4], 2, 2, 'valid'],
    [[3, 8, 10, 12], 2, 2, 'same'],
  ];
  for (const [shape, size, stride, pad] of cases) {
    test(`x ${shape}, pool ${size}, stride ${stride}, ${pad} (negative maxima and ties included)`, () => {
      // relu - 0.2: a quarter of the values tie at -0.2, many windows have a negative maximum.
      const xv = tf.tidy(() => tf.randomNormal(shape, 0, 1, 'float32', 21).relu().sub(0.2).dataSync() as Float32Array).slice();
      const f = (): tf.Tensor[] => {
        const x = tf.tensor4d(xv, shape as [number, number, number, number]);
        const y = tf.maxPool(x, size, stride, pad);
        const w = tf.randomUniform(y.shape, 0, 1, 'float32', 22);
        return [y, tf.grad((a: tf.Tensor) => tf.maxPool(a as tf.Tensor4D, size, stride, pad).mul(w).sum())(x)];
      };
      const expected = on('cpu', f);
      const actual = on('wasm', f);
      assertClose(actual[0]!, expected[0]!, 'y');
      assertClose(actual[1]!, expected[1]!, 'dx');
    });
  }
});

test('MaxPoolGrad 2x2: the SIMD kernel gives the JS loop\'s bytes, NaN and -Infinity windows included', () => {
  tf.setBackend('wasm');
  const shape: [number, number, number, number] = [2, 7, 8, 8];
  const xv = tf.tidy(() => tf.randomNormal(shape, 0, 1, 'float32', 23).relu().sub(0.2).dataSync() as Float32Array).slice();
  for (let i = 0; i < xv.length; i += 7) xv[i] = i % 2 ? Number.NaN : Number.NEGATIVE_INFINITY;
  xv.fill(Number.NaN, 0, 16); // the first window all NaN: rows 0 and 1, pixels 0 and 1, 8 channels
  xv.fill(Number.NaN, 64, 80);
  const dx = () => tf.tidy(() => {
    const x = tf.tensor4d(xv, shape);
    const w = tf.randomUniform([2, 3, 4, 8], 0, 1, 'float32', 24);
    return tf.grad((a: tf.Tensor) => tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid').mul(w).sum())(x).dataSync().slice();
  });
  assert.ok(WebAssembly.validate(maxPoolGradModuleBytes()), 'the SIMD kernel runs here');
  const simd = dx();
  setSimdKernelsEnabled(false);
  try {
    assert.deepEqual(Buffer.from(simd.buffer), Buffer.from(dx().buffer));
  } finally {
    setSimdKernelsEnabled(true);
  }
});

describe('Identity and Cast on wasm', () => {
  test('clones and same-dtype casts share data, and outlive the original', () => {
    tf.setBackend('wasm');
    const backend = wasmBackend();
    const ids0 = backend.numDataIds();
    const a = tf.tensor([1.5, -2, 3]);
    const b = tf.clone(a);
    const c = a.cast('float32');
    const d = a.cast('int32');
    assert.equal(backend.numDataIds(), ids0 + 2, 'clone and cast share the data; int32 cast copies');
    a.dispose();
    assert.deepEqual(Array.from(b.dataSync()), [1.5, -2, 3]);
    assert.deepEqual(Array.from(c.dataSync()), [1.5, -2, 3]);
    assert.deepEqual(Array.from(d.dataSync()), [1, -2, 3]);
    assert.equal(d.dtype, 'int32');
    tf.dispose([b, c, d]);
    assert.equal(backend.numDataIds(), ids0);
  });
});

describe('no leaks on wasm', () => {
  test('training steps keep tensors, wasm data ids and heap size flat', () => {
    tf.setBackend('wasm');
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [12, 12, 3], filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }),
        tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same' }), // linear: FusedConv2D path
        tf.layers.reLU(),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'valid' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 16, activation: 'relu' }),
        tf.layers.dense({ units: 4 }),
      ],
    });
    const x = tf.randomNormal([8, 12, 12, 3]);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3], 'int32'), 4).toFloat();
    assertTrainingLeaksNothing(model, x, y, 20);
    tf.dispose([x, y]);
    model.dispose();
  });

  test('each kdx kernel frees its intermediates', () => {
    tf.setBackend('wasm');
    const x = tf.randomNormal([2, 9, 7, 3]) as tf.Tensor4D;
    const f = tf.randomNormal([3, 3, 3, 5]) as tf.Tensor4D;
    const a = tf.randomNormal([6, 4]);
    const b = tf.randomNormal([6, 5]);
    const backend = wasmBackend();
    const work = (): void => {
      tf.tidy(() => {
        for (const s of [1, 2]) {
          for (const pad of ['same', 'valid'] as const) {
            const dy = tf.onesLike(tf.conv2d(x, f, s, pad));
            tf.conv2dTranspose(dy, f, x.shape, s, pad).dataSync(); // Conv2DBackpropInput
            tf.grad((ff: tf.Tensor) => tf.conv2d(x, ff as tf.Tensor4D, s, pad).sum())(f).dataSync(); // Conv2DBackpropFilter
          }
        }
        tf.matMul(a, b, true, false).dataSync();
        tf.matMul(b, a, true, false).dataSync();
        tf.matMul(a.reshape([2, 3, 4]), b.reshape([2, 3, 5]), true, false).dataSync();
        tf.grad((xx: tf.Tensor) => tf.maxPool(xx as tf.Tensor4D, 2, 2, 'valid').sum())(x).dataSync();
        tf.matMul(a, tf.randomNormal([40, 4]), false, true).dataSync(); // the swapped orientation
        x.sum([0, 1, 2]).dataSync();
        // The SIMD kernels: channels by 4 and 8 (no padding), and not (padded around the call).
        const x8 = tf.randomNormal([2, 8, 6, 8]) as tf.Tensor4D;
        tf.matMul(tf.randomNormal([6, 8]), tf.randomNormal([6, 16]), true, false).dataSync(); // dense weight gradient
        tf.grad((xx: tf.Tensor) => tf.maxPool(xx as tf.Tensor4D, 2, 2, 'valid').sum())(x8).dataSync();
        for (const input of [x, x8]) {
          const dw = tf.randomNormal([3, 3, input.shape[3], 1]) as tf.Tensor4D;
          tf.grad((ww: tf.Tensor) => tf.depthwiseConv2d(input, ww as tf.Tensor4D, 2, 'same').sum())(dw).dataSync();
        }
        x8.mean([0, 1, 2]).dataSync();
      });
    };
    work();
    const tensors0 = tf.memory().numTensors;
    const ids0 = backend.numDataIds();
    const heap0 = backend.wasm.HEAPU8.byteLength;
    for (let i = 0; i < 10; i++) work();
    assert.equal(tf.memory().numTensors, tensors0);
    assert.equal(backend.numDataIds(), ids0);
    assert.equal(backend.wasm.HEAPU8.byteLength, heap0);
    tf.dispose([x, f, a, b]);
  });
});

describe('depthwise convolution gradients (missing from tfjs-wasm) match the cpu backend', () => {
  // (tfjs has no gradient for a dilated depthwise convolution on any backend.)
  const cases: { h: number; w: number; c: number; m: number; k: number; s: number; pad: Pad }[] = [];
  for (const s of [1, 2]) for (const pad of ['same', 'valid'] as const) for (const m of [1, 2]) cases.push({ h: 8, w: 7, c: 3, m, k: 3, s, pad });
  cases.push({ h: 6, w: 6, c: 5, m: 1, k: 1, s: 2, pad: 'valid' }, { h: 9, w: 8, c: 4, m: 1, k: 5, s: 3, pad: 'same' });
  // Channels by 4 (the SIMD filter gradient without padding), and many: several row blocks per call.
  cases.push({ h: 9, w: 9, c: 8, m: 1, k: 3, s: 2, pad: 'valid' }, { h: 16, w: 12, c: 96, m: 1, k: 3, s: 1, pad: 'same' });
  const runs = cases.flatMap((c) => (c.m === 1 ? [{ ...c, simd: true }, { ...c, simd: false }] : [{ ...c, simd: true }]));
  for (const { h, w, c, m, k, s, pad, simd } of runs) {
    test(`${h}x${w}x${c} multiplier ${m}, ${k}x${k} stride ${s} ${pad}${simd ? '' : ' (JS filter gradient, as without SIMD)'}`, () => {
      const xData = randomData([2, h, w, c], 1);
      const wData = randomData([k, k, c, m], 2);
      const grads = (backend: Backend) =>
        on(backend, () => {
          const x = tf.tensor4d(xData, [2, h, w, c]);
          const filter = tf.tensor4d(wData, [k, k, c, m]);
          const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, pad)));
          return tf.grads(f)([x, filter]);
        });
      setSimdKernelsEnabled(simd);
      let dxWasm: Float32Array;
      let dwWasm: Float32Array;
      try {
        [dxWasm, dwWasm] = grads('wasm') as [Float32Array, Float32Array];
      } finally {
        setSimdKernelsEnabled(true);
      }
      const [dxCpu, dwCpu] = grads('cpu');
      tf.setBackend('wasm');
      assertClose(dxWasm, dxCpu, 'dx');
      assertClose(dwWasm, dwCpu, 'dW');
    });
  }
});

test('Slice and SplitV match the cpu backend: any axis cut, every rank, int32 and bool, concat\'s gradient', () => {
  const cases: Array<[number[], number[], number[]]> = [
    [[2, 3, 4, 10], [0, 0, 0, 5], [-1, -1, -1, 5]], // ShuffleNetV2's channel split
    [[2, 3, 4, 10], [1, 1, 0, 0], [1, 2, -1, -1]],
    [[2, 3, 4, 10], [0, 1, 2, 3], [2, 2, 1, 4]],
    [[2, 3, 4, 10], [0, 0, 0, 0], [-1, -1, -1, -1]],
    [[7, 5], [2, 1], [3, 3]],
    [[9], [4], [5]],
    [[3, 4, 5], [0, 0, 2], [3, 4, 0]], // empty
  ];
  for (const [shape, begin, size] of cases) {
    const data = randomData(shape, 5);
    for (const dtype of ['float32', 'int32', 'bool'] as const) {
      // (bool from a comparison: tfjs-wasm's cast to bool keeps the low byte of the integer, not 0/1.)
      const typed = (t: tf.Tensor) => (dtype === 'bool' ? t.greater(0) : t.mul(3).cast(dtype));
      const f = () => [tf.slice(typed(tf.tensor(data, shape)), begin, size).cast('float32')];
      assert.deepEqual(Array.from(on('wasm', f)[0]!), Array.from(on('cpu', f)[0]!), `${shape} [${begin}] [${size}] ${dtype}`);
    }
  }
  const x = randomData([2, 3, 4, 12], 6);
  for (const [splits, axis] of [[[5, 7], 3], [3, -1], [[1, 2], 1], [2, 0]] as Array<[number | number[], number]>) {
    const f = () => tf.split(tf.tensor(x, [2, 3, 4, 12]), splits, axis);
    const wasm = on('wasm', f);
    on('cpu', f).forEach((part, i) => assert.deepEqual(Array.from(wasm[i]!), Array.from(part), `split ${JSON.stringify(splits)} axis ${axis}`));
  }
  const grad = () => {
    const a = tf.tensor(x, [2, 3, 4, 12]);
    const w = tf.randomUniform([2, 3, 4, 24], -1, 1, 'float32', 7);
    return [tf.grad((t: tf.Tensor) => tf.concat([t, t.square()], 3).mul(w).sum())(a)];
  };
  assert.deepEqual(Array.from(on('wasm', grad)[0]!), Array.from(on('cpu', grad)[0]!), 'concat gradient');
  tf.setBackend('wasm');
});

test('Tile matches the cpu backend: a per-channel vector to a whole activation, and reps on every axis', () => {
  for (const [shape, reps] of [[[1, 1, 1, 5], [2, 3, 4, 1]], [[2, 3, 4], [3, 1, 2]], [[3], [4]], [[2, 1, 3, 1], [1, 2, 2, 3]]] as [number[], number[]][]) {
    const data = randomData(shape, 3);
    const [wasm] = on('wasm', () => [tf.tile(tf.tensor(data, shape), reps)]);
    const [cpu] = on('cpu', () => [tf.tile(tf.tensor(data, shape), reps)]);
    tf.setBackend('wasm');
    assert.deepEqual(Array.from(wasm), Array.from(cpu), `${shape} x ${reps}`);
  }
  const [ints] = on('wasm', () => [tf.tile(tf.tensor1d([1, 2], 'int32'), [3]).toFloat()]);
  assert.deepEqual(Array.from(ints), [1, 2, 1, 2, 1, 2]);
});
