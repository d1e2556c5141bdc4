import type { GuestBatchBuilder } from '../events/guest-batch-builder.js';
import type { GuestType, PagingMode } from '../model/paging.js';
import type { ContentMix } from '../reducers/migration/page-contents.js';

/**
 * What every workload is given. Everything a workload does follows from
 * this and nothing else: the trace header stores it, and a replay rebuilds
 * the same events from it.
 */
export interface WorkloadConfig {
  readonly seed: number;
  readonly durationNs: number;
  readonly memPages: number;
  readonly vcpus: number;
  readonly guest: GuestType;
  readonly paging: PagingMode;
  /** Workload parameters with defaults applied, as `--set key=value` gave them. */
  readonly params: Readonly<Record<string, number | string>>;
}

export type ParamKind = 'int' | 'number' | 'fraction' | 'size' | 'duration' | 'rate' | 'enum';

export interface ParamSpec {
  readonly name: string;
  readonly kind: ParamKind;
  /** Default value (sizes in bytes, durations in ns, rates per second). */
  readonly default: number | string;
  readonly description: string;
  readonly choices?: readonly string[];
  /** The largest value the workload takes (what its description promises). */
  readonly max?: number;
  /** The smallest value it takes, when that is above the kind's own (a timer needs a frequency above zero). */
  readonly min?: number;
}

export interface WorkloadDefinition {
  readonly name: string;
  readonly description: string;
  /** True when the workload writes page tables and needs the MMU to run. */
  readonly usesMmu: boolean;
  readonly params: readonly ParamSpec[];
  /**
   * Emits the guest's events in time order into `out`, synchronously, ending
   * at or before config.durationNs. Must not flush: the caller does.
   */
  generate(config: WorkloadConfig, out: GuestBatchBuilder): WorkloadStats | void;
  /**
   * What the pages it writes hold when the migration sends them (zero,
   * compressible at a ratio, incompressible), and why: QEMU's zero pages,
   * multifd compression and XBZRLE follow it
   * (src/reducers/migration/page-contents.ts). Absent: a capture's default.
   */
  pageContents?(params: Readonly<Record<string, number | string>>): ContentMix;
}

/**
 * What a workload says about itself when it has finished (processes created
 * and exited, forks, copy-on-write copies...): integer counts by name. It is
 * stored in the trace footer and shown by `migsim inspect`.
 */
export type WorkloadStats = Readonly<Record<string, number>>;
