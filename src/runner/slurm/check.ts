// Before anything is submitted: is Slurm there, and does it accept the resources the file asks for?
// `sbatch --test-only` answers the second without queueing anything. A refusal is the file's mistake
// (exit 2, located at the resource it names); no sbatch, or no Slurm controller, is the machine's (exit 1).
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import type { Experiment, SlurmResources } from '../../config/experiment.js';
import { ConfigError, formatPath, type Diagnostic, type PathSegment } from '../../config/diagnostics.js';
import { diagnosticAt, hasNode, parseSource } from '../../config/source.js';
import { UserError } from '../../errors.js';
import { resourceArgs } from './executor.js';
import { SlurmCommandError, testSubmission } from './slurm-cli.js';

export async function checkSlurm(experiments: Experiment[]): Promise<void> {
  // Each distinct set of resources once, with the first stage that asks for it (for the message).
  const sets = new Map<string, { experiment: Experiment; stage: string; resources: SlurmResources }>();
  for (const experiment of experiments) {
    for (const [stage, resources] of Object.entries(experiment.slurm)) {
      const id = JSON.stringify(resourceArgs(resources));
      if (!sets.has(id)) sets.set(id, { experiment, stage, resources });
    }
  }
  for (const { experiment, stage, resources } of sets.values()) {
    try {
      await testSubmission(resourceArgs(resources));
    } catch (error) {
      if (!(error instanceof SlurmCommandError)) throw error;
      if (error.missing) {
        throw new UserError(`--executor slurm needs Slurm's sbatch, which is not on PATH here: run kdx on a login node of the cluster, or use --executor local`);
      }
      if (error.unreachable) {
        throw new UserError(`--executor slurm: no Slurm controller answers here (sbatch: ${error.detail}): run kdx on a login node of the cluster, start the controller, or use --executor local; nothing was submitted`);
      }
      throw new ConfigError([await refusal(experiment, stage, resources, error.detail)]);
    }
  }
}

/** sbatch's refusal, located at the resource it is about (a `--set`, the stage's `slurm`, or runtime.slurm). */
async function refusal(experiment: Experiment, stage: string, resources: SlurmResources, detail: string): Promise<Diagnostic> {
  const field = (['partition', 'account', 'qos', 'gres', 'time', 'mem', 'cpus'] as const).find(
    (name) => resources[name] !== undefined && new RegExp(name === 'mem' ? 'mem' : name === 'cpus' ? 'cpu|processor' : name, 'i').test(detail),
  );
  const message = `sbatch refuses ${field ? `${field} ${JSON.stringify(resources[field])}` : 'these resources'}: ${detail} (nothing was submitted)`;
  const candidates: PathSegment[][] = [['stages', stage, 'slurm'], ['runtime', 'slurm']].map((p) => (field ? [...p, field] : p));
  for (const path of candidates) {
    // A refusal that names no field is at the resources: any --set of one of them.
    const override = [...experiment.overrides].reverse().find((o) => o.startsWith(`${formatPath(path)}=`) || (!field && o.startsWith(`${formatPath(path)}.`)));
    if (override) return { path: formatPath(path), message, override };
  }
  const { source } = parseSource(relative(process.cwd(), experiment.file), await readFile(experiment.file, 'utf8'));
  const path = candidates.find((p) => hasNode(source, p)) ?? candidates[candidates.length - 1];
  return diagnosticAt(source, path, message);
}
