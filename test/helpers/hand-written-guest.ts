// A guest written event by event (test/helpers/mmu-script.ts) that makes
// every kind of event the fused loops (runUnderEpt, runUnderShadow) hand
// back to the reference path: the built-in workloads' kernels set A/D bits
// themselves and never fault, so their runs never leave those loops.
import { from } from 'rxjs';
import type { GuestSource } from '../../src/api/guest-source.js';
import { NO_VCPU } from '../../src/events/guest-event-kind.js';
import { vpnOf } from '../../src/model/paging.js';
import { PTE_A, PTE_D, PTE_RW, PTE_US } from '../../src/model/pte.js';
import { testTraceHeader } from './custom-source.js';
import { EventScript, PageTableWriter } from './mmu-script.js';

/**
 * An HVM x86-64 guest of 8,192 pages and two vCPUs, written event by event:
 * two address spaces sharing an upper table, 4 KiB mappings without A/D
 * bits (each first access sets them), a 2 MiB mapping, a mapping of a
 * page-table page (stores into it are emulated), accesses to unmapped
 * pages (guest faults), one before its vCPU's first CR3 load, remappings,
 * unmappings, phys_writes and idles, in a seeded random order.
 */
export function handWrittenGuest(): GuestSource {
  const script = new EventScript();
  const pt = new PageTableWriter(script, 'x86-64', 4096);
  const roots = [pt.allocPage(), pt.allocPage()];
  const vpns: number[] = [];
  for (let k = 0; k < 96; k++) {
    const vpn = vpnOf('x86-64', [1, 2, k >> 5, k & 31]);
    vpns.push(vpn);
    pt.map(roots[0]!, vpn, 16 + k, PTE_RW | PTE_US);
  }
  const big = vpnOf('x86-64', [1, 3, 0, 0]);
  pt.map(roots[0]!, big, 1024, PTE_RW | PTE_US | PTE_A | PTE_D, { pages: 512 });
  const l3 = pt.tableAt(roots[0]!, vpns[0]!, 3)!;
  pt.link(roots[1]!, 1, l3);
  const tableVpn = vpnOf('x86-64', [1, 2, 7, 0]);
  pt.map(roots[0]!, tableVpn, pt.tableAt(roots[0]!, vpns[0]!, 1)!, PTE_RW | PTE_US);
  const unmapped = vpnOf('x86-64', [1, 2, 9, 5]);
  script.write(1, vpns[0]!);
  script.cr3Load(0, roots[0]!).cr3Load(1, roots[1]!);
  let x = 12345;
  const next = (n: number) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 8) % n;
  };
  for (let e = 0; e < 30_000; e++) {
    const v = next(2);
    const r = next(100);
    const vpn = vpns[next(vpns.length)]!;
    if (r < 40) script.write(v, vpn);
    else if (r < 60) script.read(v, vpn);
    else if (r < 70) (r & 1 ? script.write(v, big + next(512)) : script.read(v, big + next(512)));
    else if (r < 73) script.write(v, tableVpn);
    else if (r < 75) script.read(v, unmapped);
    else if (r < 82) pt.map(roots[0]!, vpn, 16 + next(2000), PTE_RW | PTE_US | (r & 1 ? PTE_A : 0));
    else if (r < 84) pt.unlink(pt.tableAt(roots[0]!, vpn, 1)!, vpn & 511);
    else if (r < 87) script.cr3Load(v, roots[next(2)]!);
    else if (r < 90) script.physWrite(16 + next(2000), 4096, r & 1 ? NO_VCPU : v);
    else if (r < 93) script.idle(v);
    else script.write(v, vpn).read(v, vpn);
  }
  const batch = script.take();
  const header = testTraceHeader({ type: 'hvm', paging: 'x86-64', memPages: 8192, vcpus: 2 }, { name: 'hand-written', seed: 1, durationNs: batch.endNs, params: {} });
  return { header, label: 'hand-written', events: () => from([batch]) };
}

