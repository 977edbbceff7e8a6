import { describe, expect, it } from 'vitest';
import { decodeHeader, decodeText, indexHeader, type TextDecode } from '../../../src/formats/rpm/header';
import { RpmTagType } from '../../../src/formats/rpm/tags';

const BOM = '\ufeff';

/** A header whose entry 1000 is a STRING_ARRAY of exactly these bytes per string (NUL-terminated). */
function stringArrayHeader(strings: readonly Uint8Array[]): Uint8Array {
  const store = Buffer.concat(strings.flatMap((s) => [Buffer.from(s), Buffer.of(0)]));
  const out = Buffer.alloc(16 + 16 + store.length);
  out.set([0x8e, 0xad, 0xe8, 0x01], 0);
  out.writeUInt32BE(1, 8);
  out.writeUInt32BE(store.length, 12);
  out.writeUInt32BE(1000, 16);
  out.writeUInt32BE(RpmTagType.STRING_ARRAY, 20);
  out.writeUInt32BE(0, 24);
  out.writeUInt32BE(strings.length, 28);
  out.set(store, 32);
  return out;
}

function arrayOf(bytes: Uint8Array, text?: TextDecode): readonly string[] {
  const value = decodeHeader(bytes, 0, undefined, text ? { text } : {}).entries.get(1000);
  if (value?.type !== RpmTagType.STRING_ARRAY) throw new Error('no string array');
  return value.values;
}

describe('header string arrays', () => {
  it('decodes an array of UTF-8 strings as each string on its own, empty ones and BOMs kept', () => {
    const strings = ['/usr/bin/ls', '', 'ünïcode 日本', `${BOM}second`, 'a\u0001b'].map((s) => Buffer.from(s, 'utf8'));
    expect(arrayOf(stringArrayHeader(strings))).toEqual(['/usr/bin/ls', '', 'ünïcode 日本', `${BOM}second`, 'a\u0001b']);
  });

  it('keeps a BOM at the start of the first string too', () => {
    expect(arrayOf(stringArrayHeader([Buffer.from(`${BOM}x`, 'utf8'), Buffer.from('y')]))).toEqual([`${BOM}x`, 'y']);
  });

  it('decodes every string through `text` when one of them is not UTF-8, the valid ones as UTF-8', () => {
    const latin1 = Buffer.from('caf\xe9', 'latin1');
    const seen: string[] = [];
    const text: TextDecode = (b) => {
      const s = decodeText(b);
      seen.push(s);
      return s;
    };
    const strings = [Buffer.from('ü', 'utf8'), latin1, Buffer.from('plain')];
    expect(arrayOf(stringArrayHeader(strings), text)).toEqual(['ü', 'café', 'plain']);
    expect(seen).toEqual(['ü', 'café', 'plain']);
  });

  it('decodes the same values on demand (indexHeader) as all at once (decodeHeader)', () => {
    const bytes = stringArrayHeader(['a', 'bb', '', 'ccc'].map((s) => Buffer.from(s)));
    expect(indexHeader(bytes, 0).get(1000)).toEqual(decodeHeader(bytes, 0).entries.get(1000));
  });
});
