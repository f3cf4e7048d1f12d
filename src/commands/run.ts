import { loadExperiment } from '../config/load.js';
import { executeTrials, type ExecutionFlags } from './session.js';

export async function run(file: string, flags: ExecutionFlags): Promise<void> {
  const { experiment } = await loadExperiment(file, { overrides: flags.set });
  await executeTrials('run', experiment, [{ id: '', params: {}, experiment }], flags);
}
