// Built-in optimizers with PyTorch's update rules (torch.optim.AdamW, Adam, SGD), as tf.Optimizer
// subclasses whose whole state — per-variable moments/buffers and step counts, and the global step —
// can be checkpointed with getWeights() and restored exactly with setWeights().
//
// State is kept per variable in a "slot": non-trainable tf.variables updated in place with assign(), so
// the number of live tensors stays flat from the second step on (slots are created lazily on the first
// gradient a variable receives, like torch's lazily created state). Slots are matched to variables by
// name; a restored slot whose name no longer exists (a model rebuilt in the same process gets new layer
// names) is matched by position in the gradient list instead, with its shape checked.
import { tf } from '../engine/tf.js';
import type { Tensor } from '../engine/tf.js';
import type { KdxOptimizer, NamedTensor, OptimizerConfig, OptimizerFactory } from '../registry/types.js';
import { ADAM_UPDATE, hasAdamUpdate } from '../engine/adam-kernel.js';

type Variable = ReturnType<typeof tf.variable>;
type ConfigDict = ReturnType<tf.Optimizer['getConfig']>;

interface Slot {
  /** Name of the variable the slot belongs to (as saved: `<name>/<key>`). */
  name: string;
  /** Updates this variable has received (torch keeps a step per parameter too). */
  step: number;
  /** State tensors by key (`m`, `v`; `momentum`). */
  state: Map<string, Variable>;
  /** False for restored slots not yet matched to a live variable. */
  bound: boolean;
}

/** Name of the global step count in getWeights() (tfjs's convention: first, int32 scalar). */
const ITER = 'iter';
/** Suffix of a slot's step count. */
const STEP = 'step';

function splitName(name: string): [string, string] {
  const at = name.lastIndexOf('/');
  if (at <= 0) throw new Error(`optimizer state "${name}" is not of the form <variable>/<key>`);
  return [name.slice(0, at), name.slice(at + 1)];
}

/**
 * The machinery the three optimizers share: slots, applyGradients, checkpointing. A subclass names its
 * state keys and implements `update` (called inside a tidy).
 */
export abstract class SlottedOptimizer extends tf.Optimizer implements KdxOptimizer {
  private slots: Slot[] = [];
  private readonly byName = new Map<string, Slot>();

  protected constructor(
    protected learningRate: number,
    /** Keys of the per-variable state tensors, in the order they are saved. */
    private readonly stateKeys: readonly string[],
  ) {
    super();
    this.iterations_ = 0;
  }

  /** One update of `variable` by `gradient`; `slot.step` already counts this update. */
  protected abstract update(variable: Variable, gradient: Tensor, slot: Slot): void;

  /** The learning rate used by the next applyGradients (schedules set it every step). */
  get lr(): number {
    return this.learningRate;
  }

  setLearningRate(lr: number): void {
    if (!Number.isFinite(lr) || lr < 0) throw new Error(`learning rate must be a number >= 0 (got ${lr})`);
    this.learningRate = lr;
  }

  applyGradients(gradients: NamedTensor[] | Record<string, Tensor>): void {
    const list: NamedTensor[] = Array.isArray(gradients)
      ? gradients
      : Object.entries(gradients).map(([name, tensor]) => ({ name, tensor }));
    const names = new Set(list.map((g) => g.name));
    tf.tidy(() => {
      list.forEach(({ name, tensor }, index) => {
        if (tensor == null) return; // no gradient reached this variable (tf.Optimizer.minimize passes those)
        const variable = tf.engine().registeredVariables[name];
        if (variable === undefined) throw new Error(`optimizer: no variable named "${name}" to apply a gradient to`);
        if (!tf.util.arraysEqual(tensor.shape, variable.shape)) {
          throw new Error(`optimizer: gradient of "${name}" has shape [${tensor.shape}], the variable [${variable.shape}]`);
        }
        const slot = this.slotFor(name, index, variable, names);
        slot.step += 1;
        this.update(variable, tensor, slot);
      });
    });
    this.incrementIterations();
  }

  private slotFor(name: string, index: number, variable: Variable, names: Set<string>): Slot {
    const known = this.byName.get(name);
    if (known !== undefined) {
      const shape = known.state.values().next().value?.shape;
      if (shape !== undefined && !tf.util.arraysEqual(shape, variable.shape)) {
        throw new Error(`optimizer state of "${name}" has shape [${shape}], the variable [${variable.shape}]`);
      }
      known.bound = true;
      return known;
    }
    // A restored slot for a variable that is not here under its saved name: match by position.
    const candidate = this.slots[index];
    if (candidate !== undefined && !candidate.bound && !names.has(candidate.name)) {
      const shape = candidate.state.values().next().value?.shape;
      if (shape === undefined || tf.util.arraysEqual(shape, variable.shape)) {
        this.byName.delete(candidate.name);
        candidate.name = name;
        candidate.bound = true;
        this.byName.set(name, candidate);
        return candidate;
      }
    }
    const slot: Slot = { name, step: 0, state: new Map(), bound: true };
    for (const key of this.stateKeys) {
      slot.state.set(key, tf.tidy(() => tf.variable(tf.zerosLike(variable), false)));
    }
    this.slots.push(slot);
    this.byName.set(name, slot);
    return slot;
  }

  /**
   * The state: `iter` (global step, int32 scalar) first, then for every variable seen, in order of
   * first appearance, `<variable>/step` (int32 scalar) and `<variable>/<key>` for each state tensor.
   * The tensors are copies the caller owns: dispose them once encoded (`tf.io.encodeWeights`).
   */
  override async getWeights(): Promise<NamedTensor[]> {
    const weights: NamedTensor[] = [{ name: ITER, tensor: tf.scalar(this.iterations, 'int32') }];
    for (const slot of this.slots) {
      weights.push({ name: `${slot.name}/${STEP}`, tensor: tf.scalar(slot.step, 'int32') });
      for (const key of this.stateKeys) weights.push({ name: `${slot.name}/${key}`, tensor: tf.clone(slot.state.get(key)!) });
    }
    return weights;
  }

  /** Restores what getWeights() gave (the caller keeps ownership of the tensors passed in). */
  override async setWeights(weights: NamedTensor[]): Promise<void> {
    if (weights.length === 0 || weights[0].name !== ITER) {
      throw new Error(`optimizer state must start with "${ITER}" (got ${weights.length === 0 ? 'nothing' : `"${weights[0].name}"`})`);
    }
    const iterations = (await weights[0].tensor.data())[0];
    const groups = new Map<string, Map<string, Tensor>>();
    for (const { name, tensor } of weights.slice(1)) {
      const [variable, key] = splitName(name);
      if (key !== STEP && !this.stateKeys.includes(key)) {
        throw new Error(`optimizer state "${name}": unknown key "${key}" for ${this.getClassName()} (expects ${[STEP, ...this.stateKeys].join(', ')})`);
      }
      let group = groups.get(variable);
      if (group === undefined) groups.set(variable, (group = new Map()));
      if (group.has(key)) throw new Error(`optimizer state "${name}" appears twice`);
      group.set(key, tensor);
    }
    const slots: Slot[] = [];
    for (const [name, group] of groups) {
      for (const key of [STEP, ...this.stateKeys]) {
        if (!group.has(key)) throw new Error(`optimizer state of "${name}" lacks "${key}"`);
      }
      const step = (await group.get(STEP)!.data())[0];
      const state = new Map<string, Variable>();
      for (const key of this.stateKeys) {
        const value = group.get(key)!;
        state.set(key, tf.tidy(() => tf.variable(value.toFloat(), false)));
      }
      slots.push({ name, step, state, bound: false });
    }
    this.disposeSlots();
    this.slots = slots;
    for (const slot of slots) this.byName.set(slot.name, slot);
    this.iterations_ = iterations;
  }

  private disposeSlots(): void {
    for (const slot of this.slots) for (const v of slot.state.values()) v.dispose();
    this.slots = [];
    this.byName.clear();
  }

  override dispose(): void {
    this.disposeSlots();
  }
}

// ---------------------------------------------------------------------------------------------
// Adam / AdamW

export interface AdamOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

/**
 * torch.optim.Adam (`decoupled: false`: weight decay is L2, added to the gradient) or torch.optim.AdamW
 * (`decoupled: true`: p *= 1 - lr * wd before the Adam step). Bias-corrected, amsgrad off.
 */
export class TorchAdam extends SlottedOptimizer {
  static get className(): string {
    return 'KdxAdam';
  }

  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;

  constructor(options: AdamOptions, readonly decoupled: boolean) {
    super(options.lr, ['m', 'v']);
    [this.beta1, this.beta2] = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? (decoupled ? 0.01 : 0);
  }

  protected update(p: Variable, gradient: Tensor, slot: Slot): void {
    const lr = this.learningRate;
    const m = slot.state.get('m')!;
    const v = slot.state.get('v')!;
    if (hasAdamUpdate()) {
      // The same arithmetic as below in one pass over memory (engine/adam-kernel.ts).
      const attrs = { lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay, decoupled: this.decoupled, step: slot.step };
      const [p1, m1, v1] = tf.engine().runKernel(ADAM_UPDATE, { p, m, v, g: gradient }, attrs as unknown as tf.NamedAttrMap) as Tensor[];
      p.assign(p1);
      m.assign(m1);
      v.assign(v1);
      return;
    }
    let g = gradient;
    if (this.weightDecay !== 0) {
      if (this.decoupled) p.assign(tf.mul(p, 1 - lr * this.weightDecay));
      else g = tf.add(g, tf.mul(p, this.weightDecay));
    }
    m.assign(tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1)));
    v.assign(tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2)));
    const biasCorrection1 = 1 - Math.pow(this.beta1, slot.step);
    const biasCorrection2 = 1 - Math.pow(this.beta2, slot.step);
    const stepSize = lr / biasCorrection1;
    const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(biasCorrection2)), this.eps);
    p.assign(tf.sub(p, tf.mul(tf.div(m, denom), stepSize)));
  }

  getConfig(): ConfigDict {
    return {
      lr: this.learningRate,
      betas: [this.beta1, this.beta2],
      eps: this.eps,
      weightDecay: this.weightDecay,
      decoupled: this.decoupled,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// SGD

export interface SgdOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

/**
 * torch.optim.SGD: d = g + wd * p; with momentum the buffer starts as d and then is
 * buf = momentum * buf + (1 - dampening) * d; d = nesterov ? d + momentum * buf : buf; p -= lr * d.
 */
export class TorchSgd extends SlottedOptimizer {
  static get className(): string {
    return 'KdxSGD';
  }

  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;

  constructor(options: SgdOptions) {
    const momentum = options.momentum ?? 0;
    super(options.lr, momentum !== 0 ? ['momentum'] : []);
    this.momentum = momentum;
    this.dampening = options.dampening ?? 0;
    this.nesterov = options.nesterov ?? false;
    this.weightDecay = options.weightDecay ?? 0;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new Error('optimizer sgd: nesterov needs momentum > 0 and dampening 0');
    }
  }

  protected update(p: Variable, gradient: Tensor, slot: Slot): void {
    let d = gradient;
    if (this.weightDecay !== 0) d = tf.add(d, tf.mul(p, this.weightDecay));
    if (this.momentum !== 0) {
      const buf = slot.state.get('momentum')!;
      buf.assign(slot.step === 1 ? d : tf.add(tf.mul(buf, this.momentum), tf.mul(d, 1 - this.dampening)));
      d = this.nesterov ? tf.add(d, tf.mul(buf, this.momentum)) : buf;
    }
    p.assign(tf.sub(p, tf.mul(d, this.learningRate)));
  }

  getConfig(): ConfigDict {
    return {
      lr: this.learningRate,
      momentum: this.momentum,
      dampening: this.dampening,
      nesterov: this.nesterov,
      weightDecay: this.weightDecay,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Factories

function fail(config: OptimizerConfig, key: string, rule: string): never {
  throw new Error(`optimizer ${config.name}: ${key} ${rule} (got ${JSON.stringify(config[key])})`);
}

function optionalNumber(config: OptimizerConfig, key: string, check: (v: number) => boolean, rule: string): number | undefined {
  const value = config[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || !check(value)) fail(config, key, rule);
  return value;
}

function learningRate(config: OptimizerConfig): number {
  if (typeof config.lr !== 'number' || !Number.isFinite(config.lr) || config.lr < 0) fail(config, 'lr', 'must be a number >= 0');
  return config.lr;
}

function adamOptions(config: OptimizerConfig): AdamOptions {
  const betas = config.betas;
  if (
    betas !== undefined &&
    !(Array.isArray(betas) && betas.length === 2 && betas.every((b) => typeof b === 'number' && b >= 0 && b < 1))
  ) {
    fail(config, 'betas', 'must be two numbers in [0, 1)');
  }
  return {
    lr: learningRate(config),
    betas: betas as [number, number] | undefined,
    eps: optionalNumber(config, 'eps', (v) => v >= 0, 'must be >= 0'),
    weightDecay: optionalNumber(config, 'weightDecay', (v) => v >= 0, 'must be >= 0'),
  };
}

export const adamwOptimizer: OptimizerFactory = {
  description: 'AdamW as torch.optim.AdamW (decoupled weight decay); {lr, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01}',
  defaults: { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01 },
  create: (config) => new TorchAdam(adamOptions(config), true),
};

export const adamOptimizer: OptimizerFactory = {
  description: 'Adam as torch.optim.Adam (weight decay as L2 on the gradient); {lr, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0}',
  defaults: { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 },
  create: (config) => new TorchAdam(adamOptions(config), false),
};

export const sgdOptimizer: OptimizerFactory = {
  description: 'SGD as torch.optim.SGD; {lr, momentum: 0, nesterov: false, dampening: 0, weightDecay: 0}',
  defaults: { momentum: 0, nesterov: false, dampening: 0, weightDecay: 0 },
  create(config) {
    const nesterov = config.nesterov;
    if (nesterov !== undefined && typeof nesterov !== 'boolean') fail(config, 'nesterov', 'must be true or false');
    return new TorchSgd({
      lr: learningRate(config),
      momentum: optionalNumber(config, 'momentum', (v) => v >= 0, 'must be >= 0'),
      dampening: optionalNumber(config, 'dampening', (v) => v >= 0 && v <= 1, 'must be in [0, 1]'),
      nesterov,
      weightDecay: optionalNumber(config, 'weightDecay', (v) => v >= 0, 'must be >= 0'),
    });
  },
};

/** The built-in optimizers under the names experiment files use. */
export const builtinOptimizers: Record<string, OptimizerFactory> = {
  adamw: adamwOptimizer,
  adam: adamOptimizer,
  sgd: sgdOptimizer,
};
