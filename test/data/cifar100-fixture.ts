// A CIFAR-100-format fixture (binary version): train.bin and test.bin, each record a coarse label byte,
// a fine label byte and 3072 pixel bytes (three 32x32 planes), plus the label-name files.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Record r of a file: fine label r % 100, coarse label fine / 5, pixels (r * 7 + p) % 256 by plane. */
export function cifar100Records(records: number): Buffer {
  const out = Buffer.alloc(records * (2 + 3072));
  for (let r = 0; r < records; r++) {
    const base = r * (2 + 3072);
    const fine = r % 100;
    out[base] = Math.floor(fine / 5);
    out[base + 1] = fine;
    for (let p = 0; p < 3072; p++) out[base + 2 + p] = (r * 7 + p) % 256;
  }
  return out;
}

/** Writes the fixture into `dir`: `train` and `test` records. */
export function writeCifar100(dir: string, train: number, test: number): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'train.bin'), cifar100Records(train));
  writeFileSync(join(dir, 'test.bin'), cifar100Records(test));
  writeFileSync(join(dir, 'fine_label_names.txt'), Array.from({ length: 100 }, (_, i) => `fine${i}`).join('\n') + '\n');
  writeFileSync(join(dir, 'coarse_label_names.txt'), Array.from({ length: 20 }, (_, i) => `coarse${i}`).join('\n') + '\n');
}
