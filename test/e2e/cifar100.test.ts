// A benchmark pair of experiments/cifar100/ end to end on a CIFAR-100-format fixture: teacher, student
// and KD student train (one short epoch), as `kdx run FILE --set epochs=1 --set data.limit.train=N`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeCifar100 } from '../data/cifar100-fixture.js';
import { cleanup, countEvents, hasStackTrace, kdx, parseEvents, repoRoot, scratchDir } from './support.js';

test('experiments/cifar100/resnet56-resnet20.yaml trains teacher, student and KD student on a CIFAR-100 fixture', async () => {
  const cwd = scratchDir();
  try {
    writeCifar100(join(cwd, 'no-data', 'cifar100'), 64, 16); // $KDX_DATA of support.kdx
    const file = join(repoRoot, 'experiments', 'cifar100', 'resnet56-resnet20.yaml');
    // Batches of 32 keep the 2-core CI quick; the recipe's is 64.
    const result = await kdx(['run', file, '--json', '--set', 'epochs=1', '--set', 'data.limit.train=64', '--set', 'data.batchSize=32'], { cwd });
    assert.equal(result.exitCode, 0, result.stderr);
    assert.ok(!hasStackTrace(result.stderr), result.stderr);
    const events = parseEvents(result.stdout);
    const ends = events.filter((e) => e.type === 'job-end');
    assert.equal(ends.length, 3);
    assert.equal(countEvents(events, 'epoch-end'), 3);
    const end = events.at(-1)!;
    assert.ok(end.type === 'run-end' && end.status === 'ok', JSON.stringify(end));
  } finally {
    cleanup(cwd);
  }
});
