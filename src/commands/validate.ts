import { loadExperiment } from '../config/load.js';

export async function validate(file: string, options: { set: string[] }): Promise<void> {
  const { experiment } = await loadExperiment(file, { overrides: options.set });
  const stages = Object.keys(experiment.stages).length;
  const models = Object.keys(experiment.models).length;
  process.stdout.write(`${file}: ok (${stages} stage${stages === 1 ? '' : 's'}, ${models} model${models === 1 ? '' : 's'})\n`);
}
