/**
 * The benchmark: `npm run bench`. Speed and memory are checked here, not in
 * timed tests. Each scenario prints its figures beside its target.
 *   BENCH_EVENTS=50000000 (default) sets the trace scenario's size.
 */
import { printRows, peakRssMiB, type BenchRow } from './bench-util.js';
import { traceBench } from './trace-bench.js';

const events = Number(process.env['BENCH_EVENTS'] ?? 50_000_000);
const rows: BenchRow[] = [];
console.log(`migsim bench: node ${process.version}, ${events.toLocaleString('en-US')} events per trace scenario\n`);
rows.push(...traceBench(events));
rows.push({ scenario: 'process', metric: 'peak RSS', value: `${peakRssMiB()} MiB` });
printRows(rows);
