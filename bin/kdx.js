#!/usr/bin/env node
// kdx runs dist/, the JavaScript `npm ci` compiled from src/, while that build matches the sources
// (bin/dist.js); otherwise -- a clone not built yet, a source edited since, or KDX_FROM_SOURCE=1 -- it runs
// src/ itself through tsx's loader: slower to start, never stale. Worker processes start here too.
import { distIsFresh } from './dist.js';

if (process.env.KDX_FROM_SOURCE !== '1' && distIsFresh()) {
  await import('../dist/cli.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli.ts');
}
