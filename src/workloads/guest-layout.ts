import type { GuestType, PagingMode } from '../model/paging.js';
import { vpnOf } from '../model/paging.js';

/**
 * Where the guest kernel puts things in virtual memory, per paging mode, as
 * Linux does on i386 PAE and on x86-64 (virtual page numbers; see
 * src/model/paging.ts for how a vpn indexes the tables).
 *
 * PAE (3 GiB user / 1 GiB kernel split):
 *   user text at 0x08048000, mmap area top-down from 0xb7f00000, stack
 *   below 0xc0000000; kernel direct map ("lowmem") at 0xc0000000; vmalloc
 *   (modules) 8 MiB above the end of lowmem; a fixmap/kmap table just below
 *   Xen's hypervisor hole (0xf5800000) for PV, near the top for HVM. Lowmem
 *   ends 128 MiB of vmalloc space below that: 728 MiB for a Xen PAE PV
 *   guest, 896 MiB for HVM. Frames above it are highmem, reached through
 *   kmap slots.
 * x86-64 (the vpn column holds user L4 slots 0-15 and kernel slots 496-511):
 *   user text at 0x400000, mmap area top-down from just under 8 TiB, stack
 *   at the top of L4 slot 15; direct map in L4 slot 496; kernel image at
 *   0xffffffff80000000 (L4 511, L3 510), modules 512 MiB above it, fixmap
 *   near the top. The direct map covers all guest memory.
 */
export interface GuestLayout {
  readonly mode: PagingMode;
  /** Table levels (3 for PAE, 4 for x86-64). */
  readonly levels: number;
  /** Shift that gives the root-table index of a vpn: (vpn >> rootShift) & 511. */
  readonly rootShift: number;
  /** Root-table slots that map the kernel (shared by every address space). */
  readonly kernelRootSlots: readonly number[];
  /** First root-table slot of kernel space. */
  readonly kernelRootSlotFirst: number;
  /** vpn of the direct map's page for pfn 0; pfn p is at directMapVpn + p. */
  readonly directMapVpn: number;
  /** Frames below this are in the direct map; the rest are highmem. */
  readonly lowmemLimitPages: number;
  /** vpn where the kernel image is mapped a second time (x86-64), or -1. */
  readonly imageVpn: number;
  /** First vpn of the vmalloc area, as a function of the direct map size. */
  vmallocVpn(directMapPages: number): number;
  /** First vpn of the fixmap: two per-vCPU kmap slots each, up to 1,024 slots (two tables). */
  readonly fixmapVpn: number;
  readonly userTextVpn: number;
  /** The mmap area grows down from here (before randomisation). */
  readonly userMmapTopVpn: number;
  /** The stack's top page (before randomisation); it grows down. */
  readonly userStackTopVpn: number;
  /** Pages of address-space randomisation for the mmap base and the stack. */
  readonly aslrMmapPages: number;
  readonly aslrStackPages: number;
  /** True when every vpn below this is user space (PAE: 0xc0000). */
  isUserVpn(vpn: number): boolean;
}

const PAE_KERNEL_VPN = 0xc0000;
/** Xen's PAE hypervisor hole starts at 0xf5800000 (HYPERVISOR_VIRT_START). */
const PAE_XEN_HOLE_VPN = 0xf5800;
const PAE_VMALLOC_RESERVE_PAGES = 0x8000; // 128 MiB, Linux's __VMALLOC_RESERVE
const VMALLOC_OFFSET_PAGES = 0x800; // 8 MiB gap after lowmem (VMALLOC_OFFSET)

export function guestLayout(mode: PagingMode, guest: GuestType): GuestLayout {
  if (mode === 'pae') {
    const topVpn = guest === 'pv' ? PAE_XEN_HOLE_VPN : 0x100000;
    const lowmem = Math.min(guest === 'pv' ? topVpn - PAE_KERNEL_VPN - PAE_VMALLOC_RESERVE_PAGES : 0x38000, 0x38000);
    return {
      mode,
      levels: 3,
      rootShift: 18,
      kernelRootSlots: [3],
      kernelRootSlotFirst: 3,
      directMapVpn: PAE_KERNEL_VPN,
      lowmemLimitPages: lowmem,
      imageVpn: -1,
      vmallocVpn: (directMapPages) => alignUp(PAE_KERNEL_VPN + directMapPages + VMALLOC_OFFSET_PAGES, 512),
      fixmapVpn: guest === 'pv' ? PAE_XEN_HOLE_VPN - 1024 : 0xffa00,
      userTextVpn: 0x08048,
      userMmapTopVpn: 0xb7f00,
      userStackTopVpn: 0xbffff,
      aslrMmapPages: 256,
      aslrStackPages: 2048,
      isUserVpn: (vpn) => vpn >= 0 && vpn < PAE_KERNEL_VPN,
    };
  }
  const imageVpn = vpnOf('x86-64', [511, 510, 0, 0]);
  return {
    mode,
    levels: 4,
    rootShift: 27,
    kernelRootSlots: [496, 511],
    kernelRootSlotFirst: 496,
    directMapVpn: vpnOf('x86-64', [496, 0, 0, 0]),
    lowmemLimitPages: 1 << 30, // the direct map covers all of memory
    imageVpn,
    vmallocVpn: () => imageVpn + (512 << 9) / 2, // modules at 0xffffffffa0000000
    fixmapVpn: vpnOf('x86-64', [511, 511, 510, 0]),
    userTextVpn: 0x400,
    userMmapTopVpn: 0x7ff00000,
    userStackTopVpn: 0x7fffffff,
    aslrMmapPages: 1 << 16,
    aslrStackPages: 1 << 14,
    isUserVpn: (vpn) => vpn >= 0,
  };
}

function alignUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}
