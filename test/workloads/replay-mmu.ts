import type { GuestBatch } from '../../src/events/guest-batch.js';
import { GuestEventKind } from '../../src/events/guest-event-kind.js';
import { makeP2mMap } from '../../src/model/p2m-map.js';
import type { GuestType, PagingMode } from '../../src/model/paging.js';
import { PTE_A, PTE_D, PTE_FLAG_BITS, PTE_P, PTE_PS, PTE_RW } from '../../src/model/pte.js';

/**
 * A test-only x86 MMU: rebuilds the guest's tables from pt_write and
 * cr3_load events alone, walks every write and read through the current
 * root of its vCPU, sets A on every level and D on the leaf, and counts any
 * access that would fault. Independent of the guest kernel's own copy, so
 * the tests check the kernel against what the hardware would see.
 */
export interface ReplayAccess {
  readonly tNs: number;
  readonly vcpu: number;
  readonly vpn: number;
  readonly pfn: number;
  readonly rootPfn: number;
  readonly write: boolean;
}

export class ReplayMmu {
  readonly tables = new Map<number, Int32Array>();
  readonly rootOf: Int32Array;
  readonly rootsSeen = new Set<number>();
  readonly m2p: Int32Array | undefined;
  readonly levels: number;
  faults = 0;
  readonly faultNotes: string[] = [];
  events = 0;
  lastNs = 0;
  /** Called for every access that translates (write or read), after the walk. */
  onAccess: ((tNs: number, vcpu: number, vpn: number, pfn: number, rootPfn: number, write: boolean) => void) | undefined;
  onPhysWrite: ((tNs: number, pfn: number) => void) | undefined;

  constructor(
    readonly memPages: number,
    readonly guest: GuestType,
    readonly paging: PagingMode,
    seed: number,
    vcpus: number,
  ) {
    this.rootOf = new Int32Array(vcpus).fill(-1);
    this.m2p = guest === 'pv' ? makeP2mMap(memPages, seed).mfnToPfn : undefined;
    this.levels = paging === 'pae' ? 3 : 4;
  }

  private table(pfn: number): Int32Array {
    let t = this.tables.get(pfn);
    if (!t) {
      t = new Int32Array(512);
      this.tables.set(pfn, t);
    }
    return t;
  }

  private pfnOf(pte: number): number {
    const frame = pte >>> PTE_FLAG_BITS;
    return this.m2p ? this.m2p[frame]! : frame;
  }

  apply(b: GuestBatch): void {
    let t = b.baseNs;
    for (let i = 0; i < b.count; i++) {
      t += b.dtNs[i]!;
      const kind = b.kind[i]!;
      const vcpu = b.vcpu[i]!;
      const page = b.page[i]!;
      this.events++;
      if (t < this.lastNs) throw new Error(`time went backwards at event ${this.events}`);
      this.lastNs = t;
      switch (kind) {
        case GuestEventKind.ptWrite: {
          const t = this.table(page);
          t[b.arg[i]!] = b.pte[i]!;
          // A root whose entries are all cleared is dead (the kernel clears a
          // root before freeing it); its page may come back as another table.
          if (b.pte[i] === 0 && this.rootsSeen.has(page) && !t.some((e) => (e & PTE_P) !== 0)) this.rootsSeen.delete(page);
          break;
        }
        case GuestEventKind.cr3Load:
          this.rootOf[vcpu] = page;
          this.rootsSeen.add(page);
          break;
        case GuestEventKind.write:
        case GuestEventKind.read:
          this.walk(t, vcpu, page, kind === GuestEventKind.write);
          break;
        case GuestEventKind.physWrite:
          this.onPhysWrite?.(t, page);
          break;
        default:
          break;
      }
    }
  }

  private fault(note: string): void {
    this.faults++;
    if (this.faultNotes.length < 10) this.faultNotes.push(note);
  }

  private walk(tNs: number, vcpu: number, vpn: number, write: boolean): void {
    const root = this.rootOf[vcpu]!;
    if (root < 0) return this.fault(`t=${tNs} vcpu ${vcpu}: access before any cr3_load`);
    let tablePfn = root;
    for (let level = this.levels; level >= 1; level--) {
      const idx = this.paging === 'pae' && level === 3 ? (vpn >>> 18) & 3 : (vpn >> (9 * (level - 1))) & 511;
      const t = this.tables.get(tablePfn);
      const pte = t ? t[idx]! : 0;
      const where = `t=${tNs} vcpu ${vcpu} vpn 0x${(vpn >>> 0).toString(16)} L${level} table ${tablePfn}[${idx}]=0x${(pte >>> 0).toString(16)}`;
      if ((pte & PTE_P) === 0) return this.fault(`not present: ${where}`);
      const paeTop = this.paging === 'pae' && level === 3;
      if (write && !paeTop && (pte & PTE_RW) === 0) return this.fault(`${write ? 'write' : 'read'} through read-only: ${where}`);
      // A PS entry above L1 maps a large page (the x86-64 direct map's 2 MiB pages): the walk ends there.
      const leaf = level === 1 || (!paeTop && (pte & PTE_PS) !== 0);
      if (!paeTop) t![idx] = pte | PTE_A | (leaf && write ? PTE_D : 0);
      tablePfn = this.pfnOf(pte);
      if (leaf) {
        tablePfn += vpn & ((1 << (9 * (level - 1))) - 1);
        break;
      }
    }
    this.onAccess?.(tNs, vcpu, vpn, tablePfn, root, write);
  }

  /** Roots still in use: loaded now, or loaded once and not cleared since. */
  liveRoots(): number[] {
    const roots = new Set<number>(this.rootsSeen);
    for (const r of this.rootOf) if (r >= 0) roots.add(r);
    return [...roots].sort((a, b) => a - b);
  }

  /** Page-table pages per level reachable from the live roots, and leaf entries with A, D and RW. */
  census(): { perLevel: number[]; leafSlots: number; adrw: number; writableTablePages: number } {
    const seen: Set<number>[] = [];
    for (let l = 0; l < this.levels; l++) seen.push(new Set());
    const visit = (pfn: number, level: number): void => {
      if (seen[level - 1]!.has(pfn)) return;
      seen[level - 1]!.add(pfn);
      if (level === 1) return;
      const t = this.tables.get(pfn);
      if (!t) return;
      const n = this.paging === 'pae' && level === 3 ? 4 : 512;
      for (let i = 0; i < n; i++) if ((t[i]! & PTE_P) !== 0 && (t[i]! & PTE_PS) === 0) visit(this.pfnOf(t[i]!), level - 1);
    };
    for (const r of this.liveRoots()) visit(r, this.levels);
    let adrw = 0;
    const allTables = new Set<number>();
    for (const s of seen) for (const p of s) allTables.add(p);
    let writableTablePages = 0;
    const want = PTE_P | PTE_A | PTE_D | PTE_RW;
    for (const pfn of seen[0]!) {
      const t = this.tables.get(pfn);
      if (!t) continue;
      for (let i = 0; i < 512; i++) {
        const e = t[i]!;
        if ((e & want) === want) adrw++;
        if ((e & (PTE_P | PTE_RW)) === (PTE_P | PTE_RW) && allTables.has(this.pfnOf(e))) writableTablePages++;
      }
    }
    // x86-64 L2 PS entries (the direct map's 2 MiB pages) are leaves too.
    if (this.levels === 4) {
      for (const pfn of seen[1]!) {
        const t = this.tables.get(pfn);
        if (t) for (let i = 0; i < 512; i++) if ((t[i]! & (want | PTE_PS)) === (want | PTE_PS)) adrw++;
      }
    }
    return { perLevel: seen.map((s) => s.size), leafSlots: seen[0]!.size * 512, adrw, writableTablePages };
  }
}
