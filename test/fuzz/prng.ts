/* eslint-disable no-bitwise -- a PRNG is bit arithmetic */
/**
 * A small seeded PRNG (sfc32) so that every fuzz input can be regenerated from its seed.
 */

/** FNV-1a over a string, for deriving per-input seeds from names. */
export function hashString(text: string, basis = 0x811c9dc5): number {
  let h = basis >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The seed of input `index` of a campaign: a mix of the campaign seed, the target and the index. */
export function inputSeed(baseSeed: number, target: string, index: number): number {
  return hashString(`${target}#${index}`, baseSeed ^ 0x9e3779b9);
}

/** The seed of the PRNG a reader call uses (to cut its input into chunks), from the input's seed. */
export function runSeed(seed: number): number {
  return (seed ^ 0x5bd1e995) >>> 0;
}

/** sfc32: fast, 32-bit state words, good enough statistics for fuzzing. */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 12; i++) this.next();
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** An integer in [0, n) (0 when n <= 0). */
  below(n: number): number {
    if (n <= 0) return 0;
    return Math.floor((this.next() / 0x100000000) * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.below(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() / 0x100000000 < p;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  }
}
