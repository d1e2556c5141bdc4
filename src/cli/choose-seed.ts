import { createRequire } from 'node:module';

/**
 * The seed a command uses: the one given, or a fresh one from the OS.
 * node:crypto (about 4 ms to load: it initialises OpenSSL) only when none
 * is given.
 */
export function chooseSeed(given: number | undefined): number {
  if (given !== undefined) return given;
  const { randomInt } = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  return randomInt(0, 2 ** 32);
}
