// Checks that the objects whose number fields hold times keep the hidden
// class (V8 map) they were made with once those times pass 2^31 ns (2.1 s,
// the end of V8's small integers), as they do early in every run: the
// guest and run batch builders (lastNs, batchBaseNs), the batches they hand
// out (baseNs, endNs) and the guest kernel (endNs). A field that starts as a
// small integer is widened to a double there, V8 replaces the map, and every
// function compiled for the old one is thrown away and compiled again (the
// generator's whole write path, in the first run of every sweep thread).
// Maps are V8's to show: the check runs the built modules in a node of its
// own with --allow-natives-syntax, and fails on fields that start as small
// integers (before src/util/double-field.ts, every one of these did).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const BUILT = join(import.meta.dirname, '..', '..', 'dist', 'src');
const url = (rel: string) => JSON.stringify(pathToFileURL(join(BUILT, rel)).href);

describe('time fields start as doubles', () => {
  it('builders, batches and the guest kernel past 2^31 ns keep the maps of fresh ones, and start at +0', () => {
    if (!existsSync(join(BUILT, 'events', 'guest-batch-builder.js'))) throw new Error(`${BUILT} is not built: build first (npx tsc -p tsconfig.json)`);
    const script = [
      `const { GuestBatchBuilder } = await import(${url('events/guest-batch-builder.js')});`,
      `const { RunBatchBuilder } = await import(${url('events/run-batch-builder.js')});`,
      `const { sliceGuestBatch } = await import(${url('events/guest-batch.js')});`,
      `const { GuestKernel } = await import(${url('workloads/guest-kernel.js')});`,
      'const guestBatches = [];',
      'const runBatches = [];',
      // Batches of two events: the first batch's times are small integers, the later ones' past 2^31.
      'const fresh = new GuestBatchBuilder(() => {}, 2);',
      'const late = new GuestBatchBuilder((b) => guestBatches.push(b), 2);',
      'const freshAt = fresh.nowNs;',
      'for (const t of [1, 2, 2 ** 31 + 3, 2 ** 32 + 4]) late.write(t, 0, 7, 8);',
      'late.flush();',
      'const run = new RunBatchBuilder((b) => runBatches.push(b), 2);',
      'const runFresh = new RunBatchBuilder(() => {}, 2);',
      'for (const t of [5, 6, 2 ** 31 + 7, 2 ** 32]) run.emit(1, t, 0, 1, 0, 10);',
      'const [g0, g1] = guestBatches;',
      'const [r0, r1] = runBatches;',
      'const slice = sliceGuestBatch(g1, 0, 1, 2 ** 31 + 2, 2 ** 31 + 3);',
      'const k1 = new GuestKernel({ seed: 1, memPages: 4096, vcpus: 1, guest: "hvm", paging: "x86-64" }, fresh);',
      'const k2 = new GuestKernel({ seed: 1, memPages: 4096, vcpus: 1, guest: "hvm", paging: "x86-64" }, late);',
      'const kernelAt = k1.endNs;',
      'k2.endNs = 2 ** 31 + 9;',
      'console.log(JSON.stringify({',
      '  guestBuilder: %HaveSameMap(fresh, late),',
      '  runBuilder: %HaveSameMap(runFresh, run),',
      '  guestBatch: %HaveSameMap(g0, g1) && %HaveSameMap(g0, slice),',
      '  runBatch: %HaveSameMap(r0, r1),',
      '  kernel: %HaveSameMap(k1, k2),',
      '  plusZero: [freshAt, kernelAt, g0.baseNs, r0.baseNs].every((v) => Object.is(v, 0)),',
      '  guestTimes: guestBatches.map((b) => [b.baseNs, b.endNs]),',
      '  runTimes: runBatches.map((b) => [b.baseNs, b.endNs]),',
      '}));',
    ].join('\n');
    const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { encoding: 'utf8' });
    const r = JSON.parse(out) as Record<string, unknown>;
    expect(r.guestBuilder).toBe(true);
    expect(r.runBuilder).toBe(true);
    expect(r.guestBatch).toBe(true);
    expect(r.runBatch).toBe(true);
    expect(r.kernel).toBe(true);
    // Every time starts at +0 (Object.is tells it from -0), as before.
    expect(r.plusZero).toBe(true);
    // Each batch runs from the time of the event before it to its last event's.
    expect(r.guestTimes).toEqual([
      [0, 2],
      [2, 2 ** 32 + 4],
    ]);
    expect(r.runTimes).toEqual([
      [0, 6],
      [6, 2 ** 32],
    ]);
  });
});
