// Colour is on when the terminal supports it, and off under NO_COLOR. Chalk decides support when it is
// first imported, so FORCE_COLOR is set before Ink is loaded (each test file runs in its own process).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import React from 'react';
import { runFailed, runMidEpoch, sweepHalf } from './fixtures.js';

process.env.FORCE_COLOR = '1';
const { render, cleanup } = await import('ink-testing-library');
const { App } = await import('../../src/tui/App.js');
const { reduceAll } = await import('../../src/tui/store.js');

test('with colour allowed the UI is coloured', () => {
  const frame = render(<App state={reduceAll(runMidEpoch())} color />).lastFrame()!;
  assert.match(frame, /\u001b\[\d+m/);
  cleanup();
});

test('with NO_COLOR (color=false) no escape code at all, in live frames and in the final summary', () => {
  for (const events of [runMidEpoch(), runFailed(), sweepHalf()]) {
    const frame = render(<App state={reduceAll(events)} color={false} />).lastFrame()!;
    assert.doesNotMatch(frame, /\u001b/);
    cleanup();
  }
});
