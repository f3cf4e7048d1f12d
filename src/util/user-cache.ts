// kdx's per-user cache (dataset downloads, rendered report charts): $XDG_CACHE_HOME/kdx, else ~/.cache/kdx.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export function userCacheDir(...parts: string[]): string {
  const xdg = process.env.XDG_CACHE_HOME;
  const base = xdg && xdg.trim() !== '' ? xdg : join(homedir(), '.cache');
  return resolve(base, 'kdx', ...parts);
}
