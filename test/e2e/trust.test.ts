// Numbers a researcher can trust, seen from the command line: the same file, seed and backend give the
// same bytes (fresh stores, --jobs 1 or 2, killed and resumed); a stage's optimizer is the one the file
// says; a damaged cache entry is never served; a changed plugin trains again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KdxEvent } from '../../src/events.js';
import { cleanup, hasStackTrace, kdx, parseEvents, readJson, runDirs, scratchDir, writeExperiment } from './support.js';

/** Dropout, batchNorm, random crops and flips, and a distilled student: every source of randomness. */
const RANDOM_EVERYWHERE = `name: repro
seed: 3
params: {epochs: 3}
data:
  dataset: synthetic
  # Enough batches per epoch that progress is reported mid-epoch, where the resume test kills the run.
  options: {shape: [16, 16, 3], classes: 4, train: 2048, test: 128}
  batchSize: 32
  train:
    - randomCrop: {size: 16, padding: 2}
    - horizontalFlip: {p: 0.5}
    - normalize: &norm {mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]}
  test:
    - normalize: *norm
optimizer: {name: adamw, lr: 3.0e-3}
models:
  teacher: [{conv2d: {filters: 8, padding: same}}, batchNorm, relu, {maxPool2d: 2}, flatten, {dense: 32}, relu, {dropout: 0.3}, {dense: 4}]
  student: [flatten, {dense: 16}, relu, {dropout: 0.2}, {dense: 4}]
stages:
  teacher: {model: teacher, epochs: "\${epochs}"}
  kd_student: {model: student, teacher: teacher, epochs: "\${epochs}"}
`;

/** Every file of every finished entry, by `<stage>/<file>`, except the ones that hold wall-clock times. */
function storedResults(cacheDir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const jobs = join(cacheDir, 'jobs');
  for (const key of readdirSync(jobs)) {
    const entry = readJson(join(jobs, key, 'entry.json'));
    for (const name of Object.keys(entry.files)) {
      if (name === 'timing.json' || name === 'log') continue;
      files.set(`${entry.meta.stage}/${name}`, readFileSync(join(jobs, key, name)));
    }
  }
  return files;
}

function assertSameBytes(a: Map<string, Buffer>, b: Map<string, Buffer>, what: string): void {
  assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort(), `${what}: the same files`);
  assert.ok(a.has('teacher/weights.bin') && a.has('kd_student/metrics.json'));
  for (const [name, bytes] of a) assert.ok(bytes.equals(b.get(name)!), `${what}: ${name} differs`);
}

/** Runs `kdx run --json`, killing it with SIGKILL in the middle of the teacher's second epoch. */
async function runKilledMidEpoch(file: string, cwd: string, cacheDir: string, extra: string[] = []): Promise<void> {
  const child = kdx(['run', file, '--json', '--cache-dir', cacheDir, ...extra], { cwd });
  let killed = false;
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    const events = text.split('\n').slice(0, -1).map((line) => JSON.parse(line) as KdxEvent);
    const midSecondEpoch = events.some((e) => e.type === 'batch' && e.epoch === 2 && e.batch < e.batches);
    if (!killed && midSecondEpoch) {
      killed = true;
      child.kill('SIGKILL');
    }
  });
  await child;
  assert.ok(killed, 'the run was killed in the middle of epoch 2');
}

// Without --threads, every job trains on every core (runtime.threads: auto), with --jobs 1 or 2 alike.
test('the same file, seed and backend give byte-identical weights and metrics: fresh stores, --jobs 1 and 2, killed and resumed', async () => {
  const cwd = scratchDir();
  try {
    const file = writeExperiment(cwd, 'repro.yaml', RANDOM_EVERYWHERE);
    for (const [cache, jobs] of [['a', '1'], ['b', '1'], ['c', '2']]) {
      const result = await kdx(['run', file, '--jobs', jobs, '--cache-dir', cache, '--backend', 'wasm'], { cwd });
      assert.equal(result.exitCode, 0, result.stderr);
    }
    const first = storedResults(join(cwd, 'a'));
    assertSameBytes(first, storedResults(join(cwd, 'b')), 'two fresh stores');
    assertSameBytes(first, storedResults(join(cwd, 'c')), '--jobs 1 and --jobs 2');

    await runKilledMidEpoch(file, cwd, 'd');
    const resumed = await kdx(['run', file, '--json', '--cache-dir', 'd', '--backend', 'wasm'], { cwd });
    assert.equal(resumed.exitCode, 0, resumed.stderr);
    const start = parseEvents(resumed.stdout).find((e) => e.type === 'job-start' && e.label === 'teacher') as Extract<KdxEvent, { type: 'job-start' }>;
    assert.equal(start.startEpoch, 1, 'resumed after the one finished epoch');
    assertSameBytes(first, storedResults(join(cwd, 'd')), 'killed and resumed vs never interrupted');
  } finally {
    cleanup(cwd);
  }
});

// The test above trains each job on every core; this one on one thread, as kdx did before threads.
test('on one thread (--threads 1): a fresh store and a run killed and resumed give the same bytes', async () => {
  const cwd = scratchDir();
  try {
    const file = writeExperiment(cwd, 'repro.yaml', RANDOM_EVERYWHERE);
    const result = await kdx(['run', file, '--threads', '1', '--cache-dir', 'e', '--backend', 'wasm'], { cwd });
    assert.equal(result.exitCode, 0, result.stderr);
    await runKilledMidEpoch(file, cwd, 'f', ['--backend', 'wasm', '--threads', '1']);
    const resumed = await kdx(['run', file, '--json', '--cache-dir', 'f', '--backend', 'wasm', '--threads', '1'], { cwd });
    assert.equal(resumed.exitCode, 0, resumed.stderr);
    const start = parseEvents(resumed.stdout).find((e) => e.type === 'job-start' && e.label === 'teacher') as Extract<KdxEvent, { type: 'job-start' }>;
    assert.equal(start.startEpoch, 1, 'resumed after the one finished epoch');
    assertSameBytes(storedResults(join(cwd, 'e')), storedResults(join(cwd, 'f')), 'one thread: killed and resumed vs never interrupted');
  } finally {
    cleanup(cwd);
  }
});

test('a stage optimizer merges over the experiment\'s: sgd, lr 0.1, momentum 0.5, nesterov (config.json and metrics.json)', async () => {
  const cwd = scratchDir();
  try {
    const text = RANDOM_EVERYWHERE.replace('optimizer: {name: adamw, lr: 3.0e-3}', 'optimizer: {name: sgd, lr: 0.1, momentum: 0.9, nesterov: true}')
      .replace('teacher: {model: teacher, epochs: "${epochs}"}', 'teacher: {model: teacher, epochs: 1, optimizer: {momentum: 0.5}}')
      .replace(/  kd_student:.*\n/, '');
    const file = writeExperiment(cwd, 'sgd.yaml', text);
    const result = await kdx(['run', file], { cwd });
    assert.equal(result.exitCode, 0, result.stderr);
    const stage = join(runDirs(cwd)[0], 'stages', 'teacher');
    const { optimizer } = readJson(join(stage, 'config.json')).stage;
    assert.deepEqual(optimizer, { name: 'sgd', lr: 0.1, momentum: 0.5, nesterov: true, dampening: 0, weightDecay: 0, schedule: { type: 'constant' } });
    assert.deepEqual(readJson(join(stage, 'metrics.json')).history.map((h: { lr: number }) => h.lr), [0.1]);
  } finally {
    cleanup(cwd);
  }
});

test('a truncated file of a cached entry: the next run retrains that job with one warning line, exit 0; kdx cache verify reports it', async () => {
  const cwd = scratchDir();
  try {
    const file = writeExperiment(cwd, 'one.yaml', RANDOM_EVERYWHERE.replace(/  kd_student:.*\n/, '').replace('epochs: 3}', 'epochs: 1}'));
    const first = await kdx(['run', file], { cwd });
    assert.equal(first.exitCode, 0, first.stderr);
    const jobs = join(cwd, '.kdx', 'cache', 'jobs');
    const [key] = readdirSync(jobs);
    const names = Object.keys(readJson(join(jobs, key, 'entry.json')).files);
    assert.ok(names.includes('weights.bin') && names.includes('metrics.json'));
    for (const name of [...names, 'entry.json']) {
      const path = join(jobs, key, name);
      truncateSync(path, Math.floor(readFileSync(path).byteLength / 2));
      const again = await kdx(['run', file, '--json'], { cwd });
      assert.equal(again.exitCode, 0, `${name}: ${again.stderr}`);
      const events = parseEvents(again.stdout);
      const warnings = events.filter((e) => e.type === 'log' && e.level === 'warn') as Extract<KdxEvent, { type: 'log' }>[];
      assert.equal(warnings.length, 1, `${name}: one warning`);
      assert.match(warnings[0].message, new RegExp(`^teacher: its cached result is damaged \\(${name.replace('.', '\\.')} .*\\); moved it to .*quarantine.* and training it again$`));
      assert.ok(events.some((e) => e.type === 'job-start' && e.label === 'teacher'), `${name}: the teacher trained again`);
    }
    // verify: finds what was damaged behind kdx's back, moves it aside, exit 1; then all is well.
    const [current] = readdirSync(jobs);
    writeFileSync(join(jobs, current, 'weights.bin'), 'not weights');
    const verify = await kdx(['cache', 'verify'], { cwd });
    assert.equal(verify.exitCode, 1);
    assert.match(verify.stdout, /^entry [0-9a-f]{12} \(teacher\): weights\.bin has 11 bytes, \d+ were written; moved to /m);
    assert.ok(!hasStackTrace(verify.stderr), verify.stderr);
    const clean = await kdx(['cache', 'verify'], { cwd });
    assert.equal(clean.exitCode, 0, clean.stdout);
    assert.match(clean.stdout, /0 damaged/);
  } finally {
    cleanup(cwd);
  }
});

test('editing a plugin module the experiment uses trains its jobs again', async () => {
  const cwd = scratchDir();
  try {
    const plugin = (factor: number) => `export default function (kdx) {
  const { tf } = kdx;
  class Scale extends tf.layers.Layer {
    static className = 'Scale';
    constructor(config) { super(config); this.factor = config.factor; }
    call(inputs) { return tf.tidy(() => tf.mul(Array.isArray(inputs) ? inputs[0] : inputs, this.factor)); }
    getConfig() { return { ...super.getConfig(), factor: this.factor }; }
  }
  tf.serialization.registerClass(Scale);
  kdx.registerLayer('scale', { description: 'multiply', create: () => new Scale({ factor: ${factor} }) });
}
`;
    writeFileSync(join(cwd, 'scale.mjs'), plugin(1));
    const file = writeExperiment(cwd, 'p.yaml', `plugins: [./scale.mjs]\n${RANDOM_EVERYWHERE.replace('student: [flatten,', 'student: [scale, flatten,').replace('epochs: 3}', 'epochs: 1}')}`);
    const trained = (result: { stdout: string }) => parseEvents(result.stdout).filter((e) => e.type === 'job-start').map((e) => (e as { label: string }).label).sort();
    const first = await kdx(['run', file, '--json'], { cwd });
    assert.equal(first.exitCode, 0, first.stderr);
    assert.deepEqual(trained(first), ['kd_student', 'teacher']);
    assert.deepEqual(trained(await kdx(['run', file, '--json'], { cwd })), [], 'unchanged: all cached');
    writeFileSync(join(cwd, 'scale.mjs'), plugin(2));
    const edited = await kdx(['run', file, '--json'], { cwd });
    assert.equal(edited.exitCode, 0, edited.stderr);
    assert.deepEqual(trained(edited), ['kd_student', 'teacher'], 'every job of an experiment that loads the plugin');
  } finally {
    cleanup(cwd);
  }
});
