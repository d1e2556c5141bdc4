import { InvalidArgumentError } from 'commander';
import { parseBandwidthBytesPerSec, parseDurationNs, parseNumber, parseSizeBytes, UnitError } from '../model/units.js';
import { GUEST_TYPES, type GuestType, PAGING_MODES, type PagingMode } from '../model/paging.js';

/** Commander argument parsers: each turns text into a checked value or a clear message. */
function wrap<T>(fn: (s: string) => T): (s: string) => T {
  return (s) => {
    try {
      return fn(s);
    } catch (e) {
      if (e instanceof UnitError) throw new InvalidArgumentError(e.message);
      throw e;
    }
  };
}

/**
 * A duration with its unit, above zero: `10` alone would be 10 ns, which is
 * never what was meant, and a zero-length run or round is no run at all.
 */
export const durationOption = wrap((s: string) => {
  const ns = parseDurationNs(s);
  if (/^\s*[0-9.e+-]+\s*$/i.test(s)) throw new InvalidArgumentError(`'${s}' has no unit: write 10s, 250ms or 1500us`);
  if (ns <= 0) throw new InvalidArgumentError(`must be above zero, got '${s}'`);
  return ns;
});

/** A point in time with its unit (0 alone is allowed: the start). */
export const timeOption = wrap((s: string) => {
  const ns = parseDurationNs(s);
  if (ns !== 0 && /^\s*[0-9.e+-]+\s*$/i.test(s)) throw new InvalidArgumentError(`'${s}' has no unit: write 10s, 250ms or 1500us`);
  return ns;
});
export const sizeOption = wrap(parseSizeBytes);

export const seedOption = wrap((s: string) => {
  const n = parseNumber(s);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`seed must be a non-negative integer, got '${s}'`);
  return n;
});

export const positiveIntOption = wrap((s: string) => {
  const n = parseNumber(s);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got '${s}'`);
  return n;
});

/** A whole percentage from 1 to 99 (QEMU's throttle parameters' range). */
export const percentOption = wrap((s: string) => {
  const n = parseNumber(s);
  if (!Number.isInteger(n) || n < 1 || n > 99) throw new InvalidArgumentError(`expected a whole percentage from 1 to 99, got '${s}'`);
  return n;
});

/**
 * A positive number. A text that is not a number is the UnitError of
 * parseNumber, reported by main as one line; only the sign is checked here.
 */
export function positiveNumberOption(s: string): number {
  const n = parseNumber(s);
  if (!(n > 0)) throw new InvalidArgumentError(`expected a positive number, got '${s}'`);
  return n;
}

export const bandwidthOption = wrap((s: string) => {
  const v = parseBandwidthBytesPerSec(s);
  if (v <= 0) throw new InvalidArgumentError('bandwidth must be positive');
  return v;
});

export function choiceOption<T extends string>(what: string, choices: readonly T[]): (s: string) => T {
  return (s) => {
    if (!(choices as readonly string[]).includes(s)) throw new InvalidArgumentError(`${what} must be one of ${choices.join(', ')}`);
    return s as T;
  };
}

export function guestOption(s: string): GuestType {
  if (!(GUEST_TYPES as readonly string[]).includes(s)) throw new InvalidArgumentError(`guest must be ${GUEST_TYPES.join(' or ')}`);
  return s as GuestType;
}

export function pagingOption(s: string): PagingMode {
  if (!(PAGING_MODES as readonly string[]).includes(s)) throw new InvalidArgumentError(`paging must be ${PAGING_MODES.join(' or ')}`);
  return s as PagingMode;
}

/** Collects repeated `--set key=value` into a record. */
export function collectSetting(s: string, acc: Record<string, string> = {}): Record<string, string> {
  const eq = s.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got '${s}'`);
  return { ...acc, [s.slice(0, eq)]: s.slice(eq + 1) };
}
