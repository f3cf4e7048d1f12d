// The feature terms of a stage's loss, checked against its models' taps before anything trains: every tap
// a pair names exists, and the loss can compare the two taps' shapes (each loss's own rule).
import type { PathSegment } from './diagnostics.js';
import { featureTeacherModel, normalizeNamed, type Experiment } from './experiment.js';
import { teacherEntries } from './semantics.js';
import { tapNames } from '../registry/taps.js';
import type { ModelNode } from '../registry/types.js';
import { registry } from '../registry/index.js';
import { tapPairs } from '../plugins/feature-losses.js';
import { didYouMean } from '../util/suggest.js';

const isMapping = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

export interface FeatureProblem {
  path: PathSegment[];
  message: string;
}

/**
 * Every tap a feature loss's pairs name exists in its model. Known from the models' layers alone, so it
 * is checked with the file's other names and references, not after its shapes. `stages` as written (after
 * ${params}); stages whose models or teachers are not known are left to the checks that report those.
 */
export function tapNameProblems(stages: Record<string, unknown>, models: Record<string, ModelNode[]>): FeatureProblem[] {
  const problems: FeatureProblem[] = [];
  const names = new Map<string, string[]>();
  const tapsOf = (model: string) => names.get(model) ?? names.set(model, tapNames(models[model])).get(model)!;
  const modelOf = (stage: unknown) => {
    const model = isMapping(stage) ? stage.model : undefined;
    return typeof model === 'string' && Object.hasOwn(models, model) ? model : undefined;
  };
  for (const [name, stage] of Object.entries(stages)) {
    if (!isMapping(stage) || !Array.isArray(stage.loss)) continue;
    const teachers = teacherEntries(stage.teacher);
    const sides = { student: modelOf(stage), teacher: teachers.length === 1 ? modelOf(stages[teachers[0].stage]) : undefined };
    if (sides.student === undefined || sides.teacher === undefined) continue;
    stage.loss.forEach((term, i) => {
      if (typeof term !== 'string' && !(isMapping(term) && Object.keys(term).length === 1)) return;
      const { type, args } = normalizeNamed(term);
      if (!registry.losses.has(type) || !registry.losses.get(type).features) return;
      let pairs: [string, string][];
      try {
        pairs = tapPairs(args);
      } catch {
        return; // the schema says what is wrong with the pairs
      }
      pairs.forEach((pair, j) => {
        (['student', 'teacher'] as const).forEach((side, k) => {
          const model = sides[side]!;
          if (!tapsOf(model).includes(pair[k])) {
            problems.push({ path: ['stages', name, 'loss', i, type, 'pairs', j, k], message: `the ${side} model "${model}" ${missingTap(pair[k], tapsOf(model))}` });
          }
        });
      });
    });
  }
  return problems;
}

/** `taps`: each model's tap shapes by tap name (per image). The taps' names are checked already
 * (tapNameProblems); here, that the loss can compare their shapes, and that there is one teacher. */
export function featureProblems(experiment: Experiment, taps: Record<string, Record<string, number[]>>): FeatureProblem[] {
  const problems: FeatureProblem[] = [];
  for (const stage of Object.values(experiment.stages)) {
    if (!Array.isArray(stage.loss) || stage.teachers === undefined) continue;
    const models = { student: stage.model, teacher: featureTeacherModel(experiment, stage) };
    stage.loss.forEach((term, i) => {
      const shapes = registry.losses.get(term.type).features;
      if (!shapes) return;
      if (stage.teachers!.length > 1) {
        // An ensemble averages logits; whose features a pair would read is not defined.
        problems.push({ path: ['stages', stage.name, 'loss', i, term.type], message: `${term.type} compares features with one teacher's, but the stage has ${stage.teachers!.length} teachers: distil features from one teacher` });
        return;
      }
      tapPairs(term.args).forEach((pair, j) => {
        const [student, teacher] = [taps[models.student]?.[pair[0]], taps[models.teacher]?.[pair[1]]];
        if (student === undefined || teacher === undefined) return;
        const problem = shapes.shapeProblem(student, teacher, term.args);
        if (problem) problems.push({ path: ['stages', stage.name, 'loss', i, term.type, 'pairs', j], message: problem });
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
