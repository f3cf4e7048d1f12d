// The TUI's view of a run: a pure reducer over runner events (no I/O, no clock; times come from the
// events), plus derived values (the job tree, ETAs). The Ink reporter folds every event in at once and
// re-renders from the latest state on a timer.
import type { EpochMetrics, JobState, JobSummary, KdxEvent, PlanJob, ResultRow, TrialInfo } from '../events.js';
import { duration } from '../report/format.js';

/** One finished epoch of a job. */
export type EpochPoint = EpochMetrics;

export interface JobView {
  id: string;
  label: string;
  stage: string;
  model: string;
  teacher?: string;
  dependsOn: string[];
  state: JobState;
  epochs: number;
  /** Epochs already finished when the job (re)started: > 0 when it resumed from a checkpoint. */
  startEpoch: number;
  /** The epoch in progress or last finished (1-based). */
  epoch: number;
  /** Batches of the current epoch finished so far, and in all. */
  batch: number;
  batches: number;
  /** Test batches evaluated after this epoch's training, and in all (0 while training). */
  evalBatch: number;
  evalBatches: number;
  /** When this epoch's evaluation began, and its latest progress (ms). */
  evalStartedAt?: number;
  lastEvalAt?: number;
  /** How long the last finished evaluation took (s): the estimate for the next ones. */
  lastEvalSeconds?: number;
  /** The latest running training loss. */
  loss?: number;
  imgPerSec?: number;
  startedAt?: number;
  epochStartedAt?: number;
  lastBatchAt?: number;
  endedAt?: number;
  /** Finished epochs in order, including those before a resume. */
  history: EpochPoint[];
  summary?: JobSummary;
  error?: string;
  reason?: string;
}

export interface TaskView {
  id: string;
  label: string;
  current: number;
  total?: number;
  unit?: string;
  done: boolean;
  startedAt: number;
  updatedAt: number;
}

/** A line that goes to the scrollback as it happens (a log message, a finished task, a failure). */
export interface Notice {
  key: string;
  level: 'info' | 'warn' | 'error' | 'done';
  text: string;
}

export interface RunEnd {
  status: 'ok' | 'failed' | 'interrupted';
  runDir: string;
  rows: ResultRow[];
  seconds: number;
  report?: string;
  /** When interrupted: the stopped jobs with a finished epoch to resume from. */
  resumable?: number;
  /** Notices that came before the end (the UI shows no later ones, so the scrollback stays in order). */
  noticeCount: number;
}

export interface RunView {
  name: string;
  runDir: string;
  backend: string;
  startedAt?: number;
  /** Time of the latest event: the UI's "now" when it has no clock of its own. */
  lastTime: number;
  jobs: Record<string, JobView>;
  /** Job ids in plan order (then in order of first appearance). */
  order: string[];
  trials?: TrialInfo[];
  /** Rows of finished trials, in the order they finished. */
  trialRows: ResultRow[];
  tasks: Record<string, TaskView>;
  taskOrder: string[];
  notices: Notice[];
  end?: RunEnd;
}

export function initialState(): RunView {
  return {
    name: '', runDir: '', backend: '', lastTime: 0, jobs: {}, order: [], trialRows: [], tasks: {}, taskOrder: [], notices: [],
  };
}

function newJob(id: string, label: string, plan?: Partial<PlanJob>): JobView {
  return {
    id, label, stage: plan?.stage ?? label, model: plan?.model ?? '', teacher: plan?.teacher, dependsOn: plan?.dependsOn ?? [],
    state: 'waiting', epochs: plan?.epochs ?? 0, startEpoch: 0, epoch: 0, batch: 0, batches: 0, evalBatch: 0, evalBatches: 0,
    history: [],
  };
}

/** Applies `change` to job `id`, creating it if an event names a job the plan did not announce. */
function updateJob(state: RunView, id: string, label: string | undefined, change: (job: JobView) => Partial<JobView>): RunView {
  const existing = state.jobs[id];
  const job = existing ?? newJob(id, label ?? id);
  const next = { ...job, ...change(job) };
  return {
    ...state,
    jobs: { ...state.jobs, [id]: next },
    order: existing ? state.order : [...state.order, id],
  };
}

function notice(state: RunView, level: Notice['level'], text: string): RunView {
  return { ...state, notices: [...state.notices, { key: String(state.notices.length), level, text }] };
}

/** The next state after `event`. Pure: never mutates `state`. */
export function reduce(state: RunView, event: KdxEvent): RunView {
  const s: RunView = { ...state, lastTime: Math.max(state.lastTime, event.time) };
  switch (event.type) {
    case 'plan': {
      const jobs: Record<string, JobView> = { ...s.jobs };
      const order = [...s.order];
      for (const p of event.jobs) {
        const prev = jobs[p.job];
        jobs[p.job] = {
          ...(prev ?? newJob(p.job, p.label)),
          label: p.label, stage: p.stage, model: p.model, teacher: p.teacher, dependsOn: p.dependsOn, epochs: p.epochs,
        };
        if (!prev) order.push(p.job);
      }
      return {
        ...s, name: event.name, runDir: event.runDir, backend: event.backend, startedAt: s.startedAt ?? event.time,
        jobs, order, trials: event.trials,
      };
    }
    case 'job-start':
      return updateJob(s, event.job, event.label, () => ({
        state: 'running', label: event.label, epochs: event.epochs, startEpoch: event.startEpoch, epoch: event.startEpoch,
        batch: 0, batches: event.batchesPerEpoch, startedAt: event.time, epochStartedAt: undefined, lastBatchAt: undefined,
        evalBatch: 0, evalStartedAt: undefined, lastEvalAt: undefined, history: event.history ?? [], error: undefined,
      }));
    case 'epoch-start':
      return updateJob(s, event.job, undefined, (job) => ({
        state: 'running', epoch: event.epoch, epochs: event.epochs, batch: 0, batches: event.batches, epochStartedAt: event.time,
        lastBatchAt: undefined, evalBatch: 0, evalBatches: event.evalBatches ?? job.evalBatches, evalStartedAt: undefined,
        lastEvalAt: undefined,
      }));
    case 'batch':
      return updateJob(s, event.job, undefined, (job) => ({
        state: 'running', epoch: event.epoch, batch: event.batch, batches: event.batches, loss: event.loss,
        imgPerSec: event.imgPerSec, lastBatchAt: event.time, epochStartedAt: job.epochStartedAt ?? job.startedAt ?? event.time,
      }));
    case 'eval':
      return updateJob(s, event.job, undefined, (job) => ({
        state: 'running', epoch: event.epoch, batch: job.batches, evalBatch: event.batch, evalBatches: event.batches,
        // Evaluation starts when training ends: at the epoch's last batch event, if there was one.
        evalStartedAt: job.evalStartedAt ?? (job.batch === job.batches && job.lastBatchAt !== undefined ? job.lastBatchAt : event.time),
        lastEvalAt: event.time,
      }));
    case 'epoch-end':
      return updateJob(s, event.job, undefined, (job) => ({
        lastEvalSeconds: job.evalStartedAt !== undefined ? Math.max(0, event.time - job.evalStartedAt) / 1000 : job.lastEvalSeconds,
        evalBatch: 0, evalStartedAt: undefined, lastEvalAt: undefined,
        epoch: event.epoch, epochs: event.epochs, batch: job.batches, loss: event.loss, imgPerSec: event.imgPerSec,
        history: [
          ...job.history.filter((h) => h.epoch !== event.epoch),
          {
            epoch: event.epoch, loss: event.loss, testLoss: event.testLoss, testAccuracy: event.testAccuracy,
            imgPerSec: event.imgPerSec, seconds: event.seconds, ...(event.terms ? { terms: event.terms } : {}),
          },
        ],
      }));
    case 'job-end':
      return updateJob(s, event.job, event.label, (job) => ({
        state: 'done', summary: event.summary, endedAt: event.time, epoch: event.summary.epochs || job.epoch,
      }));
    case 'job-cached':
      return updateJob(s, event.job, event.label, () => ({ state: 'cached', summary: event.summary, endedAt: event.time }));
    case 'job-failed': {
      // A long error shared by several jobs (a missing dataset) is shown once.
      const first = s.order.map((id) => s.jobs[id]).find((j) => j.state === 'failed' && j.error === event.error && j.id !== event.job);
      const next = updateJob(s, event.job, event.label, () => ({ state: 'failed', error: event.error, endedAt: event.time }));
      return notice(next, 'error', first ? `✗ ${event.label}  failed: the same error as ${first.label}` : `✗ ${event.label}  failed: ${event.error}`);
    }
    case 'job-skipped':
      return updateJob(s, event.job, event.label, () => ({ state: 'skipped', reason: event.reason, endedAt: event.time }));
    case 'task': {
      const prev = s.tasks[event.id];
      const task: TaskView = {
        id: event.id, label: event.label, current: event.current, total: event.total ?? prev?.total,
        unit: event.unit ?? prev?.unit, done: event.done === true, startedAt: prev?.startedAt ?? event.time, updatedAt: event.time,
      };
      const next: RunView = {
        ...s, tasks: { ...s.tasks, [event.id]: task }, taskOrder: prev ? s.taskOrder : [...s.taskOrder, event.id],
      };
      return task.done && !prev?.done
        ? notice(next, 'done', `✓ ${task.label}  ${duration((event.time - task.startedAt) / 1000)}`)
        : next;
    }
    case 'trial-end':
      return { ...s, trialRows: [...s.trialRows.filter((r) => r.trial !== event.trial), { ...event.row, trial: event.row.trial ?? event.trial }] };
    case 'log':
      return notice(s, event.level, event.level === 'info' ? event.message : `${event.level === 'warn' ? 'warning' : 'error'}: ${event.message}`);
    case 'run-end':
      return {
        ...s, runDir: event.runDir || s.runDir,
        end: { status: event.status, runDir: event.runDir || s.runDir, rows: event.rows, seconds: event.seconds, report: event.report, resumable: event.resumable, noticeCount: s.notices.length },
      };
    default:
      return s;
  }
}

/** Applies events in order. */
export function reduceAll(events: Iterable<KdxEvent>, state: RunView = initialState()): RunView {
  let s = state;
  for (const e of events) s = reduce(s, e);
  return s;
}

// ---- derived values -------------------------------------------------------------------------------

/** A job in the drawn tree, with its depth under the job it hangs from (its teacher, else its first need). */
export interface TreeLine {
  job: JobView;
  depth: number;
  /** Whether this is the last child of its parent (for └─ versus ├─). */
  last: boolean;
  /** For each ancestor level above this line, whether a vertical rule continues (│). */
  rails: boolean[];
  /** Dependencies other than the parent it is drawn under (by label). */
  alsoNeeds: string[];
}

/** The jobs as a forest: teacher -> kd_student edges become parent -> child. */
export function jobTree(state: RunView): TreeLine[] {
  const byLabel = new Map(state.order.map((id) => [state.jobs[id].label, id] as const));
  const parentOf = new Map<string, string | undefined>();
  for (const id of state.order) {
    const job = state.jobs[id];
    const teacherId = job.teacher !== undefined ? byLabel.get(job.teacher) ?? (state.jobs[job.teacher] ? job.teacher : undefined) : undefined;
    const parent = teacherId && job.dependsOn.includes(teacherId) ? teacherId : teacherId ?? job.dependsOn.find((d) => state.jobs[d]);
    parentOf.set(id, parent && parent !== id && state.jobs[parent] ? parent : undefined);
  }
  // Break any cycle defensively (the planner rejects them): a job whose ancestry loops becomes a root.
  for (const id of state.order) {
    const seen = new Set<string>([id]);
    let p = parentOf.get(id);
    while (p !== undefined) {
      if (seen.has(p)) {
        parentOf.set(id, undefined);
        break;
      }
      seen.add(p);
      p = parentOf.get(p);
    }
  }
  const children = new Map<string | undefined, string[]>();
  for (const id of state.order) {
    const p = parentOf.get(id);
    children.set(p, [...(children.get(p) ?? []), id]);
  }
  const lines: TreeLine[] = [];
  const walk = (parent: string | undefined, depth: number, rails: boolean[]) => {
    const kids = children.get(parent) ?? [];
    kids.forEach((id, k) => {
      const job = state.jobs[id];
      const last = k === kids.length - 1;
      const alsoNeeds = job.dependsOn.filter((d) => d !== parent).map((d) => state.jobs[d]?.label ?? d);
      lines.push({ job, depth, last, rails, alsoNeeds });
      walk(id, depth + 1, depth === 0 ? [] : [...rails, !last]);
    });
  };
  walk(undefined, 0, []);
  return lines;
}

/** Counts of jobs by state. */
export function jobCounts(state: RunView): Record<JobState, number> {
  const counts: Record<JobState, number> = { waiting: 0, running: 0, cached: 0, done: 0, failed: 0, skipped: 0 };
  for (const id of state.order) counts[state.jobs[id].state]++;
  return counts;
}

/** Seconds since the job started, at time `now` (ms). */
export function elapsedSeconds(job: JobView, now: number): number | undefined {
  if (job.startedAt === undefined) return undefined;
  return Math.max(0, ((job.endedAt ?? now) - job.startedAt) / 1000);
}

/** Whether an epoch is under way (started and not yet ended). */
export function inEpoch(job: JobView): boolean {
  return job.epochStartedAt !== undefined && !job.history.some((h) => h.epoch === job.epoch);
}

/** The epoch to show as current (1-based): the one under way, else the next one. */
export function currentEpoch(job: JobView): number {
  if (inEpoch(job)) return job.epoch;
  return Math.min(Math.max(1, job.epoch + 1), Math.max(1, job.epochs));
}

/** Whether the job is evaluating the test set after an epoch's training. */
export function evaluating(job: JobView): boolean {
  return inEpoch(job) && job.evalStartedAt !== undefined;
}

/** A forward pass costs about a third of a training step (forward + backward + update) of the same batch. */
const FORWARD_SHARE = 1 / 3;

/**
 * Estimated seconds until the job ends: the rest of this epoch's training at its batch rate, its
 * evaluation (at its own rate once under way, else as long as the last one took, else estimated from the
 * training rate), plus the remaining epochs at the mean duration of the epochs seen so far (training and
 * evaluation both).
 */
export function etaSeconds(job: JobView): number | undefined {
  if (job.state !== 'running' || job.epochs <= 0) return undefined;
  let perBatch: number | undefined;
  if (job.batch > 0 && job.epochStartedAt !== undefined && job.lastBatchAt !== undefined && job.lastBatchAt > job.epochStartedAt) {
    perBatch = (job.lastBatchAt - job.epochStartedAt) / 1000 / job.batch;
  }
  const evalEstimate = job.lastEvalSeconds ?? (perBatch !== undefined ? perBatch * FORWARD_SHARE * job.evalBatches : undefined);
  const seen = job.history.filter((h) => h.seconds > 0);
  const perEpoch = seen.length > 0
    ? seen.reduce((a, h) => a + h.seconds, 0) / seen.length
    : perBatch !== undefined && job.batches > 0 ? perBatch * job.batches + (evalEstimate ?? 0) : undefined;
  if (perEpoch === undefined) return undefined;
  const running = inEpoch(job);
  const finished = running ? job.epoch - 1 : job.epoch;
  let restOfEpoch = 0;
  if (running && evaluating(job)) {
    const perEvalBatch = job.evalBatch > 0 && job.lastEvalAt !== undefined ? (job.lastEvalAt - job.evalStartedAt!) / 1000 / job.evalBatch : undefined;
    restOfEpoch = perEvalBatch !== undefined ? perEvalBatch * Math.max(0, job.evalBatches - job.evalBatch) : evalEstimate ?? 0;
  } else if (running) {
    restOfEpoch = perBatch !== undefined ? perBatch * Math.max(0, job.batches - job.batch) + (evalEstimate ?? 0) : perEpoch;
  }
  const after = Math.max(0, job.epochs - finished - (running ? 1 : 0));
  return restOfEpoch + after * perEpoch;
}

/** Trials finished and in all (undefined for a run that is not a sweep). */
export function trialProgress(state: RunView): { done: number; total: number } | undefined {
  if (!state.trials || state.trials.length === 0) return undefined;
  return { done: state.trialRows.length, total: state.trials.length };
}
