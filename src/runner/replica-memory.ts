// The shared memory of one data-parallel job (see replicas.ts): what the main thread and its replica
// threads exchange at every step, as views of SharedArrayBuffers, with the Atomics that order it. Nothing
// is copied through messages during training.
//
//   inputs     two slots (by step parity: the main thread fills the next while the replicas read this one)
//              of images, labels and teacher logits of a whole batch;
//   trainable  the weights the optimizer updates, written by the main thread after each update;
//   frozen     the non-trainable weights (batchNorm's running statistics), written by replica 0 after
//              each step: every replica computes the same ones, from the same all-reduced statistics;
//   grads      one region per replica: its share of the batch's gradients, summed by the main thread in
//              replica order (fixed: the same bytes on every run with this many threads);
//   outputs    the logits of an inference step (evaluation, a teacher's logits), each replica its rows;
//   scalars    per replica: its share of the loss and of each loss term;
//   reduce     the all-reduce exchange of batchNorm (two areas, alternated, so one barrier per call).

import { tf } from '../engine/tf.js';
import { UserError } from '../errors.js';

/** Indices into `control`. */
const STEP = 0; // incremented by the main thread to start a step
const DONE = 1; // replicas done with the current step
const BARRIER_COUNT = 2;
const BARRIER_GENERATION = 3;
const STOP = 4; // 1: replicas exit
const FAILED = 5; // 1: a replica failed; every wait gives up
const ROWS = 6; // rows of the current batch
const TRAINING_STEP = 7; // the step number seeded layers draw from
const ALL_WEIGHTS = 8; // 1: replicas load the frozen weights too (first step, after a resume)
const TERM_NAMES = 9; // byte length of the loss terms' names (JSON), written once by replica 0
const HAS_TEACHER = 10;
const EPOCH = 11; // the epoch whose loss weights apply (a term's warm-up)
const KIND = 12; // what the step computes: STEP_KINDS
const WEIGHTS_VERSION = 13; // incremented by the main thread each time it writes the trainable weights
const CONTROL_SLOTS = 14;

/** A training step (loss and gradients of a shard), or an inference step (the shard's logits). */
export type StepKind = 'train' | 'infer';
const STEP_KINDS: StepKind[] = ['train', 'infer'];

/** At most this many named loss terms are carried per step. */
export const MAX_TERMS = 15;
const NAME_BYTES = 4096;
/** How long a blocked wait sleeps before it checks whether a replica failed. */
const POLL_MS = 500;

export interface ReplicaLayout {
  threads: number;
  batchSize: number;
  /** Floats of one image (h * w * c). */
  imageSize: number;
  classes: number;
  /** Width of the model's output (its logits). */
  outputWidth: number;
  trainableSizes: number[];
  /** Room for every replica's gradients (false for a pool that only computes logits). */
  gradients: boolean;
  frozenSizes: number[];
  /** Floats per replica of the largest all-reduce (2 x the widest batchNorm, plus one). */
  reduceCapacity: number;
}

export interface ReplicaBuffers {
  layout: ReplicaLayout;
  control: SharedArrayBuffer;
  floats: SharedArrayBuffer;
  labels: SharedArrayBuffer;
  scalars: SharedArrayBuffer;
  names: SharedArrayBuffer;
}

export class ReplicaFailed extends Error {}

type WaitAsync = (array: Int32Array, index: number, value: number, timeout: number) => { async: boolean; value: Promise<string> | string };

const total = (sizes: number[]) => sizes.reduce((a, b) => a + b, 0);

export class ReplicaMemory {
  readonly layout: ReplicaLayout;
  readonly buffers: ReplicaBuffers;
  private readonly control: Int32Array;
  readonly trainable: Float32Array;
  readonly frozen: Float32Array;
  private readonly images: Float32Array[];
  private readonly teacherLogits: Float32Array[];
  /** The logits of the current inference step, [rows, outputWidth]. */
  readonly outputs: Float32Array;
  private readonly labelSlots: Int32Array[];
  private readonly grads: Float32Array;
  private readonly scalars: Float64Array;
  private readonly names: Uint8Array;
  private readonly reduce: Float32Array;

  /** Allocates the buffers of `layout` (main thread), or views the buffers it was given (replicas). */
  constructor(from: ReplicaLayout | ReplicaBuffers) {
    const layout = 'layout' in from ? from.layout : from;
    const { threads, batchSize, imageSize, classes, reduceCapacity } = layout;
    const parts = {
      trainable: total(layout.trainableSizes),
      frozen: total(layout.frozenSizes),
      images: 2 * batchSize * imageSize,
      teacher: 2 * batchSize * classes,
      outputs: batchSize * layout.outputWidth,
      grads: layout.gradients ? threads * total(layout.trainableSizes) : 0,
      reduce: 2 * threads * reduceCapacity,
    };
    this.layout = layout;
    this.buffers = 'layout' in from ? from : {
      layout,
      control: new SharedArrayBuffer(CONTROL_SLOTS * 4),
      floats: new SharedArrayBuffer(4 * Object.values(parts).reduce((a, b) => a + b, 0)),
      labels: new SharedArrayBuffer(4 * 2 * batchSize),
      scalars: new SharedArrayBuffer(8 * threads * (1 + MAX_TERMS)),
      names: new SharedArrayBuffer(NAME_BYTES),
    };
    this.control = new Int32Array(this.buffers.control);
    let at = 0;
    const floats = (n: number) => {
      const view = new Float32Array(this.buffers.floats, at * 4, n);
      at += n;
      return view;
    };
    this.trainable = floats(parts.trainable);
    this.frozen = floats(parts.frozen);
    this.images = [floats(batchSize * imageSize), floats(batchSize * imageSize)];
    this.teacherLogits = [floats(batchSize * classes), floats(batchSize * classes)];
    this.outputs = floats(parts.outputs);
    this.grads = floats(parts.grads);
    this.reduce = floats(parts.reduce);
    this.labelSlots = [0, 1].map((slot) => new Int32Array(this.buffers.labels, slot * batchSize * 4, batchSize));
    this.scalars = new Float64Array(this.buffers.scalars);
    this.names = new Uint8Array(this.buffers.names);
  }

  // ---- the main thread's side

  /** Puts a batch in the slot of step `sequence` (the one after the running step's). */
  writeInputs(sequence: number, x: Float32Array, labels: Int32Array | Float32Array | Uint8Array | number[], teacherLogits?: Float32Array): void {
    const slot = sequence % 2;
    this.images[slot].set(x);
    this.labelSlots[slot].set(labels);
    if (teacherLogits) this.teacherLogits[slot].set(teacherLogits);
  }

  /** Says that `trainable` holds new weights (replicas load them at their next step). */
  trainableWritten(): void {
    Atomics.add(this.control, WEIGHTS_VERSION, 1);
  }

  /** Which writing of the trainable weights `trainable` holds. */
  trainableVersion(): number {
    return Atomics.load(this.control, WEIGHTS_VERSION);
  }

  /** Starts step `sequence` (1, 2, ...) on `rows` rows, whose inputs were written. */
  start(sequence: number, options: { kind: StepKind; rows: number; trainingStep: number; epoch: number; allWeights: boolean; teacher: boolean }): void {
    Atomics.store(this.control, KIND, STEP_KINDS.indexOf(options.kind));
    Atomics.store(this.control, ROWS, options.rows);
    Atomics.store(this.control, TRAINING_STEP, options.trainingStep);
    Atomics.store(this.control, EPOCH, options.epoch);
    Atomics.store(this.control, ALL_WEIGHTS, options.allWeights ? 1 : 0);
    Atomics.store(this.control, HAS_TEACHER, options.teacher ? 1 : 0);
    Atomics.store(this.control, DONE, 0);
    Atomics.store(this.control, STEP, sequence);
    Atomics.notify(this.control, STEP);
  }

  /** Resolves once `replicas` replicas are done with the current step (or one failed), without blocking
   * the event loop. */
  async finished(replicas: number): Promise<void> {
    for (;;) {
      const done = Atomics.load(this.control, DONE);
      if (done >= replicas || this.failed()) return;
      // Atomics.waitAsync: Node 16+, typed from lib es2024.
      const wait = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync(this.control, DONE, done, POLL_MS);
      if (wait.async) await wait.value;
    }
  }

  /** The gradients of the step, summed over `replicas` in replica order, one array per trainable weight. */
  summedGradients(replicas: number): Float32Array[] {
    const size = this.trainable.length;
    const sum = new Float32Array(size);
    sum.set(this.grads.subarray(0, size));
    for (let r = 1; r < replicas; r++) {
      const part = this.grads.subarray(r * size, (r + 1) * size);
      for (let i = 0; i < size; i++) sum[i] += part[i];
    }
    return split(sum, this.layout.trainableSizes);
  }

  /** The step's loss and named terms, summed over `replicas` in replica order. */
  summedScalars(replicas: number): { loss: number; terms: [string, number][] } {
    const names = this.termNames();
    const width = 1 + MAX_TERMS;
    const sums = new Float64Array(1 + names.length);
    for (let r = 0; r < replicas; r++) for (let i = 0; i < sums.length; i++) sums[i] += this.scalars[r * width + i];
    return { loss: sums[0], terms: names.map((name, i) => [name, sums[i + 1]]) };
  }

  stop(): void {
    Atomics.store(this.control, STOP, 1);
    Atomics.notify(this.control, STEP);
  }

  // ---- a replica's side

  /** Blocks until the step after `sequence` starts; returns its number, or undefined when told to stop. */
  awaitStep(sequence: number): number | undefined {
    for (;;) {
      if (Atomics.load(this.control, STOP) === 1) return undefined;
      const next = Atomics.load(this.control, STEP);
      if (next !== sequence) return next;
      Atomics.wait(this.control, STEP, sequence, POLL_MS);
    }
  }

  step(sequence: number) {
    const slot = sequence % 2;
    return {
      kind: STEP_KINDS[Atomics.load(this.control, KIND)],
      rows: Atomics.load(this.control, ROWS),
      trainingStep: Atomics.load(this.control, TRAINING_STEP),
      epoch: Atomics.load(this.control, EPOCH),
      allWeights: Atomics.load(this.control, ALL_WEIGHTS) === 1,
      images: this.images[slot],
      labels: this.labelSlots[slot],
      teacherLogits: Atomics.load(this.control, HAS_TEACHER) === 1 ? this.teacherLogits[slot] : undefined,
    };
  }

  /** Replica `index`'s region of the gradients, one array per trainable weight. */
  gradientsOf(index: number): Float32Array[] {
    const size = this.trainable.length;
    return split(this.grads.subarray(index * size, (index + 1) * size), this.layout.trainableSizes);
  }

  writeScalars(index: number, loss: number, terms: [string, number][]): void {
    if (terms.length > MAX_TERMS) throw new UserError(`a loss with more than ${MAX_TERMS} terms cannot be trained on several threads: give --threads 1`);
    const width = 1 + MAX_TERMS;
    this.scalars[index * width] = loss;
    terms.forEach(([, value], i) => (this.scalars[index * width + 1 + i] = value));
    if (index === 0 && Atomics.load(this.control, TERM_NAMES) === 0 && terms.length > 0) {
      const bytes = new TextEncoder().encode(JSON.stringify(terms.map(([name]) => name)));
      if (bytes.length > NAME_BYTES) throw new UserError('the loss terms\' names are too long to be trained on several threads: give --threads 1');
      this.names.set(bytes);
      Atomics.store(this.control, TERM_NAMES, bytes.length);
    }
  }

  done(): void {
    Atomics.add(this.control, DONE, 1);
    Atomics.notify(this.control, DONE);
  }

  /** Marks the job failed: the main thread and the other replicas stop waiting. */
  fail(): void {
    Atomics.store(this.control, FAILED, 1);
    for (const slot of [DONE, STEP, BARRIER_GENERATION]) Atomics.notify(this.control, slot);
  }

  failed(): boolean {
    return Atomics.load(this.control, FAILED) === 1;
  }

  /**
   * `values` of replica `index` summed over the `replicas` replicas of this step, in replica order.
   * `call` counts the all-reduces of the step (0, 1, ...): it picks the exchange area, so that a replica
   * writing the next call's values never overwrites what another still reads of this one.
   */
  allReduce(index: number, replicas: number, call: number, values: Float32Array): Float32Array {
    const capacity = this.layout.reduceCapacity;
    if (values.length > capacity) throw new Error(`all-reduce of ${values.length} values exceeds the capacity ${capacity}`);
    const area = (call % 2) * this.layout.threads * capacity;
    this.reduce.set(values, area + index * capacity);
    this.barrier(replicas);
    const sum = new Float32Array(values.length);
    for (let r = 0; r < replicas; r++) {
      const part = this.reduce.subarray(area + r * capacity, area + r * capacity + values.length);
      for (let i = 0; i < sum.length; i++) sum[i] += part[i];
    }
    return sum;
  }

  /** Blocks until `replicas` replicas have reached it. */
  private barrier(replicas: number): void {
    const generation = Atomics.load(this.control, BARRIER_GENERATION);
    if (Atomics.add(this.control, BARRIER_COUNT, 1) === replicas - 1) {
      Atomics.store(this.control, BARRIER_COUNT, 0);
      Atomics.add(this.control, BARRIER_GENERATION, 1);
      Atomics.notify(this.control, BARRIER_GENERATION);
      return;
    }
    while (Atomics.load(this.control, BARRIER_GENERATION) === generation) {
      if (this.failed()) throw new ReplicaFailed('another replica failed');
      Atomics.wait(this.control, BARRIER_GENERATION, generation, POLL_MS);
    }
  }

  private termNames(): string[] {
    const length = Atomics.load(this.control, TERM_NAMES);
    return length === 0 ? [] : (JSON.parse(new TextDecoder().decode(this.names.slice(0, length))) as string[]);
  }
}

/** `flat` cut into consecutive views of `sizes`. */
export function split(flat: Float32Array, sizes: number[]): Float32Array[] {
  let at = 0;
  return sizes.map((n) => {
    const part = flat.subarray(at, at + n);
    at += n;
    return part;
  });
}

/** Rows [offset, offset + rows) of a batch of `batch` rows for replica `index` of `replicas`: contiguous,
 * in replica order, the first `batch % replicas` one row larger. */
export function shardOf(batch: number, replicas: number, index: number): { offset: number; rows: number } {
  const base = Math.floor(batch / replicas);
  const extra = batch % replicas;
  return { offset: index * base + Math.min(index, extra), rows: base + (index < extra ? 1 : 0) };
}

type Weights = { read(): tf.Tensor; write(value: tf.Tensor): unknown }[];

/** Copies weights out of shared memory (into tensors of their own: the memory changes under them). */
export function loadWeights(weights: Weights, from: Float32Array): void {
  let at = 0;
  for (const weight of weights) {
    const current = weight.read();
    tf.tidy(() => {
      weight.write(tf.tensor(from.slice(at, at + current.size), current.shape));
    });
    at += current.size;
  }
}

/** Copies weights into shared memory, one after the other. */
export function saveWeights(weights: Weights, to: Float32Array): void {
  let at = 0;
  for (const weight of weights) {
    const values = weight.read().dataSync() as Float32Array;
    to.set(values, at);
    at += values.length;
  }
}
