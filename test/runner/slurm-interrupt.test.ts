// What q / Ctrl-C does under --executor slurm: ask in the TUI (c cancels, l or a second q leaves), or
// follow the --on-interrupt policy at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { slurmInterruptQuestion } from '../../src/commands/session.js';
import type { KdxEvent } from '../../src/events.js';

function setUp(initial: 'ask' | 'cancel' | 'leave') {
  const events: KdxEvent[] = [];
  let stops = 0;
  const question = slurmInterruptQuestion(initial, () => stops++, (event) => events.push(event));
  return { question, events, stops: () => stops };
}

test('ask: the first q asks and does not stop; c answers cancel and stops', () => {
  const { question, events, stops } = setUp('ask');
  question.onKey('c'); // not asked yet: an ordinary key
  assert.equal(stops(), 0);
  question.onQuit();
  assert.equal(stops(), 0);
  assert.match((events[0] as { message: string }).message, /press c to cancel the Slurm jobs \(scancel\), l to leave them running/);
  question.onKey('x');
  assert.equal(stops(), 0);
  question.onKey('c');
  assert.equal(stops(), 1);
  assert.equal(question.policy(), 'cancel');
});

test('ask: l, or q a second time, leaves the jobs running', () => {
  for (const answer of [(q: ReturnType<typeof setUp>['question']) => q.onKey('l'), (q: ReturnType<typeof setUp>['question']) => q.onQuit()]) {
    const { question, stops } = setUp('ask');
    question.onQuit();
    answer(question);
    assert.equal(stops(), 1);
    assert.equal(question.policy(), 'leave');
  }
});

test('a policy given: q stops at once and the policy stands', () => {
  for (const policy of ['cancel', 'leave'] as const) {
    const { question, events, stops } = setUp(policy);
    question.onQuit();
    assert.equal(stops(), 1);
    assert.equal(events.length, 0);
    assert.equal(question.policy(), policy);
  }
});
