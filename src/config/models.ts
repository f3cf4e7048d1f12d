// A file's models -> the trees the model builder takes (ModelNode). Expands what is only a way of writing:
// a nested list spliced into its list, reusable blocks used by name with arguments, and models imported
// from another file. Every node keeps where it was written (`origins`), so that a shape that does not fit,
// found later by building the model, is reported at the line that wrote the node.
import { readFileSync } from 'node:fs';
import { basename, dirname, relative, resolve } from 'node:path';
import type { Registries } from '../registry/index.js';
import { shortcutModes, type ModelNode, type ShortcutMode } from '../registry/types.js';
import { didYouMean } from '../util/suggest.js';
import { formatPath, type Diagnostic, type PathSegment } from './diagnostics.js';
import { normalizeNamed } from './experiment.js';
import { interpolate, type InterpolationProblem } from './interpolate.js';
import { checkDefinition, withDefaults } from './schema.js';
import type { Source } from './source.js';
import { compose, ownerOf, type Composed, type Layer } from './compose.js';

/** Where a node was written. `source` undefined: the experiment file itself. */
export interface Origin {
  source?: Source;
  path: PathSegment[];
  /** For a node from a reusable block, located at the block's use: where in the block it is. */
  within?: string;
}

export interface ModelProblem extends Origin {
  message: string;
  /** Point at the key itself rather than its value. */
  onKey?: boolean;
}

/** What names in a list of layers mean: the file's blocks and params, and the files that wrote them. */
interface Scope {
  /** The file and the files it extends; imports are relative to the file that wrote them. */
  layers: Layer[];
  /** The experiment file itself, whose problems load.ts locates (it knows the overrides). */
  main: boolean;
  blocks: Record<string, unknown>;
  params: Record<string, unknown>;
}

/** The file that wrote `path`, for a problem's location: undefined in the experiment file. */
const sourceOf = (scope: Scope, path: PathSegment[]): Source | undefined => (scope.main ? undefined : ownerOf(scope.layers, path).source);

/** Where the nodes being expanded go in `origins`: their own place, or the use of the block they are in. */
interface Site {
  scope: Scope;
  /** Reusable blocks being expanded, outermost first (to find a block that uses itself). */
  blocks: string[];
  /** The outermost block use, when inside a block. */
  use?: { source?: Source; path: PathSegment[] };
}

/** Block keywords: entries of a layer list that are not layers. */
export const blockKeywords = ['residual', 'concat', 'split', 'repeat', 'tap'] as const;

type Data = Record<string, unknown>;
const isMapping = (value: unknown): value is Data => value !== null && typeof value === 'object' && !Array.isArray(value);
const mapping = (value: unknown): Data => (isMapping(value) ? value : {});

export class ModelExpander {
  readonly origins = new WeakMap<object, Origin>();
  readonly problems: ModelProblem[] = [];
  /** Syntax errors of imported files. */
  readonly diagnostics: Diagnostic[] = [];
  private readonly files = new Map<string, Composed | undefined>();
  /** Imports being resolved (`file#model`), to find a cycle. */
  private readonly importing: string[] = [];
  /** The model being expanded: where each of its tap names is written (file and path). A name written
   * twice would be numbered like a tap in a repeat, which is almost surely not what was meant. */
  private tapsWritten = new Map<string, { written: string; path: PathSegment[] }>();

  constructor(private readonly registries: Registries) {}

  /** Every model of an experiment file, expanded. `data` is the file after interpolation; `blocks` as
   * written (their `${...}` are their own parameters). */
  expandFile(layers: Layer[], models: Data, blocks: Data, params: Data): Record<string, ModelNode[]> {
    const scope: Scope = { layers, main: true, blocks, params };
    this.checkBlockNames(scope);
    const out: Record<string, ModelNode[]> = {};
    for (const [name, value] of Object.entries(models)) {
      this.tapsWritten = new Map();
      out[name] = isMapping(value) ? this.importModel(value, scope, ['models', name]) : this.list(value, { scope, blocks: [] }, ['models', name]);
    }
    return out;
  }

  private report(problem: ModelProblem): void {
    const same = (p: ModelProblem) => p.source === problem.source && formatPath(p.path) === formatPath(problem.path) && p.message === problem.message;
    if (!this.problems.some(same)) this.problems.push(problem);
  }

  private checkBlockNames(scope: Scope): void {
    for (const name of Object.keys(scope.blocks)) {
      const clash = this.registries.layers.has(name) ? 'a layer' : (blockKeywords as readonly string[]).includes(name) ? 'a block keyword' : undefined;
      if (clash) this.report({ source: sourceOf(scope, ['blocks', name]), path: ['blocks', name], message: `block "${name}" has the name of ${clash}: give it another`, onKey: true });
    }
  }

  /** A layer list: each entry, with nested lists spliced in place. A single entry counts as a list of one. */
  private list(value: unknown, site: Site, at: PathSegment[]): ModelNode[] {
    if (!Array.isArray(value)) return value === undefined || value === null ? [] : this.entry(value, site, at);
    return value.flatMap((item, i) => (Array.isArray(item) ? this.list(item, site, [...at, i]) : this.entry(item, site, [...at, i])));
  }

  private entry(entry: unknown, site: Site, at: PathSegment[]): ModelNode[] {
    const name = typeof entry === 'string' ? entry : isMapping(entry) && Object.keys(entry).length === 1 ? Object.keys(entry)[0] : undefined;
    if (name === undefined) return []; // the schema says what is wrong
    const value = typeof entry === 'string' ? undefined : (entry as Data)[name];
    const inner = [...at, name];
    let node: ModelNode | undefined;
    switch (name) {
      case 'residual': {
        const v = mapping(value);
        node = { block: 'residual', body: this.list(v.body, site, [...inner, 'body']), shortcut: this.shortcut(v.shortcut, site, [...inner, 'shortcut']), after: this.list(v.after, site, [...inner, 'after']) };
        break;
      }
      case 'concat':
      case 'split': {
        const branches = Array.isArray(value) ? value : [];
        node = { block: name, branches: branches.map((branch, i) => this.list(branch, site, [...inner, i])) };
        break;
      }
      case 'tap':
        if (typeof value === 'string') node = this.tap(value, site, at); // else the schema says what is wrong
        break;
      case 'repeat': {
        const v = mapping(value);
        node = { block: 'repeat', times: typeof v.times === 'number' ? v.times : 1, layers: this.list(v.layers, site, [...inner, 'layers']) };
        break;
      }
      default:
        if (this.registries.layers.has(name)) {
          const shorthand = this.registries.layers.get(name).shorthand;
          const { type, args } = normalizeNamed(entry, () => shorthand);
          node = { type, args: withDefaults('layer', type, args) };
        } else if (Object.hasOwn(site.scope.blocks, name)) {
          node = this.use(name, value, site, at);
        } else {
          const known = [...this.registries.layers.names(), ...blockKeywords, ...Object.keys(site.scope.blocks)];
          this.report({ ...this.place(site, at), message: `unknown layer "${name}"${didYouMean(name, known) || ` (known: ${known.join(', ')})`}` });
        }
    }
    if (!node) return [];
    this.origins.set(node, this.place(site, at));
    return [node];
  }

  /** A tap, unless its name is already written elsewhere in the model. One written once but reached
   * several times (in a repeat, in a block used twice) is numbered by the builder: NAME@1, NAME@2. */
  private tap(name: string, site: Site, at: PathSegment[]): ModelNode | undefined {
    const written = `${sourceOf(site.scope, at)?.file ?? ''}#${formatPath(at)}`;
    const first = this.tapsWritten.get(name);
    if (first === undefined) this.tapsWritten.set(name, { written, path: at });
    else if (first.written !== written) {
      this.report({ ...this.place(site, at), message: `tap "${name}" is already written at ${formatPath(first.path)}: give each tap its own name (a tap reached several times, in a repeat or a block used twice, is numbered ${name}@1, ${name}@2, ...)` });
      return undefined;
    }
    return { block: 'tap', name };
  }

  private shortcut(value: unknown, site: Site, at: PathSegment[]): ShortcutMode | ModelNode[] {
    if (value === undefined) return 'auto';
    if (typeof value !== 'string' || this.registries.layers.has(value)) return this.list(value, site, at);
    if ((shortcutModes as readonly string[]).includes(value)) return value as ShortcutMode;
    this.report({ ...this.place(site, at), message: `must be one of ${shortcutModes.join(', ')}, or layers (got "${value}")${didYouMean(value, shortcutModes)}` });
    return 'auto';
  }

  /** Where a node is reported: its own place, or the use of the block it is in. */
  private place(site: Site, at: PathSegment[]): Origin {
    if (!site.use) return { source: sourceOf(site.scope, at), path: at };
    return { ...site.use, within: `in block "${site.blocks[site.blocks.length - 1]}", at ${formatPath(at)}` };
  }

  /** A reusable block used with arguments: its layers with the arguments in place of its parameters. */
  private use(name: string, value: unknown, site: Site, at: PathSegment[]): ModelNode | undefined {
    const { scope } = site;
    const where = this.place(site, at);
    if (site.blocks.includes(name)) {
      this.report({ ...where, message: `block "${name}" uses itself: ${[...site.blocks.slice(site.blocks.indexOf(name)), name].join(' -> ')}` });
      return undefined;
    }
    const definition = mapping(scope.blocks[name]);
    const declared = mapping(definition.params);
    if (value !== undefined && value !== null && !isMapping(value)) {
      this.report({ ...where, message: `block "${name}" takes its arguments as a mapping, e.g. {${Object.keys(declared)[0] ?? 'name'}: value}` });
      return undefined;
    }
    const args = mapping(value);
    let complete = true;
    for (const key of Object.keys(args).filter((k) => !Object.hasOwn(declared, k))) {
      const known = Object.keys(declared);
      const hint = didYouMean(key, known) || (known.length ? ` (its parameters: ${known.join(', ')})` : ' (it has no parameters)');
      const onTheKey = site.use ? where : { source: sourceOf(scope, at), path: [...at, name, key], onKey: true };
      this.report({ ...onTheKey, message: `block "${name}" has no parameter "${key}"${hint}` });
      complete = false;
    }
    for (const key of Object.keys(declared).filter((k) => declared[k] === null && !Object.hasOwn(args, k))) {
      this.report({ ...where, message: `block "${name}" needs its parameter "${key}"` });
      complete = false;
    }
    if (!complete) return undefined;
    const values = { ...args, ...Object.fromEntries(Object.entries(declared).filter(([k, v]) => v !== null && !Object.hasOwn(args, k))) };
    const layersAt: PathSegment[] = ['blocks', name, 'layers'];
    // The block's parameters shadow the file's params of the same name.
    const problems: InterpolationProblem[] = [];
    const layers = interpolate(definition.layers, { ...scope.params, ...values }, problems, layersAt);
    const schemaProblems = checkDefinition('layerList', layers, layersAt);
    for (const p of [...problems, ...schemaProblems]) this.report({ source: sourceOf(scope, p.path), path: p.path, message: p.message, onKey: 'onKey' in p && p.onKey === true });
    if (problems.length + schemaProblems.length > 0) return undefined;
    const inner: Site = { scope, blocks: [...site.blocks, name], use: site.use ?? { source: sourceOf(scope, at), path: at } };
    return { block: 'use', name, args: values, layers: this.list(layers, inner, layersAt) };
  }

  /** `{from: FILE, model: NAME}`: a model of another file, with that file's blocks and params. */
  private importModel(value: Data, scope: Scope, at: PathSegment[]): ModelNode[] {
    if (typeof value.from !== 'string') return []; // the schema says what is wrong
    const model = typeof value.model === 'string' ? value.model : String(at[at.length - 1]);
    const modelAt = typeof value.model === 'string' ? [...at, 'model'] : [...at, 'from'];
    const file = resolve(dirname(ownerOf(scope.layers, [...at, 'from']).file), value.from);
    const loaded = this.readFile(file);
    if (!loaded) {
      this.report({ source: sourceOf(scope, at), path: [...at, 'from'], message: `cannot import from ${value.from}: no such file` });
      return [];
    }
    if (loaded.errors.length > 0 || !isMapping(loaded.data)) return []; // its syntax errors are reported once, as diagnostics
    const data = loaded.data;
    const models = mapping(data.models);
    if (!Object.hasOwn(models, model)) {
      const known = Object.keys(models);
      this.report({ source: sourceOf(scope, at), path: modelAt, message: `${value.from} has no model "${model}"${didYouMean(model, known) || ` (its models: ${known.join(', ') || 'none'})`}` });
      return [];
    }
    const id = `${file}#${model}`;
    if (this.importing.includes(id)) {
      const cycle = [...this.importing.slice(this.importing.indexOf(id)), id].map((i) => basename(i));
      this.report({ source: sourceOf(scope, at), path: at, message: `the model imports form a cycle: ${cycle.join(' -> ')}` });
      return [];
    }
    const imported: Scope = { layers: loaded.layers, main: false, blocks: mapping(data.blocks), params: mapping(data.params) };
    this.importing.push(id);
    try {
      if (isMapping(models[model])) return this.importModel(models[model] as Data, imported, ['models', model]);
      const problems: InterpolationProblem[] = [];
      const layers = interpolate(models[model], imported.params, problems, ['models', model]);
      const schemaProblems = checkDefinition('layerList', layers, ['models', model]);
      for (const p of [...problems, ...schemaProblems]) this.report({ source: sourceOf(imported, p.path), path: p.path, message: p.message, onKey: 'onKey' in p && p.onKey === true });
      if (problems.length + schemaProblems.length > 0) return [];
      this.checkBlockNames(imported);
      return this.list(layers, { scope: imported, blocks: [] }, ['models', model]);
    } finally {
      this.importing.pop();
    }
  }

  /** An imported file and the files it extends, read once; undefined when it cannot be read. Its own
   * errors (syntax, extends) are diagnostics. */
  private readFile(file: string): Composed | undefined {
    if (this.files.has(file)) return this.files.get(file);
    let text: string | undefined;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      text = undefined;
    }
    const composed = text === undefined ? undefined : compose(relative(process.cwd(), file) || file, text);
    this.diagnostics.push(...(composed?.errors ?? []));
    this.files.set(file, composed);
    return composed;
  }
}
