// KD methods beyond Hinton's, end to end through the real binary on tiny synthetic data: a DKD student
// with a warm-up, a student with attention on two tap pairs + KD, and a FitNets student with its
// regressor. Each finishes; metrics.json holds each epoch's weighted terms, which add up to the loss,
// and the test metrics (top-5, ECE, agreement and KL with the teacher).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, kdx, readJson, repoRoot, runDirs, scratchDir } from './support.js';

test('DKD with warm-up, attention on 2 tap pairs + KD, and hint train; metrics.json holds the per-term losses', async () => {
  const cwd = scratchDir();
  try {
    const file = join(cwd, 'methods.yaml');
    copyFileSync(join(repoRoot, 'test', 'e2e', 'fixtures', 'methods.yaml'), file);
    const result = await kdx(['run', file], { cwd });
    assert.equal(result.exitCode, 0, result.stderr);
    // The plain reporter shows each epoch's terms next to the loss.
    assert.match(result.stdout, /at_student {2}epoch 2\/2 {2}loss [\d.]+ \(crossEntropy [\d.]+ {2}kd [\d.]+ {2}attention [\d.]+\)/);
    const [runDir] = runDirs(cwd);
    const metrics = (stage: string) => readJson(join(runDir, 'stages', stage, 'metrics.json')).history as { loss: number; terms: Record<string, number> }[];
    const expectedTerms = { dkd_student: ['crossEntropy', 'dkd'], at_student: ['crossEntropy', 'kd', 'attention'], hint_student: ['crossEntropy', 'hint'] };
    for (const [stage, names] of Object.entries(expectedTerms)) {
      const history = metrics(stage);
      assert.equal(history.length, 2, stage);
      for (const epoch of history) {
        assert.deepEqual(Object.keys(epoch.terms), names, stage);
        assert.ok(Object.values(epoch.terms).every((v) => Number.isFinite(v) && v > 0), `${stage}: ${JSON.stringify(epoch.terms)}`);
        const sum = Object.values(epoch.terms).reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(sum - epoch.loss) <= 1e-5 * Math.abs(epoch.loss), `${stage}: the terms add up to the loss (${sum} vs ${epoch.loss})`);
      }
    }
    // Every distilled stage also reports the test-set metrics of KD papers.
    for (const stage of Object.keys(expectedTerms)) {
      const summary = readJson(join(runDir, 'stages', stage, 'metrics.json')).summary as Record<string, number>;
      for (const key of ['top5Accuracy', 'ece', 'teacherAgreement', 'teacherKL']) assert.ok(Number.isFinite(summary[key]), `${stage}: ${key} ${summary[key]}`);
      assert.ok(summary.top5Accuracy >= summary.finalAccuracy && summary.teacherAgreement >= 0 && summary.teacherAgreement <= 1, stage);
    }
    // The saved FitNets student is the student alone: its regressor trained with it and stayed behind.
    const modelJson = readFileSync(join(runDir, 'stages', 'hint_student', 'model.json'), 'utf8');
    assert.doesNotMatch(modelJson, /regressor/);
    assert.equal(readJson(join(runDir, 'stages', 'hint_student', 'model.json')).weightsManifest[0].weights.length, 6);
  } finally {
    cleanup(cwd);
  }
});
