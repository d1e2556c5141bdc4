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
