/**
 * The mutation engine: from a seed and a PRNG, one hostile input and the list of steps that
 * made it (printed with every failure, so a failure can be read as well as replayed).
 */
/* eslint-disable no-bitwise -- byte-level mutations */
import { type Codec, encode, zstdRawFrame } from './codec';
import type { Prng } from './prng';
import type { LengthField, Structure } from './structure';

/** A part of a seed that can be taken out, mutated and put back (a tar inside gzip, a file inside a tar). */
export interface Layer {
  readonly name: string;
  /** The decoded payload. */
  readonly payload: Buffer;
  readonly structure: Structure;
  /** The compression the payload is stored in; set when the layer may be re-wrapped in another. */
  readonly codec?: Codec;
  /** Is the payload text (dictionary and line mutations apply)? */
  readonly text?: boolean;
  /** The whole input again, from the payload (encoded with the chosen codec when `codec` is set). */
  rebuild(payload: Buffer): Buffer;
}

/** A valid input and what is known about its structure. */
export interface Seed {
  readonly name: string;
  readonly bytes: Buffer;
  readonly structure: Structure;
  readonly layers: readonly Layer[];
  /** Is the input itself text? */
  readonly text?: boolean;
}

/** What one generated input is made of. */
export interface Mutated {
  readonly bytes: Buffer;
  readonly steps: readonly string[];
}

/** Tokens worth inserting into a text format: its syntax and its hostile corners. */
export type Dictionary = readonly string[];

/** Size a decompression bomb expands to (zeros, spaces or newlines: about 1000× their gzip size). */
export const BOMB_BYTES = 8 * 1024 * 1024;
/**
 * Size of the other bomb, the seed's own content repeated: a large but valid index, whose
 * reading time is throughput (about 16 MB/s for deb822), not a hang.
 */
export const REPEAT_BOMB_BYTES = 2 * 1024 * 1024;
/** Inputs are cut to this size (bombs stay compressed far below it). */
const MAX_INPUT = 4 * 1024 * 1024;

const INTERESTING_BYTES = [0x00, 0xff, 0x7f, 0x80, 0x01, 0x20, 0x0a, 0x30, 0x39, 0x2f, 0x2e];
const INTERESTING_U32 = [0xffffffff, 0x7fffffff, 0x80000000, 0x00000000, 0x00000001, 0x0000ffff, 0x00010000, 0x40000000];
const HUGE_NUMBERS = ['4294967295', '4294967296', '2147483647', '9007199254740993', '18446744073709551615', '99999999999999999999999999', '-1', '0', '00000000000000000000001', '1e308', '0x7fffffff', ''];

const hex = (n: number) => `0x${n.toString(16)}`;

function splice(b: Buffer, at: number, remove: number, insert: Uint8Array): Buffer {
  return Buffer.concat([b.subarray(0, at), insert, b.subarray(at + remove)]);
}

/** A huge (or otherwise extreme) value written into a located field. */
function hugeValue(b: Buffer, f: LengthField, rng: Prng): { bytes: Buffer; step: string } {
  const out = Buffer.from(b);
  if (f.offset + f.width > out.length) return { bytes: out, step: `huge ${f.what}: out of range` };
  switch (f.encoding) {
    case 'u32be':
    case 'u32le': {
      const old = f.encoding === 'u32be' ? out.readUInt32BE(f.offset) : out.readUInt32LE(f.offset);
      const v = rng.chance(0.8) ? rng.pick(INTERESTING_U32) : (old + rng.pick([1, -1, 16, -16, 0x10000])) >>> 0;
      if (f.encoding === 'u32be') out.writeUInt32BE(v, f.offset);
      else out.writeUInt32LE(v, f.offset);
      return { bytes: out, step: `${f.what} @${f.offset} = ${hex(v)}` };
    }
    case 'ar-decimal': {
      const v = rng.pick(['9999999999', '2147483647', '4294967295', '0', '-1', '1e9', '0x10', ' 12']);
      out.write(v.padEnd(f.width, ' ').slice(0, f.width), f.offset, 'latin1');
      return { bytes: out, step: `${f.what} @${f.offset} = "${v}"` };
    }
    case 'tar-size': {
      const kind = rng.below(4);
      let step: string;
      if (kind === 0) {
        out.write('77777777777\0', f.offset, 'latin1');
        step = 'octal 77777777777';
      } else if (kind === 1) {
        out.fill(0xff, f.offset, f.offset + f.width);
        out[f.offset] = 0x80;
        step = 'base-256 0x7fff...';
      } else if (kind === 2) {
        out.fill(0, f.offset, f.offset + f.width);
        out[f.offset] = 0x80;
        out.writeUInt32BE(0xffffffff, f.offset + f.width - 4);
        step = 'base-256 0xffffffff';
      } else {
        out.write('00000017777\0', f.offset, 'latin1');
        step = 'octal 17777 (longer than the data)';
      }
      const fix = f.tarHeader !== undefined && rng.chance(0.75);
      if (fix) fixChecksum(out, f.tarHeader!);
      return { bytes: out, step: `${f.what} = ${step}${fix ? ' (checksum fixed)' : ''}` };
    }
    case 'zstd-window': {
      const v = rng.pick([0xf8, 0xa7, 0x98, 0x88, 0x80, 0x58]);
      out[f.offset] = v;
      return { bytes: out, step: `${f.what} @${f.offset} = ${hex(v)}` };
    }
    case 'text-number': {
      const v = rng.pick(HUGE_NUMBERS);
      return { bytes: splice(out, f.offset, f.width, Buffer.from(v, 'latin1')), step: `${f.what} @${f.offset} -> "${v}"` };
    }
  }
}

function fixChecksum(b: Buffer, header: number): void {
  if (header + 512 > b.length) return;
  b.fill(0x20, header + 148, header + 156);
  let sum = 0;
  for (let i = header; i < header + 512; i++) sum += b[i];
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, header + 148, 'latin1');
}

/** The generic mutations, one step each. */
function mutateOnce(
  b: Buffer, s: Structure, rng: Prng, dictionary: Dictionary, text: boolean, others: readonly Buffer[],
): { bytes: Buffer; step: string } {
  const len = b.length;
  const pos = () => rng.below(len);
  const weights: Array<[number, () => { bytes: Buffer; step: string }]> = [
    [14, () => {
      const out = Buffer.from(b);
      const flips = rng.range(1, 8);
      const at: number[] = [];
      for (let i = 0; i < flips && len > 0; i++) {
        const p = pos();
        const bit = rng.below(8);
        out[p] ^= 1 << bit;
        at.push(p * 8 + bit);
      }
      return { bytes: out, step: `bitflip bits ${at.join(',')}` };
    }],
    [10, () => {
      const out = Buffer.from(b);
      const p = pos();
      const v = rng.pick(INTERESTING_BYTES);
      if (len > 0) out[p] = v;
      return { bytes: out, step: `byte @${p} = ${hex(v)}` };
    }],
    [6, () => {
      const out = Buffer.from(b);
      if (len < 4) return { bytes: out, step: 'u32: too short' };
      const p = rng.below(len - 3) & ~(rng.chance(0.5) ? 3 : 0);
      const v = rng.pick(INTERESTING_U32);
      const be = rng.chance(0.5);
      if (be) out.writeUInt32BE(v, p);
      else out.writeUInt32LE(v, p);
      return { bytes: out, step: `u32${be ? 'be' : 'le'} @${p} = ${hex(v)}` };
    }],
    [7, () => {
      const at = rng.below(len + 1);
      return { bytes: b.subarray(0, at), step: `truncate at ${at}` };
    }],
    [11, () => {
      const at = Math.max(0, Math.min(len, rng.pick(s.boundaries.length ? s.boundaries : [0]) + rng.pick([0, 0, -1, 1])));
      return { bytes: b.subarray(0, at), step: `truncate at boundary ${at}` };
    }],
    [5, () => {
      const p = rng.below(len + 1);
      const insert = rng.bytes(rng.range(1, 64));
      return { bytes: splice(b, p, 0, insert), step: `insert ${insert.length} random bytes @${p}` };
    }],
    [7, () => {
      const from = rng.below(len + 1);
      const n = Math.min(len - from, rng.chance(0.8) ? rng.range(1, 512) : rng.range(1, 64 * 1024));
      const to = rng.below(len + 1);
      const times = rng.chance(0.9) ? 1 : rng.range(2, 64);
      const copy = Buffer.concat(Array.from({ length: times }, () => b.subarray(from, from + n)));
      return { bytes: splice(b, to, 0, copy), step: `duplicate [${from},${from + n}) x${times} @${to}` };
    }],
    [5, () => {
      const from = rng.below(len + 1);
      const n = Math.min(len - from, rng.range(1, 1024));
      return { bytes: splice(b, from, n, new Uint8Array(0)), step: `delete [${from},${from + n})` };
    }],
    [s.lengths.length ? 16 : 0, () => hugeValue(b, rng.pick(s.lengths), rng)],
    [dictionary.length ? (text ? 16 : 4) : 0, () => {
      const token = rng.pick(dictionary);
      const atLine = text && rng.chance(0.5) && s.boundaries.length > 0;
      const p = atLine ? Math.min(len, rng.pick(s.boundaries)) : rng.below(len + 1);
      const replace = rng.chance(0.3) ? rng.range(1, 16) : 0;
      return { bytes: splice(b, p, Math.min(replace, len - p), Buffer.from(token, 'utf8')), step: `token ${JSON.stringify(token.slice(0, 60))} @${p}${replace ? ` replacing ${replace}` : ''}` };
    }],
    [text ? 6 : 0, () => {
      const lines = b.toString('latin1').split('\n');
      const i = rng.below(lines.length);
      const j = rng.below(lines.length);
      const op = rng.below(3);
      if (op === 0) lines.splice(j, 0, lines[i]);
      else if (op === 1) lines.splice(i, 1);
      else [lines[i], lines[j]] = [lines[j], lines[i]];
      return { bytes: Buffer.from(lines.join('\n'), 'latin1'), step: `line ${['duplicate', 'delete', 'swap'][op]} ${i},${j}` };
    }],
    [others.length ? 4 : 0, () => {
      const other = rng.pick(others);
      const a = rng.below(len + 1);
      const c = rng.below(other.length + 1);
      return { bytes: Buffer.concat([b.subarray(0, a), other.subarray(c)]), step: `splice [0,${a}) + other seed [${c},...)` };
    }],
  ];
  const total = weights.reduce((sum, [w]) => sum + w, 0);
  let pick = rng.below(total);
  for (const [w, op] of weights) {
    if (pick < w) return op();
    pick -= w;
  }
  throw new Error('unreachable');
}

/** Wrappings of a payload: nested and mismatched compression, bombs, hostile zstd frames. */
const NESTINGS = [
  'gzip', 'zstd', 'xz', 'none', 'gzip(gzip)', 'gzip^4', 'gzip(zstd)', 'zstd(gzip)', 'gzip(xz)', 'gzip+gzip members', 'gzip+garbage',
  'bomb', 'bomb', 'bomb', 'zstd raw blocks',
] as const;

const bombCache = new Map<string, Buffer>();

function nest(payload: Buffer, layer: Layer, cacheKey: string, rng: Prng): { bytes: Buffer; step: string } {
  const kind = rng.pick(NESTINGS);
  switch (kind) {
    case 'gzip':
    case 'zstd':
    case 'xz':
    case 'none':
      return { bytes: encode(payload, kind), step: `wrap in ${kind}` };
    case 'gzip(gzip)':
      return { bytes: encode(encode(payload, 'gzip'), 'gzip'), step: 'wrap in gzip(gzip)' };
    case 'gzip^4': {
      let out = payload;
      for (let i = 0; i < 4; i++) out = encode(out, 'gzip');
      return { bytes: out, step: 'wrap in gzip 4 times' };
    }
    case 'gzip(zstd)':
      return { bytes: encode(encode(payload, 'zstd'), 'gzip'), step: 'wrap in gzip(zstd)' };
    case 'zstd(gzip)':
      return { bytes: encode(encode(payload, 'gzip'), 'zstd'), step: 'wrap in zstd(gzip)' };
    case 'gzip(xz)':
      return { bytes: encode(encode(payload, 'xz'), 'gzip'), step: 'wrap in gzip(xz)' };
    case 'gzip+gzip members': {
      const cut = rng.below(payload.length + 1);
      return { bytes: Buffer.concat([encode(payload.subarray(0, cut), 'gzip'), encode(payload.subarray(cut), 'gzip')]), step: `gzip as two members split at ${cut}` };
    }
    case 'gzip+garbage':
      return { bytes: Buffer.concat([encode(payload, 'gzip'), Buffer.from(rng.bytes(rng.range(1, 32)))]), step: 'gzip with trailing garbage' };
    case 'bomb': {
      const codec: Codec = rng.pick(['gzip', 'gzip', 'zstd', 'xz']);
      const fill = rng.pick(['zeros', 'spaces', 'newlines', 'repeat']);
      const key = `${cacheKey}|${layer.name}|${codec}|${fill}`;
      let bytes = bombCache.get(key);
      if (!bytes) {
        const base = layer.payload;
        const padding = fill === 'repeat' && base.length > 0
          ? Buffer.concat(Array.from({ length: Math.ceil(REPEAT_BOMB_BYTES / base.length) }, () => base)).subarray(0, REPEAT_BOMB_BYTES)
          : Buffer.alloc(BOMB_BYTES, fill === 'spaces' ? 0x20 : fill === 'newlines' ? 0x0a : 0);
        bytes = encode(Buffer.concat([base, padding]), codec);
        bombCache.set(key, bytes);
      }
      return { bytes, step: `${codec} bomb: payload + ${fill === 'repeat' ? REPEAT_BOMB_BYTES : BOMB_BYTES} bytes of ${fill} (${bytes.length} bytes compressed)` };
    }
    case 'zstd raw blocks': {
      const window = rng.pick([0x00, 0x58, 0x80, 0x88, 0x98, 0xa7]);
      const block = rng.pick([1, 3, 4096]);
      const data = payload.subarray(0, block === 1 ? 16 * 1024 : payload.length);
      return { bytes: zstdRawFrame(data, window, block), step: `zstd frame of ${block}-byte raw blocks, window descriptor ${hex(window)}` };
    }
  }
}

/**
 * One hostile input from `seeds`: 1-3 generic mutations of the whole input, or of a layer
 * (tar inside gzip, file inside tar) that is then put back, possibly re-wrapped in nested or
 * mismatched compression; now and then the whole input wrapped in compression.
 */
export function generate(seeds: readonly Seed[], dictionary: Dictionary, rng: Prng): Mutated {
  const seed = rng.pick(seeds);
  const steps = [`seed ${seed.name}`];
  const others = seeds.filter((s) => s !== seed).map((s) => s.bytes);
  let bytes: Buffer;
  const useLayer = seed.layers.length > 0 && rng.chance(0.45);
  if (useLayer) {
    const layer = rng.pick(seed.layers);
    steps.push(`layer ${layer.name}`);
    let payload = layer.payload;
    const rewrap = layer.codec !== undefined && rng.chance(0.25);
    const mutations = rewrap && rng.chance(0.5) ? 0 : rng.range(1, 3);
    for (let i = 0; i < mutations; i++) {
      const m = mutateOnce(payload, layer.structure, rng, dictionary, layer.text ?? false, []);
      payload = m.bytes;
      steps.push(m.step);
    }
    if (rewrap) {
      const wrapped = nest(payload, layer, seed.name, rng);
      steps.push(wrapped.step);
      bytes = layer.rebuild(wrapped.bytes);
    } else {
      bytes = layer.rebuild(layer.codec === undefined ? payload : encode(payload, layer.codec));
    }
  } else if (rng.chance(0.04)) {
    const whole: Layer = { name: 'whole input', payload: seed.bytes, structure: seed.structure, rebuild: (p) => p };
    const wrapped = nest(seed.bytes, whole, seed.name, rng);
    steps.push(wrapped.step);
    bytes = wrapped.bytes;
  } else {
    bytes = seed.bytes;
    const mutations = rng.chance(0.7) ? 1 : rng.range(2, 4);
    for (let i = 0; i < mutations; i++) {
      const m = mutateOnce(bytes, seed.structure, rng, dictionary, seed.text ?? false, others);
      bytes = m.bytes;
      steps.push(m.step);
    }
  }
  if (bytes.length > MAX_INPUT) {
    bytes = bytes.subarray(0, MAX_INPUT);
    steps.push(`cut to ${MAX_INPUT} bytes`);
  }
  return { bytes, steps };
}
