// --executor slurm against a real Slurm (CI starts a single-node one with scripts/slurm-single-node.sh).
// Skipped, saying so, only where sbatch is not installed; where it is, Slurm must answer. The jobs are
// tiny (256 synthetic images, 2 epochs each) so that Slurm's own scheduling is most of the time.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, execaSync, type ResultPromise } from 'execa';
import type { KdxEvent } from '../../src/events.js';
import { cleanup, hasStackTrace, kdx, kdxBin, parseEvents, readJson, repoRoot, runDirs, scratchDir } from './support.js';

const hasSbatch = execaSync('sh', ['-c', 'command -v sbatch'], { reject: false }).exitCode === 0;
const skip = hasSbatch ? false : 'sbatch is not installed here (CI installs Slurm and starts scripts/slurm-single-node.sh)';

const quick = join(repoRoot, 'experiments', 'quick.yaml');
const small = ['--set', 'data.options.train=256', '--set', 'data.options.test=128', '--set', 'epochs=2', '--set', 'teacherEpochs=2'];

type Log = Extract<KdxEvent, { type: 'log' }>;
const logs = (events: KdxEvent[], pattern: RegExp) => events.filter((e): e is Log => e.type === 'log' && pattern.test(e.message));
/** `label` -> Slurm job id, from the controller's "submitted as Slurm job N" lines. */
const submitted = (events: KdxEvent[]) => new Map(logs(events, /submitted as Slurm job/).map((e) => [e.message.split(':')[0], e.message.match(/job (\d+)/)![1]]));

function slurmIds(): Set<string> {
  return new Set(execaSync('squeue', ['-h', '-t', 'all', '-o', '%i']).stdout.split('\n').filter(Boolean));
}

function slurmUp(t: TestContext): void {
  const sinfo = execaSync('sinfo', ['-h', '-o', '%t'], { reject: false });
  assert.equal(sinfo.exitCode, 0, `sbatch is installed but Slurm does not answer (${sinfo.stderr}): start one with scripts/slurm-single-node.sh start DIR`);
  t.diagnostic(`slurm: ${sinfo.stdout.trim()}`);
}

/** A `kdx ... --json` that runs in the background, and its events as they come. */
function background(args: string[], cwd: string) {
  const child: ResultPromise = execa(process.execPath, [kdxBin, ...args, '--json'], { cwd, reject: false, env: { NO_COLOR: '1', KDX_DATA: join(cwd, 'no-data') }, buffer: { stdout: true } });
  const events: KdxEvent[] = [];
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) if (line.trim()) events.push(JSON.parse(line) as KdxEvent);
  });
  const until = async (what: string, predicate: (events: KdxEvent[]) => boolean) => {
    for (let waited = 0; !predicate(events); waited += 100) {
      if (waited > 180_000 || child.exitCode !== null) assert.fail(`${what} did not happen; events: ${events.map((e) => e.type).join(' ')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  return { child, events, until };
}

function summaryRows(cwd: string) {
  const latest = runDirs(cwd).sort().pop()!;
  return readJson(join(latest, 'summary.json'));
}

/** A folder `cwd/bin` for PATH whose only program is an sbatch that prints these errors and fails. */
function failingSbatch(cwd: string, errors: string[]): string {
  const bin = join(cwd, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'sbatch'), `#!/bin/sh\n${errors.map((l) => `echo 'sbatch: error: ${l}' >&2`).join('\n')}\nexit 1\n`, { mode: 0o755 });
  return bin;
}

test('without sbatch: a clear error before anything is written (exit 1)', async () => {
  const cwd = scratchDir();
  try {
    const result = await kdx(['run', quick, ...small, '--executor', 'slurm'], { cwd, env: { PATH: join(cwd, 'empty') } });
    assert.equal(result.exitCode, 1, result.stderr);
    assert.match(result.stderr, /^kdx: --executor slurm needs Slurm's sbatch, which is not on PATH here/m);
    assert.ok(!hasStackTrace(result.stderr), result.stderr);
    assert.deepEqual(readdirSync(cwd).filter((f) => f !== 'no-data'), []);
  } finally {
    cleanup(cwd);
  }
});

test('sbatch installed but no controller answering (no configuration to find one): exit 1 saying so, not a refusal of the resources', async () => {
  const cwd = scratchDir();
  try {
    // What Debian's sbatch says on a machine outside a cluster.
    const bin = failingSbatch(cwd, ['resolve_ctls_from_dns_srv: res_nsearch error: Unknown host', 'fetch_config: DNS SRV lookup failed', '_establish_config_source: failed to fetch config', 'fatal: Could not establish a configuration source']);
    const result = await kdx(['run', quick, ...small, '--executor', 'slurm', '--set', 'runtime.slurm.partition=cpu'], { cwd, env: { PATH: bin } });
    assert.equal(result.exitCode, 1, result.stderr);
    assert.match(result.stderr, /^kdx: --executor slurm: no Slurm controller answers here \(sbatch: .*Could not establish a configuration source\): run kdx on a login node of the cluster, start the controller, or use --executor local; nothing was submitted$/m);
    assert.ok(!hasStackTrace(result.stderr), result.stderr);
    assert.deepEqual(readdirSync(cwd).filter((f) => f !== 'no-data' && f !== 'bin'), []);
  } finally {
    cleanup(cwd);
  }
});

test('a refusal that names no resource, of values given by --set: at the --set, not at the file\'s first line (exit 2)', async () => {
  const cwd = scratchDir();
  try {
    const bin = failingSbatch(cwd, ['Batch job submission failed: Requested node configuration is not available']);
    const result = await kdx(['run', quick, ...small, '--executor', 'slurm', '--set', 'runtime.slurm.partition=cpu'], { cwd, env: { PATH: bin } });
    assert.equal(result.exitCode, 2, result.stderr);
    assert.match(result.stderr, /^--set runtime\.slurm\.partition=cpu {2}runtime\.slurm {2}sbatch refuses these resources: Batch job submission failed: Requested node configuration is not available \(nothing was submitted\)$/m);
    assert.ok(!hasStackTrace(result.stderr), result.stderr);
  } finally {
    cleanup(cwd);
  }
});

test('a partition Slurm does not have: located error, exit 2, nothing submitted or written', { skip }, async (t) => {
  slurmUp(t);
  const cwd = scratchDir();
  try {
    const before = slurmIds();
    const fromSet = await kdx(['run', quick, ...small, '--executor', 'slurm', '--set', 'runtime.slurm.partition=nope'], { cwd });
    assert.equal(fromSet.exitCode, 2, fromSet.stderr);
    assert.match(fromSet.stderr, /^--set runtime\.slurm\.partition=nope {2}runtime\.slurm\.partition {2}sbatch refuses partition "nope": .*partition.* \(nothing was submitted\)$/m);
    // Written in a stage's own resources: the error is at that line.
    const text = readFileSync(quick, 'utf8').replace('  teacher:\n    model: teacher\n', '  teacher:\n    model: teacher\n    slurm: {partition: gpu-nope, time: "10"}\n');
    const file = join(cwd, 'bad.yaml');
    await import('node:fs').then((fs) => fs.writeFileSync(file, text));
    const inFile = await kdx(['run', 'bad.yaml', ...small, '--executor', 'slurm'], { cwd });
    assert.equal(inFile.exitCode, 2, inFile.stderr);
    const line = text.split('\n').findIndex((l) => l.includes('gpu-nope')) + 1;
    assert.match(inFile.stderr, new RegExp(`^bad\\.yaml:${line}:24  stages\\.teacher\\.slurm\\.partition  sbatch refuses partition "gpu-nope"`, 'm'));
    assert.match(inFile.stderr, /\n\s+\d+ \|\s+slurm: \{partition: gpu-nope/);
    for (const result of [fromSet, inFile]) assert.ok(!hasStackTrace(result.stderr), result.stderr);
    assert.deepEqual(readdirSync(cwd).sort(), ['bad.yaml']);
    assert.deepEqual([...slurmIds()].filter((id) => !before.has(id)), []);
  } finally {
    cleanup(cwd);
  }
});

test('webgpu with a stage\'s slurm: {gres: "gpu:1"}: the single-node Slurm has no GPU, so sbatch refuses it at that line before anything is submitted', { skip }, async (t) => {
  slurmUp(t);
  const cwd = scratchDir();
  try {
    const before = slurmIds();
    const text = readFileSync(quick, 'utf8').replace('  teacher:\n    model: teacher\n', '  teacher:\n    model: teacher\n    slurm: {gres: "gpu:1", time: "10"}\n');
    writeFileSync(join(cwd, 'gpu.yaml'), text);
    const result = await kdx(['run', 'gpu.yaml', ...small, '--executor', 'slurm', '--backend', 'webgpu'], { cwd });
    assert.equal(result.exitCode, 2, result.stderr);
    const line = text.split('\n').findIndex((l) => l.includes('gpu:1')) + 1;
    assert.match(result.stderr, new RegExp(`^gpu\\.yaml:${line}:\\d+  stages\\.teacher\\.slurm\\.gres  sbatch refuses`, 'm'));
    assert.ok(!hasStackTrace(result.stderr), result.stderr);
    assert.deepEqual([...slurmIds()].filter((id) => !before.has(id)), []);
  } finally {
    cleanup(cwd);
  }
});

test('the quick experiment on Slurm: the same table and bytes as a local run', { skip }, async (t) => {
  slurmUp(t);
  const cwd = scratchDir();
  try {
    const local = await kdx(['run', quick, ...small, '--cache-dir', 'local', '--runs-dir', 'runs-local', '--json'], { cwd });
    assert.equal(local.exitCode, 0, local.stderr);
    const slurm = await kdx(['run', quick, ...small, '--executor', 'slurm', '--cache-dir', 'shared', '--json'], { cwd });
    assert.equal(slurm.exitCode, 0, slurm.stderr);
    const events = parseEvents(slurm.stdout);
    assert.deepEqual([...submitted(events).keys()].sort(), ['kd_student', 'student', 'teacher']);
    // The reporters saw the jobs' own progress, re-emitted from the store.
    for (const label of ['teacher', 'student', 'kd_student']) {
      const id = events.find((e) => e.type === 'job-end' && e.label === label)!;
      assert.equal(events.filter((e) => e.type === 'epoch-end' && e.job === (id as { job: string }).job).length, 2, label);
    }
    const localRun = readdirSync(join(cwd, 'runs-local'))[0];
    const slurmRun = runDirs(cwd)[0];
    const strip = (rows: any[]) => rows.map((row) => Object.fromEntries(Object.entries<any>(row.stages).map(([stage, { seconds: _s, imgPerSec: _r, ...rest }]) => [stage, rest])));
    assert.deepEqual(strip(readJson(join(slurmRun, 'summary.json')).rows), strip(readJson(join(cwd, 'runs-local', localRun, 'summary.json')).rows));
    for (const stage of ['teacher', 'student', 'kd_student']) {
      for (const name of ['weights.bin', 'metrics.json']) {
        assert.ok(readFileSync(join(slurmRun, 'stages', stage, name)).equals(readFileSync(join(cwd, 'runs-local', localRun, 'stages', stage, name))), `${stage}/${name}`);
      }
    }
    // Run again: everything is cached, nothing is submitted.
    const again = await kdx(['run', quick, ...small, '--executor', 'slurm', '--cache-dir', 'shared', '--json'], { cwd });
    assert.equal(again.exitCode, 0, again.stderr);
    assert.equal(submitted(parseEvents(again.stdout)).size, 0);
    assert.equal(parseEvents(again.stdout).filter((e) => e.type === 'job-cached').length, 3);
  } finally {
    cleanup(cwd);
  }
});

test('a 3 x 3 sweep on Slurm: 11 jobs submitted, the teacher logits computed once', { skip }, async (t) => {
  slurmUp(t);
  const cwd = scratchDir();
  try {
    const result = await kdx(['sweep', quick, ...small, '--set', 'epochs=1', '--executor', 'slurm', '--json'], { cwd });
    assert.equal(result.exitCode, 0, result.stderr);
    const events = parseEvents(result.stdout);
    assert.equal(submitted(events).size, 11);
    const logitTasks = events.filter((e) => e.type === 'task' && e.label.startsWith('teacher logits') && e.done);
    assert.equal(logitTasks.length, 1, 'one job computes the logits, the other eight read them');
    assert.equal(readdirSync(join(cwd, '.kdx', 'cache', 'logits')).length, 1);
    const summary = summaryRows(cwd);
    assert.equal(summary.status, 'ok');
    assert.equal(summary.rows.length, 9);
    assert.ok(existsSync(join(runDirs(cwd)[0], 'results.csv')));
  } finally {
    cleanup(cwd);
  }
});

test('a job scancelled mid-run fails with Slurm\'s reason, its dependant is skipped, a rerun resumes it', { skip }, async (t) => {
  slurmUp(t);
  const cwd = scratchDir();
  try {
    const args = ['run', quick, ...small, '--set', 'stages.teacher.epochs=8', '--executor', 'slurm'];
    const run = background(args, cwd);
    await run.until('the teacher\'s first epoch', (events) => events.some((e) => e.type === 'epoch-end' && (e as { epoch: number }).epoch >= 1 && events.some((s) => s.type === 'job-start' && s.label === 'teacher' && s.job === e.job)));
    const teacherSlurmId = submitted(run.events).get('teacher')!;
    await execa('scancel', [teacherSlurmId]);
    const first = await run.child;
    assert.equal(first.exitCode, 1, String(first.stderr));
    const failed = run.events.find((e) => e.type === 'job-failed') as Extract<KdxEvent, { type: 'job-failed' }>;
    assert.equal(failed.label, 'teacher');
    assert.match(failed.error, new RegExp(`^Slurm ended job ${teacherSlurmId}: CANCELLED`));
    const skipped = run.events.find((e) => e.type === 'job-skipped') as Extract<KdxEvent, { type: 'job-skipped' }>;
    assert.equal(skipped.label, 'kd_student');
    assert.match(skipped.reason, /teacher failed/);
    assert.deepEqual(Object.fromEntries(Object.entries<any>(summaryRows(cwd).rows[0].stages).map(([s, v]) => [s, v.status])), { teacher: 'failed', student: 'done', kd_student: 'skipped' });

    // The rerun submits only the failed and the skipped job; the teacher resumes from its checkpoint.
    const rerun = await kdx([...args, '--json'], { cwd });
    assert.equal(rerun.exitCode, 0, rerun.stderr);
    const events = parseEvents(rerun.stdout);
    assert.deepEqual([...submitted(events).keys()].sort(), ['kd_student', 'teacher']);
    const start = events.find((e) => e.type === 'job-start' && e.label === 'teacher') as Extract<KdxEvent, { type: 'job-start' }>;
    assert.ok(start.startEpoch >= 1, `resumed after epoch ${start.startEpoch}`);
    assert.ok(events.some((e) => e.type === 'job-cached' && e.label === 'student'));
  } finally {
    cleanup(cwd);
  }
});

test('a controller killed with SIGKILL and started again re-attaches and submits nothing twice', { skip }, async (t) => {
  slurmUp(t);
  const cwd = scratchDir();
  try {
    const args = ['run', quick, ...small, '--set', 'stages.teacher.epochs=10', '--executor', 'slurm'];
    const run = background(args, cwd);
    await run.until('three submissions', (events) => submitted(events).size === 3);
    const first = submitted(run.events);
    run.child.kill('SIGKILL');
    await run.child;
    const again = await kdx([...args, '--json'], { cwd });
    assert.equal(again.exitCode, 0, again.stderr);
    const events = parseEvents(again.stdout);
    assert.equal(submitted(events).size, 0, 'nothing submitted again');
    const attached = logs(events, /re-attached to Slurm job/);
    assert.ok(attached.length >= 1, 'at least the teacher\'s distillation is still queued');
    for (const log of attached) assert.equal(log.message.match(/job (\d+)/)![1], first.get(log.message.split(':')[0]));
    assert.equal(summaryRows(cwd).status, 'ok');
    // One attempt per job in the store: each was submitted once.
    const records = join(cwd, '.kdx', 'cache', 'slurm');
    for (const key of readdirSync(records)) assert.equal(readdirSync(join(records, key)).filter((f) => f.startsWith('attempt-')).length, 1);
  } finally {
    cleanup(cwd);
  }
});

test('Ctrl-C of the controller: --on-interrupt cancel scancels the jobs, the default leaves them running', { skip }, async (t) => {
  slurmUp(t);
  const cwd = scratchDir();
  try {
    const stateOf = (id: string) => execaSync('squeue', ['-h', '-t', 'all', '-o', '%T', '-j', id]).stdout.trim();
    for (const policy of ['cancel', 'leave'] as const) {
      const args = ['run', quick, ...small, '--set', 'stages.teacher.epochs=8', '--executor', 'slurm', '--cache-dir', policy, ...(policy === 'cancel' ? ['--on-interrupt', 'cancel'] : [])];
      const run = background(args, cwd);
      await run.until('the teacher running', (events) => events.some((e) => e.type === 'job-start' && e.label === 'teacher'));
      run.child.kill('SIGINT');
      const result = await run.child;
      assert.equal(result.exitCode, 130, String(result.stderr));
      const teacher = submitted(run.events).get('teacher')!;
      const kd = submitted(run.events).get('kd_student')!;
      if (policy === 'cancel') {
        assert.equal(logs(run.events, /^cancelled Slurm jobs/).length, 1);
        assert.equal(stateOf(kd), 'CANCELLED');
      } else {
        assert.match(logs(run.events, /^left Slurm jobs/)[0].message, new RegExp(`${teacher}.*the same command re-attaches`));
        assert.ok(['PENDING', 'RUNNING', 'COMPLETING', 'COMPLETED'].includes(stateOf(teacher)), stateOf(teacher));
        // The same command re-attaches and sees it through.
        const again = await kdx([...args, '--json'], { cwd });
        assert.equal(again.exitCode, 0, again.stderr);
        assert.equal(submitted(parseEvents(again.stdout)).size, 0);
      }
    }
  } finally {
    cleanup(cwd);
  }
});
