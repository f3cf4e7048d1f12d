import { datasetShape, loadExperiment } from '../config/load.js';
import type { Experiment } from '../config/experiment.js';
import { describeModel } from '../registry/model.js';
import { planExperiment } from '../runner/plan.js';
import { Store } from '../runner/store.js';
import { table } from '../util/text.js';

export async function plan(file: string, options: { set: string[]; cacheDir?: string }): Promise<void> {
  const { experiment } = await loadExperiment(file, { overrides: options.set });
  const store = new Store(options.cacheDir);
  process.stdout.write(formatPlan(experiment, (key) => store.hasSync(key)));
}

const lossText = (loss: { type: string; args: Record<string, unknown> }) => {
  const args = Object.entries(loss.args).map(([k, v]) => `${k}=${v}`).join(', ');
  return args ? `${loss.type}(${args})` : loss.type;
};

export function formatPlan(experiment: Experiment, isCached: (key: string) => boolean): string {
  const { inputShape, classes } = datasetShape(experiment);
  const { jobs } = planExperiment(experiment);
  const out: string[] = [];
  out.push(`${experiment.name}: dataset ${experiment.data.dataset}, input ${inputShape.join('x')}, ${classes} classes, batch ${experiment.data.batchSize}`, '');
  out.push('Stages, in execution order:');
  out.push(
    table(
      ['#', 'stage', 'model', 'epochs', 'loss', 'optimizer', 'job', 'cache'],
      jobs.map((job, i) => [
        String(i + 1),
        job.stage.name,
        job.stage.model,
        String(job.stage.epochs),
        lossText(job.stage.loss),
        `${job.stage.optimizer.name} lr=${job.stage.optimizer.lr}`,
        job.id,
        isCached(job.key) ? 'cached' : '-',
      ]),
      { indent: 2, right: [0, 3] },
    ),
  );
  const edges = jobs.flatMap((job) => [
    ...(job.stage.teacher ? [`  ${job.stage.teacher} -> ${job.stage.name}  (teacher)`] : []),
    ...job.stage.needs.map((need) => `  ${need} -> ${job.stage.name}  (needs)`),
  ]);
  out.push('', 'Edges:', ...(edges.length ? edges : ['  (none: the stages are independent)']));
  const used = [...new Set(jobs.map((job) => job.stage.model))];
  for (const name of used) {
    const { rows, params } = describeModel(name, experiment.models[name], inputShape);
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
  }
  return `${out.join('\n')}\n`;
}
