import { expect } from 'vitest';

/**
 * Checks what an api's `onProgress` was told: some reports, each a share
 * between 0 and 1, never going back, the last at least `lastAtLeast` (a
 * trace reader's last report is the end of its last chunk, just short of
 * the footer).
 */
export function expectRisingShares(fractions: readonly number[], lastAtLeast: number): void {
  expect(fractions.length).toBeGreaterThan(0);
  for (const [i, f] of fractions.entries()) {
    expect(f).toBeGreaterThanOrEqual(i === 0 ? 0 : fractions[i - 1]!);
    expect(f).toBeLessThanOrEqual(1);
  }
  expect(fractions.at(-1)!).toBeGreaterThanOrEqual(lastAtLeast);
}
