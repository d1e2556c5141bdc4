import { MAX_FRAMES, NARROW_FRAMES } from './pte.js';
import type { GuestType, PagingMode } from './paging.js';
import { sizeInput } from './units.js';

/**
 * The guest machine a workload or an imported capture runs on, its
 * defaults and its checks. Part of the model, not of src/api: the
 * importers check the guest they boot too, and src/import must not depend
 * on src/api (which imports it).
 */

/** The machine a workload runs on, as `record`, `run`, `compare` and `import` take it. */
export interface GuestOptions {
  readonly memBytes: number;
  readonly vcpus: number;
  readonly guest: GuestType;
  readonly paging: PagingMode;
}

export const DEFAULT_GUEST: GuestOptions = {
  memBytes: 1024 ** 3,
  vcpus: 2,
  guest: 'hvm',
  paging: 'x86-64',
};

export const PAGE_BYTES = 4096;
export const DEFAULT_DURATION_NS = 10e9;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Checks a guest configuration and returns its size in 4 KiB frames. */
export function guestMemPages(g: GuestOptions): number {
  // Sizes in messages are as a user types them (1GiB, 4KiB), not in pages.
  if (!Number.isSafeInteger(g.memBytes) || g.memBytes < PAGE_BYTES * 64) {
    throw new ConfigError(`guest memory of ${sizeInput(g.memBytes)} (--mem) is too small: give at least ${sizeInput(PAGE_BYTES * 64)}`);
  }
  if (g.memBytes % PAGE_BYTES !== 0) {
    throw new ConfigError(`guest memory of ${sizeInput(g.memBytes)} (--mem) is not a whole number of 4 KiB pages: give a multiple of 4KiB, such as ${sizeInput(Math.ceil(g.memBytes / PAGE_BYTES) * PAGE_BYTES)}`);
  }
  const pages = g.memBytes / PAGE_BYTES;
  const limit = maxGuestPages(g.guest);
  if (pages > limit) throw new ConfigError(`guest memory of ${sizeInput(g.memBytes)} (--mem) exceeds what the model's PTE holds for ${g.guest.toUpperCase()} guests: give at most ${sizeInput(limit * PAGE_BYTES)}`);
  if (g.paging === 'pae' && pages > 1 << 24) throw new ConfigError('a PAE guest has at most 64 GiB');
  if (!Number.isInteger(g.vcpus) || g.vcpus < 1 || g.vcpus > 512) throw new ConfigError(`vcpus must be between 1 and 512, got ${g.vcpus}`);
  return pages;
}

/**
 * The most pages a guest of this type may have: every frame a PTE names must
 * fit the PTE's frame field (src/model/pte.ts). HVM: 2^30 frames, 4 TiB,
 * those above 64 GiB with their high word. PV: its PTEs name host frames,
 * which the model gives twice the guest's (src/model/p2m-map.ts), and stay
 * in the Int32 (the PV paths, canonicalisation among them, read one word):
 * 32 GiB.
 */
export function maxGuestPages(guest: GuestType): number {
  return guest === 'pv' ? NARROW_FRAMES / 2 : MAX_FRAMES;
}
