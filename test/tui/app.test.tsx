import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import React from 'react';
import { cleanup, render } from 'ink-testing-library';
import type { KdxEvent, PlanJob } from '../../src/events.js';
import { App } from '../../src/tui/App.js';
import { reduce, reduceAll } from '../../src/tui/store.js';
import { T0, okRows, paperRows, runFailed, runMidEpoch, sweepHalf } from './fixtures.js';

afterEach(() => cleanup());

const lines = (frame: string | undefined) => (frame ?? '').split('\n');
const widest = (frame: string | undefined) => Math.max(...lines(frame).map((l) => [...l].length));
const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

test('a run with a cached teacher and a KD student mid-epoch', () => {
  const { lastFrame } = render(<App state={reduceAll(runMidEpoch())} inputEnabled />);
  const frame = lastFrame()!;
  // The DAG: each job with its state; kd_student drawn under its teacher.
  assert.match(frame, /^● teacher {8}cached {3}final 59\.8%$/m);
  assert.match(frame, /^└─ ▶ kd_student {2}running {2}epoch 3\/10 {2}58%$/m);
  assert.match(frame, /^· student {8}waiting {2}10 epochs$/m);
  // The running job: progress over the epoch's batches, loss, rate, elapsed, ETA, test accuracy, sparklines.
  assert.match(frame, /^▶ kd_student {2}epoch 3\/10 {2}batch 451\/782$/m);
  assert.match(frame, /^ {2}█+[▏▎▍▌▋▊▉]?░+ {2}58%$/m);
  assert.match(frame, /^ {2}loss 1\.234 {2}1234 img\/s {2}elapsed 24\.5s {2}ETA 1m13s$/m);
  assert.match(frame, /^ {2}test acc 48\.7% \(best 48\.7%\) {2}loss █▁ {2}acc ▁█$/m);
  // A long wait that is not training, and a finished one in the scrollback.
  assert.match(frame, /computing teacher logits {2}█+.*░+ {2}38% {2}300\/782 batches/);
  assert.match(frame, /^✓ downloading cifar10 {2}12\.0s$/m);
  assert.match(frame, /^kdx cifar10-kd {2}wasm {2}1 waiting, 1 running, 1 cached {2}44\.5s$/m);
  assert.match(frame, /^q to stop \(resumable\)$/m);
  assert.ok(widest(frame) <= 80, `widest line ${widest(frame)}`);
});

test('a running job whose loss has several terms shows the last epoch\'s, weighted', () => {
  const events = runMidEpoch().map((e) => (e.type === 'epoch-end' ? { ...e, terms: { crossEntropy: 0.1391, attention: 40.92 } } : e));
  const { lastFrame } = render(<App state={reduceAll(events)} inputEnabled />);
  assert.match(lastFrame()!, /^ {2}terms crossEntropy 0\.1391 {2}attention 40\.92$/m);
});

test('the width is capped at 80 columns even on a wide terminal', () => {
  const { lastFrame } = render(<App state={reduceAll(sweepHalf())} width={200} />);
  assert.ok(widest(lastFrame()) <= 80);
  assert.ok(widest(lastFrame()) >= 70); // the progress bar uses the room it has
});

test('a failed job: the summary goes to the scrollback (Static) with the run directory', () => {
  const { lastFrame, frames } = render(<App state={reduceAll(runFailed())} inputEnabled />);
  const frame = lastFrame()!;
  assert.match(frame, /^warning: wasm heap above 3 GB$/m);
  assert.match(frame, /^✗ kd_student {2}failed: out of memory$/m);
  assert.match(frame, /^└─ ✗ kd_student {2}failed {3}out of memory$/m);
  assert.match(frame, /^✓ student {8}done {5}best 53\.0% {2}final 52\.1% {2}30\.2s$/m);
  assert.match(frame, /^stage {7}status {2}model/m);
  assert.match(frame, /^kd_student {2}failed {2}—/m);
  assert.match(frame, /^✗ failed after 11\.0s$/m);
  assert.match(frame, /^run dir runs\/cifar10-kd\/1$/m);
  assert.doesNotMatch(frame, /q to stop/); // nothing live is left after run-end
  assert.ok(frames.length >= 1);
});

test('a sweep half done: trials done / total and the live results table, best first', () => {
  const { lastFrame } = render(<App state={reduceAll(sweepHalf())} />);
  const frame = lastFrame()!;
  assert.match(frame, /^trials 2\/4 {2}█{10}░{10} 50%$/m);
  const table = lines(frame).filter((l) => /^ {2}[12] {2}2 {2}0\.\d/.test(l));
  assert.deepEqual(table.map((l) => l.trim().split(/\s+/)), [
    ['1', '2', '0.9', '59.8%', '60.1%', '52.1%', '53.0%', '57.1%', '57.5%', '+5.0pt'],
    ['2', '2', '0.5', '59.8%', '60.1%', '52.1%', '53.0%', '55.0%', '55.4%', '+2.9pt'],
  ]);
  assert.match(frame, /^├─ ✓ kd_student\[T=2,alpha=0\.9\] {2}done/m);
  assert.match(frame, /^├─ ▶ kd_student\[T=4,alpha=0\.5\] {2}running {2}epoch 6\/10 {2}26%$/m);
  assert.match(frame, /^└─ · kd_student\[T=4,alpha=0\.9\] {2}waiting/m);
  assert.match(frame, /^▶ kd_student\[T=4,alpha=0\.5\] {2}epoch 6\/10 {2}batch 200\/782 {2}\(resumed after epoch 4\)$/m);
  assert.match(frame, /ETA 45\.8s/);
  assert.match(frame, /^Ctrl-C to stop \(resumable\)$/m); // no key input without a TTY
});

test('a finished run leaves the job list, the results table, the run dir and the report', () => {
  let state = reduceAll(runMidEpoch());
  state = reduce(state, { type: 'run-end', time: T0 + 200_000, status: 'ok', runDir: 'runs/cifar10-kd/2', rows: okRows, seconds: 200, report: 'runs/cifar10-kd/2/report.html' });
  const frame = render(<App state={state} />).lastFrame()!;
  assert.match(frame, /^kd_student {2}done {4}student {3}61\.7k {2}57\.0% {2}56\.3% {2}2m05s {4}988 {2}wasm$/m);
  assert.match(frame, /^✓ done in 3m20s$/m);
  assert.match(frame, /^run dir runs\/cifar10-kd\/2$/m);
  assert.match(frame, /^report runs\/cifar10-kd\/2\/report\.html$/m);
  const interrupted = reduce(reduceAll(runMidEpoch()), { type: 'run-end', time: T0 + 1, status: 'interrupted', runDir: 'r', rows: [], seconds: 5 });
  assert.match(render(<App state={interrupted} />).lastFrame()!, /interrupted after 5\.0s \(resumable/);
});

test('a finished run\'s table takes the terminal\'s whole width: top-5, ECE and agreement at 220 columns, the live view still 80', () => {
  const state = reduce(reduceAll(runMidEpoch()), { type: 'run-end', time: T0 + 200_000, status: 'ok', runDir: 'r', rows: paperRows, seconds: 200 });
  const wide = render(<App state={state} width={220} tableWidth={220} />).lastFrame()!;
  assert.match(wide, /^stage .* final {2}top-5 {4}ECE {2}agree {2}KL\(t\|\|s\) {3}time/m);
  assert.match(wide, /^kd_student .* 95\.0% {2}0\.041 {2}81\.0% +0\.213 /m);
  assert.doesNotMatch(render(<App state={state} width={80} tableWidth={80} />).lastFrame()!, /top-5/);
});

test('the scrollback summary is written once, above later frames', () => {
  const state = reduceAll(runFailed());
  const r = render(<App state={reduceAll(runFailed().slice(0, -1))} />);
  r.rerender(<App state={state} />);
  r.rerender(<App state={state} now={state.lastTime + 5000} />);
  const frame = r.lastFrame()!;
  assert.equal(frame.split('run dir runs/cifar10-kd/1').length, 2);
  assert.equal(frame.split('✗ kd_student  failed: out of memory').length, 2);
});

test('q and Ctrl-C call onQuit and the footer says the run is stopping', async () => {
  let quits = 0;
  const r = render(<App state={reduceAll(runMidEpoch())} inputEnabled onQuit={() => quits++} />);
  await tick();
  r.stdin.write('x');
  await tick();
  assert.equal(quits, 0);
  r.stdin.write('q');
  await tick();
  assert.equal(quits, 1);
  assert.match(r.lastFrame()!, /^stopping… saving a checkpoint \(resumable\)$/m);
  r.stdin.write('\u0003');
  await tick();
  assert.equal(quits, 2);
});

test('other keys go to onKey (the answer to a question the run asked), q and Ctrl-C do not', async () => {
  const keys: string[] = [];
  const r = render(<App state={reduceAll(runMidEpoch())} inputEnabled onQuit={() => {}} onKey={(input) => keys.push(input)} />);
  await tick();
  r.stdin.write('q');
  await tick();
  r.stdin.write('c');
  await tick();
  assert.deepEqual(keys, ['c']);
});

test('many jobs: the tree shows running and failed jobs first and counts the rest', () => {
  const jobs: PlanJob[] = [
    { job: 't', label: 'teacher', stage: 'teacher', model: 'm', dependsOn: [], epochs: 10, cached: false },
    ...Array.from({ length: 30 }, (_, i): PlanJob => ({
      job: `k${i}`, label: `kd[T=${i}]`, stage: 'kd', model: 'm', teacher: 'teacher', dependsOn: ['t'], epochs: 10, cached: false,
    })),
  ];
  const events: KdxEvent[] = [
    { type: 'plan', time: T0, name: 'big', runDir: 'r', backend: 'cpu', jobs },
    { type: 'job-end', time: T0, job: 't', label: 'teacher', summary: { stage: 'teacher', model: 'm', params: 1, epochs: 10, finalAccuracy: 0.5, bestAccuracy: 0.5, finalLoss: 1, seconds: 1, imgPerSec: 1, backend: 'cpu' } },
    { type: 'job-start', time: T0, job: 'k25', label: 'kd[T=25]', epochs: 10, startEpoch: 0, batchesPerEpoch: 10 },
    { type: 'job-failed', time: T0, job: 'k27', label: 'kd[T=27]', error: 'boom' },
  ];
  const frame = render(<App state={reduceAll(events)} maxJobLines={8} />).lastFrame()!;
  assert.match(frame, /▶ kd\[T=25\] +running/);
  assert.match(frame, /✗ kd\[T=27\] +failed +boom/);
  assert.match(frame, /^✓ teacher/m);
  assert.match(frame, /^… 24 more: 24 waiting$/m);
});

test('a job evaluating after its epoch shows the evaluation, not a frozen training bar', () => {
  const events = runMidEpoch();
  events.push(
    { type: 'batch', time: T0 + 60_000, job: 'ccccccccccc3', epoch: 3, batch: 782, batches: 782, loss: 1.2, imgPerSec: 1234 },
    { type: 'eval', time: T0 + 61_000, job: 'ccccccccccc3', epoch: 3, batch: 12, batches: 40 },
  );
  const frame = render(<App state={reduceAll(events)} />).lastFrame()!;
  assert.match(frame, /kd_student\s+running\s+epoch 3\/10\s+evaluating 30%/);
  assert.match(frame, /evaluating {2}test batch 12\/40/);
  assert.doesNotMatch(frame, /batch 782\/782/);
});

test('at 60 columns the tree rows of a sweep can still be told apart', () => {
  const frame = render(<App state={reduceAll(sweepHalf())} width={60} />).lastFrame()!;
  const kdRows = frame.split('\n').filter((l) => /\[.*\]/.test(l) && /[├└]─/.test(l));
  assert.ok(kdRows.length >= 3, frame);
  const labels = kdRows.map((l) => /([^\s─├└│]*\[[^\]]*\])/.exec(l)![1]);
  assert.equal(new Set(labels).size, labels.length, labels.join(' | '));
  for (const row of frame.split('\n')) assert.ok([...row].length <= 60, row);
});
