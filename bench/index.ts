// `npm run bench`: every figure kdx promises about speed, measured side by side in one run.
//   1. Training and forward img/s of the reference teacher and student, resnet20 and resnet8x4 (32x32x3, batch 64) on each
//      backend that loads, the ratio training/forward, wasm vs cpu, and where a wasm step spends its time.
//   2. kdx next to PyTorch (bench/torch_speed.py, when /usr/bin/python3 has torch): teacher and student, 1 thread
//      and every core, training and forward, kdx/PyTorch.
//   3. Peak memory (RSS) of a run on CIFAR-10 files of the real size.
//   4. The wall time of a 3 x 3 sweep with --jobs 2 next to 9 independent uncached runs.
//   5. The cost of verifying a store entry of the reference teacher's size before it is used.
//   6. webgpu next to them (bench/webgpu-speed.ts): on a software adapter the student at batch 8, labelled;
//      on a GPU every reference model at batches 64 and 128.
// Options: --skip-training (also skips 2), --skip-torch, --skip-rss, --skip-sweep, --skip-store, --skip-webgpu.
import { benchTrainingSpeed, formatTrainingSpeed } from './training-speed.js';
import { benchVersusPytorch, formatVersusPytorch } from './versus-pytorch.js';
import { benchPeakRss, formatPeakRss } from './peak-rss.js';
import { benchSweepSpeed, formatSweepSpeed } from './sweep-speed.js';
import { benchStoreVerify, formatStoreVerify } from './store-verify.js';
import { benchWebgpuSpeed, formatWebgpuSpeed } from './webgpu-speed.js';

const args = new Set(process.argv.slice(2));
const log = (line: string) => process.stderr.write(`${line}\n`);

if (!args.has('--skip-training')) {
  console.log('== Training speed: experiments/cifar10-kd.yaml\'s teacher and student, resnet20 and resnet8x4 of experiments/models/resnet.yaml; 32x32x3, batch 64 ==');
  const training = await benchTrainingSpeed({ profile: 'wasm', log });
  console.log(formatTrainingSpeed(training));
  console.log();
  if (!args.has('--skip-torch')) {
    // Right after kdx's measurements, so that both see the same load on the machine.
    console.log('== kdx vs PyTorch: the same teacher and student, the same batches ==');
    console.log(formatVersusPytorch(await benchVersusPytorch({ kdxOneThread: training.rows, log })));
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
