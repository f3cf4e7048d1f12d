import { datasetShape, loadExperiment } from '../config/load.js';
import { experimentWarnings, formatWarnings } from '../config/warnings.js';
import type { Experiment, LossSpec, NamedSpec, StageData } from '../config/experiment.js';
import { describeModel } from '../registry/model.js';
import { planExperiment } from '../runner/plan.js';
import { ONE_THREAD, type ThreadPlan, type ThreadsSetting } from '../runner/threads.js';
import { threadsOf } from './session.js';
import { Store } from '../store/store.js';
import { backendLabel, selectBackendOrFail, type BackendName } from '../engine/backend.js';
import type { OptimizerConfig } from '../registry/types.js';
import { table } from '../util/text.js';

export async function plan(file: string, options: { set: string[]; cacheDir?: string; backend?: BackendName; threads?: ThreadsSetting }): Promise<void> {
  const { experiment, source } = await loadExperiment(file, { overrides: options.set });
  process.stderr.write(formatWarnings(experimentWarnings(experiment, source)));
  const backend = await selectBackendOrFail(options.backend ?? experiment.backend);
  const store = new Store(options.cacheDir);
  const label = backendLabel(backend);
  process.stdout.write(formatPlan(experiment, label, (key) => store.hasSync(key), threadsOf(experiment, options, label)));
}

const valueText = (v: unknown): string => (Array.isArray(v) ? `[${v.map(valueText).join(', ')}]` : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** `kd(temperature=4, alpha=0.7)`; `brief`: without the options that are lists or mappings (feature pairs). */
const namedText = (loss: NamedSpec, brief = false) => {
  const args = Object.entries(loss.args)
    .filter(([, v]) => !brief || v === null || typeof v !== 'object')
    .map(([k, v]) => `${k}=${valueText(v)}`)
    .join(', ');
  return args ? `${loss.type}(${args})` : loss.type;
};

/** `kd(temperature=4, alpha=0.7)`; a list as its weighted sum: `1*crossEntropy(...) + warmup(1, 20)*dkd(...)`.
 * `brief` for the stages table, which feature pairs would make hundreds of columns wide; the full form has
 * a table of its own. */
const lossText = (loss: LossSpec, brief = false) =>
  !Array.isArray(loss)
    ? namedText(loss, brief)
    : loss.map((term) => `${typeof term.weight === 'number' ? term.weight : `warmup(${term.weight.value}, ${term.weight.warmup})`}*${namedText(term, brief)}`).join(' + ');

/** Every option of an optimizer, its schedule last: `sgd lr=0.1 momentum=0.5 ... schedule=step(stepSize=30, gamma=0.1)`. */
export function optimizerText(optimizer: OptimizerConfig): string {
  const { name, schedule, ...options } = optimizer;
  const value = (v: unknown) => (Array.isArray(v) ? `[${v.join(', ')}]` : String(v));
  const { type, ...scheduleArgs } = (schedule ?? { type: 'constant' }) as { type: string };
  const scheduleOptions = Object.entries(scheduleArgs).map(([k, v]) => `${k}=${value(v)}`);
  return [name, ...Object.entries(options).map(([k, v]) => `${k}=${value(v)}`), `schedule=${type}${scheduleOptions.length ? `(${scheduleOptions.join(', ')})` : ''}`].join(' ');
}

/** A stage's own data in a few words: `5% (seed 0), batch 16`, `first 500`, `classes 0, 3`, `all`. */
function dataText(data: StageData, batchSize: number): string {
  const { subset } = data;
  const part = subset === undefined
    ? 'all'
    : 'first' in subset
      ? `first ${subset.first}`
      : 'fraction' in subset
        ? `${Number((subset.fraction * 100).toPrecision(4))}% (seed ${subset.seed})`
        : `classes ${subset.classes.join(', ')}`;
  return data.batchSize === batchSize ? part : `${part}, batch ${data.batchSize}`;
}

/** What the threads column holds, in one line: the count when every job has it, else who trains on one
 * (a header saying 2 above a column of 1s reads as a contradiction). */
function threadsLine(perJob: number[], threads: ThreadPlan): string {
  const shared = perJob.filter((n) => n > 1).length;
  const counts =
    shared === perJob.length
      ? `${threads.count}`
      : shared === 0
        ? `1 (${threads.auto ? `auto on ${threads.count} cores: no job is large enough to share its batches` : 'no job can share its batches'})`
        : `${threads.count} for ${shared} of the ${perJob.length} jobs, 1 for the others (the threads column)`;
  return `Threads per job: ${counts}; part of the job keys`;
}

export function formatPlan(experiment: Experiment, backend: string, isCached: (key: string) => boolean, threads: ThreadPlan = ONE_THREAD): string {
  const { inputShape, classes } = datasetShape(experiment);
  const { jobs } = planExperiment(experiment, backend, threads);
  const out: string[] = [];
  out.push(`${experiment.name}: dataset ${experiment.data.dataset}, input ${inputShape.join('x')}, ${classes} classes, batch ${experiment.data.batchSize}, backend ${backend}`, '');
  const threaded = threads.count > 1;
  if (threaded) out.push(threadsLine(jobs.map((job) => job.threads), threads), '');
  if (experiment.seeds) out.push(`Seeds ${experiment.seeds.join(', ')}: \`kdx run\` trains every stage without its own seed under each (the jobs below are seed ${experiment.seed}'s)`, '');
  // A column for the stages' own data, when one has any.
  const ownData = jobs.some((job) => job.stage.data.subset !== undefined || job.stage.data.batchSize !== experiment.data.batchSize);
  out.push('Stages, in execution order:');
  out.push(
    table(
      ['#', 'stage', 'model', 'epochs', 'loss', 'job', 'cache', ...(threaded ? ['threads'] : []), ...(ownData ? ['data'] : [])],
      jobs.map((job, i) => [
        String(i + 1),
        job.stage.name,
        job.stage.model,
        String(job.stage.epochs),
        lossText(job.stage.loss, true),
        job.id,
        isCached(job.key) ? 'cached' : '-',
        ...(threaded ? [String(job.threads)] : []),
        ...(ownData ? [dataText(job.stage.data, experiment.data.batchSize)] : []),
      ]),
      { indent: 2, right: [0, 3] },
    ),
  );
  out.push('', 'Losses (each stage\'s, with defaults filled):');
  out.push(table(['stage', 'loss'], jobs.map((job) => [job.stage.name, lossText(job.stage.loss)]), { indent: 2 }));
  out.push('', 'Optimizers (each stage\'s, after merging over the experiment\'s and filling defaults):');
  out.push(table(['stage', 'optimizer'], jobs.map((job) => [job.stage.name, optimizerText(job.stage.optimizer)]), { indent: 2 }));
  const edges = jobs.flatMap((job) => [
    ...(job.stage.teachers ?? []).map((t) => `  ${t.stage} -> ${job.stage.name}  (teacher${job.stage.teachers!.length > 1 ? `, weight ${Number(t.weight.toFixed(4))}` : ''})`),
    ...job.stage.needs.map((need) => `  ${need} -> ${job.stage.name}  (needs)`),
  ]);
  out.push('', 'Edges:', ...(edges.length ? edges : ['  (none: the stages are independent)']));
  const used = [...new Set(jobs.map((job) => job.stage.model))];
  for (const name of used) {
    const { rows, params, tapShapes } = describeModel(name, experiment.models[name], inputShape);
    out.push('', `Model ${name}: ${params.toLocaleString('en-US')} parameters`);
    out.push(
      table(
        ['#', 'layer', 'output', 'params'],
        [
          ['', 'input', inputShape.join('x'), ''],
          ...rows.map((row) => [String(row.index), row.type, row.outputShape.join('x'), row.params.toLocaleString('en-US')]),
        ],
        { indent: 2, right: [0, 3] },
      ),
    );
    // Every tap, numbered ones too (a tap in a repeat has no row of its own above).
    const taps = Object.entries(tapShapes).map(([tap, shape]) => `${tap} ${shape.join('x')}`);
    if (taps.length > 0) out.push(`  taps: ${taps.join(', ')}`);
  }
  return `${out.join('\n')}\n`;
}
