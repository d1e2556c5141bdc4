import { availableParallelism } from 'node:os';
import { readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import Table from 'cli-table3';
import { type CliContext, EXIT_MISMATCH, EXIT_OK } from '../cli-io.js';
import { UsageError } from '../cli-failure.js';
import { choiceOption, positiveIntOption } from '../parse-options.js';
import { createProgress } from '../progress.js';
import { parseGridFile } from '../../sweep/grid-file.js';
import { expandGrid } from '../../sweep/grid-expand.js';
import { shardIndices, type ShardSpec } from '../../sweep/shard-partition.js';
import type { RunRow } from '../../sweep/run-row.js';
import { formatCount } from '../../model/units.js';
import { type SweepRun, sweepRuns } from '../sweep/sweep-runs.js';
import { executeSweep, startSweepThreads, type SweepThreads } from '../sweep/execute-sweep.js';
import { shardFromEnv } from '../sweep/shard-from-env.js';
import { checkResultsDir, journalFiles, journalPath, openJournal, openResultsDir, readJournals, shardName, tableFiles, tablePath } from '../sweep/results-dir.js';
import { formatOfPath, loadDuckDb, mergeTables, querySweep, runsSql, sqlString, TABLE_FORMATS, type TableFormat, writeRows } from '../sweep/duckdb-table.js';

interface SweepCliOptions {
  out?: string;
  jobs?: number;
  shard?: string;
  json?: boolean;
  format: TableFormat;
  dryRun?: boolean;
}

/** A grid file's runs, every one checked as `run` checks its flags (errors name the grid's line). */
export function loadGridRuns(path: string): SweepRun[] {
  if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`${path}: is a directory, not a grid file`);
  const grid = parseGridFile(path, readFileSync(path, 'utf8'));
  return sweepRuns(path, expandGrid(grid));
}

export function registerSweep(program: Command, ctx: CliContext): void {
  const sweep = program
    .command('sweep')
    // `sweep merge DIR -o FILE`: the subcommand's -o and --json, not this command's.
    .enablePositionalOptions()
    .description('run a grid of migrations (YAML: a base run and axes) in parallel into a results table; resumable and shardable')
    .argument('<grid.yaml>', 'the grid: run (options as `migsim run` takes them), axes, zip, exclude (see README "Sweeps")')
    .option('-o, --out <dir>', 'results directory (created; re-running skips the runs already in it); required')
    .option('--jobs <n>', `threads running runs: this one and N-1 workers (default: the cores, ${availableParallelism()} here)`, positiveIntOption)
    .option('--shard <K/N>', 'run the K-th of N partitions of the grid (0-based; default from SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX/JOB_COMPLETIONS, else 0/1)')
    .option('--format <fmt>', `the shard's table: ${TABLE_FORMATS.join(', ')}`, choiceOption('--format', TABLE_FORMATS), 'parquet')
    .option('--dry-run', 'list the runs of this shard (id and argv) and run none')
    .option('--json', 'print the outcome as JSON')
    // The examples are indented by four: a two-space line after Commands reads as a command (test/cli/human-units.test.ts walks them).
    .addHelpText(
      'after',
      `
The table has one row per run: id (a hash of the run's parameters), index (its
place in the grid), param_* (every run option, defaults filled in), then the
\`run --json\` object flattened (downtimeNs, totalNs, bytesSent, exits_<kind>_count,
...). Timing is kept apart (journal-*.jsonl; the \`timing\` view of sweep query).

Then:
    migsim sweep merge DIR -o all.parquet     one table from every shard's
    migsim sweep query DIR "SELECT ..."       SQL over the view runs (DuckDB)`,
    )
    .action(async (gridPath: string, opts: SweepCliOptions) => {
      // Not a required option of commander's: `sweep merge -o` would then need it too.
      if (opts.out === undefined) throw new UsageError("sweep needs -o DIR: the results directory");
      const out = opts.out;
      const shard = shardFromEnv(opts.shard, process.env);
      const jobs = opts.jobs ?? availableParallelism();
      // The workers load their modules while this thread reads the grid.
      const threads = opts.dryRun ? undefined : await startSweepThreads(jobs);
      let mine: SweepRun[];
      let all: SweepRun[];
      let result: Awaited<ReturnType<typeof sweepShard>>;
      try {
        all = loadGridRuns(gridPath);
        const mineIdx = new Set(shardIndices(all, shard));
        mine = all.filter((r) => mineIdx.has(r.index));
        if (!threads) {
          ctx.io.out(opts.json ? JSON.stringify(mine.map((r) => ({ id: r.id, index: r.index, argv: r.argv })), null, 2) + '\n' : mine.map((r) => `${r.id}  migsim run ${r.argv.join(' ')}\n`).join(''));
          return;
        }
        result = await sweepShard(ctx, out, mine, shard, threads, opts.format, Boolean(opts.json));
      } finally {
        await threads?.destroy();
      }
      const failed = result.rows.filter((r) => r.outcome === 'error');
      if (opts.json) {
        ctx.io.out(JSON.stringify({ grid: gridPath, shard: shardName(shard), runs: mine.length, gridRuns: all.length, ran: result.ran, skipped: mine.length - result.ran, failed: failed.length, jobs, seconds: result.seconds, cpuSeconds: cpuSeconds(), table: result.table }, null, 2) + '\n');
      } else {
        ctx.io.out(
          `sweep ${gridPath}, shard ${shard.k}/${shard.n}: ${formatCount(mine.length)} of ${formatCount(all.length)} runs, ${formatCount(result.ran)} run now (${formatCount(mine.length - result.ran)} already in ${out}), ${formatCount(failed.length)} failed, ${result.seconds.toFixed(1)} s on ${jobs} thread(s)\n  ${result.table}\n`,
        );
        for (const f of failed.slice(0, 5)) ctx.io.out(`  failed ${String(f.id)}: ${String(f.error)}\n`);
      }
      ctx.setExit(failed.length ? EXIT_MISMATCH : EXIT_OK);
    });

  sweep
    .command('merge')
    .description("one table of every shard's results in a sweep directory (each run once, in grid order)")
    .argument('<dir>', 'the results directory of migsim sweep')
    .requiredOption('-o, --out <file>', 'the table to write: .parquet, .csv or .jsonl (written atomically)')
    .option('--json', 'print the outcome as JSON')
    .action(async (dir: string, opts: { out: string; json?: boolean }) => {
      checkResultsDir(dir);
      const format = formatOfPath(opts.out);
      if (!format) throw new UsageError(`-o ${opts.out}: the table's format comes from its extension: .parquet, .csv or .jsonl`);
      const files = tableFiles(dir);
      if (!files.length) throw new UsageError(`${dir}: no shard tables (runs-K-of-N.*) yet: has any shard finished?`);
      const rows = await mergeTables(files, opts.out, format);
      ctx.io.out(opts.json ? JSON.stringify({ dir, out: opts.out, shards: files.length, rows }, null, 2) + '\n' : `merged ${files.length} shard table(s) of ${dir}: ${formatCount(rows)} runs in ${opts.out}\n`);
    });

  sweep
    .command('query')
    .description('SQL over a sweep directory (DuckDB): the view runs (one row per run), and timing (id, ms)')
    .argument('<dir>', 'the results directory of migsim sweep')
    .argument('<sql>', 'e.g. "SELECT param_tracker, avg(downtimeNs)/1e6 AS ms FROM runs GROUP BY 1"')
    .option('--json', 'print the rows as JSON objects')
    .action(async (dir: string, sql: string, opts: { json?: boolean }) => {
      checkResultsDir(dir);
      const journals = journalFiles(dir);
      const views: Record<string, string> = { runs: runsSql(tableFiles(dir)) };
      if (journals.length) views['timing'] = `SELECT id, ms FROM read_json([${journals.map(sqlString).join(', ')}], format = 'newline_delimited', columns = {id: 'VARCHAR', ms: 'DOUBLE', row: 'JSON'})`;
      let answer;
      try {
        answer = await querySweep(views, sql);
      } catch (e) {
        // DuckDB's own message says what is wrong with the SQL.
        throw new UsageError(`query: ${((e as Error).message ?? String(e)).split('\n')[0]}`);
      }
      if (opts.json) {
        ctx.io.out(JSON.stringify(answer.rows.map((r) => Object.fromEntries(answer.columns.map((c, i) => [c, r[i]]))), null, 2) + '\n');
        return;
      }
      // One line per row: no rule between rows.
      const table = new Table({ head: [...answer.columns], style: { head: [], border: [] }, chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' } });
      for (const r of answer.rows) table.push(r.map((v) => (v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v))));
      ctx.io.out(table.toString() + `\n${formatCount(answer.rows.length)} row(s)\n`);
    });
}

/** CPU time of this process so far, all its threads (the workers' too), user and system. */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return Math.round((u.user + u.system) / 1e3) / 1e3;
}

/**
 * Runs a shard's runs that are not yet in the directory, appending each to
 * the shard's journal as it finishes, then writes the shard's table.
 */
async function sweepShard(ctx: CliContext, dir: string, runs: readonly SweepRun[], shard: ShardSpec, threads: SweepThreads, format: TableFormat, json: boolean): Promise<{ rows: RunRow[]; ran: number; seconds: number; table: string }> {
  const started = performance.now();
  openResultsDir(dir);
  const done = readJournals(dir);
  const todo = runs.filter((r) => !done.has(r.id));
  const append = openJournal(journalPath(dir, shard));
  let finished = 0;
  let failed = 0;
  const progress = createProgress(ctx, `sweep ${shard.k}/${shard.n}`, todo.length, { json, detail: () => (failed ? `, ${formatCount(failed)} failed` : '') });
  // With workers, the CSV writer's native engine (DuckDB) is loaded early,
  // while they still load their modules, rather than after the last run,
  // when the other threads would wait for it. Not before executeSweep:
  // loading holds this thread (require, duckdb-table.ts), and the workers'
  // first jobs are posted first. Parquet and JSON lines need no DuckDB.
  if (threads.pool && format === 'csv') setImmediate(() => void loadDuckDb());
  try {
    await executeSweep(
      todo,
      threads,
      (r) => {
        append({ id: r.id, ms: Math.round(r.ms * 1000) / 1000, row: r.row });
        done.set(r.id, { id: r.id, ms: r.ms, row: r.row });
        finished++;
        if (r.failed) failed++;
        progress.update(finished);
      },
      () => performance.now(),
    );
  } finally {
    progress.stop();
    // Their memory (the simulators', the guests') is not needed to write the table.
    await threads.destroy();
  }
  // The table holds this grid's runs of this shard, each at its place in this grid.
  const rows = runs.map((r) => ({ ...done.get(r.id)!.row, index: r.index }));
  const table = tablePath(dir, shard, format);
  await writeRows(table, rows, format);
  return { rows, ran: todo.length, seconds: (performance.now() - started) / 1000, table };
}
