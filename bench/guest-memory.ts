/**
 * A run's memory, measured as a user meets it: one migration of a muncher
 * guest in a process of its own (node, the built dist), whose peak resident
 * set it prints when it is done: VmHWM from /proc/self/status, the high-water
 * mark of the process's own memory. ru_maxrss (process.resourceUsage) is
 * kept across fork and exec on Linux, so a child of a large parent (the
 * bench after its sweep) reported the parent's peak; it stays the fallback
 * where /proc is missing. The benchmark's bytes per guest page and the 1 TiB test
 * (test/scale/huge-guest.test.ts) both come from here.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** What the child runs: a muncher guest migrated from 0.5 s on. */
export interface GuestMemoryRun {
  readonly memBytes: number;
  readonly tracker: 'hap' | 'pml' | 'shadow';
  readonly policy: 'xen' | 'qemu';
  /** The muncher's working set in bytes (the rest of memory is page cache its disk filled, or zero pages). */
  readonly wssBytes: number;
  /** The muncher's zero fraction: memory never written. */
  readonly zero: number;
  readonly durationNs?: number;
}

export interface GuestMemoryResult {
  readonly maxRssBytes: number;
  /** Where the peak came from: the child's own VmHWM, or ru_maxrss where /proc is missing (then a large parent's peak can show through). */
  readonly rssSource: 'VmHWM' | 'ru_maxrss';
  readonly seconds: number;
  readonly outcome: string;
  readonly guestPages: number;
  readonly guestEvents: number;
  readonly pagesSent: number;
  readonly lostPages: number;
}

/** The checkout: this file runs as dist/bench/guest-memory.js (the bench) or bench/guest-memory.ts (a test). */
const ROOT = import.meta.dirname.endsWith(join('dist', 'bench')) ? join(import.meta.dirname, '..', '..') : join(import.meta.dirname, '..');
/** The built library (npm run build, or npx tsc -p tsconfig.json). */
const BUILT_INDEX = join(ROOT, 'dist', 'src', 'index.js');

export function measureGuestMemory(run: GuestMemoryRun): GuestMemoryResult {
  const index = BUILT_INDEX;
  if (!existsSync(index)) throw new Error(`the built library is missing (${index}): build first (npx tsc -p tsconfig.json)`);
  // String.raw: the child's regular expression keeps its backslashes. In a
  // plain template literal `\s` and `\d` lose them, the pattern never
  // matched, and every figure silently came from ru_maxrss, which after a
  // large parent (the bench's earlier scenarios) was the parent's peak:
  // 1553 MiB at 1, 8 and 64 GiB alike, "0.0 bytes per page added".
  const script = String.raw`
    import { guestSource, runMigration } from ${JSON.stringify(pathToFileURL(index).href)};
    const run = ${JSON.stringify(run)};
    const t0 = process.hrtime.bigint();
    const source = guestSource('muncher', {
      seed: 1, durationNs: run.durationNs ?? 2e9, memBytes: run.memBytes,
      settings: { wss: String(run.wssBytes), zero: String(run.zero) },
    });
    const s = runMigration(source, { tracker: run.tracker, migration: { policy: run.policy, startNs: 5e8 } });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    let hwmKiB;
    try {
      const m = /^VmHWM:\s+(\d+) kB/m.exec((await import('node:fs')).readFileSync('/proc/self/status', 'utf8'));
      if (m) hwmKiB = Number(m[1]);
    } catch {}
    console.log(JSON.stringify({
      maxRssBytes: (hwmKiB ?? process.resourceUsage().maxRSS) * 1024, rssSource: hwmKiB === undefined ? 'ru_maxrss' : 'VmHWM',
      seconds, outcome: s.outcome,
      guestPages: source.header.guest.memPages, guestEvents: s.guestEvents, pagesSent: s.pagesSent, lostPages: s.lostPages,
    }));
  `;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (child.status !== 0) throw new Error(`the measured run failed (exit ${child.status}): ${child.stderr.trim().split('\n').slice(-3).join(' ')}`);
  return JSON.parse(child.stdout.trim().split('\n').pop()!) as GuestMemoryResult;
}
