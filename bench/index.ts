// `npm run bench`: every figure kdx promises about speed, measured side by side in one run.
//   1. Training and forward img/s of the chosen models (32x32x3, batch 64) on each backend that loads, the
//      ratio training/forward, wasm vs cpu, and where a wasm step spends its time (per kernel).
//   2. kdx next to PyTorch (bench/torch_speed.py and bench/torch_zoo.py, when /usr/bin/python3 has torch):
//      the same models, 1 thread and every core, training and forward, kdx/PyTorch.
//   3. Peak memory (RSS) of a run on CIFAR-10 files of the real size.
//   4. The wall time of a 3 x 3 sweep with --jobs 2 next to 9 independent uncached runs.
//   5. The cost of verifying a store entry of the reference teacher's size before it is used.
//   6. webgpu next to them (bench/webgpu-speed.ts): on a software adapter the student at batch 8, labelled;
//      on a GPU the reference pair, resnet8x4 and resnet32x4 at batches 64 and 128.
// Options: --models a,b,... (the reference teacher and student and the zoo's models by name, `zoo` for every
// zoo model, `all` for all of them; default DEFAULT_MODELS), --skip-training (also skips 2), --skip-torch,
// --skip-rss, --skip-sweep, --skip-store, --skip-webgpu.
import { parseArgs } from 'node:util';

import { benchTrainingSpeed, formatTrainingSpeed } from './training-speed.js';
import { benchVersusPytorch, formatVersusPytorch } from './versus-pytorch.js';
import { benchPeakRss, formatPeakRss } from './peak-rss.js';
import { benchSweepSpeed, formatSweepSpeed } from './sweep-speed.js';
import { benchStoreVerify, formatStoreVerify } from './store-verify.js';
import { benchWebgpuSpeed, formatWebgpuSpeed } from './webgpu-speed.js';
import { ZOO_MODELS, isZooModel, type ReferenceKind } from './reference-models.js';

/** The seed's pair and the zoo models KD users train most (issue 25's list): a run of a few minutes. */
const DEFAULT_MODELS: ReferenceKind[] = ['student', 'teacher', 'resnet20', 'resnet8x4', 'wrn_16_2', 'MobileNetV2'];

const skip = { type: 'boolean' } as const;
const { values } = parseArgs({
  options: { models: { type: 'string' }, 'skip-training': skip, 'skip-torch': skip, 'skip-rss': skip, 'skip-sweep': skip, 'skip-store': skip, 'skip-webgpu': skip },
});
const args = new Set(Object.entries(values).filter(([, v]) => v === true).map(([k]) => `--${k}`));
const log = (line: string) => process.stderr.write(`${line}\n`);

function chosenModels(list: string | undefined): ReferenceKind[] {
  if (list == null) return DEFAULT_MODELS;
  return list.split(',').flatMap((name): ReferenceKind[] => {
    if (name === 'zoo') return ZOO_MODELS;
    if (name === 'all') return ['student', 'teacher', ...ZOO_MODELS];
    if (name === 'student' || name === 'teacher' || isZooModel(name)) return [name];
    throw new Error(`--models: unknown model ${name} (student, teacher, ${ZOO_MODELS.join(', ')}, zoo, all)`);
  });
}
const models = chosenModels(values.models);

if (!args.has('--skip-training')) {
  console.log(`== Training speed: ${models.join(', ')}; 32x32x3, batch 64 ==`);
  const training = await benchTrainingSpeed({ profile: 'wasm', models, log });
  console.log(formatTrainingSpeed(training));
  console.log();
  if (!args.has('--skip-torch')) {
    // Right after kdx's measurements, so that both see the same load on the machine.
    console.log('== kdx vs PyTorch: the same models, the same batches ==');
    console.log(formatVersusPytorch(await benchVersusPytorch({ kdxOneThread: training.rows, models, log })));
    console.log();
  }
}
if (!args.has('--skip-webgpu')) {
  console.log('== webgpu, next to the wasm rows above (forward and training img/s, 32x32x3) ==');
  console.log(formatWebgpuSpeed(await benchWebgpuSpeed({ log })));
  console.log();
}
if (!args.has('--skip-rss')) {
  console.log('== Peak memory ==');
  console.log(formatPeakRss(await benchPeakRss({ log })));
  console.log();
}
if (!args.has('--skip-sweep')) {
  console.log('== Sweep ==');
  console.log(formatSweepSpeed(await benchSweepSpeed(log)));
}
if (!args.has('--skip-store')) {
  console.log();
  console.log('== Store ==');
  console.log(formatStoreVerify(await benchStoreVerify()));
}
