import type { GuestSource } from '../../src/api/guest-source.js';
import { TRACE_FORMAT, TRACE_VERSION, type TraceHeader } from '../../src/trace/trace-records.js';
import { workloadEvents } from '../../src/workloads/workload-events.js';
import type { WorkloadConfig, WorkloadDefinition } from '../../src/workloads/workload.js';

/** The header of a test's own guest events (a workload not in the registry), as `record` would write it. */
export function testTraceHeader(guest: TraceHeader['guest'], workload: TraceHeader['workload']): TraceHeader {
  return {
    type: 'header',
    format: TRACE_FORMAT,
    version: TRACE_VERSION,
    program: { name: 'migsim', version: 'test' },
    traceKind: 'workload',
    encoding: 'compact',
    chunkEvents: 65_536,
    guest,
    workload,
  };
}

/** A guest source for a workload defined in a test (not in the registry). */
export function customSource(def: WorkloadDefinition, config: WorkloadConfig): GuestSource {
  const header = testTraceHeader(
    { type: config.guest, paging: config.paging, memPages: config.memPages, vcpus: config.vcpus },
    { name: def.name, seed: config.seed, durationNs: config.durationNs, params: config.params },
  );
  return { header, label: def.name, events: () => workloadEvents(def, config) };
}

/**
 * A guest that first writes every page (so none is a zero page), then from
 * `fromNs` writes `ratePerSec` pages a second, one after another over the
 * first `wssPages` pages, wrapping: Clark et al.'s memory muncher, reduced
 * to what the closed-form model assumes.
 */
export function sequentialWriter(ratePerSec: number, wssPages: number, fromNs = 1_000_000): WorkloadDefinition {
  return {
    name: 'test-sequential-writer',
    description: 'writes every page once, then pages in sequence at a fixed rate',
    usesMmu: false,
    params: [],
    generate(config, out) {
      for (let p = 0; p < config.memPages; p++) out.physWrite(0, 0, p, 4096);
      const stepNs = 1e9 / ratePerSec;
      let page = 0;
      for (let i = 0; ; i++) {
        const t = fromNs + Math.floor(i * stepNs);
        if (t > config.durationNs) break;
        out.physWrite(t, 0, page, 8);
        if (++page === wssPages) page = 0;
      }
    },
  };
}

/** A guest that rewrites the same `pages` pages over and over at `ratePerSec`. */
export function fixedSetWriter(ratePerSec: number, pages: number): WorkloadDefinition {
  return {
    name: 'test-fixed-set-writer',
    description: 'writes every page once, then rewrites a fixed set of pages',
    usesMmu: false,
    params: [],
    generate(config, out) {
      for (let p = 0; p < config.memPages; p++) out.physWrite(0, 0, p, 4096);
      const stepNs = 1e9 / ratePerSec;
      for (let i = 0; ; i++) {
        const t = 1_000_000 + Math.floor(i * stepNs);
        if (t > config.durationNs) break;
        out.physWrite(t, 0, 1000 + (i % pages) * 3, 8);
      }
    },
  };
}

export function config(memPages: number, durationNs: number, overrides: Partial<WorkloadConfig> = {}): WorkloadConfig {
  return { seed: 1, durationNs, memPages, vcpus: 1, guest: 'hvm', paging: 'x86-64', params: {}, ...overrides };
}
