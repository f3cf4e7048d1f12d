// Taps name outputs for feature losses and change nothing a model computes: what a job key hashes of a
// model is its layers without them, so tapping a model keeps its cached results.
import type { ModelNode } from './types.js';

export function withoutTaps(nodes: ModelNode[]): ModelNode[] {
  return nodes.flatMap((node): ModelNode[] => {
    if (!('block' in node)) return [node];
    switch (node.block) {
      case 'tap':
        return [];
      case 'use':
        return [{ ...node, layers: withoutTaps(node.layers) }];
      case 'repeat':
        return [{ ...node, layers: withoutTaps(node.layers) }];
      case 'residual':
        return [{ ...node, body: withoutTaps(node.body), shortcut: Array.isArray(node.shortcut) ? withoutTaps(node.shortcut) : node.shortcut, after: withoutTaps(node.after) }];
      case 'concat':
      case 'split':
        return [{ ...node, branches: node.branches.map(withoutTaps) }];
    }
  });
}
