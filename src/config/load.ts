// Text -> Experiment: parse the YAML, apply overrides, interpolate ${params}, check the schema, the
// references and the shapes, and normalise. Every problem is collected and reported at once.
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, resolve } from 'node:path';
import { UserError, EXIT } from '../errors.js';
import { registry } from '../registry/index.js';
import { buildModel, LayerShapeError } from '../registry/model.js';
import type { ImageShape, ModelNode, OptimizerConfig } from '../registry/types.js';
import { ensureBuiltins } from '../plugins/builtin.js';
import { loadPlugin } from '../plugins/load.js';
import { buildTransforms } from '../plugins/transforms.js';
import { ConfigError, formatPath, type Diagnostic, type PathSegment } from './diagnostics.js';
import { normalizeNamed, type Experiment, type NamedSpec, type StageSpec } from './experiment.js';
import { interpolate, type InterpolationProblem, type ParameterUse } from './interpolate.js';
import { applyOverride, isDiagnostic, parseOverride } from './overrides.js';
import { checkSchema, withDefaults } from './schema.js';
import { checkSemantics } from './semantics.js';
import { ModelExpander, type Origin } from './models.js';
import { compose, ownerOf } from './compose.js';
import { loadTrainedModel, locateTrainedModel, TrainedModelError, type TrainedModelFiles } from '../runner/trained-model.js';
import { contentHash } from '../util/hash.js';
import { diagnosticAt, type Source } from './source.js';

export interface LoadOptions {
  /** `KEY=VALUE` overrides from `--set`, applied in order. */
  overrides?: string[];
  /** A sweep trial's point, applied after `overrides`; `flag` names where it came from in messages. */
  grid?: { flag: '--grid' | 'sweep.grid'; overrides: string[] };
  /** Build every model once to check its shapes against the dataset (default true). */
  checkShapes?: boolean;
}

export interface Loaded {
  experiment: Experiment;
  source: Source;
}

export async function loadExperiment(file: string, options: LoadOptions = {}): Promise<Loaded> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not an experiment file' : `cannot read (${code})`;
    throw new UserError(`${file}: ${why}`, EXIT.usage);
  }
  return parseExperiment(file, text, options);
}

export async function parseExperiment(file: string, text: string, options: LoadOptions = {}): Promise<Loaded> {
  await ensureBuiltins();
  // The file and those it `extends`, merged; a copy, so an alias is its own value: `--set` on one use of
  // an anchor must not change the others.
  const composed = compose(file, text);
  if (composed.errors.length > 0) throw new ConfigError(composed.errors);
  const source = composed.layers[0].source;
  /** The file that wrote the value at a path (this one, or one it extends). */
  const owner = (path: readonly PathSegment[]) => ownerOf(composed.layers, path);
  const data = composed.data;
  if (data === null || data === undefined) {
    throw new ConfigError([diagnosticAt(source, [], 'the file is empty: an experiment needs at least data, models and stages')]);
  }
  if (typeof data !== 'object' || Array.isArray(data)) {
    const got = Array.isArray(data) ? 'a list' : `a single value (${JSON.stringify(data)})`;
    throw new ConfigError([diagnosticAt(source, [], `an experiment file must be a mapping of keys (name, data, models, stages, ...), not ${got}`)]);
  }
  const raw = data as Record<string, unknown>;
  const diagnostics: Diagnostic[] = [];

  // Overrides: a diagnostic whose path lies under an overridden path names the override, not a line.
  const overridden: { text: string; flag: string; path: PathSegment[] }[] = [];
  const allOverrides = [
    ...(options.overrides ?? []).map((text) => ({ text, flag: '--set' })),
    ...(options.grid?.overrides ?? []).map((text) => ({ text, flag: options.grid!.flag })),
  ];
  for (const { text, flag } of allOverrides) {
    const parsed = parseOverride(text);
    const applied = isDiagnostic(parsed) ? parsed : applyOverride(raw, parsed);
    if (isDiagnostic(applied)) diagnostics.push({ ...applied, overrideFlag: flag });
    else overridden.push({ text, flag, path: applied });
  }
  // A value that reads an overridden parameter (`epochs: ${epochs}` with --set epochs=abc) names it too.
  const uses: ParameterUse[] = [];
  const locate = (path: PathSegment[], message: string, onKey = false): Diagnostic => {
    const by =
      overridden.findLast((o) => isPrefix(o.path, path)) ??
      // An override inside the node at fault (`models.student[3].dense=5` making layer 3 wrong).
      overridden.findLast((o) => path.length >= 2 && isPrefix(path, o.path)) ??
      overridden.findLast((o) => uses.some((use) => isPrefix(use.path, path) && isPrefix(o.path, ['params', use.name])));
    return by ? { override: by.text, overrideFlag: by.flag, path: formatPath(path), message } : diagnosticAt(owner(path).source, path, message, onKey);
  };

  // ${params}: everything but params itself, the sweep grid (whose values are data, not references) and
  // the reusable blocks (whose references are their own parameters, filled in where they are used).
  const params = raw.params && typeof raw.params === 'object' && !Array.isArray(raw.params) ? (raw.params as Record<string, unknown>) : {};
  const problems: InterpolationProblem[] = [];
  const resolved: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    resolved[key] = key === 'params' || key === 'sweep' || key === 'blocks' ? value : interpolate(value, params, problems, [key], uses);
  }
  for (const problem of problems) diagnostics.push(locate(problem.path, problem.message));

  addImplicitLosses(resolved);
  // A value already reported (an undefined reference is still the text `${name}`; a name of the wrong
  // type) is not reported again by a later check.
  const reported: PathSegment[][] = problems.map((p) => p.path);
  const isReported = (path: PathSegment[]) => reported.some((r) => isPrefix(r, path));
  for (const problem of checkSchema(resolved)) {
    if (isReported(problem.path)) continue;
    diagnostics.push(locate(problem.path, problem.message, problem.onKey));
    if (!problem.onKey) reported.push(problem.path); // unknown and missing keys say nothing of the values
  }

  // References are checked even when the schema found problems, so that every mistake shows at once;
  // plugins first, since they add names.
  const plugins: string[] = [];
  for (const [i, entry] of (Array.isArray(resolved.plugins) ? (resolved.plugins as unknown[]) : []).entries()) {
    if (typeof entry !== 'string') continue;
    const plugin = resolve(dirname(owner(['plugins', i]).file), entry);
    plugins.push(plugin);
    try {
      await loadPlugin(plugin);
    } catch (error) {
      diagnostics.push(locate(['plugins', i], `cannot load plugin ${plugin}: ${(error as Error).message.split('\n')[0]}`));
    }
  }
  for (const problem of checkSemantics(resolved, registry)) {
    if (!isReported(problem.path)) diagnostics.push(locate(problem.path, problem.message));
  }
  const expander = new ModelExpander(registry);
  const models = expander.expandFile(composed.layers, mapping(resolved.models), mapping(resolved.blocks), params);
  const located = (origin: Origin, message: string, onKey = false) => {
    const text = origin.within ? `${message} (${origin.within})` : message;
    return origin.source ? diagnosticAt(origin.source, origin.path, text, onKey) : locate(origin.path, text, onKey);
  };
  for (const problem of expander.problems) {
    if (problem.source || !isReported(problem.path)) diagnostics.push(located(problem, problem.message, problem.onKey));
  }
  diagnostics.push(...expander.diagnostics);
  // Stages that load a model trained elsewhere: the files must exist (their hash is part of the keys).
  const loads: Record<string, TrainedModelFiles> = {};
  for (const [name, stage] of Object.entries(mapping(resolved.stages))) {
    const load = mapping(stage).load;
    if (typeof load !== 'string') continue;
    const at = ['stages', name, 'load'];
    if (mapping(stage).teacher !== undefined) diagnostics.push(locate(['stages', name, 'teacher'], 'a stage that loads its model trains nothing, so it has no teacher'));
    try {
      loads[name] = locateTrainedModel(resolve(dirname(owner(at).file), load));
    } catch (error) {
      if (!(error instanceof TrainedModelError)) throw error;
      diagnostics.push(locate(at, `cannot load a model: ${error.message}`));
    }
  }
  if (diagnostics.length > 0) throw new ConfigError(sortByPosition(diagnostics));

  const dataRoot = owner(['data', 'root']).file;
  const experiment = normalize(resolved, models, loads, file, dataRoot, plugins, allOverrides.map((o) => o.text));
  if (options.checkShapes !== false) {
    for (const problem of shapeProblems(experiment, expander.origins)) diagnostics.push(located(problem.origin, problem.message));
    if (diagnostics.length === 0) {
      for (const problem of await trainedModelProblems(experiment)) diagnostics.push(locate(problem.path, problem.message));
    }
    if (diagnostics.length > 0) throw new ConfigError(sortByPosition(diagnostics));
  }
  return { experiment, source };
}

function normalize(
  data: Record<string, any>,
  models: Record<string, ModelNode[]>,
  loads: Record<string, TrainedModelFiles>,
  file: string,
  /** The file that wrote data.root, which it is relative to. */
  rootFile: string,
  plugins: string[],
  overrides: string[],
): Experiment {
  // One form per entry, with the schema's defaults, whatever short form the file used.
  const entry = (def: 'transform' | 'loss', value: unknown): NamedSpec => {
    const { type, args } = normalizeNamed(value);
    return { type, args: withDefaults(def, type, args) };
  };
  const optimizer = data.optimizer as OptimizerConfig;
  const stages: Record<string, StageSpec> = {};
  for (const [name, stage] of Object.entries<any>(data.stages)) {
    const loss = entry('loss', stage.loss);
    stages[name] = {
      name,
      model: stage.model,
      epochs: loads[name] ? 0 : stage.epochs,
      ...(stage.teacher === undefined ? {} : { teacher: stage.teacher }),
      ...(loads[name] ? { load: loads[name] } : {}),
      loss,
      optimizer: { ...optimizer, ...(stage.optimizer ?? {}) },
      needs: stage.needs ?? [],
      seed: stage.seed ?? data.seed,
    };
  }
  return {
    name: data.name ?? basename(file, extname(file)),
    file: resolve(file),
    overrides,
    seed: data.seed,
    params: data.params,
    plugins,
    backend: data.runtime.backend,
    data: {
      ...data.data,
      // Like plugins, a relative data.root is relative to the experiment file, not to where kdx runs.
      ...(data.data.root === undefined ? {} : { root: resolve(dirname(rootFile), data.data.root) }),
      train: data.data.train.map((t: unknown) => entry('transform', t)),
      test: data.data.test.map((t: unknown) => entry('transform', t)),
    },
    optimizer,
    models,
    stages,
    ...(data.sweep ? { sweep: data.sweep } : {}),
  };
}

/** A stage without a loss distils with kd when it has a teacher, else trains with crossEntropy; written
 * out before the schema check so the schema's defaults fill in their arguments. */
function addImplicitLosses(data: Record<string, unknown>): void {
  const stages = data.stages;
  if (!stages || typeof stages !== 'object') return;
  for (const stage of Object.values(stages as Record<string, unknown>)) {
    if (!stage || typeof stage !== 'object' || Array.isArray(stage)) continue;
    const s = stage as Record<string, unknown>;
    if (s.loss === undefined) s.loss = s.teacher === undefined ? { crossEntropy: {} } : { kd: {} };
  }
}

/** The dataset's input shape (after the training transforms) and class count, known without loading it. */
export function datasetShape(experiment: Experiment): { inputShape: ImageShape; classes: number } {
  const dataset = registry.datasets.get(experiment.data.dataset);
  const stored = dataset.inputShape(experiment.data.options);
  const chain = experiment.data.train.map((t) => ({ factory: registry.transforms.get(t.type), args: t.args }));
  return { inputShape: buildTransforms(chain, stored).outputShape, classes: dataset.classes(experiment.data.options) };
}

type Problem = { path: PathSegment[]; message: string };
type ModelShapeProblem = { origin: Origin; message: string };

/** Each transform built against the shape it receives; both streams must end at the shape the models see. */
function streamProblems(experiment: Experiment): Problem[] {
  const problems: Problem[] = [];
  const stored = registry.datasets.get(experiment.data.dataset).inputShape(experiment.data.options);
  const ends: Partial<Record<'train' | 'test', ImageShape>> = {};
  for (const split of ['train', 'test'] as const) {
    let shape = stored;
    experiment.data[split].forEach((t, i) => {
      const factory = registry.transforms.get(t.type);
      try {
        factory.create(t.args, shape);
        shape = factory.outputShape?.(t.args, shape) ?? shape;
      } catch (error) {
        problems.push({ path: ['data', split, i], message: (error as Error).message });
      }
    });
    ends[split] = shape;
  }
  const [train, test] = [ends.train!.join('x'), ends.test!.join('x')];
  if (problems.length === 0 && train !== test) {
    problems.push({
      path: ['data', 'test'],
      message: `the test images end up ${test} but the training images ${train} (after data.train's transforms): both must reach the models at one shape`,
    });
  }
  return problems;
}

/** Shape checks already made in this process: a sweep's trials mostly share their models. */
const modelChecks = new Map<string, ModelShapeProblem | undefined>();

/** Builds a model once against its input: a layer that does not fit, or an output that is not one logit per class. */
function modelProblem(
  name: string,
  layers: ModelNode[],
  inputShape: ImageShape,
  classes: number,
  dataset: string,
  origins: WeakMap<object, Origin>,
): ModelShapeProblem | undefined {
  const where = (node: ModelNode) => {
    const origin = origins.get(node);
    return origin && [origin.source?.file, formatPath(origin.path)];
  };
  const id = contentHash({ name, layers, inputShape, classes, dataset, written: layers.map(where) });
  if (modelChecks.has(id)) return modelChecks.get(id);
  let problem: ModelShapeProblem | undefined;
  try {
    const built = buildModel(name, layers, inputShape, 0);
    built.model.dispose();
    const out = built.outputShape;
    if (out.length !== 1 || out[0] !== classes) {
      const hint = out.length > 1 ? ' (add flatten or globalAvgPool2d before the last dense layer)' : '';
      problem = {
        origin: { ...(origins.get(layers[layers.length - 1]) ?? { path: ['models', name] }), within: undefined },
        message: `model "${name}" outputs [${out.join(', ')}] per image, but ${dataset} has ${classes} classes: it must output [${classes}]${hint}`,
      };
    }
  } catch (error) {
    if (!(error instanceof LayerShapeError)) throw error;
    problem = { origin: origins.get(error.node) ?? { path: ['models', name, error.index] }, message: error.message };
  }
  modelChecks.set(id, problem);
  return problem;
}

/** Builds each model used by a stage once: layers that do not fit, and outputs that are not one logit per class. */
function shapeProblems(experiment: Experiment, origins: WeakMap<object, Origin>): ModelShapeProblem[] {
  let shape: { inputShape: ImageShape; classes: number };
  try {
    shape = datasetShape(experiment);
  } catch (error) {
    return [{ origin: { path: ['data'] }, message: (error as Error).message }];
  }
  const streams = streamProblems(experiment);
  if (streams.length > 0) return streams.map(({ path, message }) => ({ origin: { path }, message }));
  const problems: ModelShapeProblem[] = [];
  const used = new Set(Object.values(experiment.stages).map((s) => s.model));
  for (const name of Object.keys(experiment.models).filter((m) => used.has(m))) {
    const problem = modelProblem(name, experiment.models[name], shape.inputShape, shape.classes, experiment.data.dataset, origins);
    if (problem) problems.push(problem);
  }
  return problems;
}

const mapping = (value: unknown): Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};

/** A loaded model must take the dataset's images, output one logit per class, and fit its stage's model. */
async function trainedModelProblems(experiment: Experiment): Promise<Problem[]> {
  const problems: Problem[] = [];
  const { inputShape, classes } = datasetShape(experiment);
  for (const stage of Object.values(experiment.stages)) {
    if (!stage.load) continue;
    const path = ['stages', stage.name, 'load'];
    let loaded;
    try {
      loaded = await loadTrainedModel(stage.load);
    } catch (error) {
      if (!(error instanceof TrainedModelError)) throw error;
      problems.push({ path, message: error.message });
      continue;
    }
    const built = buildModel(stage.model, experiment.models[stage.model], inputShape, 0);
    try {
      const takes = (loaded.inputs[0].shape as (number | null)[]).slice(1);
      const gives = (loaded.outputs[0].shape as (number | null)[]).slice(1);
      const fileShapes = loaded.weights.map((w) => w.shape.join('x'));
      const modelShapes = built.model.weights.map((w) => w.shape.join('x'));
      const differs = fileShapes.findIndex((shape, i) => shape !== modelShapes[i]);
      if (takes.join('x') !== inputShape.join('x')) {
        problems.push({ path, message: `the loaded model takes images of shape [${takes.join(', ')}], but ${experiment.data.dataset} gives [${inputShape.join(', ')}]` });
      } else if (gives.length !== 1 || gives[0] !== classes) {
        problems.push({ path, message: `the loaded model outputs [${gives.join(', ')}] per image, but ${experiment.data.dataset} has ${classes} classes` });
      } else if (fileShapes.length !== modelShapes.length || differs >= 0) {
        const why = differs >= 0 ? `weight ${differs + 1} is ${fileShapes[differs]} in the file, ${modelShapes[differs]} in the model` : `${fileShapes.length} weights in the file, ${modelShapes.length} in the model`;
        problems.push({ path, message: `the loaded weights do not fit model "${stage.model}": ${why}` });
      }
    } finally {
      loaded.dispose();
      built.model.dispose();
    }
  }
  return problems;
}

/** Whether `path` lies at or under `prefix`. */
function isPrefix(prefix: readonly PathSegment[], path: readonly PathSegment[]): boolean {
  return prefix.length <= path.length && prefix.every((segment, i) => path[i] === segment);
}

function sortByPosition(diagnostics: Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
}
