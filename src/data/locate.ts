// Where kdx looks for a dataset's files, in order: the experiment's `data.root`, $KDX_DATA, kdx's download
// cache (under XDG_CACHE_HOME or ~/.cache), then system directories a dataset names (Debian's
// /usr/share/datasets/<name>). Each place is tried as is and under the dataset's own name, and a few
// well-known subdirectories (e.g. cifar-10-batches-bin/) inside each.
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { userCacheDir } from '../util/user-cache.js';

/** A directory a dataset may live in, and why it is looked at (shown in error messages). */
export interface Place {
  dir: string;
  source: string;
}

/** The directory of kdx's download cache for one dataset: $XDG_CACHE_HOME/kdx/datasets/<name>. */
export function cacheDir(name: string): string {
  return userCacheDir('datasets', name);
}

/** The places to search for a dataset, in order, without subdirectories. */
export function datasetPlaces(name: string, root: string | undefined, system: string[] = []): Place[] {
  const places: Place[] = [];
  if (root !== undefined && root !== '') {
    places.push({ dir: resolve(root), source: 'data.root' });
    places.push({ dir: resolve(root, name), source: 'data.root' });
  }
  const env = process.env.KDX_DATA;
  if (env !== undefined && env !== '') {
    places.push({ dir: resolve(env, name), source: '$KDX_DATA' });
    places.push({ dir: resolve(env), source: '$KDX_DATA' });
  }
  places.push({ dir: cacheDir(name), source: "kdx's download cache" });
  for (const dir of system) places.push({ dir, source: 'system datasets' });
  // The same directory reached two ways is searched (and listed) once.
  const seen = new Set<string>();
  return places.filter((p) => (seen.has(p.dir) ? false : (seen.add(p.dir), true)));
}

/** One file a dataset needs, with the names it may have on disk (e.g. with or without `.gz`). */
export interface Wanted {
  /** Canonical name, used in messages. */
  name: string;
  alternatives: string[];
}

export interface Found {
  dir: string;
  place: Place;
  /** Full paths, in the order of the wanted list. */
  files: string[];
}

export interface SearchResult {
  found?: Found;
  /** Directories holding some but not all of the files, with what they lack. */
  partial: { dir: string; missing: string[] }[];
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The first directory (each place, then its subdirectories) that holds every wanted file. */
export function findFiles(places: Place[], subdirs: string[], wanted: Wanted[]): SearchResult {
  const partial: SearchResult['partial'] = [];
  for (const place of places) {
    for (const sub of ['', ...subdirs]) {
      const dir = sub === '' ? place.dir : join(place.dir, sub);
      const files: string[] = [];
      const missing: string[] = [];
      for (const w of wanted) {
        const hit = w.alternatives.map((a) => join(dir, a)).find(isFile);
        if (hit) files.push(hit);
        else missing.push(w.name);
      }
      if (missing.length === 0) return { found: { dir, place, files }, partial };
      if (files.length > 0) partial.push({ dir, missing });
    }
  }
  return { partial };
}

/** Lines for an error message: every place searched, with its source. */
export function describePlaces(places: Place[]): string {
  const width = Math.max(...places.map((p) => p.dir.length));
  const lines = places.map((p) => `  ${p.dir.padEnd(width)}  (${p.source})`);
  if (!places.some((p) => p.source === '$KDX_DATA')) lines.push('  ($KDX_DATA is not set)');
  return lines.join('\n');
}

/**
 * An environment override for a dataset's download, e.g. `KDX_DATASET_URL_CIFAR10`,
 * `KDX_DATASET_MD5_FASHION_MNIST` (name upper-cased, other characters as `_`).
 */
export function datasetEnv(kind: 'URL' | 'MD5', name: string): string | undefined {
  const value = process.env[`KDX_DATASET_${kind}_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
