// A distilling job's teacher outputs on its (seeded, deterministic) augmented training stream. They do
// not depend on T or alpha, so a sweep computes them once and every KD trial reads them.
import type { LoadedDataset } from '../registry/types.js';
import { batchesPerEpoch, epochBatches } from '../data/stream.js';
import type { EventSink } from '../events.js';
import type { Job } from './plan.js';
import { TrainingAborted, transformChain } from './train.js';
import { breather } from './pace.js';
import type { BatchLogits } from './evaluate.js';

/** Runs the teacher (inference mode, `classes` logits) over every epoch of the job's training stream:
 * epochs x samples x classes. */
export async function computeTeacherLogits(
  job: Job,
  teacher: BatchLogits,
  classes: number,
  dataset: LoadedDataset,
  emit: EventSink,
  signal?: AbortSignal,
): Promise<{ logits: Float32Array; samplesPerEpoch: number; classes: number }> {
  const { train } = job.experiment.data;
  const { batchSize } = job.stage.data;
  const transforms = transformChain(train, dataset.shape);
  const samples = dataset.train.count;
  const logits = new Float32Array(job.stage.epochs * samples * classes);
  const total = job.stage.epochs * batchesPerEpoch(samples, batchSize, false);
  const id = `teacher-logits:${job.id}`;
  const label = `teacher logits for ${job.label}`;
  let done = 0;
  let lastEvent = 0;
  const breathe = breather();
  emit({ type: 'task', time: Date.now(), id, label, current: 0, total, unit: 'batches' });
  for (let epoch = 0; epoch < job.stage.epochs; epoch++) {
    let offset = epoch * samples * classes;
    for (const batch of epochBatches(dataset.train, { batchSize, shape: dataset.shape, transforms, seed: job.stage.seed, epoch, shuffle: true })) {
      if (signal?.aborted) throw new TrainingAborted();
      const out = await teacher(batch);
      logits.set(await out.data() as Float32Array, offset);
      out.dispose();
      offset += batch.n * classes;
      done++;
      await breathe(); // the UI redraws and `q` is seen while the teacher runs
      if (Date.now() - lastEvent > 500) {
        lastEvent = Date.now();
        emit({ type: 'task', time: Date.now(), id, label, current: done, total, unit: 'batches' });
      }
    }
  }
  emit({ type: 'task', time: Date.now(), id, label, current: total, total, unit: 'batches', done: true });
  return { logits, samplesPerEpoch: samples, classes };
}
