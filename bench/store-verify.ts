// What it costs to verify a store entry before it is used: the reference teacher's weights are 13 MB
// (3,248,202 float32), and every cached use of it checks their size and sha256.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../src/store/store.js';
import { contentHash } from '../src/util/hash.js';

export async function benchStoreVerify(): Promise<{ bytes: number; medianMs: number }> {
  const root = mkdtempSync(join(tmpdir(), 'kdx-bench-store-'));
  try {
    const store = new Store(root);
    const key = contentHash({ bench: 'verify' });
    const weights = new Uint8Array(3_248_202 * 4).map((_, i) => (i * 2654435761) >>> 24);
    await store.commitEntry(key, { 'weights.bin': weights, 'model.json': '{}', 'metrics.json': '{}' });
    const times: number[] = [];
    for (let i = 0; i < 7; i++) {
      const started = performance.now();
      const { entry } = await store.readVerifiedEntry(key);
      times.push(performance.now() - started);
      if (!entry) throw new Error('the bench entry did not verify');
    }
    times.sort((a, b) => a - b);
    return { bytes: weights.byteLength, medianMs: times[Math.floor(times.length / 2)] };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export function formatStoreVerify(result: { bytes: number; medianMs: number }): string {
  return `verify a ${(result.bytes / 1e6).toFixed(1)} MB entry (sizes + sha256): ${result.medianMs.toFixed(1)} ms (median of 7)`;
}
