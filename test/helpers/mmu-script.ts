// Small builders for MMU tests: a guest event script that becomes one
// GuestBatch, and a page-table writer that plays the guest kernel (it
// allocates table pages and emits the pt_write events that link them).
import { copyGuestBatch, type GuestBatch } from '../../src/events/guest-batch.js';
import { GuestBatchBuilder } from '../../src/events/guest-batch-builder.js';
import { type PagingMode, tableIndex } from '../../src/model/paging.js';
import { makePte, PTE_P, PTE_PS, PTE_RW, PTE_US } from '../../src/model/pte.js';

const STEP_NS = 10;

/** Guest events in call order, 10 ns apart, returned as whole batches. */
export class EventScript {
  private tNs = 0;
  private readonly batches: GuestBatch[] = [];
  private readonly builder = new GuestBatchBuilder((b) => this.batches.push(copyGuestBatch(b)), 1 << 16);

  /** Time of the event the next call will add. */
  get nextNs(): number {
    return this.tNs + STEP_NS;
  }

  write(vcpu: number, vpn: number, bytes = 8): this {
    this.builder.write((this.tNs += STEP_NS), vcpu, vpn, bytes);
    return this;
  }
  read(vcpu: number, vpn: number): this {
    this.builder.read((this.tNs += STEP_NS), vcpu, vpn);
    return this;
  }
  ptWrite(ptPfn: number, index: number, pte: number, vcpu = 0): this {
    this.builder.ptWrite((this.tNs += STEP_NS), vcpu, ptPfn, index, pte);
    return this;
  }
  cr3Load(vcpu: number, rootPfn: number): this {
    this.builder.cr3Load((this.tNs += STEP_NS), vcpu, rootPfn);
    return this;
  }
  physWrite(pfn: number, bytes = 4096, vcpu = 0): this {
    this.builder.physWrite((this.tNs += STEP_NS), vcpu, pfn, bytes);
    return this;
  }
  idle(vcpu: number): this {
    this.builder.idle((this.tNs += STEP_NS), vcpu);
    return this;
  }

  /** The events added since the last take(), as one batch. */
  take(): GuestBatch {
    this.builder.flush();
    const batches = this.batches.splice(0);
    if (batches.length !== 1) throw new Error(`expected one batch, got ${batches.length}`);
    return batches[0]!;
  }
}

export interface MapOptions {
  /** Pages the leaf maps: 1 (4 KiB), 512 (a 2 MiB PS entry) or 512 * 512 (1 GiB). */
  readonly pages?: 1 | 512 | 262144;
  /** Flags of the non-leaf entries created on the way (default P|RW|US; PAE PDPTEs get P only). */
  readonly tableFlags?: number;
}

/**
 * Plays the guest kernel: keeps its own map of the tables it built, takes
 * table pages from a bump allocator and writes frames as the MMU expects
 * them (`frameOf`: identity for HVM, the p2m for PV).
 */
export class PageTableWriter {
  readonly levels: number;
  private readonly children = new Map<string, number>();

  constructor(
    private readonly script: EventScript,
    readonly mode: PagingMode,
    private nextFreePfn: number,
    private readonly frameOf: (pfn: number) => number = (pfn) => pfn,
  ) {
    this.levels = mode === 'pae' ? 3 : 4;
  }

  /** A fresh page for a table; the guest writes nothing into it yet. */
  allocPage(): number {
    return this.nextFreePfn++;
  }

  /**
   * Maps vpn → pfn under `root` with leaf flags `leafFlags` (P is added),
   * creating missing tables. Returns the table pfns walked, top level first,
   * and where the leaf entry is.
   */
  map(root: number, vpn: number, pfn: number, leafFlags: number, opts: MapOptions = {}): { tables: number[]; leafPtPfn: number; leafIndex: number } {
    const pages = opts.pages ?? 1;
    const leafLevel = pages === 1 ? 1 : pages === 512 ? 2 : 3;
    const tables: number[] = [];
    let table = root;
    for (let level = this.levels; level > leafLevel; level--) {
      tables.push(table);
      const index = tableIndex(this.mode, vpn, level);
      const key = `${table}/${index}`;
      let child = this.children.get(key);
      if (child === undefined) {
        child = this.allocPage();
        this.children.set(key, child);
        const flags = opts.tableFlags ?? (this.mode === 'pae' && level === 3 ? PTE_P : PTE_P | PTE_RW | PTE_US);
        this.script.ptWrite(table, index, makePte(this.frameOf(child), flags | PTE_P));
      }
      table = child;
    }
    tables.push(table);
    const leafIndex = tableIndex(this.mode, vpn, leafLevel);
    const ps = leafLevel > 1 ? PTE_PS : 0;
    this.script.ptWrite(table, leafIndex, makePte(this.frameOf(pfn), leafFlags | PTE_P | ps));
    return { tables, leafPtPfn: table, leafIndex };
  }

  /** Links an existing table under `table` at `index` (sharing it, as kernel tables are shared by every address space). */
  link(table: number, index: number, child: number, flags = PTE_P | PTE_RW | PTE_US): void {
    this.children.set(`${table}/${index}`, child);
    this.script.ptWrite(table, index, makePte(this.frameOf(child), flags));
  }

  /** Clears an entry of a table. */
  unlink(table: number, index: number): void {
    this.children.delete(`${table}/${index}`);
    this.script.ptWrite(table, index, 0);
  }

  /** The table at `level` the writer created for vpn under root (level = this.levels gives root). */
  tableAt(root: number, vpn: number, level: number): number | undefined {
    let table: number | undefined = root;
    for (let l = this.levels; l > level && table !== undefined; l--) {
      table = this.children.get(`${table}/${tableIndex(this.mode, vpn, l)}`);
    }
    return table;
  }
}
