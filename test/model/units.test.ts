// Checks that durations, sizes and bandwidths accept human units and give
// integers in ns, bytes and bytes per second, and that bad text is refused.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bandwidthInput, durationInput, formatCount, parseBandwidthBytesPerSec, parseDurationNs, parseSizeBytes, sizeInput, UnitError } from '../../src/model/units.js';

describe('units', () => {
  it.each([
    ['10s', 10e9],
    ['250ms', 250e6],
    ['1500us', 1.5e6],
    ['42', 42],
    ['1.5s', 1.5e9],
    ['2min', 120e9],
  ])('duration %s is %d ns', (text, ns) => expect(parseDurationNs(text)).toBe(ns));

  it.each([
    ['1GiB', 1024 ** 3],
    ['512MiB', 512 * 1024 ** 2],
    ['4096', 4096],
    ['1GB', 1e9],
    ['1g', 1024 ** 3],
  ])('size %s is %d bytes', (text, b) => expect(parseSizeBytes(text)).toBe(b));

  it.each([
    ['1Gbit', 125e6],
    ['10Gbit', 1.25e9],
    ['128MiB/s', 128 * 1024 ** 2],
  ])('bandwidth %s is %d bytes/s', (text, b) => expect(parseBandwidthBytesPerSec(text)).toBe(b));

  it.each(['', 'ten seconds', '10 parsecs', '-5s', '1e400s'])('%j is refused with a UnitError', (text) => {
    expect(() => parseDurationNs(text)).toThrow(UnitError);
  });
});

describe('values as a user would type them', () => {
  it.each([
    [10e9, '10s'],
    [300e6, '300ms'],
    [1500e3, '1500us'],
    [120e9, '2min'],
    [7, '7ns'],
  ])('%d ns is %s, read back exactly', (ns, text) => {
    expect(durationInput(ns)).toBe(text);
    expect(parseDurationNs(text)).toBe(ns);
  });

  it.each([
    [1024 ** 3, '1GiB'],
    [256 * 1024 ** 2, '256MiB'],
    [4096, '4KiB'],
    [1000, '1000B'],
  ])('%d bytes is %s, read back exactly', (bytes, text) => {
    expect(sizeInput(bytes)).toBe(text);
    expect(parseSizeBytes(text)).toBe(bytes);
  });

  it.each([
    [125e6, '1Gbit'],
    [128 * 1024 ** 2, '128MiB/s'],
    [12.5e6, '100Mbit'],
    [1000, '1000B/s'],
  ])('%d bytes/s is %s, read back exactly', (bps, text) => {
    expect(bandwidthInput(bps)).toBe(text);
    expect(parseBandwidthBytesPerSec(text)).toBe(bps);
  });
});

describe('counts', () => {
  // formatCount groups digits itself (toLocaleString's first call loads
  // ICU's number formats, a tenth of the CLI's start-up): the text must
  // stay exactly what toLocaleString('en-US') prints.
  it("formatCount prints what toLocaleString('en-US') prints, for every count", () => {
    const same = (n: number) => {
      expect(formatCount(n)).toBe(Math.round(n).toLocaleString('en-US'));
    };
    for (const n of [0, -0, 0.4, -0.4, 0.5, 999, 1000, -1000, 999_999, 1_000_000, 2 ** 53 - 1, 2 ** 53, 1e21, NaN, Infinity, -Infinity]) same(n);
    fc.assert(fc.property(fc.double({ min: -1e17, max: 1e17, noNaN: true }), (n) => same(n)));
    fc.assert(fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 }), (n) => same(n)));
  });
});
