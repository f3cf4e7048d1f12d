// Repeated seeds (`--seeds N`, `seeds:`): every trial (a plain run is one) trained once per seed. Each
// replica is the same file with the seed as the default seed of its stages; the dataset keeps the file's
// seed, so every replica trains on the same data and differs by initialisation, order, augmentation and
// dropout. Jobs that do not depend on the seed (a stage with its own `seed:`, a `load:` stage) have the
// same key in every replica and run once.
import { countingSeeds, loadExperiment } from '../config/load.js';
import type { Experiment } from '../config/experiment.js';
import type { Trial } from '../runner/run.js';

/** The seeds to run: `--seeds N` counts up from the file's seed; else the file's `seeds:`; else none. */
export function runSeeds(experiment: Experiment, flag: number | undefined): number[] | undefined {
  return flag !== undefined ? countingSeeds(experiment.seed, flag) : experiment.seeds;
}

/** Each trial once per seed, its id and stage labels naming the seed. */
export async function seedTrials(trials: Trial[], seeds: number[]): Promise<Trial[]> {
  const replicas: Trial[] = [];
  for (const trial of trials) {
    for (const seed of seeds) {
      const { experiment } = await loadExperiment(trial.experiment.file, { overrides: trial.experiment.overrides, trainingSeed: seed });
      replicas.push({ id: trial.id ? `${trial.id}-seed=${seed}` : `seed=${seed}`, params: trial.params, seed, experiment });
    }
  }
  return replicas;
}
