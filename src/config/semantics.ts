// Checks that the schema cannot express: names that refer to registries, models and stages, the loss
// and teacher agreeing, and the stage graph being acyclic. Runs on schema-valid data.
import type { PathSegment } from './diagnostics.js';
import type { Registries } from '../registry/index.js';
import type { Registry } from '../registry/registry.js';
import { didYouMean } from '../util/suggest.js';

export interface SemanticProblem {
  path: PathSegment[];
  message: string;
}

type Data = Record<string, any>;

const nameOf = (entry: unknown): string => (typeof entry === 'string' ? entry : Object.keys(entry as object)[0]);

export function checkSemantics(data: Data, registries: Registries): SemanticProblem[] {
  const problems: SemanticProblem[] = [];
  const report = (path: PathSegment[], message: string) => problems.push({ path, message });
  const known = <T>(reg: Registry<T>, name: string, path: PathSegment[]) => {
    if (!reg.has(name)) report(path, `unknown ${reg.kind} "${name}"${didYouMean(name, reg.names()) || ` (known: ${reg.names().join(', ')})`}`);
  };

  known(registries.datasets, data.data.dataset, ['data', 'dataset']);
  for (const split of ['train', 'test'] as const) {
    (data.data[split] as unknown[]).forEach((entry, i) => known(registries.transforms, nameOf(entry), ['data', split, i]));
  }
  known(registries.optimizers, data.optimizer.name, ['optimizer', 'name']);
  for (const [model, layers] of Object.entries<unknown[]>(data.models)) {
    layers.forEach((entry, i) => known(registries.layers, nameOf(entry), ['models', model, i]));
  }

  const stageNames = Object.keys(data.stages);
  const modelNames = Object.keys(data.models);
  for (const [name, stage] of Object.entries<Data>(data.stages)) {
    const at = (...rest: PathSegment[]) => ['stages', name, ...rest];
    if (!modelNames.includes(stage.model)) {
      report(at('model'), `no model "${stage.model}"${didYouMean(stage.model, modelNames) || ` (models: ${modelNames.join(', ')})`}`);
    }
    if (stage.teacher !== undefined) {
      if (stage.teacher === name) report(at('teacher'), 'a stage cannot be its own teacher');
      else if (!stageNames.includes(stage.teacher)) report(at('teacher'), `no stage "${stage.teacher}"${didYouMean(stage.teacher, stageNames)}`);
    }
    (stage.needs ?? []).forEach((need: string, i: number) => {
      if (need === name) report(at('needs', i), 'a stage cannot need itself');
      else if (!stageNames.includes(need)) report(at('needs', i), `no stage "${need}"${didYouMean(need, stageNames)}`);
    });
    if (stage.optimizer?.name !== undefined) known(registries.optimizers, stage.optimizer.name, at('optimizer', 'name'));
    if (stage.loss !== undefined) {
      const lossName = nameOf(stage.loss);
      if (!registries.losses.has(lossName)) known(registries.losses, lossName, at('loss'));
      else if (registries.losses.get(lossName).needsTeacher && stage.teacher === undefined) {
        report(at('loss'), `${lossName} distils a teacher, but the stage has none: add \`teacher: <stage>\``);
      } else if (!registries.losses.get(lossName).needsTeacher && stage.teacher !== undefined) {
        report(at('teacher'), `the stage's loss ${lossName} does not use a teacher: remove \`teacher\`, or use a distillation loss such as kd`);
      }
    }
  }
  const cycle = findCycle(data.stages);
  if (cycle) report(['stages', cycle[0]], `the stages form a cycle: ${cycle.join(' -> ')}`);
  return problems;
}

/** The edges of the stage graph: a stage depends on its teacher and its `needs`. */
export function stageDependencies(stage: { teacher?: string; needs?: string[] }): string[] {
  return [...(stage.teacher === undefined ? [] : [stage.teacher]), ...(stage.needs ?? [])];
}

/** One cycle among the stages, as a closed walk (`a -> b -> a`), or undefined. */
export function findCycle(stages: Record<string, { teacher?: string; needs?: string[] }>): string[] | undefined {
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
export function executionOrder(stages: Record<string, { teacher?: string; needs?: string[] }>): string[] {
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
