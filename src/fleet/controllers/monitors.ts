/**
 * One monitor per running migration, each polling at a fixed interval from
 * its migration's start (KubeVirt's migrationMonitor in virt-launcher and
 * Nova's _live_migration_monitor each run per migration, sleeping between
 * polls). The controller's next poll is the earliest of them; ties poll in
 * VM order.
 */
export class Monitors<S> {
  private readonly byVm = new Map<number, { nextPollNs: number; state: S }>();

  constructor(private readonly intervalNs: number) {}

  add(vm: number, startNs: number, state: S): void {
    this.byVm.set(vm, { nextPollNs: startNs + this.intervalNs, state });
  }

  remove(vm: number): void {
    this.byVm.delete(vm);
  }

  get nextPollNs(): number {
    let t = Infinity;
    for (const m of this.byVm.values()) if (m.nextPollNs < t) t = m.nextPollNs;
    return t;
  }

  /** Each monitor due at `nowNs`, in VM order, with its state; each is rescheduled one interval on. */
  due(nowNs: number): [number, S][] {
    const out: [number, S][] = [];
    for (const [vm, m] of [...this.byVm.entries()].sort((a, b) => a[0] - b[0])) {
      if (m.nextPollNs <= nowNs) {
        m.nextPollNs += this.intervalNs;
        out.push([vm, m.state]);
      }
    }
    return out;
  }
}
