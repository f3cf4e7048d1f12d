// A sweep with two distilled students: each gets its own KD gain over the plain student, in
// summary.json, results.csv, results.md and the plain progress lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResultRow } from '../../src/events.js';
import { cleanup, kdx, readJson, runDirs, scratchDir, tinyExperiment, writeExperiment } from './support.js';

test('a sweep with two distilled students reports two gains', async () => {
  const cwd = scratchDir();
  try {
    const extra = `  kd_T8:
    model: student
    teacher: teacher
    epochs: \${epochs}
    loss: {kd: {temperature: 8, alpha: "\${alpha}"}}
`;
    const file = writeExperiment(cwd, 'two.yaml', tinyExperiment({ epochs: 1, extra }));
    const result = await kdx(['sweep', file, '--grid', 'alpha=0.5,0.9'], { cwd });
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, /KD gain kd_student [+-][\d.]+pt, kd_T8 [+-][\d.]+pt/);
    const [runDir] = runDirs(cwd);
    const { rows } = readJson<{ rows: ResultRow[] }>(join(runDir, 'summary.json'));
    assert.equal(rows.length, 2);
    for (const row of rows) {
      assert.deepEqual(Object.keys(row.kdGains ?? {}).sort(), ['kd_T8', 'kd_student']);
      const plain = (row.stages.student as { finalAccuracy: number }).finalAccuracy;
      for (const stage of ['kd_student', 'kd_T8']) {
        const accuracy = (row.stages[stage] as { finalAccuracy: number }).finalAccuracy;
        assert.ok(Math.abs(row.kdGains![stage]! - (accuracy - plain)) < 1e-12, `${stage}'s gain is over the plain student`);
      }
    }
    const csvHeader = readFileSync(join(runDir, 'results.csv'), 'utf8').split('\n')[0];
    assert.match(csvHeader, /kd_student\.kd_gain.*kd_T8\.kd_gain/);
    assert.match(readFileSync(join(runDir, 'results.md'), 'utf8'), /ranked by the best KD gain of kd_student, kd_T8/);
    assert.match(readFileSync(join(runDir, 'summary.md'), 'utf8'), /kd_T8/, 'a sweep has a summary.md too');

    // Without a file, kdx sweep names the file it chose; --dry-run --json prints JSON.
    const dry = await kdx(['sweep', '--grid', 'alpha=0.5,0.7', '--dry-run', '--json'], { cwd });
    assert.equal(dry.exitCode, 0, dry.stderr);
    assert.match(dry.stderr, /no file given: sweeping .*two\.yaml \(the file of the last kdx run here\)/);
    const plan = JSON.parse(dry.stdout) as { trials: { params: { alpha: number }; stages: Record<string, { cached: boolean }> }[]; jobs: number; cached: number };
    assert.deepEqual(plan.trials.map((t) => t.params.alpha), [0.5, 0.7]);
    assert.equal(plan.trials[0].stages.kd_T8.cached, true);
    assert.equal(plan.trials[1].stages.kd_T8.cached, false);
    assert.deepEqual([plan.jobs, plan.cached], [6, 4]);
  } finally {
    cleanup(cwd);
  }
});
