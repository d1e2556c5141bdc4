import { createHash } from 'node:crypto';
import type { GuestBatch } from '../../src/events/guest-batch.js';
import { GUEST_COLUMNS } from '../../src/events/guest-batch.js';
import { GuestBatchBuilder } from '../../src/events/guest-batch-builder.js';
import { GuestEventKind } from '../../src/events/guest-event-kind.js';
import type { GuestType, PagingMode } from '../../src/model/paging.js';
import { Mmu } from '../../src/reducers/mmu.js';
import { ACCESS_FAULT, type MmuStats } from '../../src/reducers/mmu-output.js';
import { findWorkload } from '../../src/workloads/registry.js';
import { resolveParams } from '../../src/workloads/resolve-params.js';
import type { WorkloadConfig, WorkloadStats } from '../../src/workloads/workload.js';

export interface RunOptions {
  readonly seed?: number;
  readonly durationNs: number;
  readonly memPages?: number;
  readonly vcpus?: number;
  readonly guest?: GuestType;
  readonly paging?: PagingMode;
  readonly settings?: Readonly<Record<string, string | number>>;
  /** Run the events through the hardware MMU reducer (src/reducers/mmu.ts). */
  readonly mmu?: boolean;
  /**
   * Called for every write or read the MMU translated: the vCPU's root (the
   * address space), the vpn and the pfn it reached. Needs `mmu`.
   */
  readonly onAccess?: (tNs: number, rootPfn: number, vpn: number, pfn: number, write: boolean) => void;
  /** Called for every event that writes a page by any means (write, pt_write, phys_write), with its pfn. Needs `mmu`. */
  readonly onPageWritten?: (pfn: number) => void;
}

export interface RunResult {
  readonly config: WorkloadConfig;
  readonly stats: WorkloadStats;
  readonly events: number;
  readonly eventsByKind: number[];
  readonly lastNs: number;
  /** sha256 over the columns of every batch, in order. */
  readonly digest: string;
  readonly mmu: MmuStats | undefined;
}

/** Generates a workload's events (the CLI's 1 GiB, 2 vCPUs, PV PAE unless told), hashing them and optionally walking them. */
export function runWorkload(name: string, o: RunOptions): RunResult {
  const def = findWorkload(name);
  const config: WorkloadConfig = {
    seed: o.seed ?? 1,
    durationNs: o.durationNs,
    memPages: o.memPages ?? 262_144,
    vcpus: o.vcpus ?? 2,
    guest: o.guest ?? 'pv',
    paging: o.paging ?? 'pae',
    params: resolveParams(def, o.settings ?? {}),
  };
  const hash = createHash('sha256');
  const mmu = o.mmu ? new Mmu(config) : undefined;
  const rootOf = new Int32Array(config.vcpus).fill(-1);
  const eventsByKind = [0, 0, 0, 0, 0, 0];
  const sink = (b: GuestBatch): void => {
    for (const c of GUEST_COLUMNS) {
      const col = b[c];
      hash.update(new Uint8Array(col.buffer, col.byteOffset, col.byteLength));
    }
    for (let i = 0; i < b.count; i++) eventsByKind[b.kind[i]!]!++;
    if (!mmu) return;
    const out = mmu.apply(b);
    if (!o.onAccess && !o.onPageWritten) return;
    let t = b.baseNs;
    for (let i = 0; i < b.count; i++) {
      t += b.dtNs[i]!;
      const kind = b.kind[i]!;
      if (kind === GuestEventKind.cr3Load) rootOf[b.vcpu[i]!] = b.page[i]!;
      const pfn = out.dataPfn[i]!;
      if (pfn < 0 || (out.access[i]! & ACCESS_FAULT) !== 0) continue;
      if (kind === GuestEventKind.write || kind === GuestEventKind.read) {
        o.onAccess?.(t, rootOf[b.vcpu[i]!]!, b.page[i]!, pfn, kind === GuestEventKind.write);
      }
      if (kind !== GuestEventKind.read) o.onPageWritten?.(pfn);
    }
  };
  const out = new GuestBatchBuilder(sink);
  const stats = def.generate(config, out) ?? {};
  out.flush();
  return {
    config,
    stats,
    events: out.eventCount,
    eventsByKind,
    lastNs: out.nowNs,
    digest: hash.digest('hex'),
    mmu: mmu?.stats(),
  };
}

/** The MMU's faults, readably, for an assertion message. */
export function faultReport(s: MmuStats | undefined): string {
  if (!s) return 'no MMU';
  return s.firstFaults.map((f) => `t=${f.tNs} vcpu ${f.vcpu} ${f.kind} vpn 0x${(f.vpn >>> 0).toString(16)}: ${f.reason} at L${f.level}`).join('\n');
}
