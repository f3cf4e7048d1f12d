// One backend's values against the cpu backend's, for the kernel and equivalence tests.
import assert from 'node:assert/strict';

/** Max |actual - expected| within `rtol` of the largest |expected| (the values of one tensor share a scale,
 * at least `floor`); `compared` names the two sides in the message, e.g. `wasm - cpu`. */
export function assertClose(
  actual: ArrayLike<number>, expected: ArrayLike<number>, what: string,
  { rtol = 1e-4, floor = 1e-6, compared = 'wasm - cpu' }: { rtol?: number; floor?: number; compared?: string } = {},
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let maxDiff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  assert.ok(Number.isFinite(maxDiff), `${what}: non-finite values`);
  assert.ok(maxDiff <= rtol * Math.max(scale, floor), `${what}: max |${compared}| = ${maxDiff} > ${rtol} x ${scale}`);
}
