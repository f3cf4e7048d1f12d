// Plain lines for CI, pipes and files: a line per job start and end, per epoch, per trial, and for long
// waits that are not training (tasks: at start, at end, and at most every TASK_EVERY_MS in between).
// No escape codes, no redraws; inside a long epoch, a progress line every EPOCH_PROGRESS_EVERY_MS. Failed
// jobs, errors and warnings go to stderr.
// `quiet`: only the errors and, at the end, the results table and the run directory.
import type { EventOf, KdxEvent, ResultRow } from '../events.js';
import { duration, interruptedText, loss, paramList, pct, points, rate, stripAnsi, termsText } from '../report/format.js';
import { renderResults, tableWidth } from '../report/table.js';
import type { OutStream, Reporter } from './types.js';

/** Minimum time between two progress lines of the same task (in event time, so tests are exact). */
export const TASK_EVERY_MS = 5000;
/** Inside an epoch, a progress line after this long without a line of that job: a long epoch (minutes on
 * Fashion-MNIST) is not silent in a pipe, while a short one prints only its epoch line. */
export const EPOCH_PROGRESS_EVERY_MS = 30_000;

export interface PlainReporterOptions {
  stdout: OutStream;
  stderr: OutStream;
  quiet?: boolean;
  /** Width of the final table; default: the terminal's, 80 in a pipe (tableWidth). */
  width?: number;
}

export function createPlainReporter(options: PlainReporterOptions): Reporter {
  const { stdout, stderr, quiet = false, width = tableWidth(stdout) } = options;
  const out = (line: string) => {
    if (!quiet) stdout.write(`${stripAnsi(line)}\n`);
  };
  const err = (line: string) => stderr.write(`${stripAnsi(line)}\n`);

  let sweep = false;
  let trialsTotal = 0;
  let trialsDone = 0;
  const taskLast = new Map<string, number>();
  /** Per job: its epoch count, and when its epoch started or it last printed progress. */
  const epochsOf = new Map<string, number>();
  const lastLine = new Map<string, number>();
  /** Error message -> the first job that failed with it. */
  const failures = new Map<string, string>();

  const handlers: { [T in KdxEvent['type']]?: (e: EventOf<T>) => void } = {
    plan(e) {
      sweep = (e.trials?.length ?? 0) > 0;
      trialsTotal = e.trials?.length ?? 0;
      const cached = e.jobs.filter((j) => j.cached).length;
      const jobs = `${e.jobs.length} job${e.jobs.length === 1 ? '' : 's'}${cached > 0 ? ` (${cached} cached)` : ''}`;
      const trials = sweep ? `, ${trialsTotal} trial${trialsTotal === 1 ? '' : 's'}` : '';
      out(`kdx ${e.name}: ${jobs}${trials}, backend ${e.backend}, run dir ${e.runDir}`);
    },
    'job-start'(e) {
      out(e.startEpoch > 0
        ? `▶ ${e.label}  resumed at epoch ${e.startEpoch + 1}/${e.epochs}`
        : `▶ ${e.label}  started (${e.epochs} epoch${e.epochs === 1 ? '' : 's'})`);
    },
    'epoch-start'(e) {
      epochsOf.set(e.job, e.epochs);
      lastLine.set(e.job, e.time);
    },
    batch(e) {
      const last = lastLine.get(e.job);
      if (last === undefined || e.batch >= e.batches || e.time - last < EPOCH_PROGRESS_EVERY_MS) return;
      lastLine.set(e.job, e.time);
      const epochs = epochsOf.get(e.job);
      out(`  ${labelOf(e.job)}  epoch ${e.epoch}${epochs ? `/${epochs}` : ''}  batch ${e.batch}/${e.batches} (${pct(e.batch / e.batches, 0)})  loss ${loss(e.loss)}  ${rate(e.imgPerSec)} img/s`);
    },
    'epoch-end'(e) {
      const terms = termsText(e.terms);
      out(`  ${labelOf(e.job)}  epoch ${e.epoch}/${e.epochs}  loss ${loss(e.loss)}${terms ? ` (${terms})` : ''}  test acc ${pct(e.testAccuracy)}  ${rate(e.imgPerSec)} img/s  ${duration(e.seconds)}`);
    },
    'job-end'(e) {
      out(`✓ ${e.label}  done  best ${pct(e.summary.bestAccuracy)}  final ${pct(e.summary.finalAccuracy)}  ${duration(e.summary.seconds)}`);
    },
    'job-cached'(e) {
      out(`● ${e.label}  cached  final ${pct(e.summary.finalAccuracy)}`);
    },
    'job-failed'(e) {
      // A long error shared by several jobs (a missing dataset) is printed once.
      const first = failures.get(e.error);
      err(first ? `✗ ${e.label}  failed: the same error as ${first}` : `✗ ${e.label}  failed: ${e.error}`);
      if (!first) failures.set(e.error, e.label);
    },
    'job-skipped'(e) {
      out(`- ${e.label} skipped: ${e.reason}`);
    },
    task(e) {
      const amount = e.total !== undefined
        ? `${pct(e.total > 0 ? e.current / e.total : 0, 0)}  ${e.current}/${e.total}${e.unit ? ` ${e.unit}` : ''}`
        : `${e.current}${e.unit ? ` ${e.unit}` : ''}`;
      const last = taskLast.get(e.id);
      if (e.done) {
        const took = last !== undefined ? `  ${duration((e.time - (taskStart.get(e.id) ?? e.time)) / 1000)}` : '';
        out(`✓ ${e.label}${took}`);
        taskLast.delete(e.id);
        taskStart.delete(e.id);
      } else if (last === undefined) {
        out(`… ${e.label}${e.total !== undefined ? ` (${e.total}${e.unit ? ` ${e.unit}` : ''})` : ''}`);
        taskLast.set(e.id, e.time);
        taskStart.set(e.id, e.time);
      } else if (e.time - last >= TASK_EVERY_MS) {
        out(`  ${e.label}  ${amount}`);
        taskLast.set(e.id, e.time);
      }
    },
    'trial-end'(e) {
      trialsDone++;
      const of = trialsTotal > 0 ? `${trialsDone}/${trialsTotal}` : String(trialsDone);
      const headline = lastStage(e.row);
      const parts = [`◆ trial ${of}`, paramList(e.params)];
      if (headline) parts.push(`${headline.stage} ${pct(headline.accuracy)}`);
      const gains = Object.entries(e.row.kdGains ?? {}).filter((g): g is [string, number] => g[1] !== null);
      if (gains.length === 1) parts.push(`KD gain ${points(gains[0][1])}`);
      else if (gains.length > 1) parts.push(`KD gain ${gains.map(([stage, gain]) => `${stage} ${points(gain)}`).join(', ')}`);
      out(parts.filter((p) => p !== '').join('  '));
    },
    log(e) {
      if (e.level === 'info') out(e.message);
      else if (e.level === 'error') err(`error: ${e.message}`);
      else if (!quiet) err(`warning: ${e.message}`);
    },
    'run-end'(e) {
      const table = e.rows.length > 0 ? renderResults(e.rows, 'text', { kind: sweep ? 'sweep' : 'run', width }) : '';
      const status = e.status === 'ok'
        ? `done in ${duration(e.seconds)}`
        : e.status === 'failed'
          ? `failed after ${duration(e.seconds)}`
          : interruptedText(e.seconds, e.resumable);
      // Quiet output starts with the table itself, not a blank line separating it from progress lines.
      const lines = [...(quiet ? [] : ['']), ...(table ? [table, ''] : []), `run dir ${e.runDir}`, ...(e.report ? [`report ${e.report}`] : []), status];
      stdout.write(`${lines.map(stripAnsi).join('\n')}\n`);
    },
  };

  const labels = new Map<string, string>();
  const taskStart = new Map<string, number>();
  const labelOf = (job: string) => labels.get(job) ?? job;

  return {
    onEvent(event) {
      if (event.type === 'plan') for (const j of event.jobs) labels.set(j.job, j.label);
      if ('label' in event && 'job' in event) labels.set(event.job, event.label);
      const handler = handlers[event.type] as ((e: KdxEvent) => void) | undefined;
      handler?.(event);
    },
    async close() {
      await Promise.all([stdout, stderr].map((s) => new Promise<void>((resolve) => s.write('', () => resolve()))));
    },
  };
}

/** The stage to quote for a trial: the last one in the row that has a result. */
function lastStage(row: ResultRow): { stage: string; accuracy: number } | undefined {
  const entries = Object.entries(row.stages);
  for (let i = entries.length - 1; i >= 0; i--) {
    const [stage, entry] = entries[i];
    if ('finalAccuracy' in entry) return { stage, accuracy: entry.finalAccuracy };
  }
  return undefined;
}
