// The README's quick start, run exactly as written in a fresh clone, and a check that no command the
// README gives can run another npm package: the npm name `kdx` belongs to an unrelated program.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { cleanup, repoRoot, scratchDir } from './support.js';

/** The lines of the first indented code block after a markdown heading. */
function firstBlockAfter(markdown: string, heading: string): string[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.trim() === heading);
  assert.ok(start >= 0, `README.md has a "${heading}" section`);
  const first = lines.findIndex((l, i) => i > start && l.startsWith('    '));
  const after = lines.findIndex((l, i) => i > first && !l.startsWith('    '));
  return lines.slice(first, after < 0 ? undefined : after).map((l) => l.slice(4));
}

/** A shell line without its trailing `# comment`. */
function withoutComment(line: string): string {
  return line.replace(/\s+#.*$/, '').trim();
}

/**
 * Every line of every code block of a markdown text: fenced, or indented by four spaces after a blank
 * line (an indented line right after text continues a list item's paragraph).
 */
function codeLines(markdown: string): string[] {
  const out: string[] = [];
  let fenced = false;
  let indented = false;
  let previous = '';
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    else if (fenced) out.push(line.trim());
    else {
      indented = line.startsWith('    ') && (indented || previous.trim() === '');
      if (indented) out.push(line.trim());
    }
    previous = line;
  }
  return out;
}

/** A clean environment for a newcomer's shell: no npm_* variables from `npm test`, plain output (CI). */
function shellEnv(dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH!, HOME: process.env.HOME!, CI: 'true', NO_COLOR: '1',
    KDX_DATA: join(dir, 'no-data'), XDG_CACHE_HOME: join(dir, 'xdg-cache'), ...extra,
  };
}

test('every kdx command in the README runs this project, never a downloaded package', () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { name: string; bin: Record<string, string> };
  assert.notEqual(pkg.name, 'kdx', 'the npm name kdx is taken by an unrelated package');
  assert.deepEqual(Object.keys(pkg.bin), ['kdx']);
  // npx anywhere (code or prose) must be told never to install.
  for (const match of readme.matchAll(/\bnpx +(?!--no-install)[^\n]*/g)) {
    assert.fail(`README.md uses npx without --no-install: "${match[0]}"`);
  }
  // Code lines that run kdx: directly (on the PATH after `npm link`), or through a package runner, which
  // must be npx told never to install.
  const lines = codeLines(readme);
  const runners = lines.filter((l) => /^(npx|npm exec|pnpm (dlx|exec)|yarn( dlx)?|bunx)\s/.test(l));
  for (const line of runners) assert.match(line, /^npx --no-install kdx /, `a package runner that cannot download: "${line}"`);
  assert.ok(lines.filter((l) => /^(npx --no-install )?kdx /.test(l)).length > 5, 'the README shows kdx commands');
});

test('the quick start, as written in README.md, succeeds in a fresh clone', async () => {
  const dir = scratchDir('kdx-readme-');
  try {
    const clone = join(dir, 'kdx');
    const cloned = await execa('git', ['clone', '--quiet', repoRoot, clone], { reject: false });
    assert.equal(cloned.exitCode, 0, `git clone of ${repoRoot}: ${cloned.stderr}`);
    // `npm ci` as the README says would reinstall every dependency (a minute, and the network):
    // the clone shares this checkout's installed node_modules instead.
    symlinkSync(join(repoRoot, 'node_modules'), join(clone, 'node_modules'), 'dir');
    const readme = readFileSync(join(clone, 'README.md'), 'utf8');
    const quickStart = firstBlockAfter(readme, '## Quick start').map(withoutComment).filter(Boolean);
    assert.ok(quickStart.length >= 5, `quick start commands: ${quickStart.join(' | ')}`);
    for (const command of quickStart) {
      const result = await execa('bash', ['-c', command], { cwd: clone, env: shellEnv(dir), extendEnv: false, reject: false, stdin: 'ignore' });
      assert.equal(result.exitCode, 0, `${command}\n${result.stdout}\n${result.stderr}`);
    }
    // The claims the comments make: the second run trains nothing, results prints the sweep's table.
    const cached = await execa('bash', ['-c', quickStart.find((c) => / run /.test(c))! + ' --json'], { cwd: clone, env: shellEnv(dir), extendEnv: false, reject: false });
    assert.equal(cached.exitCode, 0, cached.stderr);
    assert.ok(!cached.stdout.includes('"type":"job-start"'), 'a rerun trains nothing');
    assert.ok(existsSync(join(clone, '.kdx', 'cache')), 'the store is in the clone');

    // The global way: `npm link` puts this project's `kdx` on the PATH (here a private prefix).
    const prefix = join(dir, 'prefix');
    mkdirSync(prefix);
    const link = await execa('npm', ['link', '--no-audit', '--no-fund'], { cwd: clone, env: shellEnv(dir, { npm_config_prefix: prefix }), extendEnv: false, reject: false });
    assert.equal(link.exitCode, 0, link.stderr);
    const version = await execa('kdx', ['--version'], { cwd: dir, env: shellEnv(dir, { PATH: `${join(prefix, 'bin')}:${process.env.PATH}` }), extendEnv: false, reject: false });
    const pkg = JSON.parse(readFileSync(join(clone, 'package.json'), 'utf8')) as { version: string };
    assert.equal(version.stdout.trim(), pkg.version, version.stderr);
  } finally {
    cleanup(dir);
  }
});
