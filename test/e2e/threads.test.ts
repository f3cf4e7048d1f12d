// One job on several threads, through the real binary: the same training as one thread up to the order
// of float sums (batchNorm, seeded dropout, random crops and a distilled stage: test/fixtures/threads.yaml,
// 10 steps), the same bytes on every run with the same thread count, and a thread count the machine cannot
// give refused before anything is written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { cleanup, hasStackTrace, kdx, readJson, scratchDir, tinyExperiment, writeExperiment } from './support.js';

const fixture = new URL('../fixtures/threads.yaml', import.meta.url);
const twoCores = availableParallelism() >= 2 ? false : 'needs 2 cores';

interface Stored {
  key: string;
  metrics: { history: { loss: number; testLoss: number; testAccuracy: number; terms?: Record<string, number> }[] };
  /** Each weight tensor by name, from model.json's manifest. */
  weights: Map<string, Float32Array>;
  bytes: Map<string, Buffer>;
}

/** Every finished entry of a store, by stage. */
function stored(cacheDir: string): Map<string, Stored> {
  const stages = new Map<string, Stored>();
  const jobs = join(cacheDir, 'jobs');
  for (const key of readdirSync(jobs)) {
    const dir = join(jobs, key);
    const entry = readJson(join(dir, 'entry.json'));
    const all = readFileSync(join(dir, 'weights.bin'));
    const flat = new Float32Array(all.buffer, all.byteOffset, all.byteLength / 4);
    const weights = new Map<string, Float32Array>();
    let at = 0;
    for (const spec of readJson(join(dir, 'model.json')).weightsManifest[0].weights as { name: string; shape: number[] }[]) {
      const size = spec.shape.reduce((a, b) => a * b, 1);
      weights.set(spec.name, flat.subarray(at, at + size));
      at += size;
    }
    const bytes = new Map(Object.keys(entry.files).filter((f) => f !== 'timing.json' && f !== 'log').map((f) => [f, readFileSync(join(dir, f))]));
    stages.set(entry.meta.stage, { key, metrics: readJson(join(dir, 'metrics.json')), weights, bytes });
  }
  return stages;
}

function assertClose(a: number, b: number, what: string): void {
  assert.ok(Math.abs(a - b) <= 1e-4 * Math.max(Math.abs(a), Math.abs(b)), `${what}: ${a} vs ${b}`);
}

/** Every weight, batchNorm's running statistics included, to 1e-4 of its tensor's largest value. */
function assertWeightsClose(stage: string, a: Stored, b: Stored): void {
  for (const [name, wa] of a.weights) {
    const wb = b.weights.get(name)!;
    let scale = 0;
    let diff = 0;
    for (let i = 0; i < wa.length; i++) {
      scale = Math.max(scale, Math.abs(wa[i]));
      diff = Math.max(diff, Math.abs(wa[i] - wb[i]));
    }
    assert.ok(diff <= 1e-4 * scale, `${stage} ${name}: differs by ${diff} at a scale of ${scale}`);
  }
}

async function train(cwd: string, cache: string, threads: string, file = 'threads.yaml'): Promise<Map<string, Stored>> {
  const result = await kdx(['run', file, '--threads', threads, '--backend', 'wasm', '--cache-dir', cache, '--quiet'], { cwd });
  assert.equal(result.exitCode, 0, result.stderr);
  return stored(join(cwd, cache));
}

test('1 and 2 threads: the same losses and weights to 1e-4 (batchNorm, dropout, random crops, KD); 2 threads: the same bytes on every run', { skip: twoCores }, async () => {
  const cwd = scratchDir();
  try {
    copyFileSync(fixture, join(cwd, 'threads.yaml'));
    const one = await train(cwd, 'one', '1');
    const two = await train(cwd, 'two', '2');
    assert.deepEqual([...two.keys()].sort(), ['kd_student', 'student', 'teacher']);
    for (const [stage, a] of one) {
      const b = two.get(stage)!;
      assert.notEqual(a.key, b.key, `${stage}: the thread count is part of the key`);
      a.metrics.history.forEach((epoch, i) => {
        const other = b.metrics.history[i];
        assertClose(epoch.loss, other.loss, `${stage} training loss`);
        assertClose(epoch.testLoss, other.testLoss, `${stage} test loss`);
        for (const [term, value] of Object.entries(epoch.terms ?? {})) assertClose(value, other.terms![term], `${stage} ${term} term`);
      });
      assertWeightsClose(stage, a, b);
    }
    const again = await train(cwd, 'again', '2');
    for (const [stage, a] of two) {
      for (const [file, bytes] of a.bytes) assert.ok(bytes.equals(again.get(stage)!.bytes.get(file)!), `2 threads twice: ${stage}/${file} differs`);
    }
  } finally {
    cleanup(cwd);
  }
});

test('a batch smaller than the threads, and crops that change the image size: the same training and evaluation as one thread', { skip: twoCores }, async () => {
  const cwd = scratchDir();
  try {
    copyFileSync(new URL('../fixtures/threads-edges.yaml', import.meta.url), join(cwd, 'edges.yaml'));
    const one = await train(cwd, 'one', '1', 'edges.yaml');
    const two = await train(cwd, 'two', '2', 'edges.yaml');
    for (const [stage, a] of one) {
      const b = two.get(stage)!;
      assert.equal(b.metrics.history.length, 2);
      a.metrics.history.forEach((epoch, i) => {
        // The second epoch's test loss reads the batchNorm statistics of the one-row batch ending the first.
        assertClose(epoch.testLoss, b.metrics.history[i].testLoss, `${stage} test loss, epoch ${i + 1}`);
        assertClose(epoch.testAccuracy, b.metrics.history[i].testAccuracy, `${stage} test accuracy, epoch ${i + 1}`);
      });
      assertWeightsClose(stage, a, b);
    }
  } finally {
    cleanup(cwd);
  }
});

test('more threads than the machine has cores: exit 2, one line that says why, nothing written', async () => {
  const cwd = scratchDir();
  try {
    copyFileSync(fixture, join(cwd, 'threads.yaml'));
    const cores = availableParallelism();
    const result = await kdx(['run', 'threads.yaml', '--threads', String(cores + 1)], { cwd });
    assert.equal(result.exitCode, 2);
    assert.equal(result.stderr.trim(), `kdx: --threads ${cores + 1}: more threads than this machine's ${cores} cores: use at most ${cores}, or auto`);
    assert.ok(!hasStackTrace(result.stderr));
    assert.ok(!existsSync(join(cwd, 'runs')) && !existsSync(join(cwd, '.kdx')), 'nothing written');
    const word = await kdx(['run', 'threads.yaml', '--threads', 'many'], { cwd });
    assert.equal(word.exitCode, 2);
    assert.match(word.stderr, /--threads must be auto or a whole number >= 1 \(got "many"\)/);
  } finally {
    cleanup(cwd);
  }
});

/** A loss that fails on fewer rows than a whole batch: only in a replica. */
const SHARD_FAILURE = `export default function (kdx) {
  kdx.registerLoss('wholeBatchOnly', {
    description: 'fails on a shard',
    needsTeacher: false,
    create: () => ({ logits, labels }) => {
      if (logits.shape[0] < 32) throw new Error('this loss cannot take ' + logits.shape[0] + ' rows');
      return kdx.tf.losses.softmaxCrossEntropy(kdx.tf.oneHot(labels, 4), logits);
    },
  });
}
`;

test('a replica that fails fails its job with its message, the other replicas stop, the other jobs go on (exit 1)', { skip: twoCores }, async () => {
  const cwd = scratchDir();
  try {
    writeFileSync(join(cwd, 'shard.mjs'), SHARD_FAILURE);
    const text = tinyExperiment({ epochs: 1, extra: 'plugins: [./shard.mjs]\n' }).replace('  student: {model: student, epochs: "${epochs}"}', '  student: {model: student, epochs: "${epochs}", loss: wholeBatchOnly}');
    const result = await kdx(['run', writeExperiment(cwd, 'shard.yaml', text), '--threads', '2', '--backend', 'wasm'], { cwd });
    assert.equal(result.exitCode, 1, result.stdout);
    assert.match(result.stdout + result.stderr, /this loss cannot take 16 rows/);
    assert.match(result.stderr, /1 job failed/);
    assert.equal(readdirSync(join(cwd, '.kdx', 'cache', 'jobs')).length, 2, 'the teacher and kd_student trained, the student did not');
  } finally {
    cleanup(cwd);
  }
});
