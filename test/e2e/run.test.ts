// `kdx run` end to end: the real binary, real training on small data, real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../../src/engine/tf.js';
import { CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE } from '../../src/plugins/datasets/cifar10.js';
import { cleanup, countEvents, hasStackTrace, kdx, parseEvents, readJson, runDirs, scratchDir, tinyExperiment, writeExperiment } from './support.js';

test('kdx run trains every stage, writes the run directory, and a second run trains nothing', async () => {
  const cwd = scratchDir();
  try {
    const file = writeExperiment(cwd, 'tiny.yaml', tinyExperiment());
    const first = await kdx(['run', file, '--json'], { cwd });
    assert.equal(first.exitCode, 0, first.stderr);
    const events = parseEvents(first.stdout);
    assert.equal(countEvents(events, 'job-end'), 3);
    assert.equal(countEvents(events, 'epoch-end'), 6);
    const end = events.at(-1)!;
    assert.equal(end.type, 'run-end');
    assert.equal(end.type === 'run-end' && end.status, 'ok');

    const [runDir] = runDirs(cwd);
    for (const name of ['experiment.json', 'events.jsonl', 'summary.json', 'summary.md']) assert.ok(existsSync(join(runDir, name)), name);
    const summary = readJson(join(runDir, 'summary.json'));
    const kd = summary.rows[0].stages.kd_student;
    assert.equal(kd.status, 'done');
    assert.ok(kd.finalAccuracy > 0.6, `KD student should beat chance (25%) clearly, got ${kd.finalAccuracy}`);
    assert.match(readFileSync(join(runDir, 'summary.md'), 'utf8'), /kd_student/);

    // Each stage's outputs: a tfjs model that loads, per-epoch metrics and the resolved config.
    for (const stage of ['teacher', 'student', 'kd_student']) {
      const dir = join(runDir, 'stages', stage);
      const metrics = readJson(join(dir, 'metrics.json'));
      assert.equal(metrics.history.length, 2);
      assert.equal(readJson(join(dir, 'config.json')).stage.name, stage);
      const modelJson = readJson(join(dir, 'model.json'));
      const weights = readFileSync(join(dir, 'weights.bin'));
      const model = await tf.loadLayersModel(
        tf.io.fromMemory({ modelTopology: modelJson.modelTopology, weightSpecs: modelJson.weightsManifest[0].weights, weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) }),
      );
      assert.deepEqual(model.outputs[0].shape, [null, 4]);
      model.dispose();
    }

    const second = await kdx(['run', file, '--json'], { cwd });
    assert.equal(second.exitCode, 0, second.stderr);
    const again = parseEvents(second.stdout);
    assert.equal(countEvents(again, 'job-start'), 0, 'nothing trains the second time');
    assert.equal(countEvents(again, 'job-cached'), 3);
    // The same summary: every figure equal, only the status says "cached" instead of "done".
    const rows = (e: typeof events) => JSON.stringify((e.at(-1) as { rows: unknown }).rows).replaceAll('"status":"done"', '"status":"cached"');
    assert.equal(rows(again), rows(events), 'the same summary');

    // Changing only alpha reruns only the KD stage.
    const third = await kdx(['run', file, '--json', '--set', 'alpha=0.5'], { cwd });
    const changed = parseEvents(third.stdout);
    assert.deepEqual(changed.filter((e) => e.type === 'job-start').map((e) => (e as { label: string }).label), ['kd_student']);
    assert.equal(countEvents(changed, 'job-cached'), 2);
  } finally {
    cleanup(cwd);
  }
});

/** CIFAR-10's binary format: per record one label byte, then 1024 R, 1024 G, 1024 B bytes. */
function writeCifarFixture(dir: string, perFile: number): void {
  mkdirSync(dir, { recursive: true });
  let seed = 1;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const file = (name: string) => {
    const bytes = new Uint8Array(perFile * 3073);
    for (let r = 0; r < perFile; r++) {
      const label = r % 10;
      bytes[r * 3073] = label;
      // A learnable image: the class sets the brightness of one channel, plus noise.
      for (let i = 0; i < 3072; i++) bytes[r * 3073 + 1 + i] = Math.min(255, Math.floor(rand() * 60 + (Math.floor(i / 1024) === label % 3 ? label * 20 : 0)));
    }
    writeFileSync(join(dir, name), bytes);
  };
  for (const name of CIFAR10_TRAIN_FILES) file(name);
  file(CIFAR10_TEST_FILE);
  writeFileSync(join(dir, 'batches.meta.txt'), 'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n');
}

test('kdx run on a CIFAR-10 binary fixture (the real file format) with the reference transforms', async () => {
  const cwd = scratchDir();
  try {
    writeCifarFixture(join(cwd, 'cifar'), 40);
    const text = tinyExperiment({ epochs: 1 })
      .replace(/data:\n[\s\S]*?optimizer:/, `data:
  dataset: cifar10
  root: cifar
  batchSize: 50
  train:
    - randomCrop: {size: 32, padding: 4}
    - horizontalFlip: {p: 0.5}
    - normalize: {mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.2010]}
  test:
    - normalize: {mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.2010]}
optimizer:`)
      .replaceAll('{dense: 4}', '{dense: 10}');
    const file = writeExperiment(cwd, 'cifar.yaml', text);
    // Run from elsewhere: `root: cifar` is relative to the experiment file, not to the working directory.
    const elsewhere = join(cwd, 'elsewhere');
    mkdirSync(elsewhere);
    const result = await kdx(['run', file], { cwd: elsewhere });
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, /kd_student/);
    const summary = readJson(join(runDirs(elsewhere)[0], 'summary.json'));
    assert.equal(summary.status, 'ok');
    assert.equal(summary.rows[0].stages.teacher.epochs, 1);
  } finally {
    cleanup(cwd);
  }
});

test('a missing dataset offline fails within seconds with where to put the files, exit 1', async () => {
  const cwd = scratchDir();
  try {
    const text = tinyExperiment({ epochs: 1 }).replace(/dataset: synthetic\n.*\n/, 'dataset: cifar10\n').replace('randomCrop: {size: 16, padding: 1}', 'randomCrop: {size: 32, padding: 1}').replaceAll('{dense: 4}', '{dense: 10}');
    const file = writeExperiment(cwd, 'cifar.yaml', text);
    const result = await kdx(['run', file], { cwd, env: { KDX_DATASET_URL_CIFAR10: 'http://127.0.0.1:9/cifar-10-binary.tar.gz' } });
    assert.equal(result.exitCode, 1);
    assert.match(result.stderr, /data_batch_1\.bin/);
    assert.match(result.stderr, /no-data/, 'names the directories searched');
    assert.ok(!hasStackTrace(result.stderr + result.stdout), result.stderr);
    assert.ok(!existsSync(join(cwd, 'no-data', 'cifar10')) || readdirSync(join(cwd, 'no-data', 'cifar10')).length === 0);
  } finally {
    cleanup(cwd);
  }
});

test('a corrupt data file and a diverging loss are clear failures, exit 1', async () => {
  const cwd = scratchDir();
  try {
    writeCifarFixture(join(cwd, 'cifar'), 20);
    writeFileSync(join(cwd, 'cifar', 'data_batch_3.bin'), new Uint8Array(3073 * 2 + 100));
    const cifar = tinyExperiment({ epochs: 1 }).replace(/dataset: synthetic\n.*\n/, 'dataset: cifar10\n  root: cifar\n').replace('randomCrop: {size: 16, padding: 1}', 'randomCrop: {size: 32, padding: 1}').replaceAll('{dense: 4}', '{dense: 10}');
    const corrupt = await kdx(['run', writeExperiment(cwd, 'c.yaml', cifar)], { cwd });
    assert.equal(corrupt.exitCode, 1);
    assert.match(corrupt.stderr, /data_batch_3\.bin/);
    assert.ok(!hasStackTrace(corrupt.stderr + corrupt.stdout), corrupt.stderr);

    const diverging = await kdx(['run', writeExperiment(cwd, 'nan.yaml', tinyExperiment({ epochs: 1 })), '--set', 'optimizer.lr=1e12', '--set', 'optimizer.name=sgd'], { cwd });
    assert.equal(diverging.exitCode, 1, diverging.stdout);
    assert.match(diverging.stderr, /loss is (NaN|Infinity|-Infinity)/);
    assert.ok(!hasStackTrace(diverging.stderr + diverging.stdout), diverging.stderr);
    // The failed job left no entry in the store, and dependants were skipped with the reason.
    assert.match(diverging.stdout + diverging.stderr, /skipped/);
  } finally {
    cleanup(cwd);
  }
});
