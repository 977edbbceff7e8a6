/**
 * Deterministic pseudo-random data for the synthetic packages: the same seed gives the same
 * packages, byte for byte, on every machine.
 */
import { createCipheriv, createHash } from 'node:crypto';

/** A seeded generator (mulberry32): fast, and good enough to vary synthetic packages. */
export class Random {
  private state: number;

  constructor(...seeds: Array<number | string>) {
    this.state = createHash('sha256').update(seeds.join('\0')).digest().readUInt32LE(0);
  }

  /** A float in [0, 1). */
  public next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  public int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** An integer in [min, max], spread evenly on a log scale (small values are common). */
  public logInt(min: number, max: number): number {
    return Math.round(Math.exp(Math.log(min) + this.next() * (Math.log(max) - Math.log(min))));
  }

  public chance(p: number): boolean {
    return this.next() < p;
  }

  public pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** `count` words of the word list, space-separated. */
  public words(count: number): string {
    const out: string[] = [];
    for (let i = 0; i < count; i++) out.push(this.pick(WORDS));
    return out.join(' ');
  }

  /** `length` incompressible bytes (AES-CTR keystream keyed by this generator). */
  public bytes(length: number): Buffer {
    const key = Buffer.alloc(16);
    for (let i = 0; i < 16; i += 4) key.writeUInt32LE(this.int(0, 0xffffffff), i);
    return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(length));
  }
}

/** Words of the synthetic names, descriptions and file contents. */
export const WORDS: readonly string[] = (
  'able access account active adapter address agent alpha archive array async audit backend '
  + 'balance batch binary bind block bridge buffer build bundle cache call canvas capture cert '
  + 'channel check client cluster codec color column command commit compile config connect '
  + 'console context control convert core cursor daemon data debug decode delta device digest '
  + 'direct disk dispatch display domain driver dump edit engine entry event export extract '
  + 'feature fetch field filter flag flow font format frame gateway graph group handle hash '
  + 'header helper host image import index input inspect kernel key label layer layout library '
  + 'limit link list loader local lock log loop macro manager map marker matrix media memory '
  + 'merge message meta metric mirror mode module monitor mount network node notify object '
  + 'option output package pager panel parse patch path peer pipe plugin pointer policy pool '
  + 'port portal print probe process profile protocol proxy query queue quota range reader '
  + 'record redirect region registry relay remote render report request resolve resource '
  + 'restore route rule runtime sample scale schema scope screen script search secret sector '
  + 'secure select sensor server service session shell signal socket source spool stack state '
  + 'status storage stream string switch symbol sync system table target task template terminal '
  + 'test text thread timer token tool trace track transfer tree trigger tunnel update upload '
  + 'user utility value vector verify version view volume watch widget window worker writer zone'
).split(' ');
