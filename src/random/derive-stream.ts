import { Xoshiro128 } from './xoshiro128.js';

/**
 * One generator per component, derived from the run's seed and the
 * component's name, so adding a component never shifts another's stream.
 * Seeding mixes with SplitMix32-style finalisers (integer only, exact).
 */
export function deriveStream(seed: number, name: string): Xoshiro128 {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative integer, got ${seed}`);
  let h = 0x811c9dc5; // FNV-1a over the name
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  let x = mix(lo ^ mix(hi ^ 0x9e3779b9) ^ mix(h));
  const s: number[] = [];
  for (let i = 0; i < 4; i++) {
    x = (x + 0x9e3779b9) | 0;
    s.push(mix(x ^ h));
  }
  return new Xoshiro128(s[0]!, s[1]!, s[2]!, s[3]!);
}

function mix(z: number): number {
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) | 0;
}
