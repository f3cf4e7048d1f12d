// YAML anchors, aliases and merge keys: blocks reused across models and stages work, and an error inside a
// reused block is located where the block is written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LayerSpec } from '../../src/registry/types.js';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseExperiment } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/diagnostics.js';
import { freshDir, hasStackTrace, here, kdx } from './support.js';
import type { NamedSpec } from '../../src/config/experiment.js';

const fixture = (name: string) => readFileSync(join(here, 'fixtures', name), 'utf8');

test('aliases, anchored list items and merge keys give the expanded experiment', async () => {
  const { experiment } = await parseExperiment('anchors.yaml', fixture('anchors.yaml'));
  // `student: *base` is the teacher's layer list; `- *conv` repeats a layer.
  assert.deepEqual(experiment.models.student, experiment.models.teacher);
  assert.deepEqual(
    (experiment.models.teacher as LayerSpec[]).map((l) => l.type),
    ['conv2d', 'relu', 'conv2d', 'relu', 'flatten', 'dense'],
  );
  assert.deepEqual((experiment.models.teacher as LayerSpec[])[2], (experiment.models.teacher as LayerSpec[])[0]);
  // `{<<: *conv2d-args, filters: 2}`: merged arguments, the direct key wins.
  assert.deepEqual(
    { filters: (experiment.models.narrow as LayerSpec[])[0].args.filters, kernel: (experiment.models.narrow as LayerSpec[])[0].args.kernel, padding: (experiment.models.narrow as LayerSpec[])[0].args.padding },
    { filters: 2, kernel: 3, padding: 'same' },
  );
  assert.equal((experiment.models.teacher as LayerSpec[])[0].args.filters, 4, 'merging into a copy leaves the anchored block alone');
  // Stages `<<: *stage`: epochs from the merged block, model and teacher their own.
  assert.deepEqual(
    Object.values(experiment.stages).map((s) => [s.name, s.model, s.epochs, s.teachers?.map((t) => t.stage).join('+') ?? '-', (s.loss as NamedSpec).type]),
    [
      ['teacher', 'teacher', 2, '-', 'crossEntropy'],
      ['student', 'student', 2, '-', 'crossEntropy'],
      ['narrow', 'narrow', 2, 'teacher', 'kd'],
    ],
  );
  assert.deepEqual(experiment.data.test, experiment.data.train);
});

test('an error inside an anchored block is located where it is written, once for each use', async () => {
  await assert.rejects(parseExperiment('anchors-error.yaml', fixture('anchors-error.yaml')), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(
      error.report(),
      [
        'anchors-error.yaml:9:28  models.teacher[0].conv2d.kernal  unknown key "kernal" (did you mean "kernel"?)',
        '  9 |     - conv2d: {filters: 4, kernal: 3}',
        '    |                            ^',
        'anchors-error.yaml:9:28  models.student[0].conv2d.kernal  unknown key "kernal" (did you mean "kernel"?)',
        '  9 |     - conv2d: {filters: 4, kernal: 3}',
        '    |                            ^',
        // stages.student gets `epochs: 0` through `<<: *stage`: located in the anchored block, not at `<<`.
        'anchors-error.yaml:16:13  stages.teacher.epochs  must be >= 1 (got 0)',
        '  16 |     epochs: 0',
        '     |             ^',
        'anchors-error.yaml:16:13  stages.student.epochs  must be >= 1 (got 0)',
        '  16 |     epochs: 0',
        '     |             ^',
        '',
        '4 errors',
      ].join('\n'),
    );
    return true;
  });
});

test('kdx validate accepts the file with anchors', async () => {
  const cwd = freshDir();
  try {
    const arg = relative(cwd.dir, join(here, 'fixtures', 'anchors.yaml'));
    const result = await kdx(['validate', arg], { cwd: cwd.dir });
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(result.stdout, `${arg}: ok (3 stages, 3 models)`);
    assert.equal(result.stderr, '');
    assert.ok(!hasStackTrace(result.stderr));
    assert.deepEqual(cwd.list(), []);
  } finally {
    cwd.cleanup();
  }
});
