import { GuestKernel } from './guest-kernel.js';
import { TimerTicks, VcpuActivity } from './guest-cpu.js';
import type { WorkloadDefinition } from './workload.js';

/**
 * An idle guest: a booted kernel whose vCPUs run nothing but the timer
 * interrupt. Each tick writes jiffies (on vCPU 0) and the vCPU's per-CPU
 * run queue and timer wheel, plus `extraPagesPerTick` other kernel pages
 * (RCU, softirq and clock-event state); between ticks the vCPUs are idle.
 * The dirtying floor of any Linux guest, and the easiest migration there is.
 */
export const idle: WorkloadDefinition = {
  name: 'idle',
  description: 'a booted kernel doing nothing but timer ticks (HZ per vCPU)',
  usesMmu: true,
  // Only kernel data is written (jiffies, run queues, timer wheels, RCU
  // state): sparse structures, mostly zero bytes around a few counters.
  pageContents: () => ({ zero: 0, compressible: 1, ratio: 3, why: 'idle: only kernel data structures are written (sparse: 3x)' }),
  params: [
    { name: 'hz', kind: 'rate', min: 1, default: 250, description: 'timer interrupts per second on each vCPU (Linux CONFIG_HZ; 250 was the 2.6 default)' },
    {
      name: 'extraPagesPerTick',
      kind: 'int',
      default: 1,
      description: 'kernel pages each tick writes besides jiffies and its per-CPU page (one pool of such pages per vCPU, used in turn)',
    },
  ],
  generate(config, out) {
    const hz = Number(config.params['hz']);
    const extra = Number(config.params['extraPagesPerTick']);
    const kernel = new GuestKernel(config, out);
    const activity = new VcpuActivity(out, config.vcpus);
    kernel.loadImage(0);
    const booted = kernel.boot(0, out.nowNs);
    activity.busyUntil(0, booted);
    // Per-vCPU pools of other kernel pages the tick path writes, taken in turn.
    const poolPages = 8;
    const pools = kernel.allocKernelPages(extra > 0 ? config.vcpus * poolPages : 0);
    const ticks = new TimerTicks(kernel, activity, hz, booted);
    let k = 0;
    while (ticks.nextNs <= config.durationNs) {
      const t = ticks.nextNs;
      ticks.until(t);
      for (let v = 0; v < config.vcpus && extra > 0; v++) {
        for (let j = 0; j < extra; j++) kernel.kernelWrite(v, pools[v * poolPages + ((k + j) % poolPages)]!, 64, t);
      }
      k++;
    }
    activity.finish(config.durationNs);
    return kernel.statsEntries();
  },
};
