/** Human number formatting for tables: fixed decimals, percentages, rates (counts: formatCount in model/units). */
export function fmtFixed(n: number, digits: number): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function fmtPercent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}

export function fmtRate(perSec: number): string {
  if (perSec >= 1e6) return `${fmtFixed(perSec / 1e6, 1)} M`;
  if (perSec >= 1e3) return `${fmtFixed(perSec / 1e3, 1)} k`;
  return fmtFixed(perSec, 1);
}

/**
 * A formatter that writes every byte count in the unit `formatBytes` would
 * pick for `largest`: the values of one row (a figure across trackers)
 * then read in one unit, as durationFormatterFor does for times.
 */
export function bytesFormatterFor(largest: number): (bytes: number) => string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  while (largest >= 1024 ** (u + 1) && u < units.length - 1) u++;
  return (bytes) => (u === 0 ? `${Math.round(bytes)} B` : `${(bytes / 1024 ** u).toFixed(2)} ${units[u]}`);
}

/** Throughput as QEMU's `mbps` reads: megabits (10^6 bits) per second, one decimal. */
export function fmtMbitPerSec(bitsPerSec: number): string {
  return `${fmtFixed(bitsPerSec / 1e6, 1)} Mbit/s`;
}
