import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ResultRow } from '../../src/events.js';
import { formatTable, renderResults, resultsTable, sortTrials } from '../../src/report/table.js';
import { failedRows, okRows, sweepRow } from './fixtures.js';

function sweepRows(): ResultRow[] {
  const rows = [0, 1, 2, 3].map(sweepRow);
  rows[2] = { ...rows[2], stages: { ...rows[2].stages, kd_student: { ...rows[2].stages.kd_student, finalAccuracy: 0.53, bestAccuracy: 0.54 } as ResultRow['stages'][string] }, kdGain: 0.009 };
  rows[3] = { ...rows[3], stages: { ...rows[3].stages, kd_student: { job: 'x', status: 'failed', error: 'NaN loss, "diverged"' } }, kdGain: undefined };
  return rows;
}

const widest = (text: string) => Math.max(...text.split('\n').map((l) => [...l].length));

test('a run: one line per stage, as text', () => {
  assert.equal(renderResults(okRows, 'text'), [
    'stage       status  model    params   best  final   time  img/s  backend',
    '──────────  ──────  ───────  ──────  ─────  ─────  ─────  ─────  ───────',
    'teacher     cached  teacher   2.47M  60.1%  59.8%  45.6s   1234  wasm',
    'student     done    student   61.7k  53.0%  52.1%  30.2s   3457  wasm',
    'kd_student  done    student   61.7k  57.0%  56.3%  2m05s    988  wasm',
  ].join('\n'));
});

test('a run with a failed stage says why under the table', () => {
  const text = renderResults(failedRows, 'text');
  assert.match(text, /^kd_student {2}failed {2}— {13}— /m);
  assert.equal(text.split('\n').at(-1), 'kd_student failed: out of memory');
});

test('a run as markdown and as CSV, from the same columns', () => {
  assert.equal(renderResults(failedRows, 'markdown'), [
    '| stage | status | model | params | best | final | time | img/s | backend |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |',
    '| teacher | cached | teacher | 2.47M | 60.1% | 59.8% | 45.6s | 1234 | wasm |',
    '| student | done | student | 61.7k | 53.0% | 52.1% | 30.2s | 1234 | wasm |',
    '| kd_student | failed | — | — | — | — | — | — | — |',
    '',
    '- kd_student failed: out of memory',
  ].join('\n'));
  assert.equal(renderResults(okRows, 'csv'), [
    'stage,status,model,params,best_accuracy,final_accuracy,seconds,img_per_sec,backend,epochs,final_loss,job,error',
    'teacher,cached,teacher,2473610,0.601,0.598,45.6,1234,wasm,10,0.9,aaaaaaaaaaa1,',
    'student,done,student,61706,0.53,0.521,30.2,3456.7,wasm,10,0.9,bbbbbbbbbbb2,',
    'kd_student,done,student,61706,0.57,0.563,125,987.6,wasm,10,0.9,ccccccccccc3,',
    '',
  ].join('\n'));
});

test('a sweep: a row per trial, best KD gain first, failed trials last', () => {
  assert.deepEqual(sortTrials(sweepRows()).map((r) => r.trial), ['tr-2-09', 'tr-2-05', 'tr-4-05', 'tr-4-09']);
  assert.equal(renderResults(sweepRows(), 'text'), [
    '               teacher       student      kd_student',
    '#  T  alpha  final   best  final   best   final   best  KD gain',
    '─  ─  ─────  ─────  ─────  ─────  ─────  ──────  ─────  ───────',
    '1  2  0.9    59.8%  60.1%  52.1%  53.0%   57.1%  57.5%   +5.0pt',
    '2  2  0.5    59.8%  60.1%  52.1%  53.0%   55.0%  55.4%   +2.9pt',
    '3  4  0.5    59.8%  60.1%  52.1%  53.0%   53.0%  54.0%   +0.9pt',
    '4  4  0.9    59.8%  60.1%  52.1%  53.0%  failed      —        —',
    '#4 kd_student failed: NaN loss, "diverged"',
  ].join('\n'));
});

test('a sweep as markdown names each stage in its headings; CSV keeps raw values and quotes', () => {
  const md = renderResults(sweepRows(), 'markdown').split('\n');
  assert.equal(md[0], '| # | T | alpha | teacher final | teacher best | student final | student best | kd_student final | kd_student best | KD gain |');
  assert.equal(md[2], '| 1 | 2 | 0.9 | 59.8% | 60.1% | 52.1% | 53.0% | 57.1% | 57.5% | +5.0pt |');
  const csv = renderResults(sweepRows(), 'csv').trimEnd().split('\n');
  assert.equal(csv[0], 'rank,trial,T,alpha,teacher.final_accuracy,teacher.best_accuracy,teacher.status,student.final_accuracy,student.best_accuracy,student.status,kd_student.final_accuracy,kd_student.best_accuracy,kd_student.status,kd_gain');
  assert.equal(csv[1], '1,tr-2-09,2,0.9,0.598,0.601,done,0.521,0.53,done,0.571,0.575,done,0.05');
  assert.equal(csv[4], '4,tr-4-09,4,0.9,0.598,0.601,done,0.521,0.53,done,,,failed,');
  const quoted = renderResults([{ trial: 't', params: { name: 'a,"b"' }, stages: {} }], 'csv').split('\n')[1];
  assert.equal(quoted, '1,t,"a,""b""",');
});

test('markdown escapes pipes', () => {
  const md = renderResults([{ trial: 't', params: { opt: 'a|b' }, stages: {} }], 'markdown');
  assert.match(md, /\| a\\\|b \|/);
});

test('text fits the width: low-priority columns go first, then cells are cut', () => {
  for (const width of [80, 60, 50]) {
    assert.ok(widest(renderResults(sweepRows(), 'text', { width })) <= width, `sweep at ${width}`);
    assert.ok(widest(renderResults(okRows, 'text', { width })) <= width, `run at ${width}`);
  }
  const narrow = renderResults(sweepRows(), 'text', { width: 50 });
  assert.doesNotMatch(narrow, /best/);
  assert.match(narrow, /KD gain/);
  const run = renderResults(okRows, 'text', { width: 60 });
  assert.doesNotMatch(run, /backend|status/);
  assert.match(run, /best {2}final/);
  const long: ResultRow[] = [{ params: {}, stages: { ['a_very_long_stage_name_that_goes_on_and_on_forever']: okRows[0].stages.teacher } }];
  const cut = renderResults(long, 'text', { width: 60 });
  assert.ok(widest(cut) <= 60);
  assert.match(cut, /^a_very_long_stage_name_… /m);
});

test('maxRows keeps the best rows and counts the rest', () => {
  const text = formatTable(resultsTable(sweepRows(), { kind: 'sweep' }), 'text', { maxRows: 2 });
  assert.match(text, /^2 {2}2 {2}0\.5/m);
  assert.doesNotMatch(text, /^3 /m);
  assert.match(text, /… 2 more/);
});

test('the kind is inferred: one row without a trial id is a run', () => {
  assert.equal(resultsTable(okRows).kind, 'run');
  assert.equal(resultsTable(sweepRows()).kind, 'sweep');
  assert.equal(resultsTable([sweepRow(0)]).kind, 'sweep');
  assert.equal(resultsTable([]).kind, 'sweep');
  assert.equal(resultsTable([], { kind: 'run' }).rows.length, 0);
});
