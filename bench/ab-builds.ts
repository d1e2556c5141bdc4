/**
 * Two builds of migsim, A and B, timed in one process on the same apache
 * events, runs interleaved (A B B A A B ...): on a shared VM whose speed
 * drifts by 15-25 % from minute to minute, separate bench runs cannot tell
 * a 5 % change; the median of paired ratios can.
 *
 *   node --single-threaded dist/bench/ab-builds.js <mmu|shadow|hap|pml> [runs] DIR_A DIR_B
 *
 * Each DIR is a checkout built with `npx tsc -p tsconfig.json` (a git
 * worktree of the commit to compare against, say). BENCH_APACHE_SECONDS
 * sets the guest time (default 60); BENCH_AB_GUEST=hostile runs the
 * cache-hostile muncher of hostile-bench.ts instead of apache, for
 * BENCH_MUNCHER_SECONDS (default 10) of guest time. BENCH_AB_LOOP=1 also
 * prints each build's median ratio to the plain walk loop run around each of
 * its runs (migration-bench.ts's figure). Runs of 12 still scatter by about 3%:
 * run both orders (A B, then B A) and take the geometric mean of the two
 * ratios (the second inverted) for anything smaller than that.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { from } from 'rxjs';
import { median } from './bench-util.js';

interface Build {
  readonly dir: string;
  readonly run: () => void;
  readonly events: number;
  readonly nsPerEvent: number[];
}

/** The apache events, generated once by build A and run by both builds. */
interface Events {
  readonly header: unknown;
  readonly batches: readonly unknown[];
  readonly events: number;
  readonly memPages: number;
  readonly vcpus: number;
}

async function generate(dir: string, seconds: number): Promise<Events> {
  const at = (p: string) => pathToFileURL(resolve(dir, 'dist', p)).href;
  if (process.env['BENCH_AB_GUEST'] !== 'hostile') {
    const { apacheBatches } = await import(at('bench/mmu-bench.js'));
    return apacheBatches(seconds);
  }
  // The guest of hostile-bench.ts, built from the library's own calls so that a build without that file can run it.
  const { configFromHeader, workloadHeader } = await import(at('src/api/record.js'));
  const { findWorkload } = await import(at('src/workloads/registry.js'));
  const { workloadEvents } = await import(at('src/workloads/workload-events.js'));
  const { copyGuestBatch } = await import(at('src/events/guest-batch.js'));
  const { drainSync } = await import(at('src/util/drain-sync.js'));
  const muncherSeconds = Number(process.env['BENCH_MUNCHER_SECONDS'] ?? 10);
  const header = workloadHeader({ workload: 'muncher', seed: 1, durationNs: muncherSeconds * 1e9, memBytes: 4 * 2 ** 30, settings: { pattern: 'random', rate: 1_500_000 } });
  const batches: { count: number }[] = [];
  drainSync(workloadEvents(findWorkload('muncher'), configFromHeader(header)), (b: unknown) => batches.push(copyGuestBatch(b)));
  return { header, batches, events: batches.reduce((a, b) => a + b.count, 0), memPages: header.guest.memPages, vcpus: header.guest.vcpus };
}

async function load(dir: string, what: string, r: Events): Promise<Build> {
  const at = (p: string) => pathToFileURL(resolve(dir, 'dist', p)).href;
  const { runRounds } = await import(at('src/api/run-rounds.js'));
  const { runMigration } = await import(at('src/api/run-migration.js'));
  const { Mmu } = await import(at('src/reducers/mmu.js'));
  const source = { header: r.header, label: 'guest', events: () => from(r.batches) };
  const run =
    what === 'mmu'
      ? () => {
          const m = new Mmu({ guest: 'hvm', paging: 'x86-64', memPages: r.memPages, vcpus: r.vcpus, seed: 1 });
          for (const b of r.batches) m.apply(b);
        }
      : process.env['BENCH_AB_GUEST'] === 'hostile'
        ? () => runMigration(source, { tracker: what })
        : () => runRounds(source, { tracker: what });
  return { dir, run, events: r.events, nsPerEvent: [] };
}

/** The plain walk loop of build A's mmu-bench.js over the events (the bench's yardstick). */
async function plainLoop(dir: string, r: Events): Promise<() => void> {
  const { plainWalkLoop } = await import(pathToFileURL(resolve(dir, 'dist', 'bench/mmu-bench.js')).href);
  return () => plainWalkLoop(r.batches, r.memPages, r.vcpus);
}

/**
 * The process's CPU time (user + system), not wall time: on a machine that
 * other work shares (load 15-20 while helpers built and tested beside it),
 * wall-time ratios of the same two builds swung from 0.83 to 1.27, CPU-time
 * ratios stayed within about 5%. Run it as `node --single-threaded` so that
 * the garbage collector and the compiler work on this thread, where a build
 * that allocates more pays for it.
 */
function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

async function main(): Promise<void> {
  const [what = 'hap', runsArg = '8', dirA, dirB] = process.argv.slice(2);
  if (!dirA || !dirB || !['mmu', 'shadow', 'hap', 'pml'].includes(what)) {
    console.error('usage: node dist/bench/ab-builds.js <mmu|shadow|hap|pml> [runs] DIR_A DIR_B');
    process.exitCode = 2;
    return;
  }
  const seconds = Number(process.env['BENCH_APACHE_SECONDS'] ?? 60);
  // One copy of the events for both: with a copy each, build B ran 3-8%
  // slower than A in both orders of the same two builds; with one copy,
  // a build against itself came out at 0.99 and 1.03.
  const events = await generate(dirA, seconds);
  const builds = [await load(dirA, what, events), await load(dirB, what, events)];
  const runs = Number(runsArg);
  // BENCH_AB_LOOP=1: each run also against the plain walk loop (build A's,
  // mmu-bench.js) run before and after it, as migration-bench.ts has it.
  const yardstick = process.env['BENCH_AB_LOOP'] === '1' ? await plainLoop(dirA, events) : undefined;
  const toLoop = builds.map((): number[] => []);
  const timed = (fn: () => void) => {
    const t0 = cpuNs();
    fn();
    return cpuNs() - t0;
  };
  let before = yardstick ? timed(yardstick) : 0;
  for (let k = 0; k < runs; k++) {
    for (const b of k % 2 === 0 ? builds : [...builds].reverse()) {
      const t = timed(b.run);
      b.nsPerEvent.push(t / b.events);
      if (yardstick) {
        const after = timed(yardstick);
        toLoop[builds.indexOf(b)]!.push(t / Math.sqrt(before * after));
        before = after;
      }
    }
  }
  // The first two runs of each warm the JIT.
  for (const b of builds) {
    const warm = b.nsPerEvent.slice(2);
    console.log(`${what} ${b.dir}: min ${Math.min(...warm).toFixed(1)} median ${median(warm).toFixed(1)} ns/event | all ${b.nsPerEvent.map((x) => x.toFixed(0)).join(' ')}`);
  }
  if (yardstick) {
    for (const [j, b] of builds.entries()) console.log(`${what} ${b.dir}: against the plain walk loop around it, median ${median(toLoop[j]!.slice(2)).toFixed(2)}x`);
  }
  const ratios = builds[0]!.nsPerEvent.slice(2).map((a, i) => builds[1]!.nsPerEvent[i + 2]! / a);
  console.log(`${what} B/A CPU time, median of paired runs: ${median(ratios).toFixed(3)}`);
}

void main();
