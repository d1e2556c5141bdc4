/**
 * QEMU's post-copy blocktime (capability postcopy-blocktime), measured on
 * the destination as migration/postcopy-ram.c does it in
 * mark_postcopy_blocktime_begin / mark_postcopy_blocktime_end and reports
 * through query-migrate (get_postcopy_blocktime):
 * - postcopy-vcpu-blocktime: per vCPU, the time it sat blocked on a
 *   userfault, summed over its faults (vcpu_blocktime_total[cpu]);
 * - postcopy-blocktime: the time during which every vCPU was blocked at
 *   once (total_blocktime grows only when smp_cpus_down == smp_cpus, by
 *   now - last_begin: from the last vCPU to block to the first to wake).
 *   With one vCPU it equals that vCPU's blocktime; with several vCPUs whose
 *   faults never overlap it is 0, however long each waited.
 *
 * The tracker sees faults in guest-time order, which across vCPUs is not
 * wall-time order (each vCPU's stall differs), so the overlap is computed
 * once at the end from each vCPU's intervals (each vCPU's own are in order
 * and disjoint: a vCPU blocked on a fault runs nothing until it is over)
 * instead of online as QEMU's fault thread does; the result is the same
 * measure. QEMU counts in milliseconds; here in nanoseconds.
 */
export class PostcopyBlocktime {
  private readonly starts: number[][];
  private readonly ends: number[][];
  readonly vcpuBlocktimeNs: Float64Array;

  constructor(readonly vcpus: number) {
    this.starts = Array.from({ length: vcpus }, () => []);
    this.ends = Array.from({ length: vcpus }, () => []);
    this.vcpuBlocktimeNs = new Float64Array(vcpus);
  }

  /** vCPU `vcpu` blocked from `fromNs` until `untilNs` (a userfault's begin and end). */
  blocked(vcpu: number, fromNs: number, untilNs: number): void {
    if (untilNs <= fromNs) return;
    this.starts[vcpu]!.push(fromNs);
    this.ends[vcpu]!.push(untilNs);
    this.vcpuBlocktimeNs[vcpu] = this.vcpuBlocktimeNs[vcpu]! + (untilNs - fromNs);
  }

  /** postcopy-blocktime: wall time during which all vCPUs were blocked at once. */
  totalNs(): number {
    // Intersect the vCPUs' interval lists one after another.
    let s = this.starts[0] ?? [];
    let e = this.ends[0] ?? [];
    for (let v = 1; v < this.vcpus && s.length > 0; v++) {
      const s2 = this.starts[v]!;
      const e2 = this.ends[v]!;
      const outS: number[] = [];
      const outE: number[] = [];
      let i = 0;
      let j = 0;
      while (i < s.length && j < s2.length) {
        const lo = Math.max(s[i]!, s2[j]!);
        const hi = Math.min(e[i]!, e2[j]!);
        if (lo < hi) {
          outS.push(lo);
          outE.push(hi);
        }
        if (e[i]! < e2[j]!) i++;
        else j++;
      }
      s = outS;
      e = outE;
    }
    let total = 0;
    for (let k = 0; k < s.length; k++) total += e[k]! - s[k]!;
    return total;
  }
}
