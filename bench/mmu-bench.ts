import { configFromHeader, workloadHeader } from '../src/api/record.js';
import type { TraceHeader } from '../src/trace/trace-records.js';
import { copyGuestBatch, type GuestBatch } from '../src/events/guest-batch.js';
import { GuestEventKind } from '../src/events/guest-event-kind.js';
import { GuestBatchBuilder } from '../src/events/guest-batch-builder.js';
import { Mmu } from '../src/reducers/mmu.js';
import { drainSync } from '../src/util/drain-sync.js';
import { findWorkload } from '../src/workloads/registry.js';
import { workloadEvents } from '../src/workloads/workload-events.js';
import { type BenchRow, coldAndWarm, mPerSec, timeIt } from './bench-util.js';

/** The apache default (HVM, x86-64, 1 GiB, 2 vCPUs) for `seconds` of guest time, kept in memory. */
export interface ApacheRun {
  readonly header: TraceHeader;
  readonly batches: GuestBatch[];
  readonly events: number;
  readonly memPages: number;
  readonly vcpus: number;
  readonly seed: number;
}

const cache = new Map<number, { run: ApacheRun; seconds: number }>();

/**
 * The apache default (HVM, x86-64, 1 GiB, 2 vCPUs) for `seconds` of guest
 * time, generated once and kept in memory, so that the reducers' figures
 * do not include generation.
 */
export function apacheBatches(seconds: number): ApacheRun {
  const hit = cache.get(seconds);
  if (hit) return hit.run;
  const header = workloadHeader({ workload: 'apache', seed: 1, durationNs: seconds * 1e9 });
  const batches: GuestBatch[] = [];
  const t = timeIt(() => drainSync(workloadEvents(findWorkload('apache'), configFromHeader(header)), (b) => batches.push(copyGuestBatch(b))));
  const run = { header, batches, events: batches.reduce((a, b) => a + b.count, 0), memPages: header.guest.memPages, vcpus: header.guest.vcpus, seed: header.workload.seed };
  cache.set(seconds, { run, seconds: t.seconds });
  return run;
}

/** Generation alone (no copies kept), best of 3 so the JIT is warm. */
export function apacheGenerateSeconds(seconds: number): number {
  const { header } = apacheBatches(seconds);
  const def = findWorkload('apache');
  return Math.min(
    ...[0, 1, 2].map(
      () =>
        timeIt(() => {
          const b = new GuestBatchBuilder(() => {});
          def.generate(configFromHeader(header), b);
          b.flush();
        }).seconds,
    ),
  );
}

/**
 * The yardstick: the same walk in one plain loop (DESIGN performance
 * notes) — page-table stores into a slot-indexed table array, a 4-level
 * walk per access setting A (and D) unconditionally, and a dirty-bitmap
 * test-and-set of the data page. No faults, no statistics, no output columns.
 */
export function plainWalkLoop(batches: readonly GuestBatch[], memPages: number, vcpus: number): number {
  const slotOf = new Int32Array(memPages).fill(-1);
  let tables = new Int32Array(512 * 4096);
  let nextSlot = 0;
  const root = new Int32Array(vcpus).fill(-1);
  const dirty = new Uint32Array(Math.ceil(memPages / 32));
  let sum = 0;
  const slot = (pfn: number): number => {
    let s = slotOf[pfn]!;
    if (s < 0) {
      s = slotOf[pfn] = nextSlot++;
      if (nextSlot * 512 > tables.length) {
        const t = new Int32Array(tables.length * 2);
        t.set(tables);
        tables = t;
      }
    }
    return s;
  };
  for (const b of batches) {
    const { kind, vcpu, page, arg, pte } = b;
    for (let i = 0; i < b.count; i++) {
      const k = kind[i]!;
      if (k === GuestEventKind.ptWrite) tables[slot(page[i]!) * 512 + arg[i]!] = pte[i]!;
      else if (k === GuestEventKind.cr3Load) root[vcpu[i]!] = slot(page[i]!);
      else if (k === GuestEventKind.write || k === GuestEventKind.read) {
        const vpn = page[i]!;
        let s = root[vcpu[i]!]!;
        let e = 0;
        let at = 0;
        for (let level = 4; level >= 1 && s >= 0; level--) {
          at = s * 512 + ((vpn >> (9 * (level - 1))) & 511);
          e = tables[at]! | 0x08;
          tables[at] = e;
          s = level > 1 ? slotOf[e >>> 8]! : -1;
        }
        const pfn = e >>> 8;
        if (k === GuestEventKind.write) {
          tables[at] = e | 0x10;
          dirty[pfn >>> 5] = dirty[pfn >>> 5]! | (1 << (pfn & 31));
        }
        sum += pfn;
      } else if (k === GuestEventKind.physWrite) {
        const pfn = page[i]!;
        dirty[pfn >>> 5] = dirty[pfn >>> 5]! | (1 << (pfn & 31));
      }
    }
  }
  return sum;
}

export function mmuBench(seconds: number): BenchRow[] {
  const { batches, events, memPages, vcpus, seed } = apacheBatches(seconds);
  const genSeconds = apacheGenerateSeconds(seconds);
  const rows: BenchRow[] = [{ scenario: 'apache', metric: `events (${seconds} s of guest time)`, value: events.toLocaleString('en-US') }];
  rows.push({ scenario: 'apache', metric: 'generate (kernel boot included, best of 3)', value: mPerSec(events, genSeconds) });
  const mmu = coldAndWarm(3, () => {
    const m = new Mmu({ guest: 'hvm', paging: 'x86-64', memPages, vcpus, seed });
    for (const b of batches) m.apply(b);
  });
  const mmuSeconds = mmu.warm.seconds;
  const loopSeconds = coldAndWarm(3, () => plainWalkLoop(batches, memPages, vcpus)).warm.seconds;
  rows.push({ scenario: 'mmu', metric: 'walk + A/D + dirty pfn out (first run, JIT cold)', value: mPerSec(events, mmu.cold.seconds) });
  rows.push({ scenario: 'mmu', metric: 'walk + A/D + dirty pfn out (best of 3 after it)', value: mPerSec(events, mmuSeconds), target: '>= 40 M/s', ok: events / mmuSeconds >= 40e6 });
  rows.push({ scenario: 'mmu', metric: 'plain walk loop (same run, best of 3 after one)', value: mPerSec(events, loopSeconds) });
  rows.push({ scenario: 'mmu', metric: 'mmu vs plain loop', value: `${(mmuSeconds / loopSeconds).toFixed(2)}x`, target: '<= 1.5x', ok: mmuSeconds / loopSeconds <= 1.5 });
  return rows;
}
