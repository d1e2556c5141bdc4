import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { checkGolden, type GoldenCase, type GoldenOutcome, goldenCases, updateGolden } from '../../verify/golden.js';
import { formatCount } from '../../model/units.js';
import { type CliContext, EXIT_CODES_HELP, EXIT_MISMATCH } from '../cli-io.js';
import { UsageError } from '../cli-failure.js';
import { createProgress, withProgress } from '../progress.js';

const DEFAULT_GOLDEN_DIR = 'traces/golden';

/** How to make a golden trace where there is none. */
const HOW_TO_ADD = (dir: string) => `record a run with migsim run <workload> --tracker <tracker> --seed <n> --record ${dir}/NAME.mst, then write its summary with migsim golden update ${dir}`;

export function registerGolden(program: Command, ctx: CliContext): void {
  const golden = program.command('golden').description('golden run traces: regression tests with readable expected summaries');
  golden
    .command('check')
    .description('replay every golden trace and fail on any difference, showing it')
    .argument('[dir]', 'directory of *.mst run traces and their *.summary.txt', DEFAULT_GOLDEN_DIR)
    .option('--json', 'print the outcome of each trace as JSON')
    .action((dir: string, opts: { json?: boolean }) => {
      const outcomes = forEachCase(ctx, dir, 'golden check', checkGolden, opts.json, (c, r) => {
        ctx.io.out(`${r.ok ? 'ok  ' : 'FAIL'} ${c.name}\n`);
        for (const d of r.differences) ctx.io.out(`     ${d}\n`);
      });
      const failed = outcomes.filter(({ r }) => !r.ok);
      if (opts.json) ctx.io.out(JSON.stringify({ dir, ok: failed.length === 0, cases: outcomes.map(({ c, r }) => ({ name: c.name, trace: c.trace, summary: c.summaryFile, ok: r.ok, differences: r.differences })) }, null, 2) + '\n');
      else if (failed.length > 0) {
        ctx.io.out(
          `${failed.length} of ${outcomes.length} golden traces differ. If the change is intended, re-derive them with migsim golden update ${dir} and review the summaries' diff before committing; if not, the lines above show the first difference of each.\n`,
        );
      }
      if (failed.length > 0) ctx.setExit(EXIT_MISMATCH);
    });
  golden
    .command('update')
    .description('re-derive every golden trace and its summary with this version, printing what changed')
    .argument('[dir]', 'directory of *.mst run traces', DEFAULT_GOLDEN_DIR)
    .option('--json', 'print what changed in each trace as JSON')
    .action((dir: string, opts: { json?: boolean }) => {
      const outcomes = forEachCase(ctx, dir, 'golden update', updateGolden, opts.json, (c, r) => {
        ctx.io.out(`${r.differences.length ? 'changed  ' : 'unchanged'} ${c.name}\n`);
        for (const d of r.differences) ctx.io.out(`     ${d}\n`);
      });
      if (opts.json) ctx.io.out(JSON.stringify({ dir, cases: outcomes.map(({ c, r }) => ({ name: c.name, trace: c.trace, summary: c.summaryFile, changed: r.differences.length > 0, differences: r.differences })) }, null, 2) + '\n');
    });
  for (const c of golden.commands) c.exitOverride().configureOutput({ writeOut: ctx.io.out, writeErr: ctx.io.err }).addHelpText('after', EXIT_CODES_HELP);
}

/**
 * Runs every golden case of `dir` under one bar over the cases, clearing
 * the bar before each case's result is printed (as text; with `json` the
 * caller prints them all at the end). Returns every case's outcome.
 */
function forEachCase(
  ctx: CliContext,
  dir: string,
  label: string,
  run: (c: GoldenCase, onProgress: (fraction: number) => void) => GoldenOutcome,
  json: boolean | undefined,
  print: (c: GoldenCase, r: GoldenOutcome) => void,
): { c: GoldenCase; r: GoldenOutcome }[] {
  const stat = statSync(dir, { throwIfNoEntry: false });
  if (!stat) throw new UsageError(`${dir}: no such directory; to start a set of golden traces there, create it, then ${HOW_TO_ADD(dir)}`);
  if (!stat.isDirectory()) throw new UsageError(`${dir}: not a directory: give the directory that holds the golden *.mst traces and their *.summary.txt`);
  const cases = goldenCases(dir);
  if (cases.length === 0) throw new UsageError(`no golden traces (*.mst) in ${dir}: ${HOW_TO_ADD(dir)}`);
  const progress = createProgress(ctx, label, cases.length, { json, unit: (n) => formatCount(Math.floor(n)) });
  const outcomes: { c: GoldenCase; r: GoldenOutcome }[] = [];
  withProgress(progress, () => {
    for (const [i, c] of cases.entries()) {
      const r = run(c, (f) => progress.update(i + f));
      progress.hide();
      outcomes.push({ c, r });
      if (!json) print(c, r);
    }
  });
  return outcomes;
}
