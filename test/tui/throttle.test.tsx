import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import React from 'react';
import { cleanup, render } from 'ink-testing-library';
import type { KdxEvent } from '../../src/events.js';
import { createInkReporter, FRAME_MS } from '../../src/tui/ink-reporter.js';
import { throttle, type Timers } from '../../src/tui/throttle.js';
import { T0, runMidEpoch } from './fixtures.js';

afterEach(() => cleanup());

/** A clock that moves only when told to, with timers that fire when it passes them. */
function fakeTimers() {
  let now = 0;
  let seq = 0;
  const pending = new Map<number, { at: number; fn: () => void }>();
  const timers: Timers = {
    now: () => now,
    setTimeout: (fn, ms) => {
      pending.set(++seq, { at: now + ms, fn });
      return seq;
    },
    clearTimeout: (handle) => void pending.delete(handle as number),
  };
  const advance = (ms: number) => {
    now += ms;
    for (const [id, t] of [...pending].sort((a, b) => a[1].at - b[1].at)) {
      if (t.at <= now) {
        pending.delete(id);
        t.fn();
      }
    }
  };
  return { timers, advance, pending };
}

test('throttle: the first call at once, a burst merged into one trailing call', () => {
  const clock = fakeTimers();
  let calls = 0;
  const t = throttle(() => calls++, 100, clock.timers);
  for (let i = 0; i < 1000; i++) t.schedule();
  assert.equal(calls, 1);
  clock.advance(99);
  assert.equal(calls, 1);
  clock.advance(1);
  assert.equal(calls, 2);
  clock.advance(1000);
  assert.equal(calls, 2); // nothing asked, nothing done
  t.schedule();
  assert.equal(calls, 3);
  t.schedule();
  t.flush();
  assert.equal(calls, 4);
  t.schedule();
  t.cancel();
  clock.advance(1000);
  assert.equal(calls, 4);
});

function batches(n: number): KdxEvent[] {
  return Array.from({ length: n }, (_, i): KdxEvent => ({
    type: 'batch', time: T0 + 100_000 + i, job: 'ccccccccccc3', epoch: 3, batch: 452 + (i % 330), batches: 782, loss: 1.2, imgPerSec: 1300,
  }));
}

test('the Ink reporter redraws at most once per frame however fast batches come', () => {
  const clock = fakeTimers();
  let rerenders = 0;
  const reporter = createInkReporter({
    stdout: process.stdout, heartbeat: false, timers: clock.timers,
    render: (node) => {
      const instance = render(node);
      return { ...instance, rerender: (n) => { rerenders++; instance.rerender(n); } };
    },
  });
  for (const e of runMidEpoch()) reporter.onEvent(e);
  const afterSetup = rerenders;
  assert.ok(afterSetup <= 1, `setup redraws: ${afterSetup}`);
  // 1000 batch events within 10 frames of (fake) time: at most one redraw per frame.
  const events = batches(1000);
  for (let i = 0; i < events.length; i++) {
    reporter.onEvent(events[i]);
    if (i % 100 === 99) clock.advance(FRAME_MS);
  }
  const redraws = rerenders - afterSetup;
  assert.ok(redraws <= 11, `redraws for 1000 batches: ${redraws}`);
  assert.ok(redraws >= 1);
  assert.equal(reporter.state.jobs.ccccccccccc3.batch, 461); // every event reached the store
});

test('with real timers, 1000 batch events in a burst cause only a couple of redraws', async () => {
  const frames: string[] = [];
  let rerenders = 0;
  let lastFrame: () => string | undefined = () => undefined;
  const reporter = createInkReporter({
    stdout: process.stdout, heartbeat: false,
    render: (node) => {
      const instance = render(node);
      lastFrame = instance.lastFrame;
      return { ...instance, rerender: (n) => { rerenders++; instance.rerender(n); frames.push(instance.lastFrame() ?? ''); } };
    },
  });
  for (const e of [...runMidEpoch(), ...batches(1000)]) reporter.onEvent(e);
  await new Promise((resolve) => setTimeout(resolve, FRAME_MS * 3));
  assert.ok(rerenders <= 3, `redraws: ${rerenders}`);
  assert.match(lastFrame()!, /batch 461\/782/); // the trailing redraw shows the latest batch (452 + 999 % 330)
  await reporter.close();
});

test('the reporter passes q to onQuit when stdin is a TTY, and close() unmounts', async () => {
  let quits = 0;
  let stdin: EventEmitter & { write(s: string): void } | undefined;
  const fakeTty = Object.assign(new EventEmitter(), { isTTY: true, setRawMode() {} }) as unknown as NodeJS.ReadStream;
  const reporter = createInkReporter({
    stdout: process.stdout, stdin: fakeTty, heartbeat: false, onQuit: () => quits++,
    render: (node) => {
      const instance = render(node);
      stdin = instance.stdin;
      return instance;
    },
  });
  for (const e of runMidEpoch()) reporter.onEvent(e);
  await new Promise((resolve) => setTimeout(resolve, FRAME_MS * 2));
  stdin!.write('q');
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(quits, 1);
  await reporter.close();
  reporter.onEvent({ type: 'log', time: T0, level: 'info', message: 'after close' }); // ignored, no throw
});
