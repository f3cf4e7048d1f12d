// Legal but almost surely unintended: reported by `kdx validate` and `kdx plan` as warnings, with their
// line, without stopping anything.
import type { Experiment } from './experiment.js';
import { formatDiagnostic, type Diagnostic } from './diagnostics.js';
import { diagnosticAt, type Source } from './source.js';

/** Models used by a stage whose last layer is a softmax: they output probabilities where kdx expects logits. */
export function experimentWarnings(experiment: Experiment, source: Source): Diagnostic[] {
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

/** The warnings as printed on stderr, each with its line and a caret. */
export function formatWarnings(warnings: Diagnostic[]): string {
  return warnings.map((w) => `${formatDiagnostic(w)}\n`).join('');
}
