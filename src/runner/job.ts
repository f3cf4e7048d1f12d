// Executes one job in this process, through the store: cached -> reuse; otherwise take the job's lock,
// resume from its last checkpoint, train, checkpoint every epoch, and commit the finished outputs.
import { asUserError } from '../errors.js';
import type { EventSink, JobSummary } from '../events.js';
import type { Job } from './plan.js';
import type { StageSpec } from '../config/experiment.js';
import type { Damage, Entry, Store, JobWork } from '../store/store.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DatasetCache } from './datasets.js';
import type { LoadedDataset } from '../registry/types.js';
import { datasetShape } from '../config/load.js';
import { decodeTensors, encodeTensors, loadModelDir, modelToFiles } from './model-io.js';
import { trainJob, TrainingAborted, TrainingError, transformChain, type EpochMetrics, type ResumeState, type TeacherSource } from './train.js';
import type { LayersModel } from '../engine/tf.js';
import { subsetProblem, subsetSplit } from '../data/subset.js';
import { testMetrics, type TestMetrics, type WeightedTeacher } from './test-metrics.js';
import { computeTeacherLogits } from './teacher-logits.js';
import { modelLogits, type BatchLogits } from './evaluate.js';
import { ReplicaPool } from './replicas.js';
import { describeJob } from './reload-job.js';
import { worthSharing } from './batch-cost.js';
import { featureUse, teacherTapModel } from './taps.js';
import { teacherLogitsKey } from '../store/keys.js';
import { EVALUATION_FILE } from '../report/evaluation.js';

export interface JobEnvironment {
  store: Store;
  datasets: DatasetCache;
  backend: string;
  emit: EventSink;
  signal?: AbortSignal;
  /** Full key of each job id, to find a teacher's entry. */
  keyOf: (id: string) => string;
  /** Compute the teacher's logits live instead of through the store (for testing the stored path). */
  liveTeacher?: boolean;
}

export type JobOutcome = { status: 'done' | 'cached'; summary: JobSummary };

interface CheckpointMeta {
  epochsDone: number;
  history: EpochMetrics[];
  weightSpecs: unknown;
  optimizerSpecs: unknown;
}

export async function executeJob(job: Job, env: JobEnvironment): Promise<JobOutcome> {
  const claim = await stoppable(env.signal, () =>
    env.store.claim(job.key, {
      wait: true,
      signal: env.signal,
      onWait: (holder) => env.emit({ type: 'log', time: Date.now(), level: 'info', message: `${job.label}: waiting for process ${holder?.pid ?? '?'}, which is training the same job` }),
    }),
  );
  if (claim.status === 'cached') return { status: 'cached', summary: await storedSummary(claim.entry, job) };
  if (claim.status !== 'claimed') throw new Error(`could not claim job ${job.id}`);
  if (claim.quarantined) warnDamaged(env, `${job.label}: its cached result`, claim.quarantined, 'training it again');
  const work = claim.work;
  try {
    return { status: 'done', summary: await trainAndCommit(job, work, env) };
  } finally {
    await work.release();
  }
}

async function trainAndCommit(job: Job, work: JobWork, env: JobEnvironment): Promise<JobSummary> {
  const dataset = stageDataset(job, await env.datasets.get(job.experiment));
  const { inputShape, classes } = datasetShape(job.experiment);
  if (dataset.classes !== classes) throw new TrainingError(`${job.experiment.data.dataset} loaded with ${dataset.classes} classes, expected ${classes}`);
  const teacher = job.teachers === undefined ? undefined : await ensembleSource(job, dataset, env);
  const resume = await loadResume(work);
  if (resume) await work.appendLog(`resumed after epoch ${resume.epochsDone}`);
  let result;
  try {
    result = await trainJob({
      job,
      dataset,
      inputShape,
      backend: env.backend,
      emit: env.emit,
      signal: env.signal,
      teacher,
      resume,
      onEpochEnd: async ({ epochsDone, model, optimizer, history }) => {
        const weights = await encodeTensors(model.weights.map((w, i) => ({ name: `w${i}`, tensor: w.read() })));
        const state = await optimizer.getWeights(); // copies: ours to dispose
        const optimizerState = await encodeTensors(state);
        state.forEach((s) => s.tensor.dispose());
        await work.saveCheckpoint({ 'weights.bin': weights.data, 'optimizer.bin': optimizerState.data }, {
          epochsDone,
          history,
          weightSpecs: weights.specs,
          optimizerSpecs: optimizerState.specs,
        } satisfies CheckpointMeta);
        const last = history[history.length - 1];
        await work.appendLog(`epoch ${epochsDone}: loss ${last.loss.toFixed(4)} test loss ${last.testLoss.toFixed(4)} test acc ${last.testAccuracy.toFixed(4)}`);
      },
    });
  } finally {
    if (teacher?.kind === 'live') teacher.model.dispose();
    resume?.weights.forEach((w) => w.tensor.dispose());
    resume?.optimizerState.forEach((w) => w.tensor.dispose());
  }
  let files;
  let summary: JobSummary;
  try {
    files = await modelToFiles(result.model);
    // In the order a cached job's summary is read back (storedSummary): the timing comes last.
    const { seconds, imgPerSec, backend, ...results } = result.summary;
    summary = { ...results, ...(await finalTestMetrics(job, result.testLogits, dataset, env)), seconds, imgPerSec, backend };
  } finally {
    result.model.dispose();
  }
  await work.commit(
    {
      ...files,
      ...metricsFiles(summary, result.history),
      'config.json': JSON.stringify(jobConfig(job), null, 2),
      [EVALUATION_FILE]: JSON.stringify(result.evaluation),
    },
    { stage: job.stage.name, model: job.stage.model, experiment: job.experiment.name, file: job.experiment.file },
  );
  return summary;
}

/** The loaded dataset as this stage trains on it: its subset of the training split (the test split whole). */
function stageDataset(job: Job, dataset: LoadedDataset): LoadedDataset {
  const { subset } = job.stage.data;
  if (subset === undefined) return dataset;
  // Checked at validate time for datasets that know their size without loading; here for the others.
  const problem = subsetProblem(subset, dataset.train.count, dataset.classes);
  if (problem) throw new TrainingError(`${job.label}: stages.${job.stage.name}.data.subset.${problem.at.join('.')}: ${problem.message}`);
  const train = subsetSplit(dataset.train, subset);
  if (train.count === 0) throw new TrainingError(`${job.label}: stages.${job.stage.name}.data.subset keeps no training image`);
  return { ...dataset, train };
}

/** Top-5, ECE and, with teachers, agreement and KL with them on the test set (see test-metrics.ts), from
 * the model's logits of its final evaluation: only the teachers run again. */
async function finalTestMetrics(job: Job, testLogits: Float32Array, dataset: LoadedDataset, env: JobEnvironment): Promise<TestMetrics> {
  const teachers: { id: string; name: string; model: LayersModel; weight: number }[] = [];
  try {
    for (const teacher of job.teachers ?? []) {
      teachers.push({ id: teacher.id, name: teacherStage(job, teacher.id).model, model: await loadTeacherModel(job, teacher.id, env), weight: teacher.weight });
    }
    const transforms = transformChain(job.experiment.data.test, dataset.shape);
    return await withLogits(job, teachers, dataset, env, (teacherLogits) => {
      const weighted: WeightedTeacher[] = teachers.map((t, i) => ({ logitsOf: teacherLogits[i], weight: t.weight }));
      return testMetrics(testLogits, weighted, dataset.test, dataset.shape, transforms, job.stage.data.batchSize);
    });
  } finally {
    teachers.forEach((t) => t.model.dispose());
  }
}

/**
 * The logits of each model (the model `name` of the job with that id) for as long as `use` runs: on as
 * many replicas as the job has threads (the cores the scheduler gave it; each replica computes its rows
 * of every batch: runner/replicas.ts), else (one thread, or batches too small to share) on this thread.
 */
async function withLogits<T>(
  job: Job, models: { id: string; name: string; model: LayersModel }[], dataset: LoadedDataset, env: JobEnvironment,
  use: (logits: BatchLogits[]) => Promise<T>,
): Promise<T> {
  if (models.length === 0) return use([]);
  const [{ id, name, model }, ...rest] = models;
  const withFirst = (first: BatchLogits) => withLogits(job, rest, dataset, env, (others) => use([first, ...others]));
  if (job.threads <= 1 || (job.plannedThreads.auto && !worthSharing(job.experiment, name, job.stage.data.batchSize))) return withFirst(modelLogits(model));
  const replicas = await ReplicaPool.start(model, {
    job: { ...describeJob(job, env.backend), jobId: id },
    threads: job.threads,
    batchSize: job.stage.data.batchSize,
    inputShape: datasetShape(job.experiment).inputShape, // the model's: the batches come transformed
    classes: dataset.classes,
    inferenceOnly: true,
  });
  try {
    return await withFirst(replicas.batchLogits());
  } finally {
    await replicas.close();
  }
}

/**
 * A job's numbers in two files: metrics.json holds what training computed (losses, accuracies, learning
 * rates), which is the same to the byte on every run of the same key; timing.json holds how long it took
 * and how fast, which is not.
 */
function metricsFiles(summary: JobSummary, history: EpochMetrics[]): { 'metrics.json': string; 'timing.json': string } {
  const { seconds, imgPerSec, backend, ...results } = summary;
  return {
    'metrics.json': `${JSON.stringify({ summary: results, history: history.map(({ seconds: _s, imgPerSec: _r, ...epoch }) => epoch) }, null, 2)}\n`,
    'timing.json': `${JSON.stringify({ backend, seconds, imgPerSec, epochs: history.map(({ epoch, seconds: s, imgPerSec: r }) => ({ epoch, seconds: s, imgPerSec: r })) }, null, 2)}\n`,
  };
}

/** The summary of a cached job, from its metrics.json and timing.json. The entry may have been trained
 * under another stage name (a key does not hash names): this job's names are the ones to report. */
async function storedSummary(entry: Entry, job: Job): Promise<JobSummary> {
  const { summary } = entry.metrics as { summary: Omit<JobSummary, 'seconds' | 'imgPerSec' | 'backend'> };
  const timing = JSON.parse(await readFile(join(entry.dir, 'timing.json'), 'utf8')) as Pick<JobSummary, 'seconds' | 'imgPerSec' | 'backend'>;
  return { ...summary, stage: job.stage.name, model: job.stage.model, seconds: timing.seconds, imgPerSec: timing.imgPerSec, backend: timing.backend };
}

/** One warning line: which stored data was damaged, where it went, and what happens now. */
function warnDamaged(env: JobEnvironment, what: string, damage: Damage & { movedTo: string }, next: string): void {
  const message = `${what} is damaged (${damage.file} ${damage.problem}); moved it to ${damage.movedTo} and ${next}`;
  env.emit({ type: 'log', time: Date.now(), level: 'warn', message });
}

/**
 * How a job's error is shown: a user's problem in its own words, an interruption, or kdx's own bug with
 * its stack and a request to report it. The same in-process and in a worker.
 */
export function describeJobError(error: unknown): { message: string; interrupted: boolean } {
  if (error instanceof TrainingAborted) return { message: 'interrupted', interrupted: true };
  const user = asUserError(error);
  if (user) return { message: user.message, interrupted: false };
  const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
  return { message: `${stack}\n(this is a bug in kdx, not in your experiment; please report it with the lines above)`, interrupted: false };
}

/** Waiting for another process's lock ends with the run when it is stopped. */
async function stoppable<T>(signal: AbortSignal | undefined, wait: () => Promise<T>): Promise<T> {
  try {
    return await wait();
  } catch (error) {
    if (signal?.aborted) throw new TrainingAborted();
    throw error;
  }
}

function checkTeacherWidth(job: Job, dataset: LoadedDataset, source: TeacherSource & { kind: 'stored' }): TeacherSource & { kind: 'stored' } {
  if (source.classes !== dataset.classes) {
    throw new TrainingError(`${job.label}: its teacher outputs ${source.classes} logits, but ${dataset.name} has ${dataset.classes} classes`);
  }
  return source;
}

/** The resolved configuration of a job, as written next to its model. */
export function jobConfig(job: Job) {
  const { stage, experiment } = job;
  return { key: job.key, stage, layers: job.layers, data: experiment.data, seed: stage.seed, teachers: job.teachers, ...(job.threads > 1 ? { threads: job.threads } : {}) };
}

async function loadResume(work: JobWork): Promise<ResumeState | undefined> {
  const checkpoint = await work.loadCheckpoint<CheckpointMeta>();
  if (!checkpoint) return undefined;
  const { meta } = checkpoint;
  return {
    epochsDone: meta.epochsDone,
    history: meta.history,
    weights: decodeTensors(await checkpoint.read('weights.bin'), meta.weightSpecs),
    optimizerState: decodeTensors(await checkpoint.read('optimizer.bin'), meta.optimizerSpecs),
  };
}

/** A teacher's trained model, from its store entry. */
/** The stage of the job's teacher with that job id. */
function teacherStage(job: Job, teacherId: string): StageSpec {
  return job.experiment.stages[job.stage.teachers![job.teachers!.findIndex((t) => t.id === teacherId)].stage];
}

async function loadTeacherModel(job: Job, teacherId: string, env: JobEnvironment): Promise<LayersModel> {
  // The teacher's entry was verified when its job was claimed; it is checked again right before its
  // weights are read, since this may be another process, minutes later.
  const { entry, quarantined } = await env.store.readVerifiedEntry(env.keyOf(teacherId));
  if (entry) return loadModelDir(entry.dir);
  if (quarantined) warnDamaged(env, `${job.label}: its teacher's cached result`, quarantined, 'cannot go on');
  throw new TrainingError(`${job.label}: the trained teacher ${teacherStage(job, teacherId).name} is no longer in the store; run the same command again to retrain it`);
}

/**
 * The teacher logits a distilling job trains on: its one teacher's, or its teachers' averaged with their
 * weights. Each teacher's logits are stored on their own (a teacher shared by several ensembles or
 * students is run once), and averaged here, so the training step sees one teacher whatever their number.
 */
async function ensembleSource(job: Job, dataset: LoadedDataset, env: JobEnvironment): Promise<TeacherSource> {
  const teachers = job.teachers!;
  // Feature losses read the teacher's taps on the same augmented batch: it runs live, rebuilt with them
  // (a file with feature losses names one teacher: checked when it was loaded).
  if (featureUse(job.stage.loss).teacher.length > 0) {
    const model = await loadTeacherModel(job, teachers[0].id, env);
    return { kind: 'live', model: teacherTapModel(model, job.experiment, job.stage, datasetShape(job.experiment).inputShape) };
  }
  // Live teachers (a test of the stored path) are one model: an ensemble is always read from the store.
  if (env.liveTeacher && teachers.length === 1) {
    const model = await loadTeacherModel(job, teachers[0].id, env);
    return { kind: 'live', model: { model, outputs: [], dispose: () => model.dispose() } };
  }
  const sources: (TeacherSource & { kind: 'stored' })[] = [];
  for (const teacher of teachers) sources.push(await teacherSource(job, teacher.id, dataset, env));
  if (sources.length === 1) return sources[0];
  const logits = new Float32Array(sources[0].logits.length);
  sources.forEach((source, t) => {
    for (let i = 0; i < logits.length; i++) logits[i] += teachers[t].weight * source.logits[i];
  });
  return { ...sources[0], logits };
}

async function teacherSource(job: Job, teacherId: string, dataset: LoadedDataset, env: JobEnvironment): Promise<TeacherSource & { kind: 'stored' }> {
  const teacherKey = env.keyOf(teacherId);
  const loadTeacher = () => loadTeacherModel(job, teacherId, env);
  const logitsKey = teacherLogitsKey(job.experiment, job.stage, teacherKey);
  // Trials running at once in other processes share the logits: one computes, the others wait and read.
  const lock = await stoppable(env.signal, () => env.store.lock(`logits-${logitsKey}`, { wait: true, signal: env.signal }));
  try {
    const stored = await env.store.getLogits(logitsKey, (damage) => warnDamaged(env, `${job.label}: the stored teacher logits`, damage, 'computing them again'));
    if (stored) {
      const [, samplesPerEpoch, classes] = stored.shape;
      return checkTeacherWidth(job, dataset, { kind: 'stored', logits: stored.data, samplesPerEpoch, classes });
    }
    const model = await loadTeacher();
    try {
      const classes = (model.outputs[0].shape as number[])[1];
      const computed = await withLogits(job, [{ id: teacherId, name: teacherStage(job, teacherId).model, model }], dataset, env, ([teacher]) => computeTeacherLogits(job, teacher, classes, dataset, env.emit, env.signal));
      await env.store.putLogits(logitsKey, computed.logits, [job.stage.epochs, computed.samplesPerEpoch, computed.classes]);
      return checkTeacherWidth(job, dataset, { kind: 'stored', ...computed });
    } finally {
      model.dispose();
    }
  } finally {
    await lock?.release();
  }
}
