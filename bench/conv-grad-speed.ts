// Per-kernel cost of the convolution gradients on wasm next to the forward convolution of the same layer,
// for the layers of the reference models (batch 64): what a training step pays per conv layer.
//
//   node --import tsx bench/conv-grad-speed.ts [--reps 5] [--layers student|teacher|resnet20|resnet8x4|all] [--schemes F23,F32]
//
// Times are process CPU ms (median of --reps calls): the wasm backend is single-threaded, so other load on
// the machine does not inflate them.
import { fileURLToPath } from 'node:url';

import { selectBackend } from '../src/engine/backend.js';
import { tf } from '../src/engine/tf.js';
import { WINOGRAD_SCHEMES, setWinogradEnabled, setWinogradSchemes } from '../src/engine/winograd.js';

export interface ConvLayer { name: string; h: number; ci: number; co: number; k: number; s: number }

/** The same-padded convolutions of the reference student and teacher and of the zoo's resnet20 and resnet8x4 (32x32x3 inputs, batch 64). */
export const REFERENCE_LAYERS: Record<'student' | 'teacher' | 'resnet20' | 'resnet8x4', ConvLayer[]> = {
  student: [
    { name: 'student conv1', h: 32, ci: 3, co: 32, k: 3, s: 1 },
    { name: 'student conv2', h: 32, ci: 32, co: 32, k: 3, s: 1 },
    { name: 'student conv3', h: 16, ci: 32, co: 64, k: 3, s: 1 },
    { name: 'student conv4', h: 16, ci: 64, co: 64, k: 3, s: 1 },
  ],
  teacher: [
    { name: 'teacher conv1', h: 32, ci: 3, co: 64, k: 3, s: 1 },
    { name: 'teacher conv2', h: 32, ci: 64, co: 64, k: 3, s: 1 },
    { name: 'teacher conv3', h: 16, ci: 64, co: 128, k: 3, s: 1 },
    { name: 'teacher conv4', h: 16, ci: 128, co: 128, k: 3, s: 1 },
    { name: 'teacher conv5', h: 8, ci: 128, co: 256, k: 3, s: 1 },
    { name: 'teacher conv6', h: 8, ci: 256, co: 256, k: 3, s: 1 },
  ],
  // One of each distinct layer (resnet20 repeats the stride-1 ones 6, 5 and 5 times).
  resnet20: [
    { name: 'r20 stem', h: 32, ci: 3, co: 16, k: 3, s: 1 },
    { name: 'r20 s1 16', h: 32, ci: 16, co: 16, k: 3, s: 1 },
    { name: 'r20 s2 16-32', h: 32, ci: 16, co: 32, k: 3, s: 2 },
    { name: 'r20 short 32', h: 32, ci: 16, co: 32, k: 1, s: 2 },
    { name: 'r20 s1 32', h: 16, ci: 32, co: 32, k: 3, s: 1 },
    { name: 'r20 s2 32-64', h: 16, ci: 32, co: 64, k: 3, s: 2 },
    { name: 'r20 short 64', h: 16, ci: 32, co: 64, k: 1, s: 2 },
    { name: 'r20 s1 64', h: 8, ci: 64, co: 64, k: 3, s: 1 },
  ],
  resnet8x4: [
    { name: 'r8x4 stem', h: 32, ci: 3, co: 32, k: 3, s: 1 },
    { name: 'r8x4 b1 conv1', h: 32, ci: 32, co: 64, k: 3, s: 1 },
    { name: 'r8x4 b1 conv2', h: 32, ci: 64, co: 64, k: 3, s: 1 },
    { name: 'r8x4 b1 short', h: 32, ci: 32, co: 64, k: 1, s: 1 },
    { name: 'r8x4 b2 conv1', h: 32, ci: 64, co: 128, k: 3, s: 2 },
    { name: 'r8x4 b2 conv2', h: 16, ci: 128, co: 128, k: 3, s: 1 },
    { name: 'r8x4 b2 short', h: 32, ci: 64, co: 128, k: 1, s: 2 },
    { name: 'r8x4 b3 conv1', h: 16, ci: 128, co: 256, k: 3, s: 2 },
    { name: 'r8x4 b3 conv2', h: 8, ci: 256, co: 256, k: 3, s: 1 },
    { name: 'r8x4 b3 short', h: 16, ci: 128, co: 256, k: 1, s: 2 },
  ],
};

/** Per layer: the kernels as registered, and (for stride-1 3x3 layers) what they replace without Winograd. */
export interface ConvGradRow {
  layer: string; forwardMs: number; filterGradMs: number; inputGradMs: number;
  directForwardMs: number; directFilterGradMs: number; directInputGradMs: number;
}

function cpuMs(f: () => void, reps: number): number {
  const times: number[] = [];
  for (let i = 0; i <= reps; i++) {
    const c0 = process.cpuUsage();
    f();
    const c = process.cpuUsage(c0);
    if (i > 0) times.push((c.user + c.system) / 1000); // the first call is a warm-up
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1]!;
}

export async function benchConvGrads(layers: ConvLayer[], reps = 5, batch = 64): Promise<ConvGradRow[]> {
  await selectBackend('wasm');
  const rows: ConvGradRow[] = [];
  for (const l of layers) {
    const oh = Math.ceil(l.h / l.s);
    const x = tf.randomNormal([batch, l.h, l.h, l.ci], 0, 1, 'float32', 1) as tf.Tensor4D;
    const w = tf.randomNormal([l.k, l.k, l.ci, l.co], 0, 1, 'float32', 2) as tf.Tensor4D;
    const dy = tf.randomNormal([batch, oh, oh, l.co], 0, 1, 'float32', 3) as tf.Tensor4D;
    const strides: [number, number] = [l.s, l.s];
    // wasm kernels run synchronously: no dataSync, whose copy out of the heap would count the output size.
    const run = (f: () => tf.Tensor) => () => { f().dispose(); };
    const filterGrad = run(() => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy },
      { strides, pad: 'same', dataFormat: 'NHWC', filterShape: w.shape } as unknown as tf.NamedAttrMap) as tf.Tensor);
    const inputGrad = run(() => tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter: w },
      { strides, pad: 'same', dataFormat: 'NHWC', inputShape: x.shape } as unknown as tf.NamedAttrMap) as tf.Tensor);
    const forward = run(() => tf.conv2d(x, w, strides, 'same'));
    const row: ConvGradRow = {
      layer: l.name,
      forwardMs: cpuMs(forward, reps),
      filterGradMs: cpuMs(filterGrad, reps),
      inputGradMs: cpuMs(inputGrad, reps),
      directForwardMs: 0,
      directFilterGradMs: 0,
      directInputGradMs: 0,
    };
    setWinogradEnabled(false);
    try {
      row.directForwardMs = cpuMs(forward, reps);
      row.directFilterGradMs = cpuMs(filterGrad, reps);
      row.directInputGradMs = cpuMs(inputGrad, reps);
    } finally {
      setWinogradEnabled(true);
    }
    rows.push(row);
    tf.dispose([x, w, dy]);
  }
  return rows;
}

export function formatConvGrads(rows: ConvGradRow[]): string {
  const head = ['forward', 'dW', 'dx', 'dW/fwd', 'dx/fwd', 'fwd direct', 'dW direct', 'dx direct'];
  const lines = [`${'layer'.padEnd(16)} ${head.map((h) => h.padStart(9)).join(' ')}   (CPU ms; direct: without Winograd)`];
  const total: ConvGradRow = { layer: 'total', forwardMs: 0, filterGradMs: 0, inputGradMs: 0, directForwardMs: 0, directFilterGradMs: 0, directInputGradMs: 0 };
  for (const r of rows) {
    total.forwardMs += r.forwardMs;
    total.filterGradMs += r.filterGradMs;
    total.inputGradMs += r.inputGradMs;
    total.directFilterGradMs += r.directFilterGradMs;
    total.directInputGradMs += r.directInputGradMs;
    total.directForwardMs += r.directForwardMs;
  }
  for (const r of [...rows, total]) {
    const cells = [r.forwardMs, r.filterGradMs, r.inputGradMs].map((v) => v.toFixed(1))
      .concat([r.filterGradMs / r.forwardMs, r.inputGradMs / r.forwardMs].map((v) => v.toFixed(2)))
      .concat([r.directForwardMs, r.directFilterGradMs, r.directInputGradMs].map((v) => v.toFixed(1)));
    lines.push(`${r.layer.padEnd(16)} ${cells.map((c) => c.padStart(9)).join(' ')}`);
  }
  return lines.join('\n');
}

if (process.argv[1] != null && fileURLToPath(import.meta.url) === process.argv[1]) {
  const argv = process.argv.slice(2);
  const opt = (name: string) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : undefined; };
  const which = opt('--layers') ?? 'all';
  const schemes = opt('--schemes'); // e.g. F43,F34: the dx and dW Winograd schemes to measure
  if (schemes != null) {
    const [conv, filterGrad] = schemes.split(',').map((s) => WINOGRAD_SCHEMES[s as keyof typeof WINOGRAD_SCHEMES]);
    if (conv == null || filterGrad == null) throw new Error(`--schemes: two of ${Object.keys(WINOGRAD_SCHEMES).join(', ')}`);
    setWinogradSchemes(conv, filterGrad);
  }
  const layers = which === 'all' ? Object.values(REFERENCE_LAYERS).flat() : REFERENCE_LAYERS[which as keyof typeof REFERENCE_LAYERS];
  console.log(formatConvGrads(await benchConvGrads(layers, Number(opt('--reps') ?? 5))));
}
