import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { PackageFormatError } from '../../../src/formats/errors';
import { buildRpm } from '../../../src/formats/rpm/build-rpm';
import { encodeHeader, type HeaderEntry } from '../../../src/formats/rpm/header';
import { parseRpm, RPM_LEAD_SIZE, rpmHeaderSpan } from '../../../src/formats/rpm/rpm-file';
import { RegionTag, RpmTagType, Tag } from '../../../src/formats/rpm/tags';
import { buildRpmFixtures, rpmFileInfo } from '../../support/rpm-fixtures';

const INFO = { href: 'x.rpm', size: 1, mtime: 0, sha256: '00' };

/** Runs `fn`; returns its PackageFormatError, undefined when it succeeds, rethrows anything else. */
function outcome(fn: () => unknown): PackageFormatError | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    if (e instanceof PackageFormatError) return e;
    throw e;
  }
}

/** A package with the given main header entries (and a proper lead and signature header). */
function packageWithMain(entries: HeaderEntry[]): Uint8Array {
  const main = encodeHeader(entries, { region: RegionTag.HEADERIMMUTABLE });
  const sig = encodeHeader([{ tag: 1000, value: { type: RpmTagType.INT32, values: [main.length] } }], { region: RegionTag.HEADERSIGNATURES });
  const lead = new Uint8Array(RPM_LEAD_SIZE);
  lead.set([0xed, 0xab, 0xee, 0xdb, 3, 0]);
  return Buffer.concat([lead, sig, new Uint8Array((8 - (sig.length % 8)) % 8), main]);
}

const str = (tag: number, value: string): HeaderEntry => ({ tag, value: { type: RpmTagType.STRING, value } });
const strs = (tag: number, values: string[]): HeaderEntry => ({ tag, value: { type: RpmTagType.STRING_ARRAY, values } });
const int32 = (tag: number, values: number[]): HeaderEntry => ({ tag, value: { type: RpmTagType.INT32, values } });

describe('parseRpm on broken packages: always a PackageFormatError', () => {
  let real: Buffer;
  let span: number;

  beforeAll(async () => {
    const fx = await buildRpmFixtures();
    real = (await rpmFileInfo(fx.files[0])).bytes;
    span = rpmHeaderSpan(real)!;
  });

  it('truncated at every offset up to the end of the headers', () => {
    const cuts = new Set<number>();
    for (let i = 0; i < 400; i++) cuts.add(i);
    for (let i = 400; i < span; i += 7) cuts.add(i);
    cuts.add(span - 1);
    for (const cut of cuts) {
      const err = outcome(() => parseRpm(real.subarray(0, cut), INFO));
      expect(err, `cut at ${cut}`).toBeInstanceOf(PackageFormatError);
      expect(err!.message).toMatch(/truncated/);
      expect(outcome(() => rpmHeaderSpan(real.subarray(0, cut)))).toBeUndefined();
    }
    expect(outcome(() => parseRpm(real.subarray(0, span), INFO))).toBeUndefined();
  });

  it('zero bytes and bad magic', () => {
    expect(outcome(() => parseRpm(new Uint8Array(5000), INFO))!.message).toMatch(/bad lead magic 00000000/);
    const leadOnly = Buffer.concat([real.subarray(0, RPM_LEAD_SIZE), new Uint8Array(5000)]);
    expect(outcome(() => parseRpm(leadOnly, INFO))!.message).toMatch(/bad signature header magic at offset 96/);
    const badMain = Buffer.from(real);
    badMain.writeUInt8(0x00, rpmMainStart(real));
    expect(outcome(() => parseRpm(badMain, INFO))!.message).toMatch(/bad main header magic/);
    expect(() => rpmHeaderSpan(new TextEncoder().encode('PK\x03\x04 a zip file'))).toThrow(/not an rpm package: bad lead magic 504b0304/);
  });

  it('absurd sizes in either header', () => {
    const sigCount = Buffer.from(real);
    sigCount.writeUInt32BE(0x7fffffff, RPM_LEAD_SIZE + 8);
    expect(outcome(() => parseRpm(sigCount, INFO))!.message).toMatch(/signature header at offset 96 has 2147483647 entries/);
    const mainData = Buffer.from(real);
    mainData.writeUInt32BE(0xffffffff, rpmMainStart(real) + 12);
    expect(outcome(() => parseRpm(mainData, INFO))!.message).toMatch(/main header at offset \d+ has a data store of 4294967295 bytes/);
    expect(() => rpmHeaderSpan(mainData)).toThrow(PackageFormatError);
  });

  it('random bytes, with and without a valid lead', () => {
    for (let i = 0; i < 500; i++) {
      const junk = randomBytes(Math.floor(Math.random() * 3000));
      expect(outcome(() => parseRpm(junk, INFO))).toBeInstanceOf(PackageFormatError);
      const leadAndJunk = Buffer.concat([real.subarray(0, RPM_LEAD_SIZE + 8), junk]);
      expect(outcome(() => parseRpm(leadAndJunk, INFO))).toBeInstanceOf(PackageFormatError);
    }
  });

  it('random corruption of real headers: parsed or PackageFormatError, nothing else, quickly', () => {
    const started = Date.now();
    for (let i = 0; i < 3000; i++) {
      const bad = Buffer.from(real.subarray(0, span));
      for (let k = 0; k < 1 + (i % 4); k++) {
        const at = Math.floor(Math.random() * span);
        bad[at] = i % 3 === 0 ? 0xff : Math.floor(Math.random() * 256);
      }
      outcome(() => parseRpm(bad, INFO));
    }
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it.each([
    ['no NAME', [str(Tag.VERSION, '1')], /main header has no NAME/],
    ['NAME of the wrong type', [int32(Tag.NAME, [1])], /tag 1000 should be a string, has type 4/],
    ['dependency flags of the wrong type', [str(Tag.NAME, 'x'), strs(Tag.REQUIREFLAGS, ['a']), strs(Tag.REQUIRENAME, ['a']), strs(Tag.REQUIREVERSION, [''])], /tag 1048 should be an integer/],
    ['directory index out of range', [
      str(Tag.NAME, 'x'), strs(Tag.BASENAMES, ['a']), strs(Tag.DIRNAMES, ['/']), int32(Tag.DIRINDEXES, [7]),
      int32(Tag.FILEFLAGS, [0]), { tag: Tag.FILEMODES, value: { type: RpmTagType.INT16, values: [0o100644] } },
    ], /file 0 \(a\) has directory index 7, but there are 1 directories/],
  ] as Array<[string, HeaderEntry[], RegExp]>)('malformed main header: %s', (_name, entries, message) => {
    expect(outcome(() => parseRpm(packageWithMain(entries), INFO))!.message).toMatch(message);
  });

  it('a minimal header parses with defaults (epoch 0, empty strings)', () => {
    const p = parseRpm(packageWithMain([str(Tag.NAME, 'bare'), str(Tag.VERSION, '1'), str(Tag.RELEASE, '1'), str(Tag.ARCH, 'noarch')]), INFO);
    expect(p).toMatchObject({ name: 'bare', epoch: '0', summary: '', files: [], changelogs: [], size: { installed: 0, archive: 0 } });
  });

  it('builder output round-trips through the same checks', () => {
    const rpm = buildRpm({ name: 'b', version: '1', release: '1', summary: 's' });
    expect(parseRpm(rpm, INFO).name).toBe('b');
  });
});

function rpmMainStart(bytes: Uint8Array): number {
  const v = new DataView(bytes.buffer, bytes.byteOffset);
  const sigLen = 16 + 16 * v.getUint32(RPM_LEAD_SIZE + 8) + v.getUint32(RPM_LEAD_SIZE + 12);
  return RPM_LEAD_SIZE + Math.ceil(sigLen / 8) * 8;
}
