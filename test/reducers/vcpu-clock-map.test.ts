// Checks that a vCPU clock keeps the hidden class (V8 map) it was built with
// when its wall times pass 2^31 ns (2.1 s, the end of V8's small integers),
// as they do early in every run: a clock whose fields started as small
// integers got a new map there, and code compiled for the old one was thrown
// away (with two simulations in one thread, as compare runs them, the EPT
// loop was deoptimized once per call). Maps are V8's to show: the check runs
// the built module in a node of its own with --allow-natives-syntax, and
// fails on a clock whose fields start as small integers (the old one did).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const BUILT_CLOCK = join(import.meta.dirname, '..', '..', 'dist', 'src', 'reducers', 'vcpu-clock.js');

describe('VcpuClock map', () => {
  it('a clock past 2^31 ns of wall time keeps the map of a fresh one, and starts at 0', () => {
    if (!existsSync(BUILT_CLOCK)) throw new Error(`${BUILT_CLOCK} is missing: build first (npx tsc -p tsconfig.json)`);
    const script = [
      `const { VcpuClock } = await import(${JSON.stringify(pathToFileURL(BUILT_CLOCK).href)});`,
      'const fresh = new VcpuClock(2);',
      'const late = new VcpuClock(2);',
      // What runs do: the latest wall time and a pause's end past 2^31 ns, a pause's total and the throttle's theft too.
      'late.idleAll();',
      'late.pauseAll(2 ** 31 + 5, 3);',
      'const paused = [late.notBeforeMaxNs, late.domainPausedNs];',
      'late.latestNs = 2 ** 33;',
      'late.throttleStolenNs = 2 ** 32 + 0.5;',
      'console.log(JSON.stringify({ same: %HaveSameMap(fresh, late), plusZero: [fresh.latestNs, fresh.notBeforeMaxNs, fresh.throttleStolenNs, fresh.domainPausedNs].every((v) => Object.is(v, 0)), paused, late: late.latestNs }));',
    ].join('\n');
    const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { encoding: 'utf8' });
    const r = JSON.parse(out) as { same: boolean; plusZero: boolean; paused: number[]; late: number };
    expect(r.same).toBe(true);
    // Every field starts at +0 (Object.is tells it from -0), as before.
    expect(r.plusZero).toBe(true);
    // The pause of 3 ns from 2^31 + 5 holds the idle vCPUs to its end.
    expect(r.paused).toEqual([2 ** 31 + 8, 3]);
    expect(r.late).toBe(2 ** 33);
  });
});
