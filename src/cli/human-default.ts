import { Option } from 'commander';

/**
 * An option whose default --help shows as a user would type it (`10s`,
 * `1GiB`, `1Gbit`) rather than the number the code holds (commander prints
 * the value itself: 10000000000, 1073741824).
 */
export function humanDefault<T>(flags: string, description: string, parse: (text: string) => T, value: T, shown: string): Option {
  return new Option(flags, description).argParser(parse).default(value, shown);
}
