// The built-in optimizers against PyTorch: AdamW trajectories from
// test/fixtures/adamw_reference.json (PyTorch's values, copied into the repository), SGD (momentum, nesterov, dampening, weight decay), Adam
// (L2 weight decay) and AdamW options against trajectories PyTorch computed; exact checkpoint/restore;
// no tensor growth across steps.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tf } from '../../src/engine/tf.js';
import type { Tensor } from '../../src/engine/tf.js';
import type { KdxOptimizer, NamedTensor, OptimizerConfig } from '../../src/registry/types.js';
import { builtinOptimizers, TorchAdam, TorchSgd } from '../../src/plugins/optimizers.js';

interface AdamwRun {
  lr: number;
  weight_decay: number;
  betas: [number, number];
  eps: number;
  W0: number[][];
  x: number[][];
  b: number[][];
  W_after_each_step: number[][][];
}

const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/adamw_reference.json', import.meta.url), 'utf8'),
) as { runs: AdamwRun[] };

const RTOL = 1e-5;
const ATOL = 1e-7;

function relError(actual: ArrayLike<number>, expected: number[]): number {
  assert.equal(actual.length, expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / (Math.abs(expected[i]) + ATOL / RTOL));
  }
  return worst;
}

function assertClose(actual: ArrayLike<number>, expected: number[], what: string): void {
  const err = relError(actual, expected);
  assert.ok(err <= RTOL, `${what}: relative error ${err.toExponential(2)} > ${RTOL}`);
}

/**
 * The step itself (W_k - W_(k-1)) to 1e-3 relative: the weights are ~1 and the steps ~lr, so the check
 * of W alone to 1e-5 would let a step be off by 1%. (Measured here: 1e-5.)
 */
function assertStepClose(before: ArrayLike<number>, after: ArrayLike<number>, wantBefore: number[], wantAfter: number[], what: string): void {
  let worst = 0;
  for (let i = 0; i < wantAfter.length; i++) {
    const want = wantAfter[i] - wantBefore[i];
    const got = after[i] - before[i];
    worst = Math.max(worst, Math.abs(got - want) / (Math.abs(want) + 1e-6));
  }
  assert.ok(worst <= 1e-3, `${what}: the update differs by ${worst.toExponential(2)} relative`);
}

/** One problem of the fixtures: W a variable, loss sum((W @ x - b)^2). */
class Problem {
  readonly W: ReturnType<typeof tf.variable>;
  private readonly x: Tensor;
  private readonly b: Tensor;

  constructor(W0: number[][], x: number[][], b: number[][], name?: string) {
    this.W = tf.variable(tf.tensor2d(W0), true, name);
    this.x = tf.tensor2d(x);
    this.b = tf.tensor2d(b);
  }

  step(optimizer: KdxOptimizer): void {
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(tf.sub(tf.matMul(this.W, this.x), this.b))), [this.W]);
    optimizer.applyGradients(grads);
    tf.dispose([value, grads]);
  }

  values(): Float32Array {
    return this.W.dataSync() as Float32Array;
  }

  dispose(): void {
    tf.dispose([this.W, this.x, this.b]);
  }
}

function adamwConfig(run: AdamwRun): OptimizerConfig {
  return { name: 'adamw', lr: run.lr, betas: run.betas, eps: run.eps, weightDecay: run.weight_decay };
}

/** getWeights -> the bytes a checkpoint holds -> tensors again, as the runner saves and loads them. */
async function throughCheckpoint(optimizer: KdxOptimizer): Promise<NamedTensor[]> {
  const weights = await optimizer.getWeights();
  const { data, specs } = await tf.io.encodeWeights(weights);
  tf.dispose(weights.map((w) => w.tensor));
  const decoded = tf.io.decodeWeights(data, specs);
  return specs.map((s) => ({ name: s.name, tensor: decoded[s.name] }));
}

before(async () => {
  await tf.setBackend('cpu');
});

test('registered names', () => {
  assert.deepEqual(Object.keys(builtinOptimizers).sort(), ['adam', 'adamw', 'sgd']);
  const adamw = builtinOptimizers.adamw.create({ name: 'adamw', lr: 1e-3 }) as TorchAdam;
  assert.deepEqual([adamw.beta1, adamw.beta2, adamw.eps, adamw.weightDecay, adamw.decoupled], [0.9, 0.999, 1e-8, 0.01, true]);
  const adam = builtinOptimizers.adam.create({ name: 'adam', lr: 1e-3 }) as TorchAdam;
  assert.deepEqual([adam.weightDecay, adam.decoupled], [0, false]);
  const sgd = builtinOptimizers.sgd.create({ name: 'sgd', lr: 0.1 }) as TorchSgd;
  assert.deepEqual([sgd.momentum, sgd.nesterov, sgd.dampening, sgd.weightDecay], [0, false, 0, 0]);
  assert.ok(adamw instanceof tf.Optimizer);
  [adamw, adam, sgd].forEach((o) => o.dispose());
});

test('bad options are plain errors', () => {
  assert.throws(() => builtinOptimizers.adamw.create({ name: 'adamw', lr: -1 }), /optimizer adamw: lr must be a number >= 0 \(got -1\)/);
  assert.throws(() => builtinOptimizers.adamw.create({ name: 'adamw', lr: 1, betas: [0.9] }), /betas must be two numbers/);
  assert.throws(() => builtinOptimizers.sgd.create({ name: 'sgd', lr: 1, nesterov: true }), /nesterov needs momentum > 0/);
  assert.throws(() => builtinOptimizers.sgd.create({ name: 'sgd', lr: 1, nesterov: 'yes' }), /nesterov must be true or false/);
  assert.throws(() => builtinOptimizers.adam.create({ name: 'adam', lr: 1, weightDecay: -0.1 }), /weightDecay must be >= 0/);
});

for (const [i, run] of fixture.runs.entries()) {
  test(`adamw matches torch.optim.AdamW: run ${i} (lr ${run.lr}, weight decay ${run.weight_decay})`, () => {
    const problem = new Problem(run.W0, run.x, run.b);
    const optimizer = builtinOptimizers.adamw.create(adamwConfig(run));
    let previous = problem.values().slice();
    for (const [step, want] of run.W_after_each_step.entries()) {
      problem.step(optimizer);
      assertClose(problem.values(), want.flat(), `step ${step + 1}`);
      assertStepClose(previous, problem.values(), (step === 0 ? run.W0 : run.W_after_each_step[step - 1]).flat(), want.flat(), `step ${step + 1}`);
      previous = problem.values().slice();
    }
    optimizer.dispose();
    problem.dispose();
  });

  test(`adamw checkpoint mid-run restores exactly: run ${i}`, async () => {
    const steps = run.W_after_each_step.length;
    const split = 2;
    // Uninterrupted.
    const straight = new Problem(run.W0, run.x, run.b);
    const first = builtinOptimizers.adamw.create(adamwConfig(run));
    const trajectory: Float32Array[] = [];
    for (let s = 0; s < steps; s++) {
      straight.step(first);
      trajectory.push(straight.values().slice());
    }
    // Interrupted after `split` steps: the state goes through checkpoint bytes into a new optimizer.
    const resumed = new Problem(run.W0, run.x, run.b);
    const before = builtinOptimizers.adamw.create(adamwConfig(run));
    for (let s = 0; s < split; s++) resumed.step(before);
    const state = await throughCheckpoint(before);
    assert.deepEqual(
      state.map((w) => w.name),
      ['iter', `${resumed.W.name}/step`, `${resumed.W.name}/m`, `${resumed.W.name}/v`],
    );
    assert.equal(state[0].tensor.dtype, 'int32');
    assert.equal(state[0].tensor.dataSync()[0], split);
    before.dispose();
    const after = builtinOptimizers.adamw.create(adamwConfig(run)) as TorchAdam;
    await after.setWeights(state);
    tf.dispose(state.map((w) => w.tensor)); // setWeights keeps its own copies
    assert.equal(after.iterations, split);
    for (let s = split; s < steps; s++) {
      resumed.step(after);
      assert.deepEqual(resumed.values(), trajectory[s], `step ${s + 1} differs from the uninterrupted run`);
      assertClose(resumed.values(), run.W_after_each_step[s].flat(), `resumed step ${s + 1}`);
    }
    after.dispose();
    first.dispose();
    straight.dispose();
    resumed.dispose();
  });
}

test('restored state follows a variable renamed by a rebuilt model (matched by position)', async () => {
  const run = fixture.runs[1];
  const straight = new Problem(run.W0, run.x, run.b);
  const a = builtinOptimizers.adamw.create(adamwConfig(run));
  for (let s = 0; s < 2; s++) straight.step(a);
  const state = await throughCheckpoint(a);
  // A new problem whose variable has another name, starting from the weights reached so far.
  const rebuilt = new Problem(
    run.W_after_each_step[1].map((row, r) => row.map((_, c) => straight.values()[r * 4 + c])),
    run.x,
    run.b,
    `renamed_${Date.now()}`,
  );
  const b = builtinOptimizers.adamw.create(adamwConfig(run));
  await b.setWeights(state);
  tf.dispose(state.map((w) => w.tensor));
  for (let s = 2; s < run.W_after_each_step.length; s++) {
    straight.step(a);
    rebuilt.step(b);
    assert.deepEqual(rebuilt.values(), straight.values());
  }
  const names = (await b.getWeights()).map((w) => { w.tensor.dispose(); return w.name; });
  assert.deepEqual(names, ['iter', `${rebuilt.W.name}/step`, `${rebuilt.W.name}/m`, `${rebuilt.W.name}/v`]);
  [a, b].forEach((o) => o.dispose());
  straight.dispose();
  rebuilt.dispose();
});

test('setWeights rejects state of another optimizer', async () => {
  const run = fixture.runs[0];
  const p = new Problem(run.W0, run.x, run.b);
  const adamw = builtinOptimizers.adamw.create(adamwConfig(run));
  p.step(adamw);
  const state = await adamw.getWeights();
  const sgd = builtinOptimizers.sgd.create({ name: 'sgd', lr: 0.1, momentum: 0.9 });
  await assert.rejects(sgd.setWeights(state), /unknown key "m"/);
  await assert.rejects(sgd.setWeights(state.slice(1)), /must start with "iter"/);
  tf.dispose(state.map((w) => w.tensor));
  [adamw, sgd].forEach((o) => o.dispose());
  p.dispose();
});

// ---------------------------------------------------------------------------------------------
// SGD, Adam, AdamW options against PyTorch 1.13.0a0 (Debian python3-torch, /usr/bin/python3):
//   W = torch.tensor(W0, requires_grad=True); x = torch.tensor(X); b = torch.tensor(B)
//   opt = torch.optim.<Class>([W], **options)
//   4 times: [set param_groups lr if listed]; zero_grad(); ((W @ x - b) ** 2).sum().backward(); opt.step()
//   -> W.tolist() after each step
const W0 = [[0.5, -1.2, 0.3], [1.1, 0.4, -0.7]];
const X = [[1.0, -0.5], [0.2, 0.8], [-1.5, 0.3]];
const B = [[0.1, -0.2], [0.3, 0.5]];

interface TorchCase {
  /** torch: torch.optim.SGD(lr=0.05, ...) etc. */
  config: OptimizerConfig;
  /** Learning rate set before each step (torch: param_group['lr'] = ...). */
  lrs?: number[];
  trajectory: number[][][];
}

const TORCH_CASES: Record<string, TorchCase> = {
  'plain': {
    config: { name: 'sgd', lr: 0.05 },
    trajectory: [
      [[0.4830000102519989, -1.1205999851226807, 0.2840999960899353], [0.8600000143051147, 0.436599999666214, -0.3822999894618988]],
      [[0.4670895040035248, -1.0470346212387085, 0.2695919871330261], [0.7031525373458862, 0.46781739592552185, -0.1783222109079361]],
      [[0.45224529504776, -0.9788768887519836, 0.25629502534866333], [0.6001916527748108, 0.4949989318847656, -0.04776773601770401]],
      [[0.43842577934265137, -0.9157305955886841, 0.2440692037343979], [0.532185971736908, 0.5190562605857849, 0.0354115255177021]],
    ],
  },
  'momentum 0.9': {
    config: { name: 'sgd', lr: 0.05, momentum: 0.9 },
    trajectory: [
      [[0.4830000102519989, -1.1205999851226807, 0.2840999960899353], [0.8600000143051147, 0.436599999666214, -0.3822999894618988]],
      [[0.4517894983291626, -0.9755746126174927, 0.2552820146083832], [0.48715248703956604, 0.5007573962211609, 0.10760775953531265]],
      [[0.40983638167381287, -0.7821452021598816, 0.2173016518354416], [0.12346608936786652, 0.5808362364768982, 0.5767292380332947]],
      [[0.3610609173774719, -0.5593723058700562, 0.1742008775472641], [-0.1075078696012497, 0.665340006351471, 0.8578408360481262]],
    ],
  },
  'nesterov, weight decay 0.01': {
    config: { name: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 },
    trajectory: [
      [[0.46722501516342163, -1.0480000972747803, 0.26950502395629883], [0.6429550051689148, 0.4691600203514099, -0.09570496529340744]],
      [[0.42450854182243347, -0.852575957775116, 0.2310544103384018], [0.2921214699745178, 0.5483241081237793, 0.3544716536998749]],
      [[0.3764928877353668, -0.6354407668113708, 0.18902194499969482], [0.1220671758055687, 0.6272163391113281, 0.55131596326828]],
      [[0.3275987207889557, -0.4163050353527069, 0.1470889300107956], [0.11206941306591034, 0.700142502784729, 0.5267255306243896]],
    ],
  },
  'dampening 0.1, weight decay 0.1': {
    config: { name: 'sgd', lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.1 },
    trajectory: [
      [[0.4805000126361847, -1.1146000623703003, 0.2826000154018402], [0.8544999957084656, 0.43459999561309814, -0.3787999749183655]],
      [[0.44663479924201965, -0.9669358134269714, 0.252588152885437], [0.48964449763298035, 0.4919222593307495, 0.09400000423192978]],
      [[0.40200433135032654, -0.7737069129943848, 0.2134495973587036], [0.13129974901676178, 0.5619142055511475, 0.5476691126823425]],
      [[0.35057294368743896, -0.5531796216964722, 0.1689315140247345], [-0.11062928289175034, 0.6347100138664246, 0.8337000608444214]],
    ],
  },
  'L2 weight decay 0.1': {
    config: { name: 'adam', lr: 0.01, weightDecay: 0.1 },
    trajectory: [
      [[0.49000000953674316, -1.190000057220459, 0.2900000214576721], [1.090000033378601, 0.4099999964237213, -0.6899999976158142]],
      [[0.47999808192253113, -1.18000328540802, 0.2800150513648987], [1.0800036191940308, 0.4199925363063812, -0.6800034642219543]],
      [[0.4699930250644684, -1.1700118780136108, 0.2700560986995697], [1.070013165473938, 0.42997241020202637, -0.6700127124786377]],
      [[0.4599837064743042, -1.160028100013733, 0.26013481616973877], [1.0600312948226929, 0.43993422389030457, -0.6600301265716553]],
    ],
  },
  'betas [0.8, 0.99], eps 1e-6, weight decay 0.05, lr changed between steps': {
    config: { name: 'adamw', lr: 0.01, betas: [0.8, 0.99], eps: 1e-06, weightDecay: 0.05 },
    lrs: [0.01, 0.01, 0.005, 0.002],
    trajectory: [
      [[0.4897500276565552, -1.18940007686615, 0.28985005617141724], [1.0894500017166138, 0.4097999930381775, -0.6896499991416931]],
      [[0.4794996678829193, -1.1788121461868286, 0.2797335982322693], [1.078912615776062, 0.4195824861526489, -0.6793122887611389]],
      [[0.4743726849555969, -1.1735265254974365, 0.2747022211551666], [1.0736528635025024, 0.4244607090950012, -0.6741519570350647]],
      [[0.4723208546638489, -1.171414852142334, 0.27269887924194336], [1.0715516805648804, 0.42640769481658936, -0.672090470790863]],
    ],
  },
};

for (const [label, c] of Object.entries(TORCH_CASES)) {
  test(`${c.config.name} matches PyTorch: ${label}`, async () => {
    const problem = new Problem(W0, X, B);
    const optimizer = builtinOptimizers[c.config.name].create(c.config);
    let previous = problem.values().slice();
    for (const [step, want] of c.trajectory.entries()) {
      if (c.lrs) optimizer.setLearningRate(c.lrs[step]);
      problem.step(optimizer);
      assertClose(problem.values(), want.flat(), `step ${step + 1}`);
      assertStepClose(previous, problem.values(), (step === 0 ? W0 : c.trajectory[step - 1]).flat(), want.flat(), `step ${step + 1}`);
      previous = problem.values().slice();
    }
    optimizer.dispose();
    problem.dispose();
  });

  test(`${c.config.name} checkpoint mid-run restores exactly: ${label}`, async () => {
    const problem = new Problem(W0, X, B);
    const before = builtinOptimizers[c.config.name].create(c.config);
    for (let step = 0; step < 2; step++) {
      if (c.lrs) before.setLearningRate(c.lrs[step]);
      problem.step(before);
    }
    const state = await throughCheckpoint(before);
    before.dispose();
    const after = builtinOptimizers[c.config.name].create(c.config);
    await after.setWeights(state);
    tf.dispose(state.map((w) => w.tensor));
    for (let step = 2; step < c.trajectory.length; step++) {
      if (c.lrs) after.setLearningRate(c.lrs[step]);
      problem.step(after);
      assertClose(problem.values(), c.trajectory[step].flat(), `resumed step ${step + 1}`);
    }
    after.dispose();
    problem.dispose();
  });
}

test('sgd momentum and nesterov: hand-computed steps on loss p^2', () => {
  // p = 1, g = 2p, lr 0.1, momentum 0.9.
  // Heavy ball: buf = g = 2, p = 0.8; g = 1.6, buf = 0.9 * 2 + 1.6 = 3.4, p = 0.8 - 0.34 = 0.46.
  // Nesterov:   buf = 2, d = 2 + 0.9 * 2 = 3.8, p = 0.62; g = 1.24, buf = 3.04, d = 1.24 + 2.736 = 3.976, p = 0.2224.
  for (const [nesterov, want] of [[false, [0.8, 0.46]], [true, [0.62, 0.2224]]] as const) {
    const p = tf.variable(tf.scalar(1));
    const optimizer = builtinOptimizers.sgd.create({ name: 'sgd', lr: 0.1, momentum: 0.9, nesterov });
    for (const expected of want) {
      const { value, grads } = tf.variableGrads(() => tf.square(p) as tf.Scalar, [p]);
      optimizer.applyGradients(grads);
      tf.dispose([value, grads]);
      assert.ok(Math.abs(p.dataSync()[0] - expected) < 1e-6, `nesterov ${nesterov}: ${p.dataSync()[0]} != ${expected}`);
    }
    optimizer.dispose();
    p.dispose();
  }
});

test('tensor count stays flat over 20 steps; dispose frees the state', () => {
  const run = fixture.runs[0];
  for (const config of [
    adamwConfig(run),
    { name: 'adam', lr: 0.01, weightDecay: 0.1 },
    { name: 'sgd', lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 0.01 },
    { name: 'sgd', lr: 0.01 },
  ] as OptimizerConfig[]) {
    const problem = new Problem(run.W0, run.x, run.b);
    const start = tf.memory().numTensors;
    const optimizer = builtinOptimizers[config.name].create(config);
    problem.step(optimizer);
    const afterFirst = tf.memory().numTensors;
    for (let s = 0; s < 20; s++) {
      optimizer.setLearningRate(0.01 / (s + 1));
      problem.step(optimizer);
      assert.equal(tf.memory().numTensors, afterFirst, `${config.name}: tensor count grew at step ${s + 2}`);
    }
    optimizer.dispose();
    assert.equal(tf.memory().numTensors, start, `${config.name}: dispose left tensors`);
    problem.dispose();
  }
});

test('works as a tf.Optimizer: minimize with a var list; gradients of null are skipped', () => {
  const run = fixture.runs[0];
  const problem = new Problem(run.W0, run.x, run.b);
  const other = tf.variable(tf.zeros([2]));
  const optimizer = new TorchAdam({ lr: run.lr, weightDecay: run.weight_decay }, true);
  const x = tf.tensor2d(run.x);
  const b = tf.tensor2d(run.b);
  // `other` gets no gradient (not on the path to the loss): minimize passes it as undefined.
  optimizer.minimize(() => tf.sum(tf.square(tf.sub(tf.matMul(problem.W, x), b))) as tf.Scalar, false, [problem.W, other]);
  assertClose(problem.values(), run.W_after_each_step[0].flat(), 'minimize step 1');
  assert.deepEqual(Array.from(other.dataSync()), [0, 0]);
  optimizer.dispose();
  tf.dispose([x, b, other]);
  problem.dispose();
});
