import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type GuestBatch } from '../../src/events/guest-batch.js';
import { GuestEventKind } from '../../src/events/guest-event-kind.js';
import { type GuestType, type PagingMode, tableIndex, vpnOf } from '../../src/model/paging.js';
import { makePte, PTE_A, PTE_D, PTE_P, PTE_PS, PTE_RW, PTE_US, pteFrame } from '../../src/model/pte.js';
import { Mmu } from '../../src/reducers/mmu.js';
import { ACCESS_1G, ACCESS_2M, ACCESS_FAULT, ACCESS_LEAF_TABLE, ACCESS_PT_PAGE, ACCESS_WRITE, type MmuOutput } from '../../src/reducers/mmu-output.js';
import { EventScript, PageTableWriter } from '../helpers/mmu-script.js';
import { type ReferenceAccess, ReferenceMmu } from '../helpers/mmu-reference.js';

const MODES: readonly PagingMode[] = ['x86-64', 'pae'];
const LEVELS = { 'x86-64': 4, pae: 3 } as const;

interface Setup {
  mmu: Mmu;
  script: EventScript;
  pt: PageTableWriter;
  frameOf: (pfn: number) => number;
}

function setup(paging: PagingMode, guest: GuestType = 'hvm', memPages = 4096): Setup {
  const mmu = new Mmu({ guest, paging, memPages, vcpus: 4, seed: 7 });
  const script = new EventScript();
  const frameOf = guest === 'pv' ? (pfn: number) => mmu.p2m!.pfnToMfn[pfn]! : (pfn: number) => pfn;
  // Table pages come from pfn 100 up; data pages are chosen below 100 or far above.
  const pt = new PageTableWriter(script, paging, 100, frameOf);
  return { mmu, script, pt, frameOf };
}

/** A vpn with distinct small indices at every level. */
function sampleVpn(paging: PagingMode): number {
  return paging === 'pae' ? vpnOf('pae', [1, 2, 3]) : vpnOf('x86-64', [1, 2, 3, 4]);
}

function walkOf(out: MmuOutput, i: number): number[] {
  return Array.from(out.walkPfns.subarray(i * 4, i * 4 + 4));
}

/** The leaf entry a translation used: in the last table its walk lists, at the vpn's index for that table's level. */
function leafOf(out: MmuOutput, i: number, paging: PagingMode, vpn: number): { ptPfn: number; index: number } {
  const tables = walkOf(out, i).filter((pfn) => pfn >= 0);
  return { ptPfn: tables.at(-1)!, index: tableIndex(paging, vpn, LEVELS[paging] - tables.length + 1) };
}

function adStoresOf(out: MmuOutput): { event: number; ptPfn: number }[] {
  return Array.from(out.adEvent, (event, k) => ({ event, ptPfn: out.adPtPfn[k]! }));
}

function padWalk(tables: number[]): number[] {
  return [...tables, -1, -1, -1, -1].slice(0, 4);
}

describe.each(MODES)('%s: accessed and dirty flags (SDM 4.8)', (paging) => {
  const levels = LEVELS[paging];
  // PAE's PDPTEs sit in registers loaded at CR3 load: the walk sets no A flag in them.
  const flaggedTables = (tables: number[]) => (paging === 'pae' ? tables.slice(1) : tables);

  it('a write sets A on every level used and D on the leaf, each as a store into that page-table page', () => {
    const { mmu, script, pt } = setup(paging);
    const root = pt.allocPage();
    const vpn = sampleVpn(paging);
    const { tables, leafPtPfn, leafIndex } = pt.map(root, vpn, 42, PTE_RW | PTE_US);
    script.cr3Load(0, root).write(0, vpn);
    const batch = script.take();
    const out = mmu.apply(batch);
    const i = batch.count - 1;

    expect(out.count).toBe(batch.count);
    expect(out.dataPfn[i]).toBe(42);
    expect(out.access[i]).toBe(ACCESS_WRITE);
    expect(leafOf(out, i, paging, vpn)).toEqual({ ptPfn: leafPtPfn, index: leafIndex });
    expect(tables).toHaveLength(levels);
    expect(walkOf(out, i)).toEqual(padWalk(tables));
    expect(adStoresOf(out)).toEqual(flaggedTables(tables).map((ptPfn) => ({ event: i, ptPfn })));

    for (const [d, table] of tables.entries()) {
      const index = [...mmu.table(table)!].findIndex((e) => e !== 0);
      const e = mmu.table(table)![index]!;
      const isLeaf = d === tables.length - 1;
      const expectA = !(paging === 'pae' && d === 0);
      expect(e & PTE_A, `A at level ${levels - d}`).toBe(expectA ? PTE_A : 0);
      expect(e & PTE_D, `D at level ${levels - d}`).toBe(isLeaf ? PTE_D : 0);
    }
    expect(mmu.stats().adStores).toBe(flaggedTables(tables).length);
  });

  it('a second access sets nothing new and makes no store', () => {
    const { mmu, script, pt } = setup(paging);
    const root = pt.allocPage();
    const vpn = sampleVpn(paging);
    pt.map(root, vpn, 42, PTE_RW);
    script.cr3Load(0, root).write(0, vpn);
    mmu.apply(script.take());

    const out = mmu.apply(script.write(0, vpn).read(0, vpn).take());
    expect(out.adCount).toBe(0);
    expect(Array.from(out.dataPfn)).toEqual([42, 42]);
  });

  it('a read sets A but not D; a later write then stores only the D of the leaf', () => {
    const { mmu, script, pt } = setup(paging);
    const root = pt.allocPage();
    const vpn = sampleVpn(paging);
    const { tables, leafPtPfn, leafIndex } = pt.map(root, vpn, 42, PTE_RW);
    script.cr3Load(0, root).read(0, vpn);
    const first = script.take();
    let out = mmu.apply(first);
    expect(out.access[first.count - 1]).toBe(0);
    expect(adStoresOf(out).map((s) => s.ptPfn)).toEqual(flaggedTables(tables));
    expect(mmu.table(leafPtPfn)![leafIndex]! & (PTE_A | PTE_D)).toBe(PTE_A);

    out = mmu.apply(script.write(0, vpn).take());
    expect(adStoresOf(out)).toEqual([{ event: 0, ptPfn: leafPtPfn }]);
    expect(mmu.table(leafPtPfn)![leafIndex]! & (PTE_A | PTE_D)).toBe(PTE_A | PTE_D);
  });

  it('the output object is reused and its columns are sized to each batch; state carries across batches', () => {
    const { mmu, script, pt } = setup(paging);
    const root = pt.allocPage();
    const vpn = sampleVpn(paging);
    pt.map(root, vpn, 42, PTE_RW);
    const a = mmu.apply(script.cr3Load(0, root).take());
    expect(a.count).toBe(LEVELS[paging] + 1);
    const b = mmu.apply(script.write(0, vpn).take());
    expect(b).toBe(a);
    expect(b.count).toBe(1);
    expect(b.dataPfn).toHaveLength(1);
    expect(b.walkPfns).toHaveLength(4);
    expect(b.dataPfn[0]).toBe(42);
  });
});

describe('guest bugs are faults, not allowed', () => {
  const cases: {
    rule: string;
    paging: PagingMode;
    leafFlags: number;
    tableFlags?: number;
    mapped?: boolean;
    write: boolean;
    reason: string;
    level: number;
  }[] = [
    { rule: 'a write through a read-only leaf (x86-64)', paging: 'x86-64', leafFlags: 0, write: true, reason: 'read-only', level: 1 },
    { rule: 'a write through a read-only leaf (PAE)', paging: 'pae', leafFlags: 0, write: true, reason: 'read-only', level: 1 },
    {
      rule: 'a write under a read-only upper-level entry (x86-64)',
      paging: 'x86-64',
      leafFlags: PTE_RW,
      tableFlags: PTE_P | PTE_US,
      write: true,
      reason: 'read-only',
      level: 4,
    },
    {
      rule: 'a write under a read-only page directory entry (PAE; the PDPTE has no RW)',
      paging: 'pae',
      leafFlags: PTE_RW,
      tableFlags: PTE_P | PTE_US,
      write: true,
      reason: 'read-only',
      level: 2,
    },
    { rule: 'a read of a page not present (x86-64)', paging: 'x86-64', leafFlags: PTE_RW, mapped: false, write: false, reason: 'not-present', level: 1 },
    { rule: 'a write to a page not present (PAE)', paging: 'pae', leafFlags: PTE_RW, mapped: false, write: true, reason: 'not-present', level: 1 },
  ];

  it.each(cases)('$rule is a $reason fault with no A/D update', ({ paging, leafFlags, tableFlags, mapped, write, reason, level }) => {
    const { mmu, script, pt } = setup(paging);
    const root = pt.allocPage();
    const vpn = sampleVpn(paging);
    const { tables, leafPtPfn, leafIndex } = pt.map(root, vpn, 42, leafFlags, { tableFlags });
    if (mapped === false) script.ptWrite(leafPtPfn, leafIndex, 0);
    script.cr3Load(2, root);
    const tNs = script.nextNs;
    if (write) script.write(2, vpn);
    else script.read(2, vpn);
    const batch = script.take();
    const out = mmu.apply(batch);
    const i = batch.count - 1;

    expect(out.access[i]).toBe(ACCESS_FAULT | (write ? ACCESS_WRITE : 0));
    expect(out.dataPfn[i]).toBe(-1);
    expect(out.adCount).toBe(0);
    expect(walkOf(out, i)).toEqual(padWalk(tables)); // the walk reached the faulting entry's table
    for (const t of tables) for (const e of mmu.table(t)!) expect(e & (PTE_A | PTE_D)).toBe(0);
    const stats = mmu.stats();
    expect(stats.faults).toBe(1);
    expect(stats.faultsByReason[reason as 'read-only']).toBe(1);
    expect(stats.firstFaults).toEqual([{ tNs, vcpu: 2, vpn, kind: write ? 'write' : 'read', reason, level }]);
  });

  it.each(MODES)('%s: a read through read-only entries translates and sets A', (paging) => {
    const { mmu, script, pt } = setup(paging);
    const root = pt.allocPage();
    const vpn = sampleVpn(paging);
    pt.map(root, vpn, 42, 0, { tableFlags: PTE_P });
    const batch = script.cr3Load(0, root).read(0, vpn).take();
    const out = mmu.apply(batch);
    expect(out.dataPfn[batch.count - 1]).toBe(42);
    expect(out.access[batch.count - 1]).toBe(0);
    expect(out.adCount).toBe(LEVELS[paging] - (paging === 'pae' ? 1 : 0));
    expect(mmu.stats().faults).toBe(0);
  });

  it('PAE: a PDPTE without RW does not stop writes and never gets A (SDM 4.4.1: RW and A are reserved there)', () => {
    const { mmu, script, pt } = setup('pae');
    const root = pt.allocPage();
    const vpn = sampleVpn('pae');
    pt.map(root, vpn, 42, PTE_RW); // the writer gives PDPTEs P only, as Linux does
    const batch = script.cr3Load(0, root).write(0, vpn).take();
    const out = mmu.apply(batch);
    expect(out.access[batch.count - 1]).toBe(ACCESS_WRITE);
    expect(mmu.table(root)![1]).toBe(makePte(pt.tableAt(root, vpn, 2)!, PTE_P));
  });

  it('a vCPU that never loaded CR3 faults with no address space', () => {
    const { mmu, script } = setup('x86-64');
    const out = mmu.apply(script.read(3, 5).take());
    expect(out.access[0]).toBe(ACCESS_FAULT);
    expect(mmu.stats().firstFaults[0]).toMatchObject({ reason: 'no-address-space', vcpu: 3, vpn: 5 });
  });

  it('HVM: a PTE naming a frame beyond guest memory is a fault', () => {
    const { mmu, script, pt } = setup('x86-64', 'hvm', 4096);
    const root = pt.allocPage();
    const vpn = sampleVpn('x86-64');
    pt.map(root, vpn, 5000, PTE_RW);
    const out = mmu.apply(script.cr3Load(0, root).write(0, vpn).take());
    expect(out.access[out.count - 1]).toBe(ACCESS_FAULT | ACCESS_WRITE);
    expect(mmu.stats().faultsByReason['frame-not-owned']).toBe(1);
  });

  it('the first few faults are recorded and all of them counted', () => {
    const { mmu, script } = setup('x86-64');
    for (let k = 0; k < 40; k++) script.write(0, k);
    mmu.apply(script.take());
    const stats = mmu.stats();
    expect(stats.faults).toBe(40);
    expect(stats.firstFaults).toHaveLength(16);
    expect(stats.firstFaults.map((f) => f.vpn)).toEqual([...Array(16).keys()]);
  });
});

describe('PS (superpage) leaves', () => {
  const cases: { rule: string; paging: PagingMode; indices: number[]; pages: 512 | 262144; base: number; flag: number }[] = [
    { rule: 'x86-64 2 MiB', paging: 'x86-64', indices: [1, 2, 3, 77], pages: 512, base: 2048, flag: ACCESS_2M },
    { rule: 'PAE 2 MiB', paging: 'pae', indices: [1, 3, 77], pages: 512, base: 2048, flag: ACCESS_2M },
    { rule: 'x86-64 1 GiB', paging: 'x86-64', indices: [1, 2, 5, 77], pages: 262144, base: 262144, flag: ACCESS_1G },
  ];

  it.each(cases)('$rule: the pfn is base + offset, the size flag is set and D lands on the PS entry', ({ paging, indices, pages, base, flag }) => {
    const { mmu, script, pt } = setup(paging, 'hvm', 600_000);
    const root = pt.allocPage();
    const vpn = vpnOf(paging, indices);
    const { tables, leafPtPfn, leafIndex } = pt.map(root, vpn, base, PTE_RW, { pages });
    const batch = script.cr3Load(0, root).write(0, vpn).take();
    const out = mmu.apply(batch);
    const i = batch.count - 1;
    expect(out.dataPfn[i]).toBe(base + (vpn & (pages - 1)));
    expect(out.access[i]).toBe(ACCESS_WRITE | flag);
    expect(leafOf(out, i, paging, vpn)).toEqual({ ptPfn: leafPtPfn, index: leafIndex });
    expect(walkOf(out, i)).toEqual(padWalk(tables));
    const e = mmu.table(leafPtPfn)![leafIndex]!;
    expect(e & (PTE_A | PTE_D | PTE_PS)).toBe(PTE_A | PTE_D | PTE_PS);
    expect(adStoresOf(out).at(-1)).toEqual({ event: i, ptPfn: leafPtPfn });

    // Once the flags are set, the same walk (the inlined path for 2 MiB) gives the same answer and stores nothing.
    const again = mmu.apply(script.read(0, vpn).write(0, vpn).take());
    expect(again.adCount).toBe(0);
    for (const k of [0, 1]) {
      expect(again.dataPfn[k]).toBe(base + (vpn & (pages - 1)));
      expect(again.access[k]).toBe((k === 1 ? ACCESS_WRITE : 0) | flag);
      expect(leafOf(again, k, paging, vpn)).toEqual({ ptPfn: leafPtPfn, index: leafIndex });
      expect(walkOf(again, k)).toEqual(padWalk(tables));
    }

    const level = pages === 512 ? 2 : 3;
    const stats = mmu.stats();
    expect(stats.levels[level - 1]).toMatchObject({ presentLeafEntries: 1, leafEntriesDirty: 1, leafEntriesAccessedDirtyWritable: 1 });
    expect(stats.levels[0]!.ptPages).toBe(0);
  });

  const reserved: { rule: string; paging: PagingMode; level: number; frame: number }[] = [
    { rule: 'PS in an x86-64 PML4 entry', paging: 'x86-64', level: 4, frame: 0 },
    { rule: 'PS in a PAE PDPTE (no 1 GiB pages in PAE)', paging: 'pae', level: 3, frame: 0 },
    { rule: 'a 2 MiB PS entry whose frame is not 2 MiB aligned', paging: 'x86-64', level: 2, frame: 513 },
  ];

  it.each(reserved)('$rule is a reserved-bit fault', ({ paging, level, frame }) => {
    const { mmu, script, pt } = setup(paging);
    const root = pt.allocPage();
    const vpn = 0;
    let table = root;
    for (let l = LEVELS[paging]; l > level; l--) {
      const child = pt.allocPage();
      pt.link(table, 0, child, paging === 'pae' && l === 3 ? PTE_P : PTE_P | PTE_RW);
      table = child;
    }
    script.ptWrite(table, 0, makePte(frame, PTE_P | PTE_RW | PTE_PS));
    const out = mmu.apply(script.cr3Load(0, root).read(0, vpn).take());
    expect(out.access[out.count - 1]).toBe(ACCESS_FAULT);
    expect(mmu.stats().firstFaults[0]).toMatchObject({ reason: 'reserved-bit', level });
  });
});

describe('PV direct mode: PTEs hold mfns', () => {
  it.each(MODES)('%s: the walker follows mfns and reports pfns', (paging) => {
    const { mmu, script, pt, frameOf } = setup(paging, 'pv', 4096);
    expect(mmu.p2m).toBeDefined();
    const root = pt.allocPage();
    const vpn = sampleVpn(paging);
    const { tables, leafPtPfn, leafIndex } = pt.map(root, vpn, 42, PTE_RW);
    const batch = script.cr3Load(0, root).write(0, vpn).take();
    const out = mmu.apply(batch);
    const i = batch.count - 1;
    expect(pteFrame(mmu.table(leafPtPfn)![leafIndex]!)).toBe(frameOf(42));
    expect(frameOf(42)).not.toBe(42);
    expect(out.dataPfn[i]).toBe(42);
    expect(leafOf(out, i, paging, vpn)).toEqual({ ptPfn: leafPtPfn, index: leafIndex });
    expect(walkOf(out, i)).toEqual(padWalk(tables));
    expect(adStoresOf(out).map((s) => s.ptPfn)).toEqual(paging === 'pae' ? tables.slice(1) : tables);
    expect(mmu.stats().levels.map((l) => l.ptPages)).toEqual(tables.map(() => 1));
  });

  it('an mfn the guest does not own is a fault, in a table link or a leaf', () => {
    const { mmu, script, pt } = setup('x86-64', 'pv', 4096);
    const foreign = mmu.p2m!.mfnToPfn.indexOf(-1);
    const root = pt.allocPage();
    const vpn = sampleVpn('x86-64');
    const { leafPtPfn, leafIndex } = pt.map(root, vpn, 42, PTE_RW);
    script.ptWrite(leafPtPfn, leafIndex, makePte(foreign, PTE_P | PTE_RW));
    script.ptWrite(root, 9, makePte(foreign, PTE_P | PTE_RW));
    script.cr3Load(0, root).write(0, vpn).read(0, vpnOf('x86-64', [9, 0, 0, 0]));
    mmu.apply(script.take());
    const stats = mmu.stats();
    expect(stats.faultsByReason['frame-not-owned']).toBe(2);
    expect(stats.firstFaults.map((f) => f.level)).toEqual([1, 4]);
    expect(stats.levels[2]!.ptPages).toBe(1); // the foreign link makes no table live
  });
});

describe('page-table pages and leaf counts', () => {
  it('linking tables raises the per-level counts; a table shared by two roots counts once; unlinking lowers them', () => {
    const { mmu, script, pt } = setup('x86-64');
    const rootA = pt.allocPage();
    const rootB = pt.allocPage();
    const kernelVpn = vpnOf('x86-64', [511, 510, 1, 2]);
    const { tables } = pt.map(rootA, kernelVpn, 42, PTE_RW);
    const ptPages = () => mmu.stats().levels.map((l) => l.ptPages);

    mmu.apply(script.take());
    expect(ptPages()).toEqual([0, 0, 0, 0]); // filled but no root reaches them yet
    expect(mmu.stats().storedTablePages).toBe(4);

    mmu.apply(script.cr3Load(0, rootA).take());
    expect(ptPages()).toEqual([1, 1, 1, 1]);
    expect(mmu.stats()).toMatchObject({ ptPages: 4, leafSlots: 512, presentLeafEntries: 1 });

    pt.link(rootB, 511, tables[1]!); // the kernel half is shared by every address space
    mmu.apply(script.cr3Load(1, rootB).take());
    expect(ptPages()).toEqual([1, 1, 1, 2]);
    expect(mmu.stats()).toMatchObject({ ptPages: 5, presentLeafEntries: 1 });

    pt.unlink(rootA, 511);
    mmu.apply(script.take());
    expect(ptPages()).toEqual([1, 1, 1, 2]); // still reached through B; A is loaded so it stays a root
    pt.unlink(rootB, 511);
    mmu.apply(script.take());
    expect(ptPages()).toEqual([0, 0, 0, 2]);
    expect(mmu.stats()).toMatchObject({ ptPages: 2, leafSlots: 0, presentLeafEntries: 0 });
    expect(mmu.tableLevel(tables[1]!)).toBe(0);
  });

  it('a root stays a page table while switched out if it still maps something, and stops once unloaded and empty', () => {
    const { mmu, script, pt } = setup('x86-64');
    const rootA = pt.allocPage();
    const rootC = pt.allocPage();
    const empty = pt.allocPage();
    const vpn = sampleVpn('x86-64');
    const { tables } = pt.map(rootA, vpn, 42, PTE_RW);
    mmu.apply(script.cr3Load(0, rootA).cr3Load(0, rootC).take());
    expect(mmu.tableLevel(rootA)).toBe(4);
    expect(mmu.stats().levels[3]!.ptPages).toBe(2);

    pt.unlink(rootA, 1); // process exit: the kernel clears its top-level entries
    mmu.apply(script.take());
    expect(mmu.tableLevel(rootA)).toBe(0);
    expect(tables.slice(1).map((t) => mmu.tableLevel(t))).toEqual([0, 0, 0]);
    expect(mmu.stats().levels.map((l) => l.ptPages)).toEqual([0, 0, 0, 1]);

    mmu.apply(script.cr3Load(0, empty).cr3Load(0, rootC).take());
    expect(mmu.tableLevel(empty)).toBe(0);
  });

  it('a PAE root uses only its 4 PDPTEs: entries beyond them link nothing', () => {
    const { mmu, script, pt } = setup('pae');
    const root = pt.allocPage();
    const pd = pt.allocPage();
    pt.link(root, 7, pd, PTE_P);
    mmu.apply(script.cr3Load(0, root).take());
    expect(mmu.tableLevel(pd)).toBe(0);
    pt.link(root, 3, pd, PTE_P);
    mmu.apply(script.take());
    expect(mmu.tableLevel(pd)).toBe(2);
  });

  it('leaf counts of present, A, D and RW entries follow pt_write changes and hardware stores', () => {
    const { mmu, script, pt } = setup('x86-64');
    const root = pt.allocPage();
    const vpn = (i: number) => vpnOf('x86-64', [0, 0, 0, i]);
    pt.map(root, vpn(0), 10, PTE_RW);
    pt.map(root, vpn(1), 11, 0);
    const { leafPtPfn } = pt.map(root, vpn(2), 12, PTE_RW | PTE_A | PTE_D);
    mmu.apply(script.cr3Load(0, root).take());
    const leaf = () => {
      const l = mmu.stats().levels[0]!;
      return [l.presentLeafEntries, l.leafEntriesAccessed, l.leafEntriesDirty, l.leafEntriesWritable, l.leafEntriesAccessedDirtyWritable];
    };
    expect(leaf()).toEqual([3, 1, 1, 2, 1]);

    mmu.apply(script.write(0, vpn(0)).read(0, vpn(1)).take());
    expect(leaf()).toEqual([3, 3, 2, 2, 2]);

    script.ptWrite(leafPtPfn, 2, makePte(12, PTE_P | PTE_A | PTE_D)); // write-protect
    mmu.apply(script.take());
    expect(leaf()).toEqual([3, 3, 2, 1, 1]);

    script.ptWrite(leafPtPfn, 1, 0); // unmap
    mmu.apply(script.take());
    expect(leaf()).toEqual([2, 2, 2, 1, 1]);
    expect(mmu.stats()).toMatchObject({ presentLeafEntries: 2, leafEntriesAccessedDirtyWritable: 1 });
  });

  it('a table filled before it is linked keeps its entries, which count once it is linked', () => {
    const { mmu, script, pt } = setup('x86-64');
    const root = pt.allocPage();
    const vpn = vpnOf('x86-64', [0, 0, 0, 5]);
    const { tables } = pt.map(root, vpn, 10, PTE_RW);
    const l1 = tables[3]!;
    mmu.apply(script.cr3Load(0, root).take());
    const fresh = pt.allocPage();
    script.ptWrite(fresh, 5, makePte(20, PTE_P | PTE_RW));
    let out = mmu.apply(script.take());
    expect(out.access[0]).toBe(ACCESS_WRITE); // not a table yet
    expect(mmu.table(fresh)![5]).toBe(makePte(20, PTE_P | PTE_RW));
    expect(mmu.stats().presentLeafEntries).toBe(1);

    pt.link(tables[2]!, 0, fresh); // replaces l1
    out = mmu.apply(script.write(0, vpn).take());
    expect(out.dataPfn[1]).toBe(20);
    expect(mmu.tableLevel(fresh)).toBe(1);
    expect(mmu.tableLevel(l1)).toBe(0);
    expect(mmu.stats().presentLeafEntries).toBe(1);
  });

  it('storage of a page that is neither a table nor holds an entry is released', () => {
    const { mmu, script } = setup('x86-64');
    script.ptWrite(300, 1, makePte(5, PTE_P)).ptWrite(300, 2, makePte(6, PTE_P));
    mmu.apply(script.take());
    expect(mmu.stats().storedTablePages).toBe(1);
    mmu.apply(script.ptWrite(300, 1, 0).ptWrite(300, 2, 0).take());
    expect(mmu.stats().storedTablePages).toBe(0);
    expect(mmu.table(300)).toBeUndefined();
  });

  it('forEachTable visits every live table once, in pfn order', () => {
    const { mmu, script, pt } = setup('x86-64');
    const root = pt.allocPage();
    const { tables } = pt.map(root, sampleVpn('x86-64'), 42, PTE_RW);
    mmu.apply(script.cr3Load(0, root).take());
    const seen: [number, number][] = [];
    mmu.forEachTable((pfn, level, entries) => {
      expect(entries).toHaveLength(512);
      seen.push([pfn, level]);
    });
    expect(seen).toEqual(tables.map((t, d) => [t, 4 - d]).sort((a, b) => a[0]! - b[0]!));
  });
});

describe('events without a walk', () => {
  it('phys_write reports its pfn as a store, flagged when it lands on a live page table', () => {
    const { mmu, script, pt } = setup('x86-64');
    const root = pt.allocPage();
    const { tables } = pt.map(root, sampleVpn('x86-64'), 42, PTE_RW);
    script.cr3Load(0, root).physWrite(42).physWrite(tables[2]!).idle(1);
    const batch = script.take();
    const out = mmu.apply(batch);
    const n = batch.count;
    expect(Array.from(out.dataPfn.subarray(n - 4))).toEqual([-1, 42, tables[2], -1]);
    expect(Array.from(out.access.subarray(n - 4))).toEqual([0, ACCESS_WRITE, ACCESS_WRITE | ACCESS_PT_PAGE, 0]);
    expect(walkOf(out, n - 1)).toEqual([-1, -1, -1, -1]);
  });

  it('pt_write reports the page-table page it stores into, flagged once that page is live, and as a leaf table when it is an L1 and nothing else', () => {
    const { mmu, script, pt } = setup('x86-64');
    const root = pt.allocPage();
    const vpn = sampleVpn('x86-64');
    const { leafPtPfn, leafIndex, tables } = pt.map(root, vpn, 42, PTE_RW);
    let batch = script.take();
    let out = mmu.apply(batch);
    expect(out.access[batch.count - 1]).toBe(ACCESS_WRITE);
    expect(out.dataPfn[batch.count - 1]).toBe(leafPtPfn);
    mmu.apply(script.cr3Load(0, root).take());
    batch = script.ptWrite(leafPtPfn, leafIndex, makePte(43, PTE_P | PTE_RW)).take();
    out = mmu.apply(batch);
    expect(out.access[0]).toBe(ACCESS_WRITE | ACCESS_PT_PAGE | ACCESS_LEAF_TABLE);
    expect(out.dataPfn[0]).toBe(leafPtPfn);
    // A store into the L2 above it (an entry beside the one that links the L1, left empty): a table, not a leaf table.
    out = mmu.apply(script.ptWrite(tables[2]!, ((vpn >>> 9) + 1) & 511, 0).take());
    expect(out.access[0]).toBe(ACCESS_WRITE | ACCESS_PT_PAGE);
  });

  it('a store through the MMU to a page that is a live page table is flagged', () => {
    const { mmu, script, pt } = setup('x86-64');
    const root = pt.allocPage();
    const vpn = sampleVpn('x86-64');
    const { tables } = pt.map(root, vpn, 42, PTE_RW);
    const selfVpn = vpnOf('x86-64', [1, 2, 3, 9]);
    pt.map(root, selfVpn, tables[3]!, PTE_RW); // the kernel's direct map reaches its own tables
    const batch = script.cr3Load(0, root).write(0, selfVpn).take();
    const out = mmu.apply(batch);
    expect(out.dataPfn[batch.count - 1]).toBe(tables[3]);
    expect(out.access[batch.count - 1]).toBe(ACCESS_WRITE | ACCESS_PT_PAGE);
  });

  it('malformed events are errors that name the event and the limit', () => {
    const { mmu, script } = setup('x86-64');
    expect(() => mmu.apply(script.ptWrite(4096, 0, 1).take())).toThrow(/pfn 4096, outside the guest's 4096 pages/);
    expect(() => mmu.apply(script.cr3Load(4, 1).take())).toThrow(/vcpu 4, but the guest has 4 vCPUs/);
    expect(() => mmu.apply(script.ptWrite(1, 512, 1).take())).toThrow(/entry index 512/);
    const pae = setup('pae');
    expect(() => pae.mmu.apply(pae.script.read(0, 1 << 20).take())).toThrow(/PAE/);
    // PV: host frames (twice the guest's) must fit the PTE's 24-bit Int32 word; HVM: 2^30 frames (4 TiB).
    expect(() => new Mmu({ guest: 'pv', paging: 'x86-64', memPages: (1 << 23) + 1, vcpus: 1, seed: 1 })).toThrow(/PV guest/);
    expect(() => new Mmu({ guest: 'hvm', paging: 'x86-64', memPages: 2 ** 30 + 1, vcpus: 1, seed: 1 })).toThrow(/HVM guest/);
  });
});

// ---- The incremental state matches a from-scratch model on random guests ----

const MEM_PAGES = 48;
/** Pages the random guests use as tables: few, so that walks find the entries written. */
const TABLE_CANDIDATES = 8;

type RandomEvent =
  | { k: 'pt'; pfn: number; index: number; flags: number; frame: { table: number } | { raw: number } }
  | { k: 'cr3'; vcpu: number; root: number }
  | { k: 'write' | 'read'; vcpu: number; indices: number[] }
  | { k: 'phys'; pfn: number }
  | { k: 'idle'; vcpu: number };

/**
 * Random guests that link a handful of pages into each other at random
 * levels (sharing and cycles arise by themselves), with random flags, PS
 * bits, foreign frames and CR3 switches, and walk indices 0 and 1 so that
 * most walks meet entries that were written.
 */
function randomEvents(paging: PagingMode, frameLimit: number): fc.Arbitrary<RandomEvent[]> {
  const levels = LEVELS[paging];
  const index = fc.constantFrom(0, 1, 0, 1, 0, 1, 3, 511);
  // Mostly present and writable; D and PS now and then.
  const flags = fc
    .record({
      p: fc.integer({ min: 0, max: 9 }),
      rw: fc.integer({ min: 0, max: 4 }),
      us: fc.boolean(),
      a: fc.boolean(),
      d: fc.integer({ min: 0, max: 3 }),
      ps: fc.integer({ min: 0, max: 7 }),
    })
    .map(
      (f) =>
        (f.p > 0 ? PTE_P : 0) |
        (f.rw > 0 ? PTE_RW : 0) |
        (f.us ? PTE_US : 0) |
        (f.a ? PTE_A : 0) |
        (f.d === 0 ? PTE_D : 0) |
        (f.ps === 0 ? PTE_PS : 0),
    );
  const frame = fc.oneof(
    { weight: 12, arbitrary: fc.integer({ min: 0, max: TABLE_CANDIDATES - 1 }).map((table) => ({ table })) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: frameLimit + 3 }).map((raw) => ({ raw })) },
    { weight: 4, arbitrary: fc.constantFrom(0, 0, 0, 1).map((raw) => ({ raw })) }, // aligned and misaligned superpage bases
  );
  const vcpu = fc.integer({ min: 0, max: 1 });
  const tablePage = fc.integer({ min: 0, max: TABLE_CANDIDATES - 1 });
  const indices = fc.array(fc.constantFrom(0, 1, 0, 1, 0, 1, 3), { minLength: levels, maxLength: levels });
  const event: fc.Arbitrary<RandomEvent> = fc.oneof(
    { weight: 8, arbitrary: fc.record({ k: fc.constant('pt' as const), pfn: tablePage, index, flags, frame }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('cr3' as const), vcpu, root: tablePage }) },
    { weight: 8, arbitrary: fc.record({ k: fc.constantFrom('write' as const, 'read' as const), vcpu, indices }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('phys' as const), pfn: fc.integer({ min: 0, max: MEM_PAGES - 1 }) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('idle' as const), vcpu }) },
  );
  const start: RandomEvent[] = [
    { k: 'cr3', vcpu: 0, root: 0 },
    { k: 'cr3', vcpu: 1, root: 1 },
  ];
  return fc.array(event, { minLength: 20, maxLength: 300, size: 'max' }).map((events) => [...start, ...events]);
}

function checkAgainstReference(paging: PagingMode, guest: GuestType, events: RandomEvent[], batchSplits: number[]): void {
  const mmu = new Mmu({ guest, paging, memPages: MEM_PAGES, vcpus: 2, seed: 11 });
  const ref = new ReferenceMmu(paging, MEM_PAGES, mmu.p2m?.mfnToPfn);
  const frameOf = (pfn: number) => (mmu.p2m ? mmu.p2m.pfnToMfn[pfn]! : pfn);
  const script = new EventScript();
  const cuts = new Set(batchSplits.map((s) => s % events.length));
  const batches: GuestBatch[] = [];
  events.forEach((e, n) => {
    if (e.k === 'pt') {
      const f = 'table' in e.frame ? frameOf(e.frame.table) : e.frame.raw;
      script.ptWrite(e.pfn, e.index, makePte(f, e.flags));
    } else if (e.k === 'cr3') script.cr3Load(e.vcpu, e.root);
    else if (e.k === 'write') script.write(e.vcpu, vpnOf(paging, e.indices));
    else if (e.k === 'read') script.read(e.vcpu, vpnOf(paging, e.indices));
    else if (e.k === 'phys') script.physWrite(e.pfn);
    else script.idle(e.vcpu);
    if (cuts.has(n) || n === events.length - 1) batches.push(script.take());
  });

  let faults = 0;
  for (const batch of batches) {
    const out = mmu.apply(batch);
    const { results } = ref.apply(batch);
    const expectedStores: { event: number; ptPfn: number }[] = [];
    results.forEach((r, i) => {
      const where = `event ${i} (${batch.kind[i]}) of a batch of ${batch.count}`;
      expect(out.dataPfn[i], where).toBe(r.dataPfn);
      expect(out.access[i], where).toBe(r.access);
      if ('walk' in r) {
        const walk = r as ReferenceAccess;
        if (!walk.faultReason) expect(leafOf(out, i, paging, batch.page[i]!), where).toEqual({ ptPfn: walk.leafPtPfn, index: walk.leafIndex });
        expect(walkOf(out, i), where).toEqual(padWalk(walk.walk));
        for (const ptPfn of walk.stores) expectedStores.push({ event: i, ptPfn });
        if (walk.faultReason) faults++;
      }
    });
    expect(adStoresOf(out)).toEqual(expectedStores);

    const counts = ref.counts();
    const stats = mmu.stats();
    expect(stats.levels.map((l) => l.ptPages)).toEqual(counts.ptPagesPerLevel);
    expect(stats.ptPages).toBe(counts.distinctPtPages);
    expect(
      stats.levels.map((l) => ({
        present: l.presentLeafEntries,
        a: l.leafEntriesAccessed,
        d: l.leafEntriesDirty,
        rw: l.leafEntriesWritable,
        adrw: l.leafEntriesAccessedDirtyWritable,
      })),
    ).toEqual(counts.leaf);
    expect(stats.faults).toBe(faults);
    const live = ref.live();
    const zeros = new Int32Array(512);
    for (let pfn = 0; pfn < MEM_PAGES; pfn++) {
      const expected = ref.tables.get(pfn) ?? zeros;
      const actual = mmu.table(pfn) ?? zeros;
      const k = expected.findIndex((e, index) => e !== actual[index]);
      if (k >= 0) expect(actual[k], `entry ${k} of pfn ${pfn}`).toBe(expected[k]);
      let level = 0;
      for (const [l, set] of live) if (set.has(pfn)) level = Math.max(level, l);
      expect(mmu.tableLevel(pfn), `level of pfn ${pfn}`).toBe(level);
    }
  }
}

describe('incremental counts agree with a from-scratch model', () => {
  const configs: [PagingMode, GuestType][] = [
    ['x86-64', 'hvm'],
    ['x86-64', 'pv'],
    ['pae', 'hvm'],
    ['pae', 'pv'],
  ];
  it.each(configs)('%s %s: outputs, A/D stores, liveness and every count match on random guests (shared and cyclic tables included)', (paging, guest) => {
    const frameLimit = guest === 'pv' ? MEM_PAGES * 2 : MEM_PAGES;
    fc.assert(
      fc.property(randomEvents(paging, frameLimit), fc.array(fc.nat(), { maxLength: 3 }), (events, splits) => {
        checkAgainstReference(paging, guest, events, splits);
      }),
      { numRuns: 150, seed: 20240611 },
    );
  });

  it('a walk cached before the paging-structure cache generations wrap is not used after they wrap', () => {
    // A walk is cached in generation 1 (every flag already set, so the walk
    // stores nothing), its L2 entry is then changed, and 510 more changes of
    // another L2 entry bring the generation round to 1 again: the cached
    // row, whose leaf table is no longer the walk's, must not answer.
    const upper = PTE_P | PTE_RW | PTE_A;
    const data = PTE_P | PTE_RW | PTE_A | PTE_D;
    const events: RandomEvent[] = [
      { k: 'pt', pfn: 0, index: 0, flags: upper, frame: { table: 1 } },
      { k: 'pt', pfn: 1, index: 0, flags: upper, frame: { table: 2 } },
      { k: 'pt', pfn: 2, index: 0, flags: upper, frame: { table: 3 } },
      { k: 'pt', pfn: 3, index: 0, flags: data, frame: { raw: 10 } },
      { k: 'cr3', vcpu: 0, root: 0 },
      { k: 'write', vcpu: 0, indices: [0, 0, 0, 0] },
      { k: 'pt', pfn: 4, index: 0, flags: data, frame: { raw: 20 } },
      { k: 'pt', pfn: 2, index: 0, flags: upper, frame: { table: 4 } },
      { k: 'pt', pfn: 2, index: 1, flags: upper, frame: { table: 5 } },
    ];
    for (let k = 0; k < 510; k++) events.push({ k: 'pt', pfn: 2, index: 1, flags: k % 2 === 0 ? upper | PTE_US : upper, frame: { table: 5 } });
    events.push({ k: 'write', vcpu: 0, indices: [0, 0, 0, 0] });
    checkAgainstReference('x86-64', 'hvm', events, []);
  });

  it('the random guests do reach deep walks, superpages and faults (the property above is not vacuous)', () => {
    // A fixed guest that must produce every outcome the property compares.
    const paging: PagingMode = 'x86-64';
    const events: RandomEvent[] = [
      { k: 'pt', pfn: 0, index: 0, flags: PTE_P | PTE_RW, frame: { table: 1 } },
      { k: 'pt', pfn: 1, index: 0, flags: PTE_P | PTE_RW, frame: { table: 0 } }, // a cycle through the root
      { k: 'pt', pfn: 0, index: 1, flags: PTE_P | PTE_RW | PTE_PS, frame: { raw: 0 } },
      { k: 'cr3', vcpu: 0, root: 0 },
      { k: 'write', vcpu: 0, indices: [0, 0, 0, 1] },
      { k: 'read', vcpu: 0, indices: [0, 0, 1, 1] },
      { k: 'pt', pfn: 0, index: 0, flags: 0, frame: { raw: 0 } },
      { k: 'write', vcpu: 0, indices: [0, 0, 0, 1] },
    ];
    checkAgainstReference(paging, 'hvm', events, [4]);
  });
});

describe('event kinds', () => {
  it('write and read are the two lowest codes (the walk loop tests kind <= read)', () => {
    expect(GuestEventKind.write).toBe(0);
    expect(GuestEventKind.read).toBe(1);
  });
});
