// The solver's bandwidth for a downtime target, for a muncher under Xen's
// pre-copy (xg_sr_save.c simple_precopy_policy), matches the closed form
// of the pass recurrence within one bisection step.
//
// The closed form. A muncher writes R pages/s sequentially over a working
// set of W pages; the link carries B bytes/s, P = 4096 + 8 (page header)
// bytes per page. Pass 1 sends all M pages of memory and lasts M P / B,
// long enough (M P / B > W / R) to dirty the whole working set: D1 = W.
// Pass k sends the D(k-1) pages the CLEAN reported, in T = D(k-1) P / B,
// during which the guest dirties R T distinct pages (sequential, fewer than
// W): Dk = D(k-1) q with q = R P / B < 1, so Dk = W q^(k-1) while every
// CLEAN reports 50 pages or more (SPP_TARGET_DIRTY_COUNT). After pass 5
// (SPP_MAX_ITERATIONS) the guest is suspended and D5 = W q^4 pages are
// sent in the downtime: D5 P / B = W (R P)^4 P / B^5. With F the rest of the
// downtime (suspend, final CLEAN, device state, resume: read from the run),
// downtime <= X holds from B* = (W (R P)^4 P / (X - F))^(1/5) up.
import { describe, expect, it } from 'vitest';
import { runCli } from '../cli/cli-run.js';
import { guestSource } from '../../src/api/guest-source.js';
import { runMigration } from '../../src/api/run-migration.js';
import { DEFAULT_COSTS } from '../../src/model/cost-model.js';
import { SPP_MAX_ITERATIONS, SPP_TARGET_DIRTY_COUNT } from '../../src/reducers/migration/migration-options.js';

const R = 20_000; // pages/s
const W = 1024; // 4 MiB working set
const MEM_PAGES = 16_384; // 64 MiB
const X_NS = 25e6; // downtime <= 25 ms
const P = 4096 + DEFAULT_COSTS.pageHeaderBytes;

describe('migsim solve', () => {
  it("the bandwidth a muncher needs for downtime <= 25ms under xen is the pass recurrence's closed form, within one bisection step", async () => {
    const args = ['muncher', '--tracker', 'hap', '--policy', 'xen', '--seed', '1', '--duration', '4s', '--start', '1s', '--mem', '64MiB', '--set', `rate=${R}`, '--set', 'wss=4MiB'];
    const r = await runCli('solve', ...args, '--for', 'bandwidth', '--target', 'downtime<=25ms', '--from', '400Mbit', '--to', '4Gbit', '--json');
    expect(r.code, r.err).toBe(0);
    const out = JSON.parse(r.out) as { answer: number; below: number; monotone: boolean; runs: { role: string }[] };
    expect(out.monotone).toBe(true);
    const step = out.answer - out.below;
    expect(step / out.answer).toBeLessThanOrEqual(0.01);

    // F, the downtime other than the final pages, from the run at the answer.
    const source = guestSource('muncher', { seed: 1, durationNs: 4e9, memBytes: MEM_PAGES * 4096, vcpus: 2, guest: 'hvm', paging: 'x86-64', settings: { rate: String(R), wss: '4MiB' } });
    const s = runMigration(source, { tracker: 'hap', migration: { policy: 'xen', startNs: 1e9, bandwidthBytesPerSec: out.answer } });
    expect(s.stopReason).toMatch(/pass limit/);
    // Five live passes, then the stop-and-copy round.
    expect(s.rounds).toHaveLength(SPP_MAX_ITERATIONS + 1);
    const F = s.downtimeNs - s.downtime.finalPagesNs;

    const B = (((W * (R * P) ** 4 * P) / ((X_NS - F) / 1e9)) ** (1 / 5));
    // The closed form's premises hold at B*: q < 1, pass 1 dirties all W, every CLEAN >= 50 pages.
    const q = (R * P) / B;
    expect(q).toBeLessThan(1);
    expect((MEM_PAGES * P) / B).toBeGreaterThan(W / R);
    expect(W * q ** (SPP_MAX_ITERATIONS - 1)).toBeGreaterThanOrEqual(SPP_TARGET_DIRTY_COUNT);
    // The recurrence as the run shows it: each pass's dirty set is q times the last within 2%
    // (the guest writes a little slower than R while HAP's NPF exits stall its vCPUs).
    const sent = s.rounds.map((x) => x.pagesSent);
    for (let k = 2; k < SPP_MAX_ITERATIONS; k++) expect(Math.abs(sent[k]! / sent[k - 1]! - (R * P) / out.answer)).toBeLessThan(0.02);
    expect(Math.abs(out.answer - B)).toBeLessThanOrEqual(step);
  });
});
