import type { GuestType } from './paging.js';
import type { CostModel } from './cost-model.js';

/**
 * The shadow pool a domain gets when its configuration names no size: what
 * Xen's toolstack gives it, less what Xen itself takes out of it for the
 * P2M. The cost model's `shadowPoolPages`, when set, overrides it (a --costs
 * file, or a run trace recorded when the pool was a fixed 1,024 pages).
 *
 * - The toolstack. xl and libxl size the domain's paging pool, when
 *   `shadow_memory` is not given, with libxl__get_required_paging_memory
 *   (tools/libs/light/libxl_create.c; the older public
 *   libxl_get_required_shadow_memory in libxl_utils.c is now a wrapper of
 *   it): 4 * (256 * vcpus + ((type != PV) + !hap) * (maxmem_kb / 1024))
 *   KiB, "256 pages (1MB) per vcpu, plus 1 page per MiB of RAM for the P2M
 *   map (for non-PV guests), plus 1 page per MiB of RAM to shadow the
 *   resident processes (for shadow mode guests)". x86 adds no
 *   EXTRA_DEFAULT_PAGING_MEM_MB. libxl__domain_set_paging_mempool_size hands
 *   it to Xen in bytes (XEN_DOMCTL_set_paging_mempool_size).
 * - The P2M's share. An HVM guest's P2M tables are allocated from the same
 *   pool (xen/arch/x86/mm/shadow/common.c shadow_alloc_p2m_page moves a page
 *   from total_pages to p2m_pages), and shadow_set_allocation subtracts the
 *   P2M's pages from the size asked for: what is left is what the shadows
 *   can use, which is what this model's pool holds (shadow-pool.ts keeps
 *   shadows only). So the default here is libxl's figure less the P2M's
 *   tables, counted as Xen builds them for this guest (p2mTablePages).
 *   A PV guest's P2M is the guest's own and takes nothing from the pool.
 * - Xen's floor. shadow_set_allocation raises a request below
 *   sh_min_allocation (128 pages a vCPU, shadow_min_acceptable_pages, plus
 *   the P2M's): libxl's 256 pages a vCPU plus a page per MiB is always above
 *   it. An override below it is taken as given, as a model experiment (the
 *   walk needs only one path per vCPU, shadow-walk.ts checks that).
 */
export function libxlPagingPoolKiB(maxMemKiB: number, vcpus: number, type: GuestType, hap: boolean): number {
  const perMiB = (type !== 'pv' ? 1 : 0) + (hap ? 0 : 1);
  return 4 * (256 * vcpus + perMiB * Math.floor(maxMemKiB / 1024));
}

/** 4 KiB pages of a P2M leaf entry: Xen's p2m_set_entry maps at most 2 MiB at a time without HAP. */
const P2M_LEAF_PAGES = { '4k': 1, '2m': 512, '1g': 512 } as const;
export type P2mBacking = keyof typeof P2M_LEAF_PAGES;

/**
 * Page-table pages of an HVM guest's P2M under shadow paging: Xen's p2m-pt
 * (xen/arch/x86/mm/p2m-pt.c) is a 4-level table, and p2m_set_entry
 * (xen/arch/x86/mm/p2m.c) maps 2 MiB at a time where the guest frame and
 * the host frame are both aligned and HAP is off (1 GiB needs HAP). With
 * host memory in 2 MiB or 1 GiB pieces (`--p2m 2m`, `1g`) the leaves are at
 * L2; with 4 KiB pieces every 2 MiB of guest memory needs an L1 table. The
 * model's guest memory is one range from pfn 0: a tail short of 2 MiB takes
 * an L1 table too.
 */
export function p2mTablePages(memPages: number, backing: P2mBacking): number {
  const leafPages = P2M_LEAF_PAGES[backing];
  const l1 = leafPages === 1 ? Math.ceil(memPages / 512) : memPages % 512 === 0 ? 0 : 1;
  const l2 = Math.ceil(memPages / 512 ** 2);
  const l3 = Math.ceil(memPages / 512 ** 3);
  return l1 + l2 + l3 + 1;
}

export interface ShadowPoolGuest {
  readonly type: GuestType;
  readonly memPages: number;
  readonly vcpus: number;
}

/** The pool libxl's default leaves for the shadows of `guest` (see the file comment). */
export function defaultShadowPoolPages(guest: ShadowPoolGuest, backing: P2mBacking): number {
  // maxmem_kb: the model's guest memory is all of it (no balloon headroom).
  const totalPages = libxlPagingPoolKiB(guest.memPages * 4, guest.vcpus, guest.type, false) / 4;
  return guest.type === 'pv' ? totalPages : totalPages - p2mTablePages(guest.memPages, backing);
}

/** The shadow pool of a run: the cost model's override, else libxl's default. */
export function shadowPoolPagesOf(costs: CostModel, guest: ShadowPoolGuest, backing: P2mBacking): number {
  return costs.shadowPoolPages ?? defaultShadowPoolPages(guest, backing);
}
