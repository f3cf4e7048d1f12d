// Events are the only interface between the runner and whatever shows progress (the Ink TUI, plain
// lines, JSON lines, a parent process reading a worker over IPC). They are plain JSON objects so they
// cross process boundaries unchanged. Every event carries `time` (ms since the epoch).

/** The state of a job as a reporter shows it. */
export type JobState = 'waiting' | 'running' | 'cached' | 'done' | 'failed' | 'skipped';

/** One job of a plan, as announced in the `plan` event. */
export interface PlanJob {
  /** Short content key (the first 12 hex digits of the job's hash); the id every later event uses. */
  job: string;
  /** Human label: the stage name, plus the trial's parameters in a sweep (`kd_student[T=2,alpha=0.5]`). */
  label: string;
  stage: string;
  model: string;
  /** Label of the teacher job, if this job distils. */
  teacher?: string;
  /** Jobs (ids) this one waits for: its teacher and its `needs`. */
  dependsOn: string[];
  epochs: number;
  /** Whether the job's output is already in the cache when the plan is made. */
  cached: boolean;
}

/** One point of a sweep. */
export interface TrialInfo {
  /** Content-derived trial id (also the trial directory's name). */
  trial: string;
  params: Record<string, unknown>;
  /** Job ids of the trial's stages, by stage name. */
  jobs: Record<string, string>;
}

/** What a finished (or cached) job reports about itself. */
export interface JobSummary {
  stage: string;
  model: string;
  params: number;
  epochs: number;
  finalAccuracy: number;
  bestAccuracy: number;
  finalLoss: number;
  seconds: number;
  imgPerSec: number;
  backend: string;
  /** The final model's test metrics beyond top-1 (src/runner/test-metrics.ts); absent in entries
   * trained before kdx measured them. */
  top5Accuracy?: number;
  ece?: number;
  /** A distilled stage's top-1 agreement with its teacher (ensemble) and mean KL(teacher || student). */
  teacherAgreement?: number;
  teacherKL?: number;
}

/** What a job measured over one epoch (1-based `epoch`; accuracies are fractions; `seconds` this epoch's). */
export interface EpochMetrics {
  epoch: number;
  loss: number;
  testLoss: number;
  testAccuracy: number;
  imgPerSec: number;
  seconds: number;
  /** The learning rate at the epoch's last step. */
  lr?: number;
  /** A loss of several terms (KD: soft, hard): each term's mean over the epoch's training batches. */
  terms?: Record<string, number>;
}

export type KdxEvent =
  | { type: 'plan'; time: number; name: string; runDir: string; backend: string; jobs: PlanJob[]; trials?: TrialInfo[] }
  /**
   * `startEpoch`: epochs already finished by an earlier, interrupted attempt (0 on a fresh start);
   * `history`: their metrics, so a resumed job's curves start at epoch 1.
   */
  | { type: 'job-start'; time: number; job: string; label: string; epochs: number; startEpoch: number; batchesPerEpoch: number; history?: EpochMetrics[] }
  /** `evalBatches`: batches of the test-set evaluation that follows the epoch's training. */
  | { type: 'epoch-start'; time: number; job: string; epoch: number; epochs: number; batches: number; evalBatches?: number }
  | { type: 'batch'; time: number; job: string; epoch: number; batch: number; batches: number; loss: number; imgPerSec: number }
  /** Progress of the evaluation after an epoch's training (`batch` of `batches` test batches done). */
  | { type: 'eval'; time: number; job: string; epoch: number; batch: number; batches: number }
  | ({ type: 'epoch-end'; time: number; job: string; epochs: number } & EpochMetrics)
  | { type: 'job-end'; time: number; job: string; label: string; summary: JobSummary }
  | { type: 'job-cached'; time: number; job: string; label: string; summary: JobSummary }
  | { type: 'job-failed'; time: number; job: string; label: string; error: string }
  | { type: 'job-skipped'; time: number; job: string; label: string; reason: string }
  /** A long wait that is not training: a download, unpacking, loading data, computing teacher logits. */
  | { type: 'task'; time: number; id: string; label: string; current: number; total?: number; unit?: string; done?: boolean }
  | { type: 'trial-end'; time: number; trial: string; params: Record<string, unknown>; row: ResultRow }
  | { type: 'log'; time: number; level: 'info' | 'warn' | 'error'; message: string }
  /** `report`: the path of the run's report.html, when it could be written. `resumable`, when interrupted:
   * how many stopped jobs left a finished epoch to resume from. */
  | { type: 'run-end'; time: number; status: 'ok' | 'failed' | 'interrupted'; runDir: string; rows: ResultRow[]; seconds: number; report?: string; resumable?: number };

/** One row of a results table: a run has one, a sweep one per trial. */
export interface ResultRow {
  trial?: string;
  params: Record<string, unknown>;
  /** The seed of this row's trial, in a run or sweep over several seeds (`--seeds`, `seeds:`); `params`
   * then holds the grid point without it, and rows of one point differ only by their seed. */
  seed?: number;
  /** Per stage name: its summary, or undefined if it failed or was skipped. */
  stages: Record<string, (JobSummary & { job: string; status: JobState }) | { job: string; status: JobState; error?: string }>;
  /**
   * Per distilling stage: its final accuracy minus that of its plain counterpart (the stage training the
   * same model without a teacher); null when either has no result. Absent when no stage has a counterpart.
   */
  kdGains?: Record<string, number | null>;
}

export type KdxEventType = KdxEvent['type'];
export type EventOf<T extends KdxEventType> = Extract<KdxEvent, { type: T }>;

/** Something that receives events; reporters implement it, the runner calls it. */
export type EventSink = (event: KdxEvent) => void;
