/**
 * The benchmark: `npm run bench`. Speed and memory are checked here, not in
 * timed tests. Each scenario prints its figures beside its target.
 *   BENCH_EVENTS=50000000 (default) sets the trace scenario's size;
 *   BENCH_APACHE_SECONDS=60 (default) the apache scenarios' guest time;
 *   BENCH_FLEET_SECONDS=12 (default) the fleet scenario's guest time;
 *   BENCH_MUNCHER_SECONDS=10 (default) the cache-hostile muncher's guest time;
 *   BENCH_ONLY=trace,mmu,migration,hostile,import,import-scale,process,memory,fleet,sweep runs only those scenarios;
 *   BENCH_LACKEY_MIB and BENCH_RTDIRTY_REPEATS size the import scenario;
 *   BENCH_IMPORT_SCALES=1,2,4 (default) the capture sizes of the import-scale scenario,
 *   BENCH_IMPORT_RUNS=2 (default) the timed imports of each, BENCH_IMPORT_WARMUP=0 no untimed import first;
 *   BENCH_MEM_GIB=1,8,64 (default) the guest sizes of the memory scenario.
 */
import { printRows, peakRssMiB, type BenchRow } from './bench-util.js';
import { migrationBench } from './migration-bench.js';
import { hostileBench } from './hostile-bench.js';
import { mmuBench } from './mmu-bench.js';
import { apacheDecodeBench, traceBench } from './trace-bench.js';
import { importBench } from './import-bench.js';
import { importScaleBench } from './import-scale-bench.js';
import { processBench } from './process-bench.js';
import { memoryBench } from './memory-bench.js';
import { fleetBench } from './fleet-bench.js';
import { sweepBench } from './sweep-bench.js';

const events = Number(process.env['BENCH_EVENTS'] ?? 50_000_000);
const apacheSeconds = Number(process.env['BENCH_APACHE_SECONDS'] ?? 60);
const only = process.env['BENCH_ONLY']?.split(',');
const fleetSeconds = Number(process.env['BENCH_FLEET_SECONDS'] ?? 12);
const muncherSeconds = Number(process.env['BENCH_MUNCHER_SECONDS'] ?? 10);
const rows: BenchRow[] = [];
console.log(`migsim bench: node ${process.version}, ${events.toLocaleString('en-US')} events per trace scenario, ${apacheSeconds} s of apache\n`);
const scenarios: [string, () => BenchRow[]][] = [
  ['trace', () => [...traceBench(events), ...apacheDecodeBench(apacheSeconds)]],
  ['mmu', () => mmuBench(apacheSeconds)],
  ['migration', () => migrationBench(apacheSeconds)],
  ['hostile', () => hostileBench(muncherSeconds)],
  ['import', () => importBench()],
  ['import-scale', () => importScaleBench()],
  // The figures are for the apache default (10 s of guest time).
  ['process', () => processBench(Math.min(apacheSeconds, 10))],
  ['memory', () => memoryBench()],
  ['fleet', () => fleetBench(fleetSeconds)],
  ['sweep', () => sweepBench()],
];
for (const [name, fn] of scenarios) {
  if (only && !only.includes(name)) continue;
  rows.push(...fn());
}
rows.push({ scenario: 'process', metric: 'peak RSS', value: `${peakRssMiB()} MiB` });
printRows(rows);
