// Learning-rate schedules, evaluated per training step (the runner calls lrAt before every step and
// hands the value to optimizer.setLearningRate).

/** The learning rate stays at the base value. */
export interface ConstantSchedule {
  type: 'constant';
}

/** torch.optim.lr_scheduler.StepLR stepped once per epoch: lr = base * gamma^floor(epoch / stepSize). */
export interface StepSchedule {
  type: 'step';
  /** Epochs between decays (> 0; fractions allowed). */
  stepSize: number;
  /** Factor applied at each decay. Default 0.1 (torch's). */
  gamma?: number;
}

/** torch.optim.lr_scheduler.MultiStepLR stepped once per epoch: lr = base * gamma^(milestones <= epoch). */
export interface MultiStepSchedule {
  type: 'multistep';
  /** 0-based epochs at which the rate is multiplied by gamma (mdistiller's 150, 180, 210 of 240). */
  milestones: number[];
  /** Factor applied at each milestone. Default 0.1. */
  gamma?: number;
}

/**
 * Linear warmup from base/warmupSteps up to base over `warmupEpochs`, then a half cosine from base down
 * to `minLr`, reached at `totalSteps` (the step after the last).
 */
export interface CosineSchedule {
  type: 'cosine';
  /** Epochs of linear warmup (fractions allowed). Default 0. */
  warmupEpochs?: number;
  /** The learning rate at the end. Default 0. */
  minLr?: number;
}

export type ScheduleConfig = ConstantSchedule | StepSchedule | MultiStepSchedule | CosineSchedule;

export const scheduleTypes = ['constant', 'step', 'multistep', 'cosine'] as const;

/**
 * The learning rate for training step `step` (0-based, counting over the whole job: epoch * stepsPerEpoch
 * + batch) of a job of `totalSteps` steps with `stepsPerEpoch` steps per epoch. No schedule means constant.
 */
export function lrAt(
  schedule: ScheduleConfig | undefined,
  baseLr: number,
  step: number,
  totalSteps: number,
  stepsPerEpoch: number,
): number {
  if (!(stepsPerEpoch > 0)) throw new Error(`lr schedule: stepsPerEpoch must be > 0 (got ${stepsPerEpoch})`);
  if (!(step >= 0)) throw new Error(`lr schedule: step must be >= 0 (got ${step})`);
  const type = schedule?.type ?? 'constant';
  switch (type) {
    case 'constant':
      return baseLr;

    case 'step': {
      const { stepSize, gamma = 0.1 } = schedule as StepSchedule;
      if (!(typeof stepSize === 'number' && stepSize > 0)) {
        throw new Error(`lr schedule step: stepSize (epochs) must be > 0 (got ${JSON.stringify(stepSize)})`);
      }
      const epoch = Math.floor(step / stepsPerEpoch);
      return baseLr * Math.pow(gamma, Math.floor(epoch / stepSize + 1e-9));
    }

    case 'multistep': {
      const { milestones, gamma = 0.1 } = schedule as MultiStepSchedule;
      if (!Array.isArray(milestones) || !milestones.every((m) => Number.isInteger(m) && m >= 0)) {
        throw new Error(`lr schedule multistep: milestones must be a list of epochs (got ${JSON.stringify(milestones)})`);
      }
      const epoch = Math.floor(step / stepsPerEpoch);
      return baseLr * Math.pow(gamma, milestones.filter((m) => m <= epoch).length);
    }

    case 'cosine': {
      const { warmupEpochs = 0, minLr = 0 } = schedule as CosineSchedule;
      if (!(warmupEpochs >= 0)) throw new Error(`lr schedule cosine: warmupEpochs must be >= 0 (got ${warmupEpochs})`);
      const warmupSteps = Math.min(Math.round(warmupEpochs * stepsPerEpoch), totalSteps);
      if (step < warmupSteps) return (baseLr * (step + 1)) / warmupSteps;
      const decaySteps = Math.max(1, totalSteps - warmupSteps);
      const progress = Math.min(1, (step - warmupSteps) / decaySteps);
      return minLr + 0.5 * (baseLr - minLr) * (1 + Math.cos(Math.PI * progress));
    }

    default:
      throw new Error(`unknown lr schedule "${type as string}" (known: ${scheduleTypes.join(', ')})`);
  }
}
