#!/usr/bin/env node
// kdx runs its TypeScript sources directly through tsx's loader: no build step, so `npm ci` leaves a
// working `npx --no-install kdx` (and `kdx` after `npm link`), and worker processes start from the same sources.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
