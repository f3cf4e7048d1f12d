// Taps name outputs for feature losses and change nothing a model computes: what a job key hashes of a
// model is its layers without them, so tapping a model keeps its cached results. Where the taps a loss
// reads sit does change what it distils: those are kept in the key of the stage whose loss reads them.
import type { ModelNode } from './types.js';

export function withoutTaps(nodes: ModelNode[]): ModelNode[] {
  return keepingTaps(nodes, new Set());
}

/** The layers with only the taps named in `keep` (a tap reached several times, `NAME@2`, is `NAME` there). */
export function keepingTaps(nodes: ModelNode[], keep: ReadonlySet<string>): ModelNode[] {
  const inner = (layers: ModelNode[]) => keepingTaps(layers, keep);
  return nodes.flatMap((node): ModelNode[] => {
    if (!('block' in node)) return [node];
    switch (node.block) {
      case 'tap':
        return keep.has(node.name) ? [node] : [];
      case 'use':
        return [{ ...node, layers: inner(node.layers) }];
      case 'repeat':
        return [{ ...node, layers: inner(node.layers) }];
      case 'residual':
        return [{ ...node, body: inner(node.body), shortcut: Array.isArray(node.shortcut) ? inner(node.shortcut) : node.shortcut, after: inner(node.after) }];
      case 'concat':
      case 'split':
        return [{ ...node, branches: node.branches.map(inner) }];
    }
  });
}

/** The names of a tap reached `count` times: its own name once, else `NAME@1` ... `NAME@n`, in order. */
export function tapOutputNames(name: string, count: number): string[] {
  return count === 1 ? [name] : Array.from({ length: count }, (_, i) => `${name}@${i + 1}`);
}

/** Every tap output a model names, known from its layers alone (before any shape is inferred): what the
 * builder (model.ts) names when it reaches each tap, a repeat's taps once per time through it. */
export function tapNames(nodes: ModelNode[]): string[] {
  const reached = new Map<string, number>();
  const walk = (layers: ModelNode[], times: number): void => {
    for (const node of layers) {
      if (!('block' in node)) continue;
      switch (node.block) {
        case 'tap':
          reached.set(node.name, (reached.get(node.name) ?? 0) + times);
          break;
        case 'use':
          walk(node.layers, times);
          break;
        case 'repeat':
          walk(node.layers, times * node.times);
          break;
        case 'residual':
          walk(node.body, times);
          if (Array.isArray(node.shortcut)) walk(node.shortcut, times);
          walk(node.after, times);
          break;
        case 'concat':
        case 'split':
          for (const branch of node.branches) walk(branch, times);
      }
    }
  };
  walk(nodes, 1);
  return [...reached].flatMap(([name, count]) => tapOutputNames(name, count));
}
