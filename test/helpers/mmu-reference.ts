// A deliberately naive model of the hardware MMU, written from DESIGN
// section 5 and the SDM rules the reducer cites, with no incremental state:
// liveness and every count are recomputed from scratch by reachability. The
// property test drives it and the real Mmu with the same random events.
import type { GuestBatch } from '../../src/events/guest-batch.js';
import { GuestEventKind } from '../../src/events/guest-event-kind.js';
import { type PagingMode, tableIndex } from '../../src/model/paging.js';
import { PTE_A, PTE_D, PTE_P, PTE_PS, PTE_RW, pteFrame } from '../../src/model/pte.js';

export interface ReferenceAccess {
  dataPfn: number;
  access: number;
  leafPtPfn: number;
  leafIndex: number;
  walk: number[];
  stores: number[]; // pfn of the table of each A/D store, in order
  faultReason?: string;
}

export interface ReferenceCounts {
  ptPagesPerLevel: number[]; // index 0 = level 1
  distinctPtPages: number;
  leaf: { present: number; a: number; d: number; rw: number; adrw: number }[];
}

export class ReferenceMmu {
  readonly top: number;
  readonly rootEntries: number;
  readonly tables = new Map<number, Int32Array>();
  private readonly rootOfVcpu = new Map<number, number>();
  private readonly roots = new Set<number>();

  constructor(
    readonly mode: PagingMode,
    readonly memPages: number,
    private readonly m2p?: Int32Array,
  ) {
    this.top = mode === 'pae' ? 3 : 4;
    this.rootEntries = mode === 'pae' ? 4 : 512;
  }

  entry(pfn: number, index: number): number {
    return this.tables.get(pfn)?.[index] ?? 0;
  }

  private framePfn(frame: number): number {
    if (this.m2p) return frame < this.m2p.length ? this.m2p[frame]! : -1;
    return frame < this.memPages ? frame : -1;
  }

  private entriesAt(level: number): number {
    return level === this.top ? this.rootEntries : 512;
  }

  private leafCapable(level: number): boolean {
    return level === 2 || (level === 3 && this.mode === 'x86-64');
  }

  private liveCache: Map<number, Set<number>> | undefined;

  /** live[level] = pages that are tables at that level (A/D stores cannot change it, so it is cached until a pt_write or cr3_load). */
  live(): Map<number, Set<number>> {
    if (this.liveCache) return this.liveCache;
    const live = new Map<number, Set<number>>();
    live.set(this.top, new Set(this.roots));
    for (let level = this.top; level > 1; level--) {
      const below = new Set<number>();
      for (const p of live.get(level)!) {
        for (let i = 0; i < this.entriesAt(level); i++) {
          const e = this.entry(p, i);
          if (!(e & PTE_P) || e & PTE_PS) continue;
          const c = this.framePfn(pteFrame(e));
          if (c >= 0) below.add(c);
        }
      }
      live.set(level - 1, below);
    }
    this.liveCache = live;
    return live;
  }

  isLive(pfn: number): boolean {
    for (const set of this.live().values()) if (set.has(pfn)) return true;
    return false;
  }

  private rootHasPresent(pfn: number): boolean {
    for (let i = 0; i < this.rootEntries; i++) if (this.entry(pfn, i) & PTE_P) return true;
    return false;
  }

  private loaded(pfn: number): boolean {
    return [...this.rootOfVcpu.values()].includes(pfn);
  }

  ptWrite(pfn: number, index: number, pte: number): { ptPage: boolean; leafTable: boolean } {
    const ptPage = this.isLive(pfn);
    // A leaf table, and nothing else, before the store (ACCESS_LEAF_TABLE).
    let leafTable = false;
    if (ptPage) {
      leafTable = true;
      for (const [level, set] of this.live()) if (set.has(pfn) && level !== 1) leafTable = false;
    }
    this.liveCache = undefined;
    let t = this.tables.get(pfn);
    if (!t) this.tables.set(pfn, (t = new Int32Array(512)));
    t[index] = pte;
    if (this.roots.has(pfn) && !this.loaded(pfn) && !this.rootHasPresent(pfn)) this.roots.delete(pfn);
    return { ptPage, leafTable };
  }

  cr3Load(vcpu: number, pfn: number): void {
    const prev = this.rootOfVcpu.get(vcpu);
    this.liveCache = undefined;
    this.rootOfVcpu.set(vcpu, pfn);
    this.roots.add(pfn);
    if (prev !== undefined && prev !== pfn && !this.loaded(prev) && !this.rootHasPresent(prev)) this.roots.delete(prev);
  }

  access(vcpu: number, vpn: number, write: boolean): ReferenceAccess {
    const w = write ? 1 : 0;
    const walk: number[] = [];
    const fault = (reason: string): ReferenceAccess => ({ dataPfn: -1, access: w | 4, leafPtPfn: -1, leafIndex: -1, walk, stores: [], faultReason: reason });
    const root = this.rootOfVcpu.get(vcpu);
    if (root === undefined) return fault('no-address-space');
    const path: { table: number; index: number; level: number; e: number }[] = [];
    let table = root;
    let leafFrame = -1;
    let size = 1;
    for (let level = this.top; level >= 1; level--) {
      walk.push(table);
      const index = tableIndex(this.mode, vpn, level);
      const e = this.entry(table, index);
      if (!(e & PTE_P)) return fault('not-present');
      path.push({ table, index, level, e });
      if (level === 1) {
        leafFrame = pteFrame(e);
        break;
      }
      if (e & PTE_PS) {
        if (!this.leafCapable(level)) return fault('reserved-bit');
        size = level === 2 ? 512 : 512 * 512;
        if (pteFrame(e) % size !== 0) return fault('reserved-bit');
        leafFrame = pteFrame(e) + (vpn & (size - 1));
        break;
      }
      const c = this.framePfn(pteFrame(e));
      if (c < 0) return fault('frame-not-owned');
      table = c;
    }
    const dataPfn = this.framePfn(leafFrame);
    if (dataPfn < 0) return fault('frame-not-owned');
    const usesFlags = (level: number) => !(this.mode === 'pae' && level === 3);
    if (write && path.some((p) => usesFlags(p.level) && !(p.e & PTE_RW))) return fault('read-only');
    const stores: number[] = [];
    path.forEach((p, k) => {
      if (!usesFlags(p.level)) return;
      const bits = k === path.length - 1 && write ? PTE_A | PTE_D : PTE_A;
      // As the walk goes: an entry used twice (a table mapping itself) was set by the first use.
      const now = this.entry(p.table, p.index);
      if ((now & bits) !== bits) {
        this.tables.get(p.table)![p.index] = now | bits;
        stores.push(p.table);
      }
    });
    const last = path[path.length - 1]!;
    let access = w | (this.isLive(dataPfn) ? 2 : 0);
    if (size === 512) access |= 8;
    if (size === 512 * 512) access |= 16;
    return { dataPfn, access, leafPtPfn: last.table, leafIndex: last.index, walk, stores };
  }

  counts(): ReferenceCounts {
    const live = this.live();
    const ptPagesPerLevel: number[] = [];
    const leaf: ReferenceCounts['leaf'] = [];
    const all = new Set<number>();
    for (let level = 1; level <= this.top; level++) {
      const pages = live.get(level)!;
      ptPagesPerLevel.push(pages.size);
      for (const p of pages) all.add(p);
      const c = { present: 0, a: 0, d: 0, rw: 0, adrw: 0 };
      for (const p of pages) {
        for (let i = 0; i < this.entriesAt(level); i++) {
          const e = this.entry(p, i);
          if (!(e & PTE_P)) continue;
          if (level !== 1 && !(e & PTE_PS && this.leafCapable(level))) continue;
          c.present++;
          if (e & PTE_A) c.a++;
          if (e & PTE_D) c.d++;
          if (e & PTE_RW) c.rw++;
          if ((e & (PTE_A | PTE_D | PTE_RW)) === (PTE_A | PTE_D | PTE_RW)) c.adrw++;
        }
      }
      leaf.push(c);
    }
    return { ptPagesPerLevel, distinctPtPages: all.size, leaf };
  }

  /** Applies a batch; returns per-event results for walks and the PT-page flag for other kinds. */
  apply(batch: GuestBatch): { results: (ReferenceAccess | { dataPfn: number; access: number })[] } {
    const results: (ReferenceAccess | { dataPfn: number; access: number })[] = [];
    for (let i = 0; i < batch.count; i++) {
      const kind = batch.kind[i]!;
      const page = batch.page[i]!;
      if (kind === GuestEventKind.write || kind === GuestEventKind.read) {
        results.push(this.access(batch.vcpu[i]!, page, kind === GuestEventKind.write));
      } else if (kind === GuestEventKind.ptWrite) {
        const { ptPage, leafTable } = this.ptWrite(page, batch.arg[i]!, batch.pte[i]!);
        results.push({ dataPfn: page, access: 1 | (ptPage ? 2 : 0) | (leafTable ? 32 : 0) });
      } else if (kind === GuestEventKind.cr3Load) {
        this.cr3Load(batch.vcpu[i]!, page);
        results.push({ dataPfn: -1, access: 0 });
      } else if (kind === GuestEventKind.physWrite) {
        results.push({ dataPfn: page, access: 1 | (this.isLive(page) ? 2 : 0) });
      } else {
        results.push({ dataPfn: -1, access: 0 });
      }
    }
    return { results };
  }
}
