// Checks that the schema cannot express: names that refer to registries, models and stages, the loss
// and teacher agreeing, and the stage graph being acyclic.
import type { PathSegment } from './diagnostics.js';
import type { Registries } from '../registry/index.js';
import type { Registry } from '../registry/registry.js';
import { didYouMean } from '../util/suggest.js';

export interface SemanticProblem {
  path: PathSegment[];
  message: string;
}

type Data = Record<string, any>;

// Runs on data the schema may have rejected, so that every mistake is reported at once: a value of the
// wrong type is left to the schema's message and skipped here.
const isMapping = (value: unknown): value is Data => value !== null && typeof value === 'object' && !Array.isArray(value);
const mapping = (value: unknown): Data => (isMapping(value) ? value : {});
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
/** The name of a `name` or `{name: arguments}` entry; undefined for anything else. */
const nameOf = (entry: unknown): string | undefined =>
  typeof entry === 'string' ? entry : isMapping(entry) && Object.keys(entry).length === 1 ? Object.keys(entry)[0] : undefined;

export function checkSemantics(data: Data, registries: Registries): SemanticProblem[] {
  const problems: SemanticProblem[] = [];
  const report = (path: PathSegment[], message: string) => problems.push({ path, message });
  const known = <T>(reg: Registry<T>, name: unknown, path: PathSegment[]) => {
    if (typeof name !== 'string' || reg.has(name)) return;
    report(path, `unknown ${reg.kind} "${name}"${didYouMean(name, reg.names()) || ` (known: ${reg.names().join(', ')})`}`);
  };

  const dataSection = mapping(data.data);
  known(registries.datasets, dataSection.dataset, ['data', 'dataset']);
  for (const split of ['train', 'test'] as const) {
    list(dataSection[split]).forEach((entry, i) => known(registries.transforms, nameOf(entry), ['data', split, i]));
  }
  known(registries.optimizers, mapping(data.optimizer).name, ['optimizer', 'name']);
  // Layer names are checked where models are expanded (models.ts), which knows the file's blocks.
  const models = mapping(data.models);

  const stages = Object.fromEntries(Object.entries(mapping(data.stages)).filter(([, stage]) => isMapping(stage))) as Record<string, Data>;
  const stageNames = Object.keys(stages);
  const modelNames = Object.keys(models);
  const suggestStage = (name: string) => didYouMean(name, stageNames) || ` (stages: ${stageNames.join(', ')})`;
  for (const [name, stage] of Object.entries(stages)) {
    const at = (...rest: PathSegment[]) => ['stages', name, ...rest];
    if (typeof stage.model === 'string' && !modelNames.includes(stage.model)) {
      report(at('model'), `no model "${stage.model}"${didYouMean(stage.model, modelNames) || ` (models: ${modelNames.join(', ')})`}`);
    }
    for (const { stage: teacher, path } of teacherEntries(stage.teacher)) {
      const where = at('teacher', ...path);
      if (teacher === name) report(where, 'a stage cannot be its own teacher');
      else if (!stageNames.includes(teacher)) report(where, `no stage "${teacher}"${suggestStage(teacher)}`);
    }
    const teacherNames = teacherEntries(stage.teacher).map((t) => t.stage);
    const twice = teacherNames.find((t, i) => teacherNames.indexOf(t) !== i);
    if (twice !== undefined) report(at('teacher'), `teacher "${twice}" is listed twice: give it a weight instead`);
    list(stage.needs).forEach((need, i) => {
      if (typeof need !== 'string') return;
      if (need === name) report(at('needs', i), 'a stage cannot need itself');
      else if (!stageNames.includes(need)) report(at('needs', i), `no stage "${need}"${suggestStage(need)}`);
    });
    known(registries.optimizers, mapping(stage.optimizer).name, at('optimizer', 'name'));
    // One loss, or a weighted list of terms: each a known loss, a distilling one only with a teacher, and
    // a teacher only for a loss that distils it.
    const terms = Array.isArray(stage.loss)
      ? stage.loss.map((term, i) => ({ name: nameOf(term), path: at('loss', i) }))
      : [{ name: nameOf(stage.loss), path: at('loss') }];
    let distils = false;
    for (const { name: lossName, path } of terms) {
      if (lossName === undefined) continue;
      if (!registries.losses.has(lossName)) {
        known(registries.losses, lossName, path);
        distils = true; // said once: the unknown name, not a teacher without use
        continue;
      }
      const factory = registries.losses.get(lossName);
      distils ||= factory.needsTeacher;
      if (factory.needsTeacher && stage.teacher === undefined) {
        report(path, `${lossName} distils a teacher, but the stage has none: add \`teacher: <stage>\``);
      } else if (factory.features && !Array.isArray(stage.loss)) {
        report(path, `${lossName} compares features: write it as a term of a list, next to the cross-entropy: [crossEntropy, {${lossName}: {weight: ..., pairs: [[student tap, teacher tap]]}}]`);
      }
    }
    if (!distils && stage.teacher !== undefined && terms.some((t) => t.name !== undefined)) {
      const what = Array.isArray(stage.loss) ? 'no term of the stage\'s loss uses' : `the stage's loss ${terms[0].name} does not use`;
      report(at('teacher'), `${what} a teacher: remove \`teacher\`, or use a distillation loss such as kd`);
    }
  }
  const graph = Object.fromEntries(
    Object.entries(stages).map(([name, stage]) => [
      name,
      { teachers: teacherEntries(stage.teacher), needs: list(stage.needs).filter((n): n is string => typeof n === 'string') },
    ]),
  );
  const cycle = findCycle(graph);
  if (cycle) {
    // Located at the reference that makes cycle[0] wait for the stage before it in the cycle.
    const [first, before] = [cycle[0], cycle[cycle.length - 2]];
    const viaTeacher = graph[first].teachers.find((t) => t.stage === before);
    const edge = viaTeacher ? ['teacher', ...viaTeacher.path] : ['needs', list(stages[first].needs).indexOf(before)];
    report(['stages', first, ...edge], `the stages form a cycle: ${cycle.join(' -> ')}`);
  }
  return problems;
}

/**
 * The teachers a stage's `teacher` value names, each with its path under `teacher`: `a` ([]),
 * `[a, b]` ([0], [1]) or `[{stage: a, weight: 2}]` ([0, 'stage']). Values of the wrong type give none.
 */
export function teacherEntries(value: unknown): { stage: string; weight: number; path: PathSegment[] }[] {
  if (typeof value === 'string') return [{ stage: value, weight: 1, path: [] }];
  return list(value).flatMap((entry, i) => {
    if (typeof entry === 'string') return [{ stage: entry, weight: 1, path: [i] }];
    const { stage, weight } = mapping(entry);
    return typeof stage === 'string' ? [{ stage, weight: typeof weight === 'number' ? weight : 1, path: [i, 'stage'] }] : [];
  });
}

/** A stage graph's node: its teachers and `needs`, by stage name. */
type StageEdges = { teachers?: { stage: string }[]; needs?: string[] };

/** The edges of the stage graph: a stage depends on each of its teachers and its `needs`. */
export function stageDependencies(stage: StageEdges): string[] {
  return [...(stage.teachers ?? []).map((t) => t.stage), ...(stage.needs ?? [])];
}

/** One cycle among the stages, as a closed walk (`a -> b -> a`), or undefined. */
export function findCycle(stages: Record<string, StageEdges>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === 'done' || !(name in stages)) return undefined;
    if (state.get(name) === 'open') return [...stack.slice(stack.indexOf(name)), name];
    state.set(name, 'open');
    stack.push(name);
    for (const dep of stageDependencies(stages[name])) {
      if (dep === name) continue; // reported as "its own teacher"
      const found = visit(dep);
      if (found) return found;
    }
    stack.pop();
    state.set(name, 'done');
    return undefined;
  };
  for (const name of Object.keys(stages)) {
    const found = visit(name);
    if (found) return found.reverse();
  }
  return undefined;
}

/** Stage names in an order where every stage comes after its dependencies (file order among equals). */
export function executionOrder(stages: Record<string, StageEdges>): string[] {
  const order: string[] = [];
  const placed = new Set<string>();
  const place = (name: string) => {
    if (placed.has(name)) return;
    placed.add(name);
    for (const dep of stageDependencies(stages[name])) place(dep);
    order.push(name);
  };
  for (const name of Object.keys(stages)) place(name);
  return order;
}
