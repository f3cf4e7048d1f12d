// The git commit an experiment file was run at, for the record (experiment.json, the report). No git, or
// a file outside a repository, is no error: there is simply nothing to record.
import { execFileSync } from 'node:child_process';
import { basename, dirname } from 'node:path';

export interface GitInfo {
  /** HEAD of the repository holding the file. */
  commit: string;
  /** The file differs from HEAD (or is not committed at all). */
  dirty: boolean;
}

export function gitInfo(file: string): GitInfo | undefined {
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: dirname(file), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim();
  try {
    const commit = git('rev-parse', 'HEAD');
    const status = git('status', '--porcelain', '--', basename(file));
    return { commit, dirty: status !== '' };
  } catch {
    return undefined;
  }
}
