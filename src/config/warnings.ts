// Legal but almost surely unintended: reported by `kdx validate` and `kdx plan` as warnings, with their
// line, without stopping anything.
import type { Experiment } from './experiment.js';
import type { ScheduleConfig } from '../plugins/schedules.js';
import { formatDiagnostic, formatPath, type Diagnostic, type PathSegment } from './diagnostics.js';
import { diagnosticAt, hasNode, type Source } from './source.js';

/** Every warning of an experiment, in file order. */
export function experimentWarnings(experiment: Experiment, source: Source): Diagnostic[] {
  return [...softmaxWarnings(experiment, source), ...warmupWarnings(experiment, source)].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}

/** Models used by a stage whose last layer is a softmax: they output probabilities where kdx expects logits. */
function softmaxWarnings(experiment: Experiment, source: Source): Diagnostic[] {
  const stages = Object.values(experiment.stages);
  const teacherModels = new Set(stages.flatMap((s) => (s.teachers ?? []).flatMap((t) => (experiment.stages[t.stage] ? [experiment.stages[t.stage].model] : []))));
  const warnings: Diagnostic[] = [];
  for (const name of new Set(stages.map((s) => s.model))) {
    const layers = experiment.models[name] ?? [];
    const last = layers[layers.length - 1];
    // A block's last layer is inside it: only a plain last layer is checked.
    if (!last || !('type' in last) || (last.type !== 'softmax' && last.args.activation !== 'softmax')) continue;
    const why = teacherModels.has(name)
      ? 'a teacher must output logits: the kd loss softens them with softmax(logits / T) itself'
      : 'the loss applies softmax to the outputs itself';
    warnings.push(diagnosticAt(source, ['models', name, layers.length - 1], `warning: ${name} ends in softmax, so it outputs probabilities, not logits; ${why}. Remove the softmax (apply tf.softmax to the trained model's outputs for probabilities)`));
  }
  return warnings;
}

/** A cosine warm-up as long as training or longer (20 epochs of a 5-epoch stage, or one shrunk by
 * `--set epochs=1`): the rate never reaches its base value and never decays. One warning per schedule
 * written, naming the stages it spoils. */
function warmupWarnings(experiment: Experiment, source: Source): Diagnostic[] {
  const spoilt = new Map<string, { path: PathSegment[]; warmup: number; stages: string[] }>();
  for (const stage of Object.values(experiment.stages)) {
    const schedule = stage.optimizer.schedule as ScheduleConfig | undefined;
    if (schedule?.type !== 'cosine' || stage.epochs === 0 || (schedule.warmupEpochs ?? 0) < stage.epochs) continue;
    const own = hasNode(source, ['stages', stage.name, 'optimizer', 'schedule', 'warmupEpochs']);
    const path: PathSegment[] = [...(own ? ['stages', stage.name] : []), 'optimizer', 'schedule', 'warmupEpochs'];
    const entry = spoilt.get(formatPath(path)) ?? { path, warmup: schedule.warmupEpochs!, stages: [] };
    entry.stages.push(`${stage.name} (${stage.epochs} epoch${stage.epochs === 1 ? '' : 's'})`);
    spoilt.set(formatPath(path), entry);
  }
  return [...spoilt.values()].map(({ path, warmup, stages }) =>
    diagnosticAt(source, path, `warning: a cosine warm-up of ${warmup} epochs is not shorter than the training of ${stages.join(', ')}: the learning rate never reaches its base value nor decays; make the warm-up shorter`),
  );
}

/** The warnings as printed on stderr, each with its line and a caret. */
export function formatWarnings(warnings: Diagnostic[]): string {
  return warnings.map((w) => `${formatDiagnostic(w)}\n`).join('');
}
