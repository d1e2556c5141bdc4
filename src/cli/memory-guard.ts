import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tap } from '../util/rx.js';
import type { GuestSource } from '../api/guest-source.js';
import { formatBytes } from '../model/units.js';
import type { CliContext } from './cli-io.js';

/**
 * A run whose state grows past the machine's memory stopped by migsim, with
 * one line that says so and exit 2, before the kernel's OOM killer ends
 * it with SIGKILL and nothing said. Measured: the muncher maps all of its
 * guest's memory by default, and every mapped page costs its page tables
 * (the guest kernel's and the MMU's, about 26 bytes a page with the
 * growth of their arrays) on top of about 10 bytes a guest page: `run
 * muncher --mem 4TiB` was killed at 24 GB after 433 s on this 24 GiB
 * machine; with the guard it stops after 231 s at 21.2 GiB, exit 2.
 *
 * The process's resident memory is read after each batch of guest events
 * (3.4 us a read, against milliseconds a batch) and, once past 1 GiB,
 * held to a share of the memory the process may have: the machine's, or
 * its control group's limit where that is lower.
 */
export class MemoryGuard {
  private machine: MachineMemory | undefined;

  constructor(
    /** The limit and the memory the process may have, asked at the first check past `floorBytes`. */
    private readonly machineOf: () => MachineMemory,
    private readonly rss: () => number = () => process.memoryUsage.rss(),
    /** Below this, no limit is asked for: a run that small loads nothing for the guard (node:os). */
    private readonly floorBytes = FLOOR_BYTES,
  ) {}

  /** Throws MemoryLimitError when the process holds more than the limit; `guestNs` of `durationNs` says how far the run got. */
  check(guestNs: number, durationNs: number): void {
    const held = this.rss();
    if (held <= this.floorBytes) return;
    const m = (this.machine ??= this.machineOf());
    if (held <= m.limitBytes) return;
    const share = Math.min(100, Math.floor((100 * guestNs) / Math.max(durationNs, 1)));
    throw new MemoryLimitError(
      `stopped at ${share}% of the guest's time: migsim holds ${formatBytes(held)}, more than ${Math.round(100 * GUARD_SHARE)}% of the ${formatBytes(m.machineBytes)} this machine gives it, and the run would go on growing until the system killed it. A guest keeps about 10 bytes a page, and a workload that maps its memory needs page tables for each page it maps, about 26 bytes more: lower --mem, or map less (muncher: --set wss=SIZE)`,
    );
  }
}

/** Resident bytes at which a run is stopped, and the memory the process may have. */
export interface MachineMemory {
  readonly limitBytes: number;
  readonly machineBytes: number;
}

/** Resident bytes below which the guard asks nothing: every run of the built-in defaults stays below. */
const FLOOR_BYTES = 1024 ** 3;

/** The run's state outgrew the machine (MemoryGuard): the user's to fix with a smaller guest. */
export class MemoryLimitError extends RangeError {
  override readonly name = 'MemoryLimitError';
}

/** The share of the machine's memory a run may hold. */
const GUARD_SHARE = 0.9;

/** GUARD_SHARE of the memory this process may have: the machine's, or its control group's limit (v2, then v1) where lower. */
function machineMemory(): MachineMemory {
  const { totalmem } = createRequire(import.meta.url)('node:os') as typeof import('node:os');
  const machineBytes = Math.min(totalmem(), cgroupLimit() ?? Infinity);
  return { limitBytes: GUARD_SHARE * machineBytes, machineBytes };
}

function cgroupLimit(): number | undefined {
  for (const file of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    try {
      const n = Number(readFileSync(file, 'utf8').trim());
      // "max", or v1's "no limit" (a page-rounded 2^63).
      if (Number.isFinite(n) && n > 0 && n < 2 ** 62) return n;
    } catch {
      // Not this version of control groups, or none.
    }
  }
  return undefined;
}

/** The guard a command runs under: the machine's, or the limit a test gave its CliIo. */
export function memoryGuardOf(ctx: CliContext): MemoryGuard {
  const limit = ctx.io.memoryLimitBytes;
  if (limit === undefined) return new MemoryGuard(machineMemory);
  return new MemoryGuard(() => ({ limitBytes: limit, machineBytes: limit / GUARD_SHARE }), undefined, Math.min(FLOOR_BYTES, limit));
}

/** The source with the guard checked after each batch of its guest events. */
export function guardedSource(source: GuestSource, guard: MemoryGuard): GuestSource {
  const durationNs = source.header.workload.durationNs;
  return { ...source, events: () => source.events().pipe(tap((b) => guard.check(b.endNs, durationNs))) };
}
