#!/usr/bin/env node
// kdx runs dist/, the JavaScript `npm ci` compiled from src/, while that build matches the sources
// (bin/dist.js); otherwise -- a clone not built yet, a source edited since, or KDX_FROM_SOURCE=1 -- it runs
// src/ itself through tsx's loader: slower to start, never stale. Worker processes start here too.
import module from 'node:module';
import { distIsFresh } from './dist.js';

// Node >= 22.1 keeps V8's compiled code of every module (tfjs's large bundles above all) between starts.
// Node 20 has no such cache: there this is a no-op (and it was not measured here, on Node 20).
module.enableCompileCache?.();

if (process.env.KDX_FROM_SOURCE !== '1' && distIsFresh()) {
  await import('../dist/cli.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli.ts');
}
