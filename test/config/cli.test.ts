// The command line around config: help and version, usage errors, and `kdx plan` of the reference
// experiment (its parameter counts), all through the real binary. (`kdx validate` of good files:
// anchors.test.ts; of broken ones: broken.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshDir, hasStackTrace, kdx, mapLimit, repo } from './support.js';

const version = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;

const cases: { args: string[]; exit: number; stdout?: RegExp; stderr?: RegExp }[] = [
  { args: ['--help'], exit: 0, stdout: /^Usage: kdx \[options\] \[command\][\s\S]*\bvalidate\b[\s\S]*\bplan\b/ },
  { args: ['--version'], exit: 0, stdout: new RegExp(`^${version.replaceAll('.', '\\.')}$`) },
  { args: ['validate', '--help'], exit: 0, stdout: /^Usage: kdx validate \[options\] <file>[\s\S]*--set <key=value>/ },
  { args: ['plan', '--help'], exit: 0, stdout: /^Usage: kdx plan \[options\] <file>[\s\S]*--set <key=value>/ },
  { args: ['frobnicate'], exit: 2, stderr: /^error: unknown command 'frobnicate'/ },
  { args: ['validate', '--frob', 'experiments/quick.yaml'], exit: 2, stderr: /^error: unknown option '--frob'/ },
  { args: ['plan'], exit: 2, stderr: /^error: missing required argument 'file'/ },
];

test('help, version and usage errors: exit 0 for help and version, 2 for a bad command line', async () => {
  const results = await mapLimit(cases, 4, (c) => kdx(c.args));
  for (const [i, c] of cases.entries()) {
    const r = results[i];
    const what = `kdx ${c.args.join(' ')}`;
    assert.equal(r.exitCode, c.exit, `${what}: ${r.stderr}`);
    if (c.stdout) assert.match(r.stdout, c.stdout, what);
    if (c.stderr) {
      assert.match(r.stderr, c.stderr, what);
      assert.equal(r.stdout, '', what);
    }
    assert.ok(!hasStackTrace(r.stderr), `${what}: ${r.stderr}`);
  }
});

test('kdx plan experiments/cifar10-kd.yaml: the reference models (student 1,116,970 parameters, no dropout) and each stage\'s full optimizer', async () => {
  const cwd = freshDir();
  try {
    const result = await kdx(['plan', join(repo, 'experiments', 'cifar10-kd.yaml'), '--backend', 'wasm'], { cwd: cwd.dir });
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, /^cifar10-kd: dataset cifar10, input 32x32x3, 10 classes, batch 64, backend wasm$/m);
    assert.match(result.stdout, /^Model teacher: 3,248,202 parameters$/m);
    assert.match(result.stdout, /^Model student: 1,116,970 parameters$/m);
    const student = result.stdout.slice(result.stdout.indexOf('Model student:'));
    assert.doesNotMatch(student, /dropout/, 'the reference program\'s student has no dropout');
    for (const stage of ['teacher', 'student', 'kd_student']) {
      assert.match(result.stdout, new RegExp(`^  ${stage} +adamw lr=0\\.001 betas=\\[0\\.9, 0\\.999\\] eps=1e-8 weightDecay=0\\.01 schedule=constant$`, 'm'));
    }
    assert.deepEqual(cwd.list(), [], 'plan needs no data and writes nothing');
  } finally {
    cwd.cleanup();
  }
});
