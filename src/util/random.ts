// Seeded random streams. Every random choice kdx makes (data shuffling, augmentation, synthetic data)
// draws from one of these, seeded by `deriveSeed(seed, purpose, ...)`, so each stream is reproducible on
// its own and independent of every other: the data stream of (seed, epoch) does not move when a model
// initialiser draws more or fewer numbers.
import type { Random } from '../registry/types.js';

/** A 32-bit unsigned seed from any number: integers keep their value mod 2^32, other numbers are hashed. */
function toSeed32(seed: number): number {
  if (Number.isInteger(seed) && Math.abs(seed) <= Number.MAX_SAFE_INTEGER) {
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 4294967296) >>> 0;
    return hi === 0 ? lo : fmix32(lo ^ fmix32(hi + 0x9e3779b9));
  }
  return deriveSeed(seed);
}

/** murmur3's 32-bit finaliser: a bijective avalanche of a 32-bit value. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * xoshiro128** (Blackman & Vigna): small, fast, 2^128 - 1 period, good statistical quality.
 * Seeded through splitmix32 so that nearby seeds give unrelated streams.
 */
export class SeededRandom implements Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spareNormal: number | undefined;

  constructor(seed: number) {
    let s = toSeed32(seed);
    const splitmix = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = splitmix();
    this.b = splitmix();
    this.c = splitmix();
    this.d = splitmix();
    if ((this.a | this.b | this.c | this.d) === 0) this.d = 1;
  }

  /** Next raw 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform float in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n); n must be a positive integer below 2^32. */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal deviate (Marsaglia's polar method). */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const v = this.spareNormal;
      this.spareNormal = undefined;
      return v;
    }
    let u: number;
    let v: number;
    let s: number;
    do {
      u = this.next() * 2 - 1;
      v = this.next() * 2 - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const m = Math.sqrt((-2 * Math.log(s)) / s);
    this.spareNormal = v * m;
    return u * m;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A seeded random stream (xoshiro128**). */
export function createRandom(seed: number): SeededRandom {
  return new SeededRandom(seed);
}

/**
 * A 32-bit seed for an independent stream, from a base seed and labels, e.g.
 * `deriveSeed(seed, 'data/shuffle', epoch)`. Different parts (in value, type or order) give unrelated
 * seeds; `1` and `'1'` differ.
 */
export function deriveSeed(...parts: (number | string)[]): number {
  let h = 0x811c9dc5 ^ parts.length;
  const mix = (k: number): void => {
    k = Math.imul(k >>> 0, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  };
  for (const part of parts) {
    if (typeof part === 'string') {
      mix(0x73747221 ^ part.length); // tag: string
      for (let i = 0; i < part.length; i++) mix(part.charCodeAt(i));
    } else if (Number.isInteger(part) && Math.abs(part) <= Number.MAX_SAFE_INTEGER) {
      mix(0x696e7421); // tag: integer
      mix(part >>> 0);
      mix(Math.floor(part / 4294967296) >>> 0);
    } else {
      mix(0x666c7421); // tag: other number, by its float64 bits
      const view = new DataView(new ArrayBuffer(8));
      view.setFloat64(0, part);
      mix(view.getUint32(0));
      mix(view.getUint32(4));
    }
  }
  return fmix32(h ^ (parts.length * 4));
}

/** A uniformly random permutation of 0..n-1 (Fisher–Yates). */
export function permutation(n: number, random: Random): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = random.int(i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}
