import { loadExperiment } from '../config/load.js';
import { experimentWarnings, formatWarnings } from '../config/warnings.js';

export async function validate(file: string, options: { set: string[] }): Promise<void> {
  const { experiment, source } = await loadExperiment(file, { overrides: options.set });
  process.stderr.write(formatWarnings(experimentWarnings(experiment, source)));
  const stages = Object.keys(experiment.stages).length;
  const models = Object.keys(experiment.models).length;
  process.stdout.write(`${file}: ok (${stages} stage${stages === 1 ? '' : 's'}, ${models} model${models === 1 ? '' : 's'})\n`);
}
