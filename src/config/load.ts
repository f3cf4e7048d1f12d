// Text -> Experiment: parse the YAML, apply overrides, interpolate ${params}, check the schema, the
// references and the shapes, and normalise. Every problem is collected and reported at once.
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, resolve } from 'node:path';
import { UserError, EXIT } from '../errors.js';
import { registry } from '../registry/index.js';
import { buildModel, describeNode, LayerShapeError } from '../registry/model.js';
import type { ImageShape, ModelNode, OptimizerConfig } from '../registry/types.js';
import { ensureBuiltins } from '../plugins/builtin.js';
import { loadPlugin } from '../plugins/load.js';
import { buildTransforms } from '../plugins/transforms.js';
import { ConfigError, formatPath, type Diagnostic, type PathSegment } from './diagnostics.js';
import { normalizeNamed, type Experiment, type LossSpec, type LossWeight, type NamedSpec, type StageData, type StageSpec, type TeacherRef } from './experiment.js';
import { interpolate, type InterpolationProblem, type ParameterUse } from './interpolate.js';
import { applyOverride, isDiagnostic, parseOverride } from './overrides.js';
import { checkSchema, withDefaults } from './schema.js';
import { checkSemantics, teacherEntries } from './semantics.js';
import { featureProblems, tapNameProblems } from './feature-checks.js';
import { ModelExpander, type Origin } from './models.js';
import { compose, ownerOf } from './compose.js';
import { loadTrainedModel, locateTrainedModel, TrainedModelError, type TrainedModelFiles } from '../runner/trained-model.js';
import { contentHash, hashBytes } from '../util/hash.js';
import { subsetProblem } from '../data/subset.js';
import { diagnosticAt, hasNode, locate as locateNode, type Source } from './source.js';

export interface LoadOptions {
  /** `KEY=VALUE` overrides from `--set`, applied in order. */
  overrides?: string[];
  /** A sweep trial's point, applied after `overrides`; `flag` names where it came from in messages. */
  grid?: { flag: '--grid' | 'sweep.grid'; overrides: string[] };
  /** Build every model once to check its shapes against the dataset (default true). */
  checkShapes?: boolean;
  /** One of a repeated-seeds run's seeds: the seed of every stage that sets none, in place of the
   * top-level `seed`, which still generates the dataset (so every seed trains on the same data). */
  trainingSeed?: number;
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
  // Where a problem comes from: an override is named instead of a file line (also when the value reached
  // the file through `${param}`); a value read from params names the params entry too.
  const uses: ParameterUse[] = [];
  const locate = ({ path, message, onKey = false, related }: Problem & { onKey?: boolean }): Diagnostic => {
    const involved = related === undefined ? [path] : [path, related];
    const by =
      overridden.findLast((o) => involved.some((p) => isPrefix(o.path, p))) ??
      // An override inside the node at fault (`models.student[3].dense=5` making layer 3 wrong).
      overridden.findLast((o) => involved.some((p) => p.length >= 2 && isPrefix(p, o.path))) ??
      overridden.findLast((o) => uses.some((use) => involved.some((p) => isPrefix(use.path, p)) && isPrefix(o.path, ['params', use.name])));
    if (by) return { override: by.text, overrideFlag: by.flag, path: formatPath(path), message };
    const params = [...new Set(uses.filter((use) => involved.some((p) => isPrefix(use.path, p))).map((use) => use.name))];
    const origins = params.map((name) => {
      const at = owner(['params', name]).source;
      const { line, col } = locateNode(at, ['params', name]);
      return `params.${name} at ${at.file}:${line}:${col}`;
    });
    // A path the file does not write (data.test when only data.train is given) is shown at the related one.
    const shownAt = related !== undefined && !hasNode(owner(path).source, path) && hasNode(owner(related).source, related) ? related : path;
    const diagnostic = diagnosticAt(owner(shownAt).source, shownAt, origins.length > 0 ? `${message} (from ${origins.join(', ')})` : message, onKey);
    return { ...diagnostic, path: formatPath(path) };
  };

  // ${params}: everything but params itself, the sweep grid (whose values are data, not references) and
  // the reusable blocks (whose references are their own parameters, filled in where they are used).
  const params = raw.params && typeof raw.params === 'object' && !Array.isArray(raw.params) ? (raw.params as Record<string, unknown>) : {};
  const problems: InterpolationProblem[] = [];
  const resolved: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    resolved[key] = key === 'params' || key === 'sweep' || key === 'blocks' ? value : interpolate(value, params, problems, [key], uses);
  }
  for (const problem of problems) diagnostics.push(locate(problem));

  addImplicitLosses(resolved);
  // A value already reported (an undefined reference is still the text `${name}`; a name of the wrong
  // type) is not reported again by a later check.
  const reported: PathSegment[][] = problems.map((p) => p.path);
  const isReported = (path: PathSegment[]) => reported.some((r) => isPrefix(r, path));
  for (const problem of checkSchema(resolved)) {
    if (isReported(problem.path)) continue;
    diagnostics.push(locate(problem));
    if (!problem.onKey) reported.push(problem.path); // unknown and missing keys say nothing of the values
  }

  // References are checked even when the schema found problems, so that every mistake shows at once;
  // plugins first, since they add names.
  const plugins: string[] = [];
  const pluginDigests: string[] = [];
  for (const [i, entry] of (Array.isArray(resolved.plugins) ? (resolved.plugins as unknown[]) : []).entries()) {
    if (typeof entry !== 'string') continue;
    const plugin = resolve(dirname(owner(['plugins', i]).file), entry);
    plugins.push(plugin);
    try {
      pluginDigests.push(hashBytes(await readFile(plugin)));
      await loadPlugin(plugin);
    } catch (error) {
      diagnostics.push(locate({ path: ['plugins', i], message: `cannot load plugin ${plugin}: ${(error as Error).message.split('\n')[0]}` }));
    }
  }
  for (const problem of checkSemantics(resolved, registry)) {
    if (!isReported(problem.path)) diagnostics.push(locate(problem));
  }
  const expander = new ModelExpander(registry);
  const models = expander.expandFile(composed.layers, mapping(resolved.models), mapping(resolved.blocks), params);
  const located = (origin: Origin, message: string, onKey = false) => {
    const text = origin.within ? `${message} (${origin.within})` : message;
    return origin.source ? diagnosticAt(origin.source, origin.path, text, onKey) : locate({ path: origin.path, message: text, onKey });
  };
  for (const problem of expander.problems) {
    if (problem.source || !isReported(problem.path)) diagnostics.push(located(problem, problem.message, problem.onKey));
  }
  diagnostics.push(...expander.diagnostics);
  // The taps a feature loss names, known from the layers alone (when every model expanded whole).
  if (expander.problems.length === 0 && expander.diagnostics.length === 0) {
    for (const problem of tapNameProblems(mapping(resolved.stages), models)) if (!isReported(problem.path)) diagnostics.push(locate(problem));
  }
  // Stages that load a model trained elsewhere: the files must exist (their hash is part of the keys).
  const loads: Record<string, TrainedModelFiles> = {};
  for (const [name, stage] of Object.entries(mapping(resolved.stages))) {
    const load = mapping(stage).load;
    if (typeof load !== 'string') continue;
    const at = ['stages', name, 'load'];
    if (mapping(stage).teacher !== undefined) diagnostics.push(locate({ path: ['stages', name, 'teacher'], message: 'a stage that loads its model trains nothing, so it has no teacher' }));
    try {
      loads[name] = locateTrainedModel(resolve(dirname(owner(at).file), load));
    } catch (error) {
      if (!(error instanceof TrainedModelError)) throw error;
      diagnostics.push(locate({ path: at, message: `cannot load a model: ${error.message}` }));
    }
  }
  if (diagnostics.length > 0) throw new ConfigError(sortByPosition(diagnostics));

  const dataRoot = owner(['data', 'root']).file;
  const experiment = normalize(resolved, models, loads, file, dataRoot, { plugins, pluginDigests }, allOverrides.map((o) => o.text), options.trainingSeed);
  for (const problem of optimizerProblems(experiment, resolved)) diagnostics.push(locate(problem));
  for (const problem of subsetProblems(experiment)) diagnostics.push(locate(problem));
  if (diagnostics.length > 0) throw new ConfigError(sortByPosition(diagnostics));
  if (options.checkShapes !== false) {
    // The transforms first, each at its entry: datasetShape would fail on the first bad one too, but
    // without saying which.
    const streams = streamProblems(experiment);
    for (const problem of streams) diagnostics.push(locate(problem));
    if (streams.length === 0) {
      const shapes = shapeProblems(experiment, expander.origins);
      for (const problem of shapes.problems) diagnostics.push(located(problem.origin, problem.message));
      if (shapes.problems.length === 0) for (const problem of featureProblems(experiment, shapes.taps)) diagnostics.push(locate(problem));
    }
    if (diagnostics.length === 0) {
      for (const problem of await trainedModelProblems(experiment)) diagnostics.push(locate(problem));
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
  plugins: { plugins: string[]; pluginDigests: string[] },
  overrides: string[],
  trainingSeed: number | undefined,
): Experiment {
  // One form per entry, with the schema's defaults, whatever short form the file used.
  const entry = (def: 'transform' | 'loss' | 'lossTerm', value: unknown): NamedSpec => {
    const { type, args } = normalizeNamed(value);
    return { type, args: withDefaults(def, type, args) };
  };
  // A list's weight is the sum's business, not the term's loss's: it is kept apart from the arguments.
  const lossSpec = (value: unknown): LossSpec =>
    Array.isArray(value)
      ? value.map((term) => {
          const { type, args: { weight, ...args } } = entry('lossTerm', term);
          // A plugin's loss has no schema here to fill the default weight.
          return { type, args, weight: (weight ?? 1) as LossWeight };
        })
      : entry('loss', value);
  const optimizer = { ...DEFAULT_OPTIMIZER, ...(data.optimizer ?? {}) } as OptimizerConfig;
  const stages: Record<string, StageSpec> = {};
  for (const [name, stage] of Object.entries<any>(data.stages)) {
    const loss = lossSpec(stage.loss);
    stages[name] = {
      name,
      model: stage.model,
      epochs: loads[name] ? 0 : stage.epochs,
      ...(stage.teacher === undefined ? {} : { teachers: normalizedTeachers(stage.teacher) }),
      ...(loads[name] ? { load: loads[name] } : {}),
      loss,
      optimizer: stageOptimizer(optimizer, stage.optimizer),
      needs: stage.needs ?? [],
      seed: stage.seed ?? trainingSeed ?? data.seed,
      data: stageData(data.data.batchSize, stage.data, stage.seed ?? trainingSeed ?? data.seed),
    };
  }
  return {
    name: data.name ?? basename(file, extname(file)),
    file: resolve(file),
    overrides,
    seed: data.seed,
    ...(data.seeds === undefined ? {} : { seeds: typeof data.seeds === 'number' ? countingSeeds(data.seed, data.seeds) : data.seeds }),
    ...(trainingSeed === undefined ? {} : { trainingSeed }),
    params: data.params,
    ...plugins,
    backend: data.runtime.backend,
    threads: data.runtime.threads,
    data: {
      ...data.data,
      // Like plugins, a relative data.root is relative to the experiment file, not to where kdx runs.
      ...(data.data.root === undefined ? {} : { root: resolve(dirname(rootFile), data.data.root) }),
      train: data.data.train.map((t: unknown) => entry('transform', t)),
      test: data.data.test.map((t: unknown) => entry('transform', t)),
    },
    optimizer: withOptimizerDefaults(optimizer),
    models,
    stages,
    ...(data.sweep ? { sweep: data.sweep } : {}),
    slurm: Object.fromEntries(Object.entries<any>(data.stages).map(([name, stage]) => [name, { ...data.runtime.slurm, ...stage.slurm }])),
  };
}

/** `seeds: N` (or `--seeds N`): N seeds counting up from the top-level seed. */
export function countingSeeds(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

/** A stage's teachers with their weights normalised to sum to 1. */
function normalizedTeachers(value: unknown): TeacherRef[] {
  const entries = teacherEntries(value);
  const total = entries.reduce((sum, t) => sum + t.weight, 0);
  return entries.map(({ stage, weight }) => ({ stage, weight: weight / total }));
}

/** A stage's `data` over the experiment's: its batch size, and its subset with the draw's seed filled in. */
function stageData(batchSize: number, own: { batchSize?: number; subset?: Record<string, any> } | undefined, seed: number): StageData {
  const subset = own?.subset;
  return {
    batchSize: own?.batchSize ?? batchSize,
    ...(subset === undefined ? {} : { subset: 'fraction' in subset ? { fraction: subset.fraction, seed: subset.seed ?? seed } : subset } as Pick<StageData, 'subset'>),
  };
}

/** The optimizer of a file that names none, and the learning rate of one that names no lr. */
const DEFAULT_OPTIMIZER = { name: 'adamw', lr: 1e-3 };

/**
 * A stage's effective optimizer: its own keys merged over the experiment's, one by one. A stage that
 * names another optimizer keeps only the experiment's lr and schedule (momentum means nothing to adamw).
 * The optimizer's defaults are filled after the merge, so they never hide a value the file gave.
 */
function stageOptimizer(experiment: OptimizerConfig, own: Partial<OptimizerConfig> | undefined): OptimizerConfig {
  const switched = own?.name !== undefined && own.name !== experiment.name;
  const base = switched ? { lr: experiment.lr, ...(experiment.schedule === undefined ? {} : { schedule: experiment.schedule }) } : experiment;
  return withOptimizerDefaults({ ...base, ...(own ?? {}) } as OptimizerConfig);
}

/** Every option of the named optimizer spelled out, so `kdx plan` shows and the job key hashes the whole. */
function withOptimizerDefaults(config: OptimizerConfig): OptimizerConfig {
  const defaults = registry.optimizers.has(config.name) ? registry.optimizers.get(config.name).defaults : undefined;
  const { name, lr, schedule, ...own } = config;
  return { name, lr, ...(defaults ?? {}), ...own, schedule: schedule ?? { type: 'constant' } };
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

/** A problem at `path`; `related` is a second path whose value shares the blame (the other data stream). */
type Problem = { path: PathSegment[]; message: string; related?: PathSegment[] };
type ModelShapeProblem = { origin: Origin; message: string };

/** Each transform built against the shape it receives; both streams must end at the shape the models see. */
function streamProblems(experiment: Experiment): Problem[] {
  const problems: Problem[] = [];
  let stored: ImageShape;
  try {
    stored = registry.datasets.get(experiment.data.dataset).inputShape(experiment.data.options);
  } catch (error) {
    return [{ path: ['data', 'options'], message: (error as Error).message }];
  }
  const ends: Partial<Record<'train' | 'test', { shape: ImageShape; changedBy?: number }>> = {};
  for (const split of ['train', 'test'] as const) {
    let shape = stored;
    let changedBy: number | undefined;
    experiment.data[split].forEach((t, i) => {
      const factory = registry.transforms.get(t.type);
      try {
        factory.create(t.args, shape);
        const next = factory.outputShape?.(t.args, shape) ?? shape;
        if (next.join('x') !== shape.join('x')) changedBy = i;
        shape = next;
      } catch (error) {
        problems.push({ path: ['data', split, i], message: (error as Error).message });
      }
    });
    ends[split] = { shape, changedBy };
  }
  const [train, test] = [ends.train!.shape.join('x'), ends.test!.shape.join('x')];
  if (problems.length === 0 && train !== test) {
    // At the transform that changed the shape (a crop of 32 on 28x28 images), training's first.
    const split = ends.train!.changedBy !== undefined ? 'train' : 'test';
    const other = split === 'train' ? 'test' : 'train';
    const at = ends[split]!.changedBy!;
    const names = { train: 'training', test: 'test' };
    problems.push({
      path: ['data', split, at],
      related: ['data', other],
      message: `${experiment.data[split][at].type} makes the ${names[split]} images ${ends[split]!.shape.join('x')}, but the ${names[other]} images end up ${ends[other]!.shape.join('x')} (after data.${other}'s transforms): both must reach the models at one shape`,
    });
  }
  return problems;
}

/** Each distinct stage optimizer built once, so a combination its factory refuses (sgd's nesterov without
 * momentum) is a located error now, not a failed job later. */
function optimizerProblems(experiment: Experiment, data: Record<string, any>): Problem[] {
  const problems: Problem[] = [];
  const seen = new Set<string>();
  for (const stage of Object.values(experiment.stages)) {
    const id = contentHash(stage.optimizer);
    if (seen.has(id)) continue;
    seen.add(id);
    try {
      registry.optimizers.get(stage.optimizer.name).create(stage.optimizer).dispose();
    } catch (error) {
      const own = data.stages?.[stage.name]?.optimizer !== undefined;
      problems.push({ path: own ? ['stages', stage.name, 'optimizer'] : ['optimizer'], message: (error as Error).message });
    }
  }
  return problems;
}

/** Each stage's subset against the training split, where the dataset knows its size without loading
 * (after data.limit); other datasets are checked when they are loaded. */
function subsetProblems(experiment: Experiment): Problem[] {
  const subsets = Object.values(experiment.stages).filter((stage) => stage.data.subset !== undefined);
  if (subsets.length === 0) return [];
  let train: number;
  let classes: number;
  try {
    const dataset = registry.datasets.get(experiment.data.dataset);
    if (!dataset.splitSizes) return [];
    train = Math.min(dataset.splitSizes(experiment.data.options).train, experiment.data.limit?.train ?? Infinity);
    classes = dataset.classes(experiment.data.options);
  } catch {
    return []; // bad dataset options: reported with the shapes
  }
  return subsets.flatMap((stage) => {
    const problem = subsetProblem(stage.data.subset!, train, classes);
    return problem ? [{ path: ['stages', stage.name, 'data', 'subset', ...problem.at], message: problem.message }] : [];
  });
}

/** Shape checks already made in this process (a sweep's trials mostly share their models), with the
 * shapes of the model's taps. */
const modelChecks = new Map<string, { problem?: ModelShapeProblem; taps: Record<string, number[]> }>();

/** Builds a model once against its input: a layer that does not fit, or an output that is not one logit per class. */
function modelProblem(
  name: string,
  layers: ModelNode[],
  inputShape: ImageShape,
  classes: number,
  dataset: string,
  origins: WeakMap<object, Origin>,
): { problem?: ModelShapeProblem; taps: Record<string, number[]> } {
  const where = (node: ModelNode) => {
    const origin = origins.get(node);
    return origin && [origin.source?.file, formatPath(origin.path)];
  };
  const id = contentHash({ name, layers, inputShape, classes, dataset, written: layers.map(where) });
  if (modelChecks.has(id)) return modelChecks.get(id)!;
  let problem: ModelShapeProblem | undefined;
  let taps: Record<string, number[]> = {};
  try {
    const built = buildModel(name, layers, inputShape, 0);
    built.model.dispose();
    taps = built.tapShapes;
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
    // V8 refuses a typed array of more than 2^32 numbers, or one larger than memory: weights that
    // cannot exist, whatever the input, not a shape that does not fit.
    const message =
      error.cause instanceof RangeError ? `${describeNode(error.node)} has more weights than can be allocated: is one of its sizes a typo?` : error.message;
    problem = { origin: origins.get(error.node) ?? { path: ['models', name, error.index] }, message };
  }
  modelChecks.set(id, { problem, taps });
  return { problem, taps };
}

/** Builds each model used by a stage once: layers that do not fit, and outputs that are not one logit per
 * class; and the shapes of each model's taps. */
function shapeProblems(experiment: Experiment, origins: WeakMap<object, Origin>): { problems: ModelShapeProblem[]; taps: Record<string, Record<string, number[]>> } {
  let shape: { inputShape: ImageShape; classes: number };
  try {
    shape = datasetShape(experiment);
  } catch (error) {
    return { problems: [{ origin: { path: ['data'] }, message: (error as Error).message }], taps: {} };
  }
  const problems: ModelShapeProblem[] = [];
  const taps: Record<string, Record<string, number[]>> = {};
  const used = new Set(Object.values(experiment.stages).map((s) => s.model));
  for (const name of Object.keys(experiment.models).filter((m) => used.has(m))) {
    const checked = modelProblem(name, experiment.models[name], shape.inputShape, shape.classes, experiment.data.dataset, origins);
    if (checked.problem) problems.push(checked.problem);
    taps[name] = checked.taps;
  }
  return { problems, taps };
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
