// A user's plugin, written by the test, adds a layer; the experiment that uses it validates, trains,
// and its saved model loads again (the teacher of a KD stage is reloaded from the store).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, hasStackTrace, kdx, scratchDir, tinyExperiment, writeExperiment } from './support.js';

// The example from README.md, verbatim.
const PLUGIN = `// my-layers.mjs: the default export receives the same API kdx's built-ins register through.
export default function (kdx) {
  const { tf } = kdx; // use this tf, never a second copy of @tensorflow/tfjs
  class Scale extends tf.layers.Layer {
    static className = 'Scale';
    constructor(config) { super(config); this.factor = config.factor; }
    call(inputs) { return tf.tidy(() => tf.mul(Array.isArray(inputs) ? inputs[0] : inputs, this.factor)); }
    getConfig() { return { ...super.getConfig(), factor: this.factor }; }
  }
  tf.serialization.registerClass(Scale); // so saved models that use it load again
  kdx.registerLayer('scale', { description: 'multiply by a constant', create: (args) => new Scale({ factor: args.factor ?? 1 }) });
}
`;

test('a plugin registers a layer that experiments use, train and save', async () => {
  const cwd = scratchDir();
  try {
    writeFileSync(join(cwd, 'my-layers.mjs'), PLUGIN);
    const text = `plugins: [./my-layers.mjs]\n${tinyExperiment({ epochs: 1 }).replace('teacher: [{conv2d', 'teacher: [{scale: {factor: 0.5}}, {conv2d')}`;
    const file = writeExperiment(cwd, 'plugged.yaml', text);
    const plan = await kdx(['plan', file], { cwd });
    assert.equal(plan.exitCode, 0, plan.stderr);
    assert.match(plan.stdout, /scale\s+16x16x3\s+0/);
    const run = await kdx(['run', file], { cwd });
    assert.equal(run.exitCode, 0, run.stderr);
    assert.match(run.stdout, /kd_student\s+done/);

    // Misspelt, the plugin's layer gets a suggestion like a built-in one.
    const typo = await kdx(['validate', writeExperiment(cwd, 'typo.yaml', text.replace('{scale:', '{scael:'))], { cwd });
    assert.equal(typo.exitCode, 2);
    assert.match(typo.stderr, /unknown layer "scael" \(did you mean "scale"\?\)/);
    const missing = await kdx(['validate', writeExperiment(cwd, 'missing.yaml', text.replace('./my-layers.mjs', './nope.mjs'))], { cwd });
    assert.equal(missing.exitCode, 2);
    assert.match(missing.stderr, /missing\.yaml:1:\d+  plugins\[0\]  cannot load plugin .*nope\.mjs/);
    assert.ok(!hasStackTrace(missing.stderr), missing.stderr);
  } finally {
    cleanup(cwd);
  }
});
