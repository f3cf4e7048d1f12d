// The Ink UI. It renders a RunView (see store.ts) and nothing else: the job DAG as a tree with each job's
// state, a panel per running job (epoch progress, loss, img/s, elapsed, ETA, sparklines), long tasks,
// a sweep's progress and live results, and at the end a summary that goes to the scrollback (Static).
import React from 'react';
import { Box, Static, Text, useInput } from 'ink';
import type { JobState } from '../events.js';
import { bar, duration, fitLabel, interruptedText, loss, pct, rate, sparkline, termsText, truncate } from '../report/format.js';
import { formatTable, resultsTable } from '../report/table.js';
import {
  currentEpoch, elapsedSeconds, etaSeconds, evaluating, inEpoch, jobCounts, jobTree, trialProgress,
  type JobView, type Notice, type RunView, type TaskView, type TreeLine,
} from './store.js';

export interface AppProps {
  state: RunView;
  /** The time to measure elapsed time against (ms); default: the latest event's time. */
  now?: number;
  /** Columns to use; capped at 80. */
  width?: number;
  /** Columns the final results table may use: the terminal's whole width, so that its top-5, ECE and
   * agreement columns are dropped only when the terminal is narrow. Default: `width`. */
  tableWidth?: number;
  /** False when NO_COLOR is set: no colour at all. */
  color?: boolean;
  /** Called when the user presses `q` or Ctrl-C. */
  onQuit?: () => void;
  /** Any other key: the answer to a question the run asked in a log line (`c` or `l` after `q` on Slurm). */
  onKey?: (input: string) => void;
  /** Read keys (only when stdin is a TTY that supports raw mode). */
  inputEnabled?: boolean;
  /** At most this many job lines in the tree; the rest are counted. */
  maxJobLines?: number;
  /** At most this many rows of the live sweep table. */
  maxTrialRows?: number;
}

export const MAX_WIDTH = 80;

const ICON: Record<JobState, string> = { waiting: '·', running: '▶', cached: '●', done: '✓', failed: '✗', skipped: '-' };
const HUE: Record<JobState, string | undefined> = {
  waiting: 'gray', running: 'cyan', cached: 'blue', done: 'green', failed: 'red', skipped: 'yellow',
};
const SPINNER = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏';

/** Text props for a colour (and boldness); nothing at all when colour is off (NO_COLOR). */
type Paint = (hue: string | undefined, bold?: boolean) => { color?: string; dimColor?: boolean; bold?: boolean };

export function App(props: AppProps): React.JSX.Element {
  const { state, color = true, inputEnabled = false, onQuit, onKey } = props;
  const width = Math.max(40, Math.min(MAX_WIDTH, props.width ?? MAX_WIDTH));
  const now = props.now ?? state.lastTime;
  const [stopping, setStopping] = React.useState(false);
  useInput(
    (input, key) => {
      if (input === 'q' || input === 'Q' || (key.ctrl && input === 'c')) {
        setStopping(true);
        onQuit?.();
      } else if (input) onKey?.(input);
    },
    { isActive: inputEnabled && state.end === undefined },
  );
  const paint: Paint = (hue, bold = false) => {
    if (!color) return {};
    const style = hue === undefined ? {} : hue === 'gray' ? { dimColor: true } : { color: hue };
    return bold ? { ...style, bold: true } : style;
  };

  const notices = state.end ? state.notices.slice(0, state.end.noticeCount) : state.notices;
  const items: StaticItem[] = notices.map((n) => ({ kind: 'notice', key: `n${n.key}`, notice: n }));
  if (state.end) items.push({ kind: 'final', key: 'final' });

  const tableWidth = Math.max(width, props.tableWidth ?? width);
  return (
    <Box flexDirection="column" width={tableWidth}>
      <Static items={items}>
        {(item) =>
          item.kind === 'notice'
            ? <Box key={item.key} width={width}><NoticeLine notice={item.notice} paint={paint} /></Box>
            : <Final key={item.key} state={state} width={width} tableWidth={tableWidth} paint={paint} />}
      </Static>
      {state.end === undefined && (
        <Box width={width}>
          <Live
            state={state} now={now} width={width} paint={paint} stopping={stopping} inputEnabled={inputEnabled}
            maxJobLines={props.maxJobLines ?? 12} maxTrialRows={props.maxTrialRows ?? 6}
          />
        </Box>
      )}
    </Box>
  );
}

type StaticItem = { kind: 'notice'; key: string; notice: Notice } | { kind: 'final'; key: string };

function NoticeLine({ notice, paint }: { notice: Notice; paint: Paint }) {
  const hue = notice.level === 'error' ? 'red' : notice.level === 'warn' ? 'yellow' : notice.level === 'done' ? 'green' : undefined;
  return <Text {...paint(hue)}>{notice.text}</Text>;
}

interface LiveProps {
  state: RunView;
  now: number;
  width: number;
  paint: Paint;
  stopping: boolean;
  inputEnabled: boolean;
  maxJobLines: number;
  maxTrialRows: number;
}

function Live({ state, now, width, paint, stopping, inputEnabled, maxJobLines, maxTrialRows }: LiveProps) {
  const running = state.order.map((id) => state.jobs[id]).filter((j) => j.state === 'running');
  const tasks = state.taskOrder.map((id) => state.tasks[id]).filter((t) => !t.done);
  const trials = trialProgress(state);
  return (
    <Box flexDirection="column">
      <Header state={state} now={now} paint={paint} />
      <JobTree state={state} width={width} paint={paint} maxLines={maxJobLines} />
      {tasks.map((task) => <TaskLine key={task.id} task={task} now={now} width={width} paint={paint} />)}
      {running.map((job) => <RunningJob key={job.id} job={job} now={now} width={width} paint={paint} />)}
      {trials && <Sweep state={state} done={trials.done} total={trials.total} width={width} paint={paint} maxRows={maxTrialRows} />}
      <Box marginTop={1}>
        {stopping
          ? <Text {...paint('yellow')}>stopping… saving a checkpoint (resumable)</Text>
          : <Text {...paint('gray')}>{inputEnabled ? 'q to stop (resumable)' : 'Ctrl-C to stop (resumable)'}</Text>}
      </Box>
    </Box>
  );
}

function Header({ state, now, paint }: { state: RunView; now: number; paint: Paint }) {
  const counts = jobCounts(state);
  const parts = (Object.keys(counts) as JobState[]).filter((k) => counts[k] > 0).map((k) => `${counts[k]} ${k}`);
  const elapsed = state.startedAt !== undefined ? duration(Math.max(0, now - state.startedAt) / 1000) : '';
  return (
    <Text wrap="truncate-end">
      <Text {...paint(undefined, true)}>kdx {state.name || '…'}</Text>
      <Text {...paint('gray')}>{[state.backend, parts.join(', '), elapsed].filter(Boolean).map((p) => `  ${p}`).join('')}</Text>
    </Text>
  );
}

/** The text after a job's state in the tree. */
function jobDetail(job: JobView): string {
  switch (job.state) {
    case 'waiting':
      return job.epochs > 0 ? `${job.epochs} epochs` : '';
    case 'running': {
      if (evaluating(job)) return `epoch ${currentEpoch(job)}/${job.epochs}  evaluating ${pct(evalFraction(job), 0)}`;
      const f = job.batches > 0 && inEpoch(job) ? job.batch / job.batches : 0;
      return `epoch ${currentEpoch(job)}/${job.epochs}  ${pct(f, 0)}`;
    }
    case 'cached':
      return `final ${pct(job.summary?.finalAccuracy)}`;
    case 'done':
      return job.summary
        ? `best ${pct(job.summary.bestAccuracy)}  final ${pct(job.summary.finalAccuracy)}  ${duration(job.summary.seconds)}`
        : '';
    case 'failed':
      return job.error?.split('\n')[0] ?? ''; // the whole message is in the scrollback
    case 'skipped':
      return job.reason ?? '';
  }
}

function treePrefix(line: TreeLine): string {
  if (line.depth === 0) return '';
  return line.rails.map((r) => (r ? '│  ' : '   ')).join('') + (line.last ? '└─ ' : '├─ ');
}

/** Which lines to show when there are too many: running and failed first, then in order; the rest counted. */
function pickLines(lines: TreeLine[], max: number): { shown: TreeLine[]; hidden: Record<JobState, number> } {
  const hidden: Record<JobState, number> = { waiting: 0, running: 0, cached: 0, done: 0, failed: 0, skipped: 0 };
  if (lines.length <= max) return { shown: lines, hidden };
  const rank = (l: TreeLine) => (l.job.state === 'running' || l.job.state === 'failed' ? 0 : l.depth === 0 ? 1 : 2);
  const chosen = new Set(
    lines.map((l, i) => ({ l, i })).sort((a, b) => rank(a.l) - rank(b.l) || a.i - b.i).slice(0, max - 1).map((x) => x.l),
  );
  for (const l of lines) if (!chosen.has(l)) hidden[l.job.state]++;
  return { shown: lines.filter((l) => chosen.has(l)), hidden };
}

function JobLines({ lines, width, paint }: { lines: TreeLine[]; width: number; paint: Paint }) {
  const heads = lines.map((l) => `${treePrefix(l)}${ICON[l.job.state]} ${l.job.label}`);
  const headWidth = Math.min(Math.max(0, ...heads.map((h) => h.length)), Math.floor(width * 0.45));
  return (
    <>
      {lines.map((line, k) => {
        const job = line.job;
        const prefix = treePrefix(line);
        const label = fitLabel(job.label, headWidth - prefix.length - 2).padEnd(headWidth - prefix.length - 2);
        const needs = line.alsoNeeds.length > 0 && job.state === 'waiting' ? `  after ${line.alsoNeeds.join(', ')}` : '';
        return (
          <Text key={job.id} wrap="truncate-end">
            <Text {...paint('gray')}>{prefix}</Text>
            <Text {...paint(HUE[job.state])}>{ICON[job.state]}</Text>
            {` ${label}  `}
            <Text {...paint(HUE[job.state])}>{job.state.padEnd(7)}</Text>
            {`  ${jobDetail(job)}${needs}`}
          </Text>
        );
      })}
    </>
  );
}

function JobTree({ state, width, paint, maxLines }: { state: RunView; width: number; paint: Paint; maxLines: number }) {
  const { shown, hidden } = pickLines(jobTree(state), maxLines);
  const more = (Object.keys(hidden) as JobState[]).filter((k) => hidden[k] > 0).map((k) => `${hidden[k]} ${k}`);
  const total = Object.values(hidden).reduce((a, b) => a + b, 0);
  return (
    <Box flexDirection="column" marginTop={1}>
      <JobLines lines={shown} width={width} paint={paint} />
      {total > 0 && <Text {...paint('gray')}>{`… ${total} more: ${more.join(', ')}`}</Text>}
    </Box>
  );
}

function TaskLine({ task, now, width, paint }: { task: TaskView; now: number; width: number; paint: Paint }) {
  const spin = SPINNER[Math.floor(now / 100) % SPINNER.length];
  const unit = task.unit ? ` ${task.unit}` : '';
  const took = duration(Math.max(0, now - task.startedAt) / 1000);
  let progress: string;
  if (task.total !== undefined && task.total > 0) {
    const f = task.current / task.total;
    progress = `${bar(f, 16)} ${pct(f, 0).padStart(4)}  ${task.current}/${task.total}${unit}`;
  } else {
    progress = `${task.current}${unit}`;
  }
  const label = truncate(task.label, Math.max(10, width - progress.length - took.length - 8));
  return (
    <Box marginTop={1}>
      <Text wrap="truncate-end">
        <Text {...paint('cyan')}>{spin}</Text>
        {` ${label}  ${progress}  `}
        <Text {...paint('gray')}>{took}</Text>
      </Text>
    </Box>
  );
}

function evalFraction(job: JobView): number {
  return job.evalBatches > 0 ? job.evalBatch / job.evalBatches : 0;
}

function RunningJob({ job, now, width, paint }: { job: JobView; now: number; width: number; paint: Paint }) {
  const active = inEpoch(job);
  const testing = evaluating(job);
  const f = testing ? evalFraction(job) : active && job.batches > 0 ? job.batch / job.batches : 0;
  const percent = pct(f, 0).padStart(5);
  const barWidth = Math.max(10, width - 2 - percent.length - 1);
  const eta = etaSeconds(job);
  const last = job.history[job.history.length - 1];
  const best = job.history.length > 0 ? Math.max(...job.history.map((h) => h.testAccuracy)) : undefined;
  const batchText = testing
    ? `  evaluating  test batch ${job.evalBatch}/${job.evalBatches}`
    : job.batches > 0 ? `  batch ${active ? job.batch : 0}/${job.batches}` : '';
  return (
    <Box flexDirection="column" marginTop={1}>
      <Text wrap="truncate-end">
        <Text {...paint('cyan', true)}>{`▶ ${job.label}`}</Text>
        {`  epoch ${currentEpoch(job)}/${job.epochs}${batchText}`}
        {job.startEpoch > 0 ? <Text {...paint('gray')}>{`  (resumed after epoch ${job.startEpoch})`}</Text> : null}
      </Text>
      <Text wrap="truncate-end">
        {'  '}
        <Text {...paint(testing ? 'magenta' : 'cyan')}>{bar(f, barWidth)}</Text>
        {percent}
      </Text>
      <Text wrap="truncate-end">
        {`  loss ${loss(job.loss)}  ${rate(job.imgPerSec)} img/s  elapsed ${duration(elapsedSeconds(job, now))}  ETA ${duration(eta)}`}
      </Text>
      {last && (
        <Text wrap="truncate-end">
          {`  test acc ${pct(last.testAccuracy)}`}
          <Text {...paint('gray')}>{` (best ${pct(best)})`}</Text>
          {'  loss '}
          <Text {...paint('yellow')}>{sparkline(job.history.map((h) => h.loss), 12)}</Text>
          {'  acc '}
          <Text {...paint('green')}>{sparkline(job.history.map((h) => h.testAccuracy), 12)}</Text>
        </Text>
      )}
      {last?.terms && <Text wrap="truncate-end" {...paint('gray')}>{`  terms ${termsText(last.terms)}`}</Text>}
    </Box>
  );
}

function Sweep({ state, done, total, width, paint, maxRows }: { state: RunView; done: number; total: number; width: number; paint: Paint; maxRows: number }) {
  const head = `trials ${done}/${total}`;
  const f = total > 0 ? done / total : 0;
  const table = state.trialRows.length > 0
    ? formatTable(resultsTable(state.trialRows, { kind: 'sweep' }), 'text', { width: width - 2, maxRows })
    : '';
  return (
    <Box flexDirection="column" marginTop={1}>
      <Text wrap="truncate-end">
        <Text {...paint(undefined, true)}>{head}</Text>
        {'  '}
        <Text {...paint('green')}>{bar(f, 20)}</Text>
        {` ${pct(f, 0)}`}
      </Text>
      {table && <Text>{indent(table, 2)}</Text>}
    </Box>
  );
}

function indent(text: string, n: number): string {
  const pad = ' '.repeat(n);
  return text.split('\n').map((l) => (l ? pad + l : l)).join('\n');
}

/** The summary left in the scrollback: every job's final state, the results table, the run directory. */
function Final({ state, width, tableWidth, paint }: { state: RunView; width: number; tableWidth: number; paint: Paint }) {
  const end = state.end!;
  const sweep = (state.trials?.length ?? 0) > 0;
  const table = end.rows.length > 0 ? formatTable(resultsTable(end.rows, { kind: sweep ? 'sweep' : 'run' }), 'text', { width: tableWidth }) : '';
  const status = end.status === 'ok'
    ? { hue: 'green', text: `✓ done in ${duration(end.seconds)}` }
    : end.status === 'failed'
      ? { hue: 'red', text: `✗ failed after ${duration(end.seconds)}` }
      : { hue: 'yellow', text: `■ ${interruptedText(end.seconds, end.resumable)}` };
  const lines = jobTree(state);
  return (
    <Box flexDirection="column" width={tableWidth} marginTop={1}>
      <Text {...paint(undefined, true)}>kdx {state.name}</Text>
      <JobLines lines={lines} width={width} paint={paint} />
      {table && <Box marginTop={1}><Text>{table}</Text></Box>}
      <Box marginTop={1} flexDirection="column">
        <Text {...paint(status.hue)}>{status.text}</Text>
        <Text>{`run dir ${end.runDir}`}</Text>
        {end.report && <Text>{`report ${end.report}`}</Text>}
      </Box>
    </Box>
  );
}
