// The feature terms of a stage's loss, checked against its models' taps before anything trains: every tap
// a pair names exists, and the loss can compare the two taps' shapes (each loss's own rule).
import type { PathSegment } from './diagnostics.js';
import { featureTeacherModel, type Experiment } from './experiment.js';
import { registry } from '../registry/index.js';
import { tapPairs } from '../plugins/feature-losses.js';
import { didYouMean } from '../util/suggest.js';

export interface FeatureProblem {
  path: PathSegment[];
  message: string;
}

/** `taps`: each model's tap shapes by tap name (per image). */
export function featureProblems(experiment: Experiment, taps: Record<string, Record<string, number[]>>): FeatureProblem[] {
  const problems: FeatureProblem[] = [];
  for (const stage of Object.values(experiment.stages)) {
    if (!Array.isArray(stage.loss) || stage.teachers === undefined) continue;
    const models = { student: stage.model, teacher: featureTeacherModel(experiment, stage) };
    stage.loss.forEach((term, i) => {
      const shapes = registry.losses.get(term.type).features;
      if (!shapes) return;
      const at = (...rest: PathSegment[]) => ['stages', stage.name, 'loss', i, term.type, 'pairs', ...rest];
      if (stage.teachers!.length > 1) {
        // An ensemble averages logits; whose features a pair would read is not defined.
        problems.push({ path: ['stages', stage.name, 'loss', i, term.type], message: `${term.type} compares features with one teacher's, but the stage has ${stage.teachers!.length} teachers: distil features from one teacher` });
        return;
      }
      tapPairs(term.args).forEach((pair, j) => {
        const found = (['student', 'teacher'] as const).map((side, k) => {
          const own = taps[models[side]] ?? {};
          const shape = own[pair[k]];
          if (shape === undefined) problems.push({ path: at(j, k), message: `the ${side} model "${models[side]}" ${missingTap(pair[k], Object.keys(own))}` });
          return shape;
        });
        const [student, teacher] = found;
        if (student === undefined || teacher === undefined) return;
        const problem = shapes.shapeProblem(student, teacher, term.args);
        if (problem) problems.push({ path: at(j), message: problem });
      });
    });
  }
  return problems;
}

/** Why a model has no tap `name`, and what it has instead. */
function missingTap(name: string, known: string[]): string {
  // A tap reached several times (in a repeat, a block used twice) has only numbered outputs.
  const numbered = known.filter((tap) => tap !== name && tap.replace(/@\d+$/, '') === name);
  if (numbered.length > 0) {
    return `reaches tap "${name}" ${numbered.length} times (in a repeat or a block used more than once): name one of its outputs, ${numbered.slice(0, -1).join(', ')} or ${numbered.at(-1)}`;
  }
  if (known.length === 0) return `has no tap "${name}" (it has none: name an output with \`- tap: NAME\` after its layer)`;
  return `has no tap "${name}"${didYouMean(name, known) || ` (its taps: ${known.join(', ')})`}`;
}
