// The benchmark pairs of experiments/cifar100/ end to end on a CIFAR-100-format fixture: teacher, student
// and KD student train (one short epoch), as `kdx run FILE --set epochs=1 --set data.limit.train=N`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeCifar100 } from '../data/cifar100-fixture.js';
import { cleanup, countEvents, hasStackTrace, kdx, parseEvents, repoRoot, scratchDir } from './support.js';

const pairs = ['resnet56-resnet20', 'resnet32x4-resnet8x4', 'wrn_40_2-wrn_16_2', 'vgg13-vgg8', 'vgg13-mobilenetv2'];

for (const pair of pairs) {
  test(`experiments/cifar100/${pair}.yaml trains teacher, student and KD student on a CIFAR-100 fixture`, async () => {
    const cwd = scratchDir();
    try {
      writeCifar100(join(cwd, 'no-data', 'cifar100'), 32, 16); // $KDX_DATA of support.kdx
      const file = join(repoRoot, 'experiments', 'cifar100', `${pair}.yaml`);
      // One batch of 32 keeps the 2-core CI quick; the recipe's batch is 64.
      const result = await kdx(['run', file, '--json', '--set', 'epochs=1', '--set', 'data.limit.train=32', '--set', 'data.batchSize=32'], { cwd });
      assert.equal(result.exitCode, 0, result.stderr);
      assert.ok(!hasStackTrace(result.stderr), result.stderr);
      const events = parseEvents(result.stdout);
      assert.deepEqual(events.filter((e) => e.type === 'job-end').map((e) => (e as { label: string }).label).sort(), ['kd', 'student', 'teacher']);
      assert.equal(countEvents(events, 'epoch-end'), 3);
      const end = events.at(-1)!;
      assert.ok(end.type === 'run-end' && end.status === 'ok', JSON.stringify(end));
    } finally {
      cleanup(cwd);
    }
  });
}
