/**
 * Human units for durations, sizes and bandwidths (10s, 250ms, 1GiB, 1Gbit).
 * Results are integers: nanoseconds, bytes, bytes per second.
 */
export class UnitError extends Error {
  override readonly name = 'UnitError';
}

const DURATION_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  min: 60e9,
  h: 3600e9,
};

const SIZE_BYTES: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};

/** Bandwidths in bits per second, as links are sold; bytes too (MiB/s). */
const BANDWIDTH_BYTES_PER_SEC: Record<string, number> = {
  bit: 1 / 8,
  kbit: 1e3 / 8,
  mbit: 1e6 / 8,
  gbit: 1e9 / 8,
  'b/s': 1,
  'kb/s': 1e3,
  'mb/s': 1e6,
  'gb/s': 1e9,
  'kib/s': 1024,
  'mib/s': 1024 ** 2,
  'gib/s': 1024 ** 3,
};

const NUMBER_AND_UNIT = /^\s*([0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)\s*([a-zµ/]*)\s*$/i;

function split(text: string, what: string): [number, string] {
  const m = NUMBER_AND_UNIT.exec(text);
  if (!m) throw new UnitError(`not a ${what}: '${text}'`);
  return [Number(m[1]), m[2]!.toLowerCase()];
}

export function parseDurationNs(text: string): number {
  const [n, unit] = split(text, 'duration (try 10s, 250ms, 1500us)');
  const scale = DURATION_NS[unit === '' ? 'ns' : unit];
  if (scale === undefined) throw new UnitError(`unknown duration unit '${unit}' in '${text}' (use ns, us, ms, s, min, h)`);
  return toInteger(n * scale, text);
}

export function parseSizeBytes(text: string): number {
  const [n, unit] = split(text, 'size (try 1GiB, 512MiB, 4096)');
  const scale = SIZE_BYTES[unit];
  if (scale === undefined) throw new UnitError(`unknown size unit '${unit}' in '${text}' (use B, KiB, MiB, GiB, or KB, MB, GB)`);
  return toInteger(n * scale, text);
}

export function parseBandwidthBytesPerSec(text: string): number {
  const [n, unit] = split(text, 'bandwidth (try 1Gbit, 128MiB/s)');
  const scale = BANDWIDTH_BYTES_PER_SEC[unit === '' ? 'b/s' : unit];
  if (scale === undefined) throw new UnitError(`unknown bandwidth unit '${unit}' in '${text}' (use bit, Mbit, Gbit, or MB/s, MiB/s)`);
  return toInteger(n * scale, text);
}

/** A plain number, allowing 1e6 and 1_000_000 forms. */
export function parseNumber(text: string): number {
  const n = Number(text.replace(/_/g, ''));
  if (text.trim() === '' || !Number.isFinite(n)) throw new UnitError(`not a number: '${text}'`);
  return n;
}

function toInteger(x: number, text: string): number {
  const r = Math.round(x);
  if (!Number.isSafeInteger(r)) throw new UnitError(`value out of range: '${text}'`);
  return r;
}

/** A count with thousands separators (rounded to an integer): 1,234,567. */
export function formatCount(n: number): string {
  const r = Math.round(n);
  // The same text as r.toLocaleString('en-US'), whose first call loads ICU's
  // number formats (about 20 ms, a tenth of `migsim --help`); the rare
  // value this does not cover (-0, beyond 2^53, not finite) still goes there.
  if (!Number.isSafeInteger(r) || Object.is(r, -0)) return r.toLocaleString('en-US');
  const digits = String(Math.abs(r));
  let out = digits.slice(0, ((digits.length - 1) % 3) + 1);
  for (let i = out.length; i < digits.length; i += 3) out += ',' + digits.slice(i, i + 3);
  return r < 0 ? '-' + out : out;
}

export function formatDurationNs(ns: number): string {
  if (ns >= 1e9) return `${(ns / 1e9).toFixed(3)} s`;
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(3)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(3)} us`;
  return `${ns} ns`;
}

/**
 * A formatter that writes every duration in the unit `formatDurationNs`
 * would pick for `largestNs`: the figures of one row (a downtime and its
 * parts) then read in one unit.
 */
export function durationFormatterFor(largestNs: number): (ns: number) => string {
  const [scale, unit] = largestNs >= 1e9 ? [1e9, 's'] : largestNs >= 1e6 ? [1e6, 'ms'] : largestNs >= 1e3 ? [1e3, 'us'] : [1, 'ns'];
  return (ns) => (scale === 1 ? `${Math.round(ns)} ns` : `${(ns / scale).toFixed(3)} ${unit}`);
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${bytes} B` : `${v.toFixed(2)} ${units[u]}`;
}

/**
 * The shortest text a user would type for a value, which the matching
 * parser reads back exactly: `10s`, `1GiB`, `1Gbit`, `128MiB/s`. For
 * defaults shown in --help and values named in messages, where
 * 10000000000 or 1073741824 would have to be counted out.
 */
export function durationInput(ns: number): string {
  return inputForm(ns, [
    ['h', 3600e9],
    ['min', 60e9],
    ['s', 1e9],
    ['ms', 1e6],
    ['us', 1e3],
    ['ns', 1],
  ]);
}

export function sizeInput(bytes: number): string {
  return inputForm(bytes, [
    ['TiB', 1024 ** 4],
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
    ['B', 1],
  ]);
}

/** Links are sold in bits per second: Gbit or Mbit when the rate is a whole number of them, else binary bytes. */
export function bandwidthInput(bytesPerSec: number): string {
  return inputForm(bytesPerSec, [
    ['Gbit', 1e9 / 8],
    ['Mbit', 1e6 / 8],
    ['GiB/s', 1024 ** 3],
    ['MiB/s', 1024 ** 2],
    ['KiB/s', 1024],
    ['B/s', 1],
  ]);
}

/** In the largest unit the value is a whole number of (the last unit is 1, so one always fits). */
function inputForm(value: number, units: readonly (readonly [string, number])[]): string {
  for (const [unit, scale] of units) {
    const n = value / scale;
    if (n >= 1 && Number.isInteger(n)) return `${n}${unit}`;
  }
  return `${value}${units[units.length - 1]![0]}`;
}
