import { loadExperiment } from '../config/load.js';
import { executeTrials, type ExecutionFlags } from './session.js';
import { runSeeds, seedTrials } from './seeds.js';

export async function run(file: string, flags: ExecutionFlags): Promise<void> {
  const { experiment } = await loadExperiment(file, { overrides: flags.set });
  const trials = [{ id: '', params: {}, experiment }];
  const seeds = runSeeds(experiment, flags.seeds);
  await executeTrials('run', experiment, seeds ? await seedTrials(trials, seeds) : trials, flags);
}
