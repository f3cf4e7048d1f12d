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
