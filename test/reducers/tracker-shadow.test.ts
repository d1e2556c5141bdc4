import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GuestBatchBuilder } from '../../src/events/guest-batch-builder.js';
import { NO_VCPU } from '../../src/events/guest-event-kind.js';
import { RunEventKind } from '../../src/events/run-event-kind.js';
import { type CostModel, DEFAULT_COSTS } from '../../src/model/cost-model.js';
import { costModelWith } from '../../src/model/cost-model-file.js';
import { type GuestType, type PagingMode, tableIndex, vpnOf } from '../../src/model/paging.js';
import { makePte, PTE_P, PTE_PS, PTE_RW, PTE_US } from '../../src/model/pte.js';
import { countBits } from '../../src/reducers/logdirty-bitmap.js';
import type { ShadowPool } from '../../src/reducers/shadow-pool.js';
import { GuestKernel } from '../../src/workloads/guest-kernel.js';
import { LD_SO, LIBC, type ProgramImage } from '../../src/workloads/guest-program.js';
import { EventScript, PageTableWriter } from '../helpers/mmu-script.js';
import { rounds, ScriptedRun, setOf } from '../helpers/tracker-sim.js';


const MODES: readonly PagingMode[] = ['x86-64', 'pae'];
const LEVELS = { 'x86-64': 4, pae: 3 } as const;

interface Harness {
  sim: ScriptedRun;
  script: EventScript;
  pt: PageTableWriter;
  /** Folds the events added to the script since the last call. */
  run(): void;
  exits(kind: number): number;
  stats(): Record<string, number>;
}

function harness(paging: PagingMode, guest: GuestType = 'hvm', costs: CostModel = DEFAULT_COSTS, vcpus = 2, memPages = 8192): Harness {
  const sim = new ScriptedRun({ guest: { type: guest, paging, memPages, vcpus }, seed: 7, tracker: 'shadow', superpages: 'split', p2m: '4k', costs });
  const script = new EventScript();
  const frameOf = guest === 'pv' ? (pfn: number) => sim.mmu.p2m!.pfnToMfn[pfn]! : (pfn: number) => pfn;
  const pt = new PageTableWriter(script, paging, 1000, frameOf);
  return {
    sim,
    script,
    pt,
    run: () => sim.step(script.take()),
    exits: (kind) => sim.tracker.exitCounts[kind]!,
    stats: () => sim.tracker.stats(),
  };
}

/** A vpn with distinct indices at every level, the n-th of a family (n < 512). */
function vpnAt(paging: PagingMode, n: number, l1 = 0): number {
  return paging === 'pae' ? vpnOf('pae', [1, n, l1]) : vpnOf('x86-64', [1, 2, n, l1]);
}

const now = (h: Harness) => h.sim.clock.nowNs;


describe.each(MODES)('shadow tracker, %s', (paging) => {
  const levels = LEVELS[paging];

  it('shadow faults once per page per round: the first write to a page not dirty this round faults, later writes and reads are free', () => {
    const h = harness(paging);
    const root = h.pt.allocPage();
    const data = [10, 11, 12];
    const vpns = data.map((_, k) => vpnAt(paging, 3, k));
    data.forEach((pfn, k) => h.pt.map(root, vpns[k]!, pfn, PTE_RW | PTE_US));
    h.script.cr3Load(0, root);
    // Warm up: shadows built, guest A/D bits set.
    for (const v of vpns) h.script.write(0, v);
    h.run();
    h.sim.tracker.enable(now(h));
    for (let round = 0; round < 3; round++) {
      const before = h.exits(RunEventKind.shadowFault);
      h.script.write(0, vpns[0]!).write(0, vpns[0]!).read(0, vpns[1]!).write(0, vpns[1]!).write(0, vpns[0]!).write(0, vpns[1]!).read(0, vpns[2]!);
      h.run();
      expect(h.exits(RunEventKind.shadowFault) - before).toBe(2);
      const dirty = h.sim.tracker.clean(now(h));
      // Pages 10 and 11, and none of the tables (no A/D store, no pt_write).
      expect(countBits(dirty)).toBe(2);
    }
  });

  it('a second mapping of a page propagated before the page became dirty faults once; one propagated after does not', () => {
    const h = harness(paging);
    const rootA = h.pt.allocPage();
    const rootB = h.pt.allocPage();
    const rootC = h.pt.allocPage();
    const va = vpnAt(paging, 4);
    for (const r of [rootA, rootB, rootC]) h.pt.map(r, va, 20, PTE_RW | PTE_US);
    h.script.cr3Load(0, rootA).write(0, va).cr3Load(0, rootB).write(0, va).cr3Load(0, rootC).write(0, va);
    h.run();
    h.sim.tracker.enable(now(h));
    // B's L1 shadow is built (read) before A dirties the page; C's after.
    h.script.cr3Load(0, rootB).read(0, va).cr3Load(0, rootA).write(0, va).cr3Load(0, rootC).read(0, va);
    h.run();
    const faults = h.exits(RunEventKind.shadowFault);
    h.script.cr3Load(0, rootC).write(0, va);
    h.run();
    expect(h.exits(RunEventKind.shadowFault)).toBe(faults);
    h.script.cr3Load(0, rootB).write(0, va);
    h.run();
    expect(h.exits(RunEventKind.shadowFault)).toBe(faults + 1);
  });

  it('a PTE rewritten to another page is propagated read-only: the first write to the new page faults and marks it', () => {
    const h = harness(paging);
    const root = h.pt.allocPage();
    const v = vpnAt(paging, 13);
    h.pt.map(root, v, 80, PTE_RW | PTE_US);
    h.script.cr3Load(0, root).write(0, v);
    h.run();
    h.sim.tracker.enable(now(h));
    h.sim.oracle.sendAll();
    h.script.write(0, v);
    h.pt.map(root, v, 81, PTE_RW | PTE_US); // same entry of the same (shadowed) L1 table
    h.script.write(0, v);
    h.run();
    const dirty = h.sim.tracker.clean(now(h));
    expect(setOf(dirty)).toContain(81);
    h.sim.oracle.sendBitmap(dirty);
    expect(h.sim.oracle.divergent().count).toBe(0);
  });

  it('a guest table repointed under a walked region is used at once: the next access faults and builds its shadow', () => {
    const h = harness(paging);
    const root = h.pt.allocPage();
    const v = vpnAt(paging, 14);
    const { tables } = h.pt.map(root, v, 90, PTE_RW | PTE_US);
    h.sim.tracker.enable(0);
    h.sim.oracle.sendAll();
    h.script.cr3Load(0, root).write(0, v).write(0, v).read(0, v);
    h.run();
    const faults = h.exits(RunEventKind.shadowFault);
    const rebuilds = h.exits(RunEventKind.shadowRebuild);
    // A new L1 table mapping v to another page, linked where the old one was.
    const l1 = h.pt.allocPage();
    h.script.ptWrite(l1, tableIndex(paging, v, 1), makePte(91, PTE_P | PTE_RW | PTE_US));
    h.pt.link(tables[levels - 2]!, tableIndex(paging, v, 2), l1);
    h.script.write(0, v).write(0, v);
    h.run();
    // One fault, which builds the new L1's shadow and marks page 91 dirty.
    expect(h.exits(RunEventKind.shadowFault)).toBe(faults + 1);
    expect(h.exits(RunEventKind.shadowRebuild)).toBe(rebuilds + 1);
    const dirty = h.sim.tracker.clean(now(h));
    expect(setOf(dirty)).toContain(91);
    h.sim.oracle.sendBitmap(dirty);
    expect(h.sim.oracle.divergent().count).toBe(0);
  });

  it('PT writes are emulated under shadow: every pt_write is one pt_emulate exit, and marks its table dirty while log-dirty is on', () => {
    const h = harness(paging);
    const root = h.pt.allocPage();
    h.sim.tracker.enable(0);
    const { tables } = h.pt.map(root, vpnAt(paging, 5), 30, PTE_RW | PTE_US);
    h.pt.map(root, vpnAt(paging, 5, 1), 31, PTE_RW | PTE_US);
    h.script.cr3Load(0, root);
    const batch = h.script.take();
    const ptWrites = Array.from(batch.kind).filter((k) => k === 2).length;
    h.sim.step(batch);
    expect(ptWrites).toBe(levels + 1);
    expect(h.exits(RunEventKind.ptEmulate)).toBe(ptWrites);
    const c = DEFAULT_COSTS;
    expect(h.sim.tracker.exitCostNs[RunEventKind.ptEmulate]).toBe(ptWrites * (c.exitRoundTripNs + c.ptEmulateNs));
    const dirty = h.sim.tracker.peek(now(h));
    for (const t of tables) expect((dirty[t >>> 5]! >>> (t & 31)) & 1).toBe(1);
    expect(h.stats()['ptWritesEmulated']).toBe(ptWrites);
  });

  it('a walk with missing shadows is one fault plus one rebuild per missing table', () => {
    const h = harness(paging);
    const root = h.pt.allocPage();
    const v1 = vpnAt(paging, 6, 0);
    const v2 = vpnAt(paging, 7, 0);
    h.pt.map(root, v1, 40, PTE_RW | PTE_US);
    h.pt.map(root, v2, 41, PTE_RW | PTE_US);
    h.script.cr3Load(0, root);
    h.run();
    // The CR3 load built the top-level shadow.
    expect(h.exits(RunEventKind.shadowRebuild)).toBe(1);
    expect(h.exits(RunEventKind.shadowFault)).toBe(0);
    h.script.read(0, v1);
    h.run();
    expect(h.exits(RunEventKind.shadowFault)).toBe(1);
    expect(h.exits(RunEventKind.shadowRebuild)).toBe(levels);
    // v2 shares every table with v1 but its L1.
    h.script.read(0, v2);
    h.run();
    expect(h.exits(RunEventKind.shadowFault)).toBe(2);
    expect(h.exits(RunEventKind.shadowRebuild)).toBe(levels + 1);
    h.script.read(0, v2).read(0, v1);
    h.run();
    expect(h.exits(RunEventKind.shadowFault)).toBe(2);
    const c = DEFAULT_COSTS;
    expect(h.sim.tracker.exitCostNs[RunEventKind.shadowFault]).toBe(2 * (c.exitRoundTripNs + c.shadowFaultNs));
    expect(h.sim.tracker.exitCostNs[RunEventKind.shadowRebuild]).toBe((levels + 1) * c.shadowRebuildPerTableNs);
    expect(h.sim.tracker.memoryBytes()).toBe((levels + 1) * c.shadowPagesPerTable * 4096);
  });

  it("a guest page fault exits too: one shadow fault per faulting access, reflected to the guest, nothing built or marked", () => {
    const h = harness(paging);
    const root = h.pt.allocPage();
    const v1 = vpnAt(paging, 9, 0);
    h.pt.map(root, v1, 50, PTE_RW | PTE_US);
    h.script.cr3Load(0, root).read(0, v1);
    h.run();
    h.sim.tracker.enable(now(h));
    const faults = h.exits(RunEventKind.shadowFault);
    const rebuilds = h.exits(RunEventKind.shadowRebuild);
    // v1's neighbour has no entry in the guest's leaf table.
    h.script.read(0, vpnAt(paging, 9, 1)).write(0, vpnAt(paging, 9, 1));
    h.run();
    expect(h.sim.mmu.stats().faults).toBe(2);
    expect(h.exits(RunEventKind.shadowFault) - faults).toBe(2);
    expect(h.stats()['faultsReflected']).toBe(2);
    expect(h.exits(RunEventKind.shadowRebuild)).toBe(rebuilds);
    expect(setOf(h.sim.tracker.clean(now(h)))).toEqual([]);
  });

  it('guest A/D bits are set by the fault that propagates the entry: a first access to a fresh PTE faults once, without a rebuild', () => {
    const h = harness(paging);
    const root = h.pt.allocPage();
    const v1 = vpnAt(paging, 8, 0);
    const v2 = vpnAt(paging, 8, 1);
    h.pt.map(root, v1, 50, PTE_RW | PTE_US);
    h.script.cr3Load(0, root).read(0, v1);
    h.run();
    const faults = h.exits(RunEventKind.shadowFault);
    const rebuilds = h.exits(RunEventKind.shadowRebuild);
    h.pt.map(root, v2, 51, PTE_RW | PTE_US); // same L1 table, new entry with A clear
    h.script.read(0, v2).read(0, v2).write(0, v2).write(0, v2);
    h.run();
    // The read sets A (one fault), the first write sets D (one fault).
    expect(h.exits(RunEventKind.shadowFault) - faults).toBe(2);
    expect(h.exits(RunEventKind.shadowRebuild)).toBe(rebuilds);
    expect(h.stats()['faultsAccessedDirty']).toBe(2);
  });

  it('clean blows shadow tables: the tables walked after a clean are rebuilt, one rebuild each', () => {
    const h = harness(paging);
    const rootA = h.pt.allocPage();
    const rootB = h.pt.allocPage();
    const va = vpnAt(paging, 9);
    const vb = vpnAt(paging, 10);
    const tablesA = h.pt.map(rootA, va, 60, PTE_RW | PTE_US).tables;
    const tablesB = h.pt.map(rootB, vb, 61, PTE_RW | PTE_US).tables;
    h.script.cr3Load(0, rootB).write(0, vb).cr3Load(0, rootA).write(0, va);
    h.run();
    h.sim.tracker.enable(now(h));
    // After the ENABLE blow, leaving A frees its unpinned top-level shadow:
    // come back to it so that both address spaces are shadowed in full.
    h.script.write(0, va).cr3Load(0, rootB).write(0, vb).cr3Load(0, rootA).write(0, va);
    h.run();
    const inUse = h.stats()['shadowsInUse']!;
    expect(inUse).toBe(2 * levels);
    const c = DEFAULT_COSTS;
    const cleanCostBefore = h.sim.tracker.exitCostNs[RunEventKind.clean]!;
    const rebuilds = h.exits(RunEventKind.shadowRebuild);
    const blownBefore = h.stats()['shadowsBlown']!;
    h.sim.tracker.clean(now(h));
    // Everything is freed but A's top-level shadow, which CR3 holds (emptied).
    expect(h.stats()['shadowsInUse']).toBe(1);
    const freed = inUse - 1;
    expect(h.stats()['shadowsBlown']! - blownBefore).toBe(freed);
    const opCost = c.logDirtyOpBaseNs + h.sim.tracker.dirty.leafCount * c.cleanPerLeafNs;
    expect(h.sim.tracker.exitCostNs[RunEventKind.clean]! - cleanCostBefore).toBe(opCost + freed * c.shadowPagesPerTable * c.shadowBlowPerPageNs);
    // B first, then A: A's top-level shadow, unpinned by the blow, is freed
    // when CR3 drops it, so both address spaces are rebuilt in full.
    h.script.cr3Load(0, rootB).write(0, vb).cr3Load(0, rootA).write(0, va);
    h.run();
    const walked = new Set([...tablesA, ...tablesB]);
    expect(h.exits(RunEventKind.shadowRebuild) - rebuilds).toBe(walked.size);
    expect(h.stats()['shadowRebuilds']).toBeGreaterThanOrEqual(walked.size);
  });

  it('the top-level shadow loaded in CR3 at a clean is emptied, not freed: only the tables below it are rebuilt', () => {
    const h = harness(paging);
    const root = h.pt.allocPage();
    const va = vpnAt(paging, 11);
    h.pt.map(root, va, 70, PTE_RW | PTE_US);
    h.script.cr3Load(0, root).write(0, va);
    h.run();
    h.sim.tracker.enable(now(h));
    const rebuilds = h.exits(RunEventKind.shadowRebuild);
    h.script.write(0, va);
    h.run();
    expect(h.exits(RunEventKind.shadowRebuild) - rebuilds).toBe(levels - 1);
  });

  it('a small pool with many address spaces evicts and rebuilds; a big enough pool does neither', () => {
    const spaces = 8;
    const runWith = (poolPages: number) => {
      const h = harness(paging, 'hvm', costModelWith({ shadowPoolPages: poolPages }), 1);
      const roots: number[] = [];
      const vpns: number[] = [];
      for (let s = 0; s < spaces; s++) {
        const root = h.pt.allocPage();
        roots.push(root);
        vpns.push(vpnAt(paging, 12 + s));
        h.pt.map(root, vpns[s]!, 100 + s, PTE_RW | PTE_US);
      }
      for (let pass = 0; pass < 3; pass++) for (let s = 0; s < spaces; s++) h.script.cr3Load(0, roots[s]!).write(0, vpns[s]!);
      h.run();
      return h;
    };
    const big = runWith(1024);
    expect(big.stats()['shadowEvictions']).toBe(0);
    expect(big.stats()['shadowRebuilds']).toBe(0);
    expect(big.exits(RunEventKind.shadowRebuild)).toBe(spaces * levels);
    const smallPool = 3 * levels;
    const small = runWith(smallPool);
    const s = small.stats();
    expect(s['shadowEvictions']).toBeGreaterThan(0);
    expect(s['shadowRebuilds']).toBeGreaterThan(0);
    expect(s['shadowPagesPeak']).toBeLessThanOrEqual(smallPool);
    expect(small.sim.tracker.memoryBytes()).toBeLessThanOrEqual(smallPool * 4096);
    // Cycling through more address spaces than fit: every visit rebuilds.
    expect(small.exits(RunEventKind.shadowRebuild)).toBe(3 * spaces * levels);
    // The evicting builds carry the freeing cost.
    const c = DEFAULT_COSTS;
    expect(small.sim.tracker.exitCostNs[RunEventKind.shadowRebuild]).toBe(
      3 * spaces * levels * c.shadowRebuildPerTableNs + s['shadowsEvicted']! * c.shadowBlowPerPageNs * c.shadowPagesPerTable,
    );
    expect(small.sim.clock.totalStallNs()).toBeGreaterThan(big.sim.clock.totalStallNs());
  });

  it("eviction unpins the least recently loaded top-level shadow first (Xen's _shadow_prealloc)", () => {
    const h = harness(paging, 'hvm', costModelWith({ shadowPoolPages: 3 * levels }), 1);
    const roots = [0, 1, 2, 3].map(() => h.pt.allocPage());
    const vpns = roots.map((_, k) => vpnAt(paging, 30 + k));
    roots.forEach((r, k) => h.pt.map(r, vpns[k]!, 200 + k, PTE_RW | PTE_US));
    const visit = (k: number) => h.script.cr3Load(0, roots[k]!).write(0, vpns[k]!);
    visit(0);
    visit(1);
    visit(2); // pool full: A, B, C
    visit(3); // evicts A, the least recently loaded
    h.run();
    const rebuilds = h.exits(RunEventKind.shadowRebuild);
    visit(1); // still there
    h.run();
    expect(h.exits(RunEventKind.shadowRebuild)).toBe(rebuilds);
    visit(0); // rebuilt, evicting C (B was loaded since)
    h.run();
    expect(h.exits(RunEventKind.shadowRebuild) - rebuilds).toBe(levels);
    const r2 = h.exits(RunEventKind.shadowRebuild);
    visit(1);
    h.run();
    expect(h.exits(RunEventKind.shadowRebuild)).toBe(r2);
  });

  // HVM only: a PV guest gets no superpages from Xen (and a 2 MiB run of
  // machine frames it owns whole is unlikely under the scattered p2m).
  it('2 MiB guest mappings are shadowed by one FL1 shadow, and fault once per 4 KiB page per round', () => {
    const h = harness(paging);
    const root = h.pt.allocPage();
    const vpn = vpnAt(paging, 40);
    h.pt.map(root, vpn, 2048, PTE_RW | PTE_US, { pages: 512 });
    h.script.cr3Load(0, root).write(0, vpn).write(0, vpn + 1);
    h.run();
    // The top level, then every table below it and the FL1.
    expect(h.exits(RunEventKind.shadowRebuild)).toBe(levels);
    expect(h.stats()['shadowsInUse']).toBe(levels);
    h.sim.tracker.enable(now(h));
    const faults = h.exits(RunEventKind.shadowFault);
    h.script.write(0, vpn).write(0, vpn + 1).write(0, vpn + 1).write(0, vpn + 5).write(0, vpn);
    h.run();
    expect(h.exits(RunEventKind.shadowFault) - faults).toBe(3);
    expect(countBits(h.sim.tracker.peek(now(h)))).toBe(3);
  });

  it('device writes (phys_write by no vCPU) mark dirty without a fault; a vCPU phys_write faults once per round', () => {
    const h = harness(paging);
    h.sim.tracker.enable(0);
    h.script.physWrite(300, 4096, NO_VCPU).physWrite(300, 4096, NO_VCPU).physWrite(301, 8, 0).physWrite(301, 8, 0);
    h.run();
    expect(h.exits(RunEventKind.shadowFault)).toBe(1);
    expect(countBits(h.sim.tracker.clean(now(h)))).toBe(2);
  });
});

describe('shadow tracker, guest types', () => {
  it('PV with log-dirty off charges nothing (direct mode); log-dirty puts it in shadow mode, and OFF frees every shadow', () => {
    const h = harness('x86-64', 'pv');
    const root = h.pt.allocPage();
    const vpns = [0, 1, 2].map((k) => vpnAt('x86-64', 50, k));
    const addSome = () => {
      vpns.forEach((v, k) => h.pt.map(root, v, 400 + k, PTE_RW | PTE_US));
      h.script.cr3Load(0, root);
      for (const v of vpns) h.script.write(0, v).read(0, v);
      h.script.physWrite(500, 8, 0).physWrite(501, 8, NO_VCPU);
    };
    addSome();
    h.run();
    expect(h.sim.tracker.exitCounts.reduce((a, b) => a + b, 0)).toBe(0);
    expect(h.sim.clock.totalStallNs()).toBe(0);
    expect(h.sim.tracker.memoryBytes()).toBe(0);
    h.sim.tracker.enable(now(h));
    h.script.write(0, vpns[0]!);
    h.run();
    // The first walk in shadow mode builds the whole path, top level included.
    expect(h.exits(RunEventKind.shadowFault)).toBe(1);
    expect(h.exits(RunEventKind.shadowRebuild)).toBe(4);
    h.sim.tracker.off(now(h));
    expect(h.stats()['shadowPagesInUse']).toBe(0);
    expect(h.sim.tracker.exitCostNs[RunEventKind.off]).toBe(DEFAULT_COSTS.logDirtyOpBaseNs + 4 * DEFAULT_COSTS.shadowBlowPerPageNs);
    const charged = h.sim.tracker.exitCounts.reduce((a, b) => a + b, 0);
    const stall = h.sim.clock.totalStallNs();
    h.script.write(0, vpns[1]!).write(0, vpns[2]!).cr3Load(0, root).physWrite(502, 8, 0);
    h.pt.map(root, vpnAt('x86-64', 51), 410, PTE_RW | PTE_US);
    h.run();
    expect(h.sim.tracker.exitCounts.reduce((a, b) => a + b, 0)).toBe(charged);
    expect(h.sim.clock.totalStallNs()).toBe(stall);
  });

  it('an HVM guest on shadow is shadowed with log-dirty off: rebuilds and PT emulation are charged, nothing is marked', () => {
    const h = harness('x86-64', 'hvm');
    const root = h.pt.allocPage();
    const v = vpnAt('x86-64', 52);
    h.pt.map(root, v, 420, PTE_RW | PTE_US);
    h.script.cr3Load(0, root).write(0, v).write(0, v);
    h.run();
    expect(h.exits(RunEventKind.ptEmulate)).toBe(4);
    expect(h.exits(RunEventKind.shadowRebuild)).toBe(4);
    expect(h.exits(RunEventKind.shadowFault)).toBe(1);
    expect(h.sim.tracker.dirty.dirtyCount).toBe(0);
  });

  it('a pool too small for one address space per vCPU is a clear error naming the cost to change', () => {
    expect(() => harness('x86-64', 'hvm', costModelWith({ shadowPoolPages: 4 }), 2)).toThrow(/shadowPoolPages to at least 6/);
  });
});

// ---- an Apache-like guest under the round driver ----

const HTTPD: ProgramImage = { path: '/usr/sbin/httpd', textPages: 120, dataPages: 8, bssPages: 8, heapPages: 256, stackPages: 32, libraries: [LD_SO, LIBC] };

/**
 * Apache 1.3 prefork on the guest kernel: a parent forks `children`
 * workers sharing a scoreboard; each request runs a worker on some vCPU
 * (a CR3 load), which reads its text, writes its heap and stack and its
 * scoreboard slot; now and then a worker exits and is replaced by a fork
 * (MaxRequestsPerChild). Deterministic (a fixed LCG).
 */
function apacheLike(kernel: GuestKernel, requests: number, children: number, startNs = 0): number {
  let t = startNs;
  let seed = 12345;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const vcpus = kernel.vcpus;
  const parent = kernel.createProcess(0, t);
  t = kernel.endNs;
  t = kernel.switchTo(0, parent, t);
  t = kernel.exec(parent, 0, HTTPD, t);
  const shm = kernel.createShmem('scoreboard', 16);
  const board = kernel.mapShared(parent, shm);
  const l = kernel.layoutOf(parent);
  for (let i = 0; i < 16; i++) t = kernel.touch(parent, 0, board + i, true, t) + 10;
  for (let i = 0; i < 32; i++) t = kernel.touch(parent, 0, l.heapVpn + i, true, t) + 10;
  const workers: number[] = [];
  for (let c = 0; c < children; c++) {
    workers.push(kernel.fork(parent, 0, t));
    t = kernel.endNs + 10;
  }
  for (let r = 0; r < requests; r++) {
    const v = r % vcpus;
    const k = rand(workers.length);
    const pid = workers[k]!;
    t = kernel.switchTo(v, pid, t) + 10;
    for (let i = 0; i < 8; i++) t = kernel.touch(pid, v, l.textVpn + rand(l.textPages), false, t) + 20;
    for (let i = 0; i < 6; i++) t = kernel.touch(pid, v, l.heapVpn + rand(64), true, t) + 20;
    for (let i = 0; i < 2; i++) t = kernel.touch(pid, v, l.stackVpn + l.stackPages - 1 - i, true, t) + 20;
    t = kernel.touch(pid, v, board + (k & 15), true, t) + 20;
    if (rand(200) === 0) {
      // The worker hit MaxRequestsPerChild: the parent replaces it.
      t = kernel.switchTo(v, parent, t) + 10;
      t = kernel.exit(pid, v, t) + 10;
      workers[k] = kernel.fork(parent, v, t);
      t = kernel.endNs + 10;
    }
  }
  return t;
}

describe('shadow tracker under the round driver', () => {
  const CASES: [GuestType, PagingMode, number][] = [
    ['hvm', 'x86-64', 1024],
    ['hvm', 'pae', 1024],
    ['pv', 'x86-64', 1024],
    ['pv', 'pae', 1024],
    ['hvm', 'x86-64', 96],
    ['pv', 'x86-64', 96],
  ];
  it.each(CASES)('no pages lost (oracle lostPages 0): an Apache-like guest, %s %s, pool of %i pages', (guest, paging, poolPages) => {
    const memPages = 16384;
    const vcpus = 2;
    const costs = costModelWith({ shadowPoolPages: poolPages });
    // The guest runs about 19 ms of guest time: log-dirty from 1 ms, 2 ms rounds.
    const r = rounds(2_000_000, 1_000_000);
    const sim = new ScriptedRun({ guest: { type: guest, paging, memPages, vcpus }, seed: 7, tracker: 'shadow', superpages: 'split', p2m: '4k', costs }, r.factory);
    const driver = r.driver;
    const out = new GuestBatchBuilder((b) => sim.step(b), 4096);
    const kernel = new GuestKernel({ seed: 7, memPages, vcpus, guest, paging, imagePages: 256, modulePages: 64 }, out);
    let t = kernel.boot(0, 0);
    t = apacheLike(kernel, 3000, 24, t);
    out.flush();
    const { lostPages, firstLostPfns: firstLost } = sim.finish();
    expect(lostPages, `first lost: ${firstLost.join(', ')}`).toBe(0);
    expect(driver.rounds.length).toBeGreaterThan(3);
    const s = sim.tracker.stats();
    expect(s['faultsLogDirty']).toBeGreaterThan(0);
    expect(s['shadowBlows']).toBeGreaterThan(3);
    expect(s['shadowPagesPeak']).toBeLessThanOrEqual(poolPages);
    if (poolPages < 200) expect(s['shadowEvictions']).toBeGreaterThan(0);
    expect(sim.mmu.stats().faults).toBe(0);
  });
});

// ---- random page-table churn: nothing lost, shadows always match the guest tables ----

type Op =
  | { op: 'map'; root: number; n: number; l1: number; pfn: number }
  | { op: 'share'; from: number; to: number; n: number }
  | { op: 'unmap'; root: number; n: number }
  | { op: 'cr3'; vcpu: number; root: number }
  | { op: 'write' | 'read'; vcpu: number; n: number; l1: number }
  | { op: 'phys'; vcpu: number; pfn: number }
  | { op: 'clean' };

// A small world (two address spaces, two L1 tables each, a few pages) so
// that remaps, shares and unmaps often hit tables that have shadows.
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('map' as const), root: fc.nat(1), n: fc.nat(1), l1: fc.nat(3), pfn: fc.integer({ min: 10, max: 25 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('share' as const), from: fc.nat(1), to: fc.nat(1), n: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('unmap' as const), root: fc.nat(1), n: fc.nat(1) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('cr3' as const), vcpu: fc.nat(1), root: fc.nat(1) }) },
  { weight: 8, arbitrary: fc.record({ op: fc.constantFrom('write' as const, 'read' as const), vcpu: fc.nat(1), n: fc.nat(1), l1: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('phys' as const), vcpu: fc.constantFrom(0, NO_VCPU), pfn: fc.integer({ min: 10, max: 25 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('clean' as const) }) },
);

/** Every present link of every upper-level shadow names the shadow of the table the guest entry points at. */
function checkLinks(h: Harness, paging: PagingMode, guest: GuestType): void {
  // The pool is private to the tracker: reach in for the check only.
  const pool = (h.sim.tracker as unknown as { pool: ShadowPool }).pool;
  const m2p = h.sim.mmu.p2m?.mfnToPfn;
  for (let s = 0; s < pool.pfnOf.length; s++) {
    const pfn = pool.pfnOf[s]!;
    const level = pool.levelOf[s]!;
    if (pfn < 0 || level < 2) continue;
    const table = h.sim.mmu.table(pfn);
    const entries = paging === 'pae' && level === 3 ? 4 : 512;
    for (let k = 0; k < entries; k++) {
      const c = pool.ent[(s << 9) | k]!;
      if (c === 0) continue;
      const pte = table?.[k] ?? 0;
      const frame = pte >>> 8;
      expect(pte & 1, `shadow of ${pfn} (L${level}) entry ${k} links a not-present guest entry`).toBe(1);
      if ((pte & PTE_PS) !== 0) {
        // An FL1 shadow, keyed by the superpage's first frame as the entry names it.
        expect(pool.pfnOf[c - 1]).toBe(frame);
        expect(pool.levelOf[c - 1]).toBe(0);
        continue;
      }
      const child = guest === 'pv' ? m2p![frame]! : frame;
      expect(pool.pfnOf[c - 1], `shadow of ${pfn} (L${level}) entry ${k}`).toBe(child);
      expect(pool.levelOf[c - 1]).toBe(level - 1);
    }
  }
}

describe.each([
  ['hvm', 'x86-64'],
  ['pv', 'x86-64'],
  ['hvm', 'pae'],
] as [GuestType, PagingMode][])('shadow tracker, random page-table churn (%s %s)', (guest, paging) => {
  it('no write is lost and every shadow link matches the guest tables, with pools from the smallest allowed to roomy', () => {
    const levels = LEVELS[paging];
    fc.assert(
      fc.property(fc.constantFrom(2 + levels, 2 + levels + 3, 256), fc.array(opArb, { minLength: 1, maxLength: 200, size: 'max' }), (poolPages, ops) => {
        const h = harness(paging, guest, costModelWith({ shadowPoolPages: poolPages }), 2, 4096);
        const roots = [0, 1].map(() => h.pt.allocPage());
        const oracle = h.sim.oracle;
        h.sim.tracker.enable(0);
        oracle.sendAll();
        const flush = () => {
          try {
            h.run();
          } catch (e) {
            if (!(e instanceof Error) || !/expected one batch, got 0/.test(e.message)) throw e;
          }
        };
        for (const o of ops) {
          switch (o.op) {
            case 'map':
              h.pt.map(roots[o.root]!, vpnAt(paging, o.n, o.l1), o.pfn, PTE_RW | PTE_US);
              break;
            case 'share': {
              // Point `to`'s level-2 entry at `from`'s L1 table (tables shared between address spaces).
              const vpn = vpnAt(paging, o.n);
              const l1 = h.pt.tableAt(roots[o.from]!, vpn, 1);
              const l2 = h.pt.tableAt(roots[o.to]!, vpn, 2);
              if (l1 !== undefined && l2 !== undefined) h.pt.link(l2, (vpn >> 9) & 511, l1);
              break;
            }
            case 'unmap': {
              const vpn = vpnAt(paging, o.n);
              const l2 = h.pt.tableAt(roots[o.root]!, vpn, 2);
              if (l2 !== undefined) h.pt.unlink(l2, (vpn >> 9) & 511);
              break;
            }
            case 'cr3':
              h.script.cr3Load(o.vcpu, roots[o.root]!);
              break;
            case 'write':
              h.script.write(o.vcpu, vpnAt(paging, o.n, o.l1));
              break;
            case 'read':
              h.script.read(o.vcpu, vpnAt(paging, o.n, o.l1));
              break;
            case 'phys':
              h.script.physWrite(o.pfn, 8, o.vcpu);
              break;
            case 'clean':
              flush();
              checkLinks(h, paging, guest);
              oracle.sendBitmap(h.sim.tracker.clean(now(h)));
              break;
          }
        }
        flush();
        checkLinks(h, paging, guest);
        oracle.sendBitmap(h.sim.tracker.final(now(h)));
        expect(oracle.divergent().count).toBe(0);
        expect(h.stats()['shadowPagesPeak']).toBeLessThanOrEqual(poolPages);
      }),
      { numRuns: 300, seed: 42 },
    );
  });
});
