/**
 * The benchmark: `npm run bench`. Speed and memory are checked here, not in
 * timed tests. Each scenario prints its figures beside its target.
 *   BENCH_EVENTS=50000000 (default) sets the trace scenario's size;
 *   BENCH_APACHE_SECONDS=60 (default) the apache scenarios' guest time;
 *   BENCH_ONLY=trace,mmu,migration,import,sweep runs only those scenarios;
 *   BENCH_LACKEY_MIB and BENCH_RTDIRTY_REPEATS size the import scenario.
 */
import { printRows, peakRssMiB, type BenchRow } from './bench-util.js';
import { migrationBench } from './migration-bench.js';
import { mmuBench } from './mmu-bench.js';
import { traceBench } from './trace-bench.js';
import { importBench } from './import-bench.js';
import { sweepBench } from './sweep-bench.js';

const events = Number(process.env['BENCH_EVENTS'] ?? 50_000_000);
const apacheSeconds = Number(process.env['BENCH_APACHE_SECONDS'] ?? 60);
const only = process.env['BENCH_ONLY']?.split(',');
const rows: BenchRow[] = [];
console.log(`migsim bench: node ${process.version}, ${events.toLocaleString('en-US')} events per trace scenario, ${apacheSeconds} s of apache\n`);
const scenarios: [string, () => BenchRow[]][] = [
  ['trace', () => traceBench(events)],
  ['mmu', () => mmuBench(apacheSeconds)],
  ['migration', () => migrationBench(apacheSeconds)],
  ['import', () => importBench()],
  ['sweep', () => sweepBench()],
];
for (const [name, fn] of scenarios) {
  if (only && !only.includes(name)) continue;
  rows.push(...fn());
}
rows.push({ scenario: 'process', metric: 'peak RSS', value: `${peakRssMiB()} MiB` });
printRows(rows);
