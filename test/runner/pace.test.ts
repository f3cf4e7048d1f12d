import { test } from 'node:test';
import assert from 'node:assert/strict';
import { breather, every } from '../../src/runner/pace.js';

test('every: an epoch\'s first batch event waits one interval after its start; forced ones always go', () => {
  const due = every(60_000);
  due(true); // the epoch starts
  assert.equal(due(), false, 'no batch event (and no rate from one warm-up batch) right away');
  assert.equal(due(true), true, 'the last batch of an epoch is always reported');
  assert.equal(every(60_000)(), true, 'without a start, the first call is due');
});

test('breather lets timers run during a long loop', async () => {
  const breathe = breather(0);
  let fired = false;
  setTimeout(() => { fired = true; }, 0);
  const start = Date.now();
  while (!fired && Date.now() - start < 5000) {
    // Busy work, as a training step is: only the breather lets the timer in.
    for (let i = 0; i < 1e5; i++);
    await breathe();
  }
  assert.equal(fired, true);
});
