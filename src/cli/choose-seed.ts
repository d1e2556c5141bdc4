import { randomInt } from 'node:crypto';

/** The seed a command uses: the one given, or a fresh one from the OS. */
export function chooseSeed(given: number | undefined): number {
  return given ?? randomInt(0, 2 ** 32);
}
