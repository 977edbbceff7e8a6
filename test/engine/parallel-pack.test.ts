import { describe, expect, it } from 'vitest';
import { decodeClasses, encodeClasses, packBuffers } from '../../src/engine/parallel';
import { Deb822Paragraph } from '../../src/formats/deb/deb822';

describe('packBuffers', () => {
  it('moves every Buffer of an entry into one transferred ArrayBuffer, and the entry arrives equal', () => {
    const big = Buffer.from('<package>'.repeat(1000));
    const make = () => ({
      key: 'Packages/a.rpm',
      xml: { primary: Buffer.from('<package/>'), filelists: big, other: Buffer.alloc(0) },
      list: [new Map<string, Deb822Paragraph | Buffer>([['p', Deb822Paragraph.of([['Package', 'hello']])], ['b', Buffer.from('in a map')]])],
    });
    const value = make();
    const marks = encodeClasses(value);
    const packed = packBuffers(value, marks)!;
    expect(packed.byteLength).toBe(10 + big.length + 0 + 8);
    const back = decodeClasses(structuredClone(value, { transfer: [packed] }), marks);
    expect(packed.byteLength).toBe(0); // transferred, not copied
    expect(back).toEqual(make());
    expect(Buffer.isBuffer(back.xml.filelists)).toBe(true);
    expect(Buffer.isBuffer(back.list[0].get('b'))).toBe(true);
    expect(back.list[0].get('p')).toBeInstanceOf(Deb822Paragraph);
    // all views of the one buffer that came over
    expect(back.xml.primary.buffer).toBe(back.xml.filelists.buffer);
  });

  it('has nothing to pack without Buffers', () => {
    const value = { key: 'k', when: new Date(1) };
    expect(packBuffers(value, encodeClasses(value))).toBeUndefined();
  });
});
