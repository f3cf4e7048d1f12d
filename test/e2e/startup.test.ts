// kdx starts from dist/ (compiled by `npm ci`'s prepare script) while dist/ matches src/, and from src/
// through tsx as soon as a source differs: an edited source never runs stale.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { sourceFingerprint } from '../../bin/dist.js';
import { cleanup, repoRoot, scratchDir, tinyExperiment } from './support.js';

test('the fingerprint of the sources changes with any file\'s content, time, name, or a new file', () => {
  const dir = scratchDir('kdx-fingerprint-');
  try {
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'a.ts'), 'export const a = 1;\n');
    writeFileSync(join(dir, 'sub', 'b.ts'), 'export const b = 2;\n');
    const base = sourceFingerprint(dir);
    assert.equal(sourceFingerprint(dir), base, 'stable while nothing changes');
    const seen = new Set([base]);
    const changed = (what: string) => {
      const now = sourceFingerprint(dir);
      assert.ok(!seen.has(now), what);
      seen.add(now);
    };
    writeFileSync(join(dir, 'sub', 'b.ts'), 'export const b = 22;\n');
    changed('an edit');
    utimesSync(join(dir, 'a.ts'), new Date(2001, 1, 1), new Date(2001, 1, 1));
    changed('another modification time (a checkout)');
    writeFileSync(join(dir, 'sub', 'c.ts'), '');
    changed('a new file');
    cpSync(join(dir, 'sub', 'c.ts'), join(dir, 'sub', 'd.ts'), { preserveTimestamps: true });
    rmSync(join(dir, 'sub', 'c.ts'));
    changed('a renamed file');
  } finally {
    cleanup(dir);
  }
});

/** A copy of the package whose node_modules links every installed package (and can hide one). */
function packageCopy(dir: string): { root: string; hide(pkg: string): void; show(pkg: string): void } {
  const root = join(dir, 'kdx');
  for (const part of ['bin', 'src', 'schemas', 'experiments', 'package.json', 'tsconfig.json']) cpSync(join(repoRoot, part), join(root, part), { recursive: true });
  const modules = join(root, 'node_modules');
  mkdirSync(modules);
  for (const name of readdirSync(join(repoRoot, 'node_modules'))) symlinkSync(join(repoRoot, 'node_modules', name), join(modules, name));
  return {
    root,
    hide: (pkg) => rmSync(join(modules, pkg)),
    show: (pkg) => symlinkSync(join(repoRoot, 'node_modules', pkg), join(modules, pkg)),
  };
}

test('kdx runs the build without tsx while it is current, and the edited sources (through tsx) once one differs', async () => {
  const dir = scratchDir('kdx-startup-');
  try {
    const pkg = packageCopy(dir);
    const kdx = (args: string[]) => execa(process.execPath, [join(pkg.root, 'bin', 'kdx.js'), ...args], { cwd: pkg.root, reject: false, env: { NO_COLOR: '1' } });
    const built = await execa(process.execPath, [join(pkg.root, 'bin', 'dist.js')], { cwd: pkg.root, reject: false });
    assert.equal(built.exitCode, 0, built.stderr);
    assert.match(built.stdout, /compiled \d+ files of src\/ into dist\//);

    // Without tsx installed, only the build can run.
    pkg.hide('tsx');
    const validated = await kdx(['validate', 'experiments/cifar10-kd.yaml']);
    assert.equal(validated.exitCode, 0, validated.stderr);
    assert.equal(validated.stdout, 'experiments/cifar10-kd.yaml: ok (3 stages, 2 models)');

    // An edited source: the build is stale, so kdx needs (and uses) tsx, and shows the edit.
    const cli = join(pkg.root, 'src', 'cli.ts');
    writeFileSync(cli, readFileSync(cli, 'utf8').replace('Declarative knowledge-distillation experiments', 'EDITED experiments'));
    const stale = await kdx(['--help']);
    assert.notEqual(stale.exitCode, 0, 'a stale build is never run');
    assert.match(stale.stderr, /tsx/);
    pkg.show('tsx');
    const fromSource = await kdx(['--help']);
    assert.equal(fromSource.exitCode, 0, fromSource.stderr);
    assert.match(fromSource.stdout, /EDITED experiments/);
    // A new build runs the edit too, without tsx; KDX_FROM_SOURCE=1 still insists on the sources.
    const rebuilt = await execa(process.execPath, [join(pkg.root, 'bin', 'dist.js')], { cwd: pkg.root, reject: false });
    assert.equal(rebuilt.exitCode, 0, rebuilt.stderr);
    pkg.hide('tsx');
    const fromBuild = await kdx(['--help']);
    assert.equal(fromBuild.exitCode, 0, fromBuild.stderr);
    assert.equal(fromBuild.stdout, fromSource.stdout);
    // A plugin written in TypeScript still loads when kdx runs compiled.
    pkg.show('tsx');
    writeFileSync(join(pkg.root, 'double.ts'), `export default function (kdx: { registerLayer(name: string, factory: object): void; tf: any }): void {
  kdx.registerLayer('double', { description: 'x * 2', create: () => kdx.tf.layers.rescaling({ scale: 2 }) });
}
`);
    writeFileSync(join(pkg.root, 'plugin.yaml'), `plugins: [./double.ts]\n${tinyExperiment().replace('student: [flatten', 'student: [double, flatten')}`);
    const plugin = await kdx(['validate', 'plugin.yaml']);
    assert.equal(plugin.exitCode, 0, plugin.stderr);
    pkg.hide('tsx');
    const forced = await execa(process.execPath, [join(pkg.root, 'bin', 'kdx.js'), '--help'], { cwd: pkg.root, reject: false, env: { KDX_FROM_SOURCE: '1' } });
    assert.notEqual(forced.exitCode, 0);
    assert.match(forced.stderr, /tsx/);
  } finally {
    cleanup(dir);
  }
});
