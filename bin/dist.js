// dist/: src/ compiled to JavaScript ahead of time, so `kdx` starts without compiling TypeScript (through
// tsx's loader, about half of `kdx validate`'s time, paid again by every worker process).
//
// `npm ci` builds it (the `prepare` script); `npm run build` rebuilds it. The build is esbuild's per-file
// TypeScript -> JavaScript transform, the one tsx applies on the fly, so both paths run the same code.
// dist/ records a fingerprint of the sources it was built from (every file's path, size and mtime);
// bin/kdx.js uses dist/ only while src/ still has that fingerprint, so an edited, added, removed or
// checked-out source never runs stale: kdx then runs src/ through tsx until the next build.
// Plain JavaScript, no dependency at start: this module is on every start's path.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const srcDir = join(root, 'src');
export const distDir = join(root, 'dist');
const stampFile = join(distDir, '.source-fingerprint');

/** sha256 of every source file's relative path, size and mtime, in a fixed order: cheap (stat only). */
export function sourceFingerprint(dir = srcDir) {
  const hash = createHash('sha256');
  const files = readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name))
    .sort();
  for (const file of files) {
    const { size, mtimeMs } = statSync(file);
    hash.update(`${relative(dir, file)}\0${size}\0${mtimeMs}\n`);
  }
  return hash.digest('hex');
}

/** Whether dist/ was built from src/ exactly as it is now. */
export function distIsFresh() {
  let recorded;
  try {
    recorded = readFileSync(stampFile, 'utf8');
  } catch {
    return false; // never built, or a build in progress (the fingerprint is written last)
  }
  return recorded === sourceFingerprint();
}

/** Compiles src/ into a new dist/ and records the fingerprint of the sources it compiled. */
export async function build() {
  const { build: esbuild } = await import('esbuild');
  // Taken before compiling: a source edited during the build leaves a fingerprint that no longer matches.
  const fingerprint = sourceFingerprint();
  rmSync(distDir, { recursive: true, force: true });
  const entryPoints = readdirSync(srcDir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.tsx?$/.test(entry.name))
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name));
  await esbuild({
    entryPoints,
    outdir: distDir,
    outbase: srcDir, // dist/ mirrors src/ at the same depth, so `new URL('../..', import.meta.url)` paths still hold
    bundle: false,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: true, // stack traces of a kdx bug point into src/
    tsconfig: join(root, 'tsconfig.json'),
    logLevel: 'warning',
  });
  writeFileSync(stampFile, fingerprint);
  return entryPoints.length;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const files = await build();
  process.stdout.write(`kdx: compiled ${files} files of src/ into dist/\n`);
}
