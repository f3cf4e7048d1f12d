// Learning-rate schedules: values at the points that define them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lrAt } from '../../src/plugins/schedules.js';
import type { ScheduleConfig } from '../../src/plugins/schedules.js';

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)), `${what}: ${a} != ${b}`);

test('constant, and no schedule at all', () => {
  for (const schedule of [undefined, { type: 'constant' } as ScheduleConfig]) {
    for (const step of [0, 1, 50, 99, 100]) assert.equal(lrAt(schedule, 1e-3, step, 100, 10), 1e-3);
  }
});

test('step: decays by gamma every stepSize epochs, at epoch boundaries', () => {
  const s: ScheduleConfig = { type: 'step', stepSize: 2, gamma: 0.5 };
  // 10 steps per epoch: epochs 0-1 -> 0.1, 2-3 -> 0.05, 4-5 -> 0.025.
  close(lrAt(s, 0.1, 0, 100, 10), 0.1, 'step 0');
  close(lrAt(s, 0.1, 19, 100, 10), 0.1, 'last step of epoch 1');
  close(lrAt(s, 0.1, 20, 100, 10), 0.05, 'first step of epoch 2');
  close(lrAt(s, 0.1, 39, 100, 10), 0.05, 'last step of epoch 3');
  close(lrAt(s, 0.1, 40, 100, 10), 0.025, 'first step of epoch 4');
  // gamma defaults to torch's 0.1.
  close(lrAt({ type: 'step', stepSize: 1 }, 1, 25, 100, 10), 0.01, 'default gamma');
  // A fractional stepSize still decays exactly at the boundary (3 / 0.1 is 29.999... in floats).
  close(lrAt({ type: 'step', stepSize: 0.1, gamma: 0.5 }, 1, 3, 100, 1), 0.5 ** 30, 'fractional stepSize');
  assert.throws(() => lrAt({ type: 'step' } as ScheduleConfig, 1, 0, 10, 1), /stepSize \(epochs\) must be > 0/);
});

test('multistep: decays by gamma at each milestone epoch, as torch MultiStepLR (mdistiller: 150, 180, 210 of 240)', () => {
  const s: ScheduleConfig = { type: 'multistep', milestones: [150, 180, 210] };
  // 10 steps per epoch.
  close(lrAt(s, 0.05, 0, 2400, 10), 0.05, 'start');
  close(lrAt(s, 0.05, 1499, 2400, 10), 0.05, 'last step of epoch 149');
  close(lrAt(s, 0.05, 1500, 2400, 10), 0.005, 'first step of epoch 150');
  close(lrAt(s, 0.05, 1800, 2400, 10), 0.0005, 'epoch 180');
  close(lrAt(s, 0.05, 2399, 2400, 10), 0.00005, 'last step');
  close(lrAt({ type: 'multistep', milestones: [1], gamma: 0.5 }, 1, 10, 20, 10), 0.5, 'gamma');
  assert.throws(() => lrAt({ type: 'multistep' } as ScheduleConfig, 1, 0, 10, 1), /milestones must be a list of epochs/);
});

test('cosine without warmup: base at step 0, half-way at the middle, minLr at the end', () => {
  const s: ScheduleConfig = { type: 'cosine' };
  close(lrAt(s, 0.1, 0, 100, 10), 0.1, 'start');
  close(lrAt(s, 0.1, 50, 100, 10), 0.05, 'middle');
  close(lrAt(s, 0.1, 25, 100, 10), 0.05 * (1 + Math.cos(Math.PI / 4)), 'quarter');
  close(lrAt(s, 0.1, 99, 100, 10), 0.05 * (1 + Math.cos((Math.PI * 99) / 100)), 'last step');
  close(lrAt(s, 0.1, 100, 100, 10), 0, 'end');
  close(lrAt(s, 0.1, 150, 100, 10), 0, 'past the end');
  const m: ScheduleConfig = { type: 'cosine', minLr: 0.01 };
  close(lrAt(m, 0.1, 50, 100, 10), 0.055, 'middle with minLr');
  close(lrAt(m, 0.1, 100, 100, 10), 0.01, 'end with minLr');
  // Strictly decreasing over the run.
  for (let i = 1; i < 100; i++) assert.ok(lrAt(s, 0.1, i, 100, 10) < lrAt(s, 0.1, i - 1, 100, 10));
});

test('cosine with warmup: linear from ~0 to base, then cosine over the remaining steps', () => {
  const s: ScheduleConfig = { type: 'cosine', warmupEpochs: 2, minLr: 0 };
  // 10 steps per epoch, 100 steps: warmup steps 0..19, cosine over steps 20..100.
  close(lrAt(s, 0.1, 0, 100, 10), 0.1 / 20, 'first warmup step');
  close(lrAt(s, 0.1, 9, 100, 10), 0.05, 'middle of warmup');
  close(lrAt(s, 0.1, 19, 100, 10), 0.1, 'last warmup step reaches base');
  close(lrAt(s, 0.1, 20, 100, 10), 0.1, 'cosine starts at base');
  close(lrAt(s, 0.1, 60, 100, 10), 0.05, 'cosine half-way (20 + 80 / 2)');
  close(lrAt(s, 0.1, 100, 100, 10), 0, 'end');
  for (let i = 1; i < 20; i++) assert.ok(lrAt(s, 0.1, i, 100, 10) > lrAt(s, 0.1, i - 1, 100, 10), 'warmup increases');
  // Fractional warmup epochs round to steps: 0.5 epoch of 10 steps = 5 steps.
  close(lrAt({ type: 'cosine', warmupEpochs: 0.5 }, 1, 4, 50, 10), 1, 'last of 5 warmup steps');
  close(lrAt({ type: 'cosine', warmupEpochs: 0.5 }, 1, 0, 50, 10), 0.2, 'first of 5 warmup steps');
  // Warmup longer than the run: all warmup, never beyond base.
  close(lrAt({ type: 'cosine', warmupEpochs: 20 }, 1, 9, 10, 1), 1, 'warmup clipped to the run');
});

test('bad input is a plain error', () => {
  assert.throws(() => lrAt({ type: 'exponential' } as unknown as ScheduleConfig, 1, 0, 10, 1), /unknown lr schedule "exponential"/);
  assert.throws(() => lrAt(undefined, 1, 0, 10, 0), /stepsPerEpoch must be > 0/);
});
